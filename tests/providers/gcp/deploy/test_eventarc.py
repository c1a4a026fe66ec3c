"""The Pub/Sub subscription behind a function's trigger, found the way the Eventarc API says: the function's
`eventTrigger.trigger` names its Eventarc trigger, whose `transport.pubsub.subscription` (output only)
names the subscription. The recording endpoint gives it no guessable name and no other way to find it;
its trigger answers are held to the excerpt of Google's Discovery documents in tests/data/gcp/discovery.
"""

from __future__ import annotations

from typing import Any

import pytest

from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import DeployError

from .conftest import audit_trail, audit_writes

PROJECT, REGION = "shop-project", "europe-west1"
LOCATION = f"projects/{PROJECT}/locations/{REGION}"
ORDERS, ORDERS_DLQ = f"projects/{PROJECT}/topics/shop-dev-orders", f"projects/{PROJECT}/topics/shop-dev-orders-dlq"
FULFIL = f"{LOCATION}/functions/shop-dev-fulfil"


def trigger_of(google: Any, function: str) -> dict[str, Any]:
    return google.triggers[google.functions[function]["eventTrigger"]["trigger"]]


def delivering(google: Any, function: str) -> str:
    """The subscription the function's trigger delivers through, as the trigger names it."""
    return str(trigger_of(google, function)["transport"]["pubsub"]["subscription"])


def test_the_endpoints_triggers_conform_to_the_discovery_document(
    provider: Any, shop: Any, google: Any, helpers: Any
) -> None:
    pipeline.deploy(provider, shop, "dev")
    problems = helpers.discovery_problems
    assert len(google.triggers) == 6  # fulfil, notify, sweep, nightly_report, on_upload, place_order-run
    for found in google.triggers.values():
        assert problems({k: v for k, v in found.items() if k != "function"}, "Trigger") == []
    assert trigger_of(google, FULFIL)["transport"]["pubsub"]["topic"] == ORDERS
    assert google.subscriptions[delivering(google, FULFIL)]["topic"] == ORDERS
    assert not any(name.rsplit("/", 1)[-1].startswith("eventarc-") for name in google.subscriptions)


def test_the_dead_letter_policy_lands_on_the_subscription_the_trigger_names(
    provider: Any, shop: Any, google: Any
) -> None:
    pipeline.deploy(provider, shop, "dev")
    subscription = google.subscriptions[delivering(google, FULFIL)]
    assert subscription["deadLetterPolicy"] == {"deadLetterTopic": ORDERS_DLQ, "maxDeliveryAttempts": 5}
    assert ("pubsub", "list_topic_subscriptions") not in provider.deployer.client.calls
    assert ("eventarc", "get_trigger") in provider.deployer.client.calls


def test_a_subscription_named_like_eventarcs_is_not_taken_for_the_triggers(
    provider: Any, shop: Any, google: Any
) -> None:
    pipeline.deploy(provider, shop, "dev")
    real = google.subscriptions[delivering(google, FULFIL)]
    del real["deadLetterPolicy"]
    trigger_id = trigger_of(google, FULFIL)["name"].rsplit("/", 1)[-1]
    decoy = f"projects/{PROJECT}/subscriptions/eventarc-{REGION}-{trigger_id}-sub-001"
    google.subscriptions[decoy] = {"name": decoy, "topic": ORDERS, "ackDeadlineSeconds": 10}

    outcome = pipeline.deploy(provider, shop, "dev")
    assert [s.describe() for s in outcome.plan.steps] == [
        "~ update dead-letter route shop-dev-fulfil (trigger_source, max_delivery_attempts, minimum_backoff_s, "
        "maximum_backoff_s)"
    ]
    assert real["deadLetterPolicy"]["deadLetterTopic"] == ORDERS_DLQ
    assert "deadLetterPolicy" not in google.subscriptions[decoy]


def test_a_subscription_eventarc_has_not_named_yet_is_waited_for(provider: Any, shop: Any, google: Any) -> None:
    google.transport_delay = 2
    messages: list[str] = []
    pipeline.deploy(provider, shop, "dev", messages.append)
    assert google.subscriptions[delivering(google, FULFIL)]["deadLetterPolicy"]["deadLetterTopic"] == ORDERS_DLQ
    assert any("shop-dev-fulfil: waiting for Eventarc to name the subscription of trigger" in m for m in messages)
    assert pipeline.plan(provider, shop, "dev").plan.empty


def test_a_subscription_never_named_fails_with_what_to_do_and_a_rerun_converges(
    provider: Any, shop: Any, google: Any
) -> None:
    google.transport_delay = 1_000_000
    provider.deployer.config = provider.deployer.config.model_copy(update={"subscription_wait_s": 0})
    with pytest.raises(DeployError) as failed:
        pipeline.deploy(provider, shop, "dev")
    message = str(failed.value)
    assert "Deploying 'shop-dev-" in message and "transport.pubsub.subscription" in message
    assert "subscription_wait_s" in message and "portable-fn deploy" in message

    google.transport_pending.clear()  # Eventarc has made it since
    pipeline.deploy(provider, shop, "dev")
    assert google.subscriptions[delivering(google, FULFIL)]["deadLetterPolicy"]["deadLetterTopic"] == ORDERS_DLQ
    google.requests.clear()
    again = pipeline.deploy(provider, shop, "dev")
    assert again.plan.empty and google.mutating() == []
    assert audit_writes(google) == audit_trail(again.audit)  # its record, and nothing else
