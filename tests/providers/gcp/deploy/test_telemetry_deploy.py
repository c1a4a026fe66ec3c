"""samples/telemetry deployed against the recording Google endpoint (held to the Discovery documents): a
Firestore database for each state the sample uses (its own and portable-fn's idempotency and breaker
stores), each function told where the states it declares are, its account granted on those databases
only, and every retrying event function given its dead-letter and retry policies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline

from ....app_copy import copy_app

TELEMETRY = Path(__file__).resolve().parents[4] / "samples" / "telemetry"
PROJECT, REGION = "shop-project", "europe-west1"
ACCOUNT = "telemetry-runtime@shop-project.iam.gserviceaccount.com"
DB = f"projects/{PROJECT}/databases/telemetry-dev"
FUNCTIONS = f"projects/{PROJECT}/locations/{REGION}/functions/telemetry-dev"


@pytest.fixture
def telemetry(tmp_path: Path) -> App:
    return load_app(copy_app(TELEMETRY, tmp_path))


@pytest.fixture
def provider(google: Any, google_server: Any, helpers: Any, telemetry: App) -> Any:
    settings = {**telemetry.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01}
    return helpers.RecordingProvider({**settings, "service_account": ACCOUNT}, google_server.url)


def state_env(google: Any, function_id: str) -> dict[str, str]:
    variables = google.functions[f"{FUNCTIONS}-{function_id}"]["serviceConfig"]["environmentVariables"]
    return {k: v for k, v in variables.items() if k.startswith("PORTABLE_FN_STATE_")}


def test_plan_shows_a_database_per_state_and_deploy_makes_them(provider: Any, telemetry: App, google: Any) -> None:
    states = sorted(s.name for s in telemetry.states)
    planned = [s.describe() for s in pipeline.plan(provider, telemetry, "dev").plan.steps]
    for name in states:
        assert f"+ create firestore database telemetry-dev-{name}" in planned
    pipeline.deploy(provider, telemetry, "dev")
    assert sorted(google.databases) == [f"{DB}-{name}" for name in states]
    assert google.answer_problems == []
    again = pipeline.plan(provider, telemetry, "dev")
    assert again.plan.empty, [s.describe() for s in again.plan.steps]


def test_each_function_is_told_where_its_states_are_and_granted_on_them(
    provider: Any, telemetry: App, google: Any
) -> None:
    pipeline.deploy(provider, telemetry, "dev")
    assert state_env(google, "device") == {"PORTABLE_FN_STATE_DEVICES": f"{DB}-devices/documents/items"}
    assert sorted(state_env(google, "ingest")) == [
        "PORTABLE_FN_STATE_ALERTS",
        "PORTABLE_FN_STATE_DEVICES",
        "PORTABLE_FN_STATE_PFN_IDEMPOTENCY",
        "PORTABLE_FN_STATE_READINGS_SEEN",
    ]
    assert sorted(state_env(google, "maintenance")) == [  # its breaker's store too
        "PORTABLE_FN_STATE_ALERTS",
        "PORTABLE_FN_STATE_PFN_BREAKERS",
        "PORTABLE_FN_STATE_PFN_IDEMPOTENCY",
    ]
    member = f"serviceAccount:{ACCOUNT}"
    bindings = [b for b in google.project_policy(PROJECT)["bindings"] if b["role"].startswith("roles/datastore.")]
    granted = sorted((b["condition"]["expression"], b["role"]) for b in bindings if member in b["members"])
    # one account runs every function of the app: a database some function writes is granted for writing
    assert granted == sorted((f'resource.name == "{DB}-{s.name}"', "roles/datastore.user") for s in telemetry.states)


def test_every_retrying_event_function_has_its_subscription_policies(
    provider: Any, telemetry: App, google: Any
) -> None:
    pipeline.deploy(provider, telemetry, "dev")
    for spec in telemetry.functions:
        if not spec.trigger.is_event or telemetry.options(spec).max_attempts <= 1:
            continue
        function = f"{FUNCTIONS}-{spec.name.replace('_', '-')}"
        [subscription] = [s for s in google.subscriptions.values() if s.get("function") == function]
        assert subscription["deadLetterPolicy"]["deadLetterTopic"].startswith(f"projects/{PROJECT}/topics/")
        assert set(subscription["retryPolicy"]) == {"minimumBackoff", "maximumBackoff"}
