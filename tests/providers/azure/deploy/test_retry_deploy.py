"""A retry policy on an Event Grid delivery, deployed: the subscription's `maxDeliveryAttempts` is the
function's attempts (held to the Event Grid spec by the fake ARM), a redeploy changes nothing, and plan
says where Azure clamps the policies."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from portable_fn_azure.deploy.naming import subscription_name

from portable_fn.app import load_app
from portable_fn.deploy import pipeline

RETRYING = Path(__file__).resolve().parents[1] / "apps" / "retrying"
SUB = "/subscriptions/11111111-2222-3333-4444-555555555555"


def test_event_grid_attempts_follow_the_retry_policy(
    arm: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any, tmp_path: Path
) -> None:
    shutil.copytree(RETRYING, tmp_path / "retrying", ignore=shutil.ignore_patterns("__pycache__"))
    app = load_app(tmp_path / "retrying")
    provider = helpers.ArmProvider(helpers.settings_for(app, "dev", certificate, azurite), arm.url)
    planned = pipeline.plan(provider, app, "dev")
    assert any(
        n.startswith("function take_order: the backoff exponential(2, max=60) is clamped") for n in planned.notes
    )
    pipeline.deploy(provider, app, "dev")
    names = provider.deployer.names(app, "dev")
    path = (
        f"{SUB}/resourceGroups/{names.resource_group}/providers/Microsoft.EventGrid/topics/"
        f"{names.topic('shipments')}/eventSubscriptions/{subscription_name('on_shipment')}"
    )
    assert arm.get(path)["properties"]["retryPolicy"] == {"maxDeliveryAttempts": 6, "eventTimeToLiveInMinutes": 1440}
    provider.deployer.client.calls.clear()
    assert pipeline.deploy(provider, app, "dev").plan.empty
    assert provider.deployer.client.mutating_calls() == []
