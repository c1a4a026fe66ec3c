"""samples/telemetry deployed to Google Cloud through the shared pipeline, against the recording endpoint:
`plan` shows a Firestore database for each state the sample uses (its own and portable-fn's idempotency and
breaker stores), deploy makes them, every retrying event function gets its dead-letter and retry policies,
and a second deploy changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline

TELEMETRY = Path(__file__).resolve().parents[4] / "samples" / "telemetry"
PROJECT = "shop-project"
ACCOUNT = "telemetry-runtime@shop-project.iam.gserviceaccount.com"


@pytest.fixture
def telemetry(tmp_path: Path) -> App:
    target = tmp_path / "telemetry"
    shutil.copytree(TELEMETRY, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    return load_app(target)


@pytest.fixture
def provider(google: Any, google_server: Any, helpers: Any, telemetry: App) -> Any:
    settings = {**telemetry.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01}
    return helpers.RecordingProvider({**settings, "service_account": ACCOUNT}, google_server.url)


def test_plan_shows_a_database_per_state_and_deploy_makes_them(provider: Any, telemetry: App, google: Any) -> None:
    databases = sorted(f"telemetry-dev-{s.name}" for s in telemetry.states)
    planned = pipeline.plan(provider, telemetry, "dev").plan
    assert sorted(s.resource.name for s in planned.steps if s.resource.kind == "firestore database") == databases
    pipeline.deploy(provider, telemetry, "dev")
    assert sorted(google.databases) == [f"projects/{PROJECT}/databases/{d}" for d in databases]
    assert google.answer_problems == []
    again = pipeline.plan(provider, telemetry, "dev").plan
    assert again.empty, [s.describe() for s in again.steps]


def test_each_state_is_granted_at_the_access_its_functions_declare(provider: Any, telemetry: App, google: Any) -> None:
    pipeline.deploy(provider, telemetry, "dev")
    granted = {
        b["condition"]["expression"].split("/databases/")[1].rstrip('"'): b["role"]
        for b in google.project_policy(PROJECT)["bindings"]
        if b["role"].startswith("roles/datastore.")
    }
    writes = {u.resource.name for s in telemetry.functions for u in telemetry.options(s).uses if u.writes}
    assert granted == {
        f"telemetry-dev-{s.name}": "roles/datastore.user" if s.name in writes else "roles/datastore.viewer"
        for s in telemetry.states
    }


def test_every_retrying_event_function_has_its_subscription_policies(
    provider: Any, telemetry: App, google: Any
) -> None:
    pipeline.deploy(provider, telemetry, "dev")
    for spec in telemetry.functions:
        if not spec.trigger.is_event or telemetry.options(spec).max_attempts <= 1:
            continue
        function = f"projects/{PROJECT}/locations/europe-west1/functions/telemetry-dev-{spec.name.replace('_', '-')}"
        [subscription] = [s for s in google.subscriptions.values() if s.get("function") == function]
        assert subscription["deadLetterPolicy"]["deadLetterTopic"].startswith(f"projects/{PROJECT}/topics/")
        assert set(subscription["retryPolicy"]) == {"minimumBackoff", "maximumBackoff"}
