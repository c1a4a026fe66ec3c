"""`GcpProvider.dead_letters` against gcloud's Pub/Sub emulator: the topics and the dead-letter subscription are
made by deploy's own appliers, dead letters arrive as the shim publishes them (`dead_letter.publish`) and as a
subscription's dead-letter policy forwards a message (Pub/Sub's documented `CloudPubSubDeadLetterSource*`
attributes), and a redrive publishes them back to the trigger topic."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.dead_letter import publish
from portable_fn_gcp.deploy.appliers import ApplyContext, DeadLetterSubscriptions, Topics
from portable_fn_gcp.deploy.naming import Names
from portable_fn_gcp.deploy.resources import DeadLetterSubscription, Topic
from portable_fn_gcp.provider import GcpProvider

from portable_fn.app import App, load_app
from portable_fn.runtime import CloudEvent
from portable_fn.runtime.errors import ProviderError

REGION = "europe-west1"
STATEFUL = Path(__file__).parent / "deploy" / "apps" / "stateful"
PROJECT = f"portable-fn-redrive-{uuid.uuid4().hex[:8]}"  # this module's own project on the shared emulator
TRIGGER, DLQ = f"projects/{PROJECT}/topics/stateful-dev-orders", f"projects/{PROJECT}/topics/stateful-dev-orders-dlq"
KEPT = f"projects/{PROJECT}/subscriptions/stateful-dev-orders-dlq"
CHECK = f"projects/{PROJECT}/subscriptions/stateful-dev-orders-check"  # sees what is sent back


@pytest.fixture
def app() -> App:
    return load_app(STATEFUL)


@pytest.fixture
def provider(pubsub_emulator: str, monkeypatch: pytest.MonkeyPatch, app: App) -> Iterator[GcpProvider]:
    """The provider on the emulator, with the orders topic, its dead-letter topic and the subscription that keeps
    dead letters made as deploy makes them, and a subscription on the trigger topic to see what is sent back."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    provider = GcpProvider({"project": PROJECT, "region": REGION})
    gcp = provider.deployer.client
    ctx = ApplyContext(gcp, Names("stateful", "dev", PROJECT, REGION))
    for topic in ("stateful-dev-orders", "stateful-dev-orders-dlq"):
        Topics(ctx).create(Topic(topic))
    DeadLetterSubscriptions(ctx).create(DeadLetterSubscription("stateful-dev-orders-dlq", topic=DLQ))
    gcp.call("subscriber", "create_subscription", request={"name": CHECK, "topic": TRIGGER})
    yield provider
    for subscription in (KEPT, CHECK):
        gcp.call("subscriber", "delete_subscription", request={"subscription": subscription})
    for topic in (TRIGGER, DLQ):
        gcp.call("pubsub", "delete_topic", request={"topic": topic})


def sent_back(provider: GcpProvider, count: int) -> list[Any]:
    """The `count` messages published to the trigger topic (a pull may give fewer than are there)."""
    gcp, found = provider.deployer.client, []
    while len(found) < count:
        request = {"subscription": CHECK, "max_messages": 10}
        found += [r.message for r in gcp.call("subscriber", "pull", request=request, timeout=30).received_messages]
    return found


def given_up_on(provider: GcpProvider) -> CloudEvent[Any]:
    """An order event the shim dead-letters, published as the shim publishes it."""
    event: CloudEvent[Any] = CloudEvent(
        id="m-1",
        source=f"//pubsub.googleapis.com/{TRIGGER}",
        type="com.google.cloud.pubsub.message",
        data={"order": "o-1"},
    )
    publish(DLQ, event, "fulfil", "payment refused", attempt=3)
    return event


def forwarded_by_the_policy(provider: GcpProvider) -> None:
    """What a trigger subscription's dead-letter policy forwards after 8 attempts: the original message."""
    attributes = {
        "origin": "checkout",
        "CloudPubSubDeadLetterSourceDeliveryCount": "8",
        "CloudPubSubDeadLetterSourceSubscription": "eventarc-europe-west1-fulfil-sub-1",
        "CloudPubSubDeadLetterSourceSubscriptionProject": PROJECT,
        "CloudPubSubDeadLetterSourceTopicPublishTime": "2026-12-06T12:00:00Z",
    }
    message = {"data": json.dumps({"order": "o-2"}).encode(), "attributes": attributes}
    provider.deployer.client.call("pubsub", "publish", request={"topic": DLQ, "messages": [message]})


def test_dead_letters_are_listed_with_reason_and_attempts_and_kept(provider: GcpProvider, app: App) -> None:
    given_up_on(provider)
    forwarded_by_the_policy(provider)
    spec = app.function("fulfil")
    first = provider.dead_letters(app, "dev", spec)
    assert [(e.id, e.reason, e.attempts, e.redriven) for e in first] == [
        ("m-1", "payment refused", 3, False),
        (first[1].id, "delivered 8 times without success (moved by the subscription's dead-letter policy)", 8, False),
    ]
    assert first[0].event is not None and first[0].event["data"] == {"order": "o-1"}
    assert first[1].event is not None and first[1].event["data"] == {"order": "o-2"}
    assert first[1].event["source"] == f"//pubsub.googleapis.com/{TRIGGER}"
    assert all(e.function == "fulfil" and e.where.endswith("/subscriptions/stateful-dev-orders-dlq") for e in first)
    again = provider.dead_letters(app, "dev", spec)  # listing takes nothing away
    assert [e.id for e in again] == [e.id for e in first]


def test_redrive_sends_each_back_to_the_trigger_topic_as_first_sent_and_removes_it(
    provider: GcpProvider, app: App
) -> None:
    event = given_up_on(provider)
    forwarded_by_the_policy(provider)
    spec = app.function("fulfil")
    redriven = provider.dead_letters(app, "dev", spec, redrive=True)
    assert [e.redriven for e in redriven] == [True, True]
    assert provider.dead_letters(app, "dev", spec) == []
    back = {m.attributes.get("ce-id", "policy"): m for m in sent_back(provider, 2)}
    assert set(back) == {"m-1", "policy"}
    shim = dict(back["m-1"].attributes)
    assert shim["ce-source"] == event.source and not [k for k in shim if k.startswith("ce-deadletter")]
    assert json.loads(back["m-1"].data) == {"order": "o-1"}
    assert dict(back["policy"].attributes) == {"origin": "checkout"}
    assert json.loads(back["policy"].data) == {"order": "o-2"}


def test_a_storage_functions_dead_letters_are_not_redriven(provider: GcpProvider, app: App) -> None:
    with pytest.raises(ProviderError, match="Cloud Storage events, which cannot be sent again"):
        provider.dead_letters(app, "dev", app.function("on_upload"), redrive=True)


def test_an_http_function_has_no_dead_letters(provider: GcpProvider, app: App) -> None:
    with pytest.raises(ProviderError, match="has no dead-letter topic"):
        provider.dead_letters(app, "dev", app.function("create_order"))


def test_the_cli_lists_them_with_their_reason_and_attempts(
    provider: GcpProvider, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from portable_fn.cli import main

    given_up_on(provider)
    forwarded_by_the_policy(provider)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)  # the app's settings name the region only
    argv = ["dead-letters", "fulfil", "--provider", "gcp", "--app", str(STATEFUL), "--stage", "dev", "--json"]
    assert main(argv) == 0
    listed = json.loads(capsys.readouterr().out)
    assert (listed["function"], listed["provider"], listed["stage"]) == ("fulfil", "gcp", "dev")
    assert [(e["reason"], e["attempts"]) for e in listed["dead_letters"]] == [
        ("payment refused", 3),
        ("delivered 8 times without success (moved by the subscription's dead-letter policy)", 8),
    ]
