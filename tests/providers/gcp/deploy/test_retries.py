"""A function's retry policy on Google Cloud: the Pub/Sub trigger subscription's retry and dead-letter
policies, a kept dead-letter target for every retrying event function, and what `plan` says Google clamps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.deploy.desired import retry_backoff_s
from portable_fn_gcp.deploy.retries import retry_notes

from portable_fn import CloudEvent, function
from portable_fn import topic as topic_trigger
from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.runtime.function import spec_of
from portable_fn.runtime.retry import RetryPolicy, exponential, fixed

from ....app_copy import copy_app

PROJECT = "shop-project"
STATEFUL = Path(__file__).with_name("apps") / "stateful"
FUNCTIONS = f"projects/{PROJECT}/locations/europe-west1/functions/stateful-dev"


@pytest.fixture
def app(tmp_path: Path) -> App:
    return load_app(copy_app(STATEFUL, tmp_path / "app"))  # deploys write into the app's directory


@pytest.fixture
def deployed(google: Any, google_server: Any, helpers: Any, app: App) -> Any:
    settings = {**app.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01}
    provider = helpers.RecordingProvider(settings, google_server.url)
    pipeline.deploy(provider, app, "dev")
    return provider


def trigger_subscription(google: Any, function_id: str) -> dict[str, Any]:
    [found] = [s for s in google.subscriptions.values() if s.get("function") == f"{FUNCTIONS}-{function_id}"]
    return dict(found)


def topic(name: str) -> str:
    return f"projects/{PROJECT}/topics/stateful-dev-{name}"


def test_the_trigger_subscription_carries_the_backoff_and_the_attempts(deployed: Any, google: Any) -> None:
    fulfil = trigger_subscription(google, "fulfil")  # attempts=8, exponential(2, max=900)
    assert fulfil["retryPolicy"] == {"minimumBackoff": "2s", "maximumBackoff": "600s"}
    assert fulfil["deadLetterPolicy"] == {"deadLetterTopic": topic("orders-dlq"), "maxDeliveryAttempts": 8}
    notify = trigger_subscription(google, "notify")  # the default: 3 attempts, exponential(1, max=300)
    assert notify["retryPolicy"] == {"minimumBackoff": "1s", "maximumBackoff": "300s"}
    assert notify["deadLetterPolicy"]["maxDeliveryAttempts"] == 5  # Pub/Sub's least
    # a storage trigger too, on the subscription of Eventarc's own transport topic (not dropped after a day)
    upload = trigger_subscription(google, "on-upload")
    assert upload["retryPolicy"] == {"minimumBackoff": "1s", "maximumBackoff": "300s"}
    assert upload["deadLetterPolicy"] == {"deadLetterTopic": topic("on_upload-dlq"), "maxDeliveryAttempts": 5}
    assert google.answer_problems == []


def test_every_retrying_event_function_has_a_dead_letter_topic_that_keeps_what_reaches_it(
    deployed: Any, google: Any
) -> None:
    for function_id, dlq in [("fulfil", "orders-dlq"), ("notify", "notify-dlq"), ("on-upload", "on_upload-dlq")]:
        env = google.functions[f"{FUNCTIONS}-{function_id}"]["serviceConfig"]["environmentVariables"]
        assert env["PORTABLE_FN_DEAD_LETTER_TOPIC"] == topic(dlq)
        kept = google.subscriptions[f"projects/{PROJECT}/subscriptions/stateful-dev-{dlq}"]
        assert kept["topic"] == topic(dlq) and "pushConfig" not in kept  # pulled by `portable-fn dead-letters`
        assert kept["messageRetentionDuration"] == "604800s" and kept["expirationPolicy"] == {}


def test_a_changed_backoff_is_put_on_the_subscription_alone(deployed: Any, app: App, google: Any) -> None:
    trigger_subscription(google, "fulfil")  # the subscription exists
    name = next(n for n, s in google.subscriptions.items() if s.get("function") == f"{FUNCTIONS}-fulfil")
    google.subscriptions[name]["retryPolicy"] = {"minimumBackoff": "10s", "maximumBackoff": "600s"}
    outcome = pipeline.deploy(deployed, app, "dev")
    assert [s.describe() for s in outcome.plan.steps] == [
        "~ update dead-letter route stateful-dev-fulfil (minimum_backoff_s)"
    ]
    assert trigger_subscription(google, "fulfil")["retryPolicy"]["minimumBackoff"] == "2s"


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (RetryPolicy(5, exponential(1, max=300)), (1, 300)),
        (RetryPolicy(5, exponential(0.2, max=4.5)), (1, 5)),  # whole seconds, rounded up
        (RetryPolicy(5, exponential(30, max=3600)), (30, 600)),  # Pub/Sub's longest backoff
        (RetryPolicy(5, fixed(3600)), (600, 600)),
    ],
)
def test_backoffs_map_into_what_pubsub_accepts(policy: RetryPolicy, expected: tuple[int, int]) -> None:
    assert retry_backoff_s(policy) == expected


def test_plan_notes_say_where_google_clamps(app: App) -> None:
    assert retry_notes(app) == [
        "function fulfil: retry delays over 600 s are clamped to 600 s (Pub/Sub's longest backoff)",
        "function fulfil: Retry(after=...) is clamped to the subscription's backoff of 2 to 600 s: a push "
        "subscription redelivers on its retry policy, not per message",
        "function charge: attempts=3 becomes 5 (a Pub/Sub dead-letter policy allows 5 to 100 delivery attempts)",
        "function charge: Retry(after=...) is clamped to the subscription's backoff of 1 to 300 s: a push "
        "subscription redelivers on its retry policy, not per message",
        "function on_upload: attempts=3 becomes 5 (a Pub/Sub dead-letter policy allows 5 to 100 delivery attempts)",
        "function on_upload: Retry(after=...) is clamped to the subscription's backoff of 1 to 300 s: a push "
        "subscription redelivers on its retry policy, not per message",
        "function notify: attempts=3 becomes 5 (a Pub/Sub dead-letter policy allows 5 to 100 delivery attempts)",
        "function notify: Retry(after=...) is clamped to the subscription's backoff of 1 to 300 s: a push "
        "subscription redelivers on its retry policy, not per message",
    ]


@function(trigger=topic_trigger("news"), dead_letter=False)
def fire_and_forget(event: CloudEvent) -> None:
    """Retries by default, without a dead-letter topic."""


def test_plan_notes_say_a_function_without_dead_letters_gets_no_attempts(app: App) -> None:
    only = App(STATEFUL, app.config, [spec_of(fire_and_forget)])
    assert retry_notes(only) == [
        "function fire_and_forget: attempts=3 and the backoff are not applied without a dead-letter topic "
        "(dead_letter=False): Pub/Sub redelivers a failing event with Eventarc's default backoff (10 to 600 s) "
        "until the subscription's retention ends (24 hours), then drops it"
    ]


def test_the_provider_gives_plan_its_notes(app: App) -> None:
    from portable_fn_gcp.provider import GcpProvider

    assert GcpProvider({}).plan_notes(app, "dev") == retry_notes(app) != []
