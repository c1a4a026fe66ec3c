"""DeadLetter under functions-framework: the event is published to the function's dead-letter topic on
gcloud's Pub/Sub emulator (read back with the official google-cloud-pubsub client) in the shared
dead-letter shape before it is acknowledged; a failed publish, or dead letters on with no topic named,
is a 500 so Pub/Sub redelivers it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from portable_fn_gcp.dead_letter import message
from portable_fn_gcp.events import unwrap_message

from portable_fn.runtime import CloudEvent
from portable_fn.runtime.dead_letters import dead_letter_event, dead_letter_info

from .test_shim import TOPIC, message_published, post, storage_event

PROJECT = "portable-fn-test"


@pytest.fixture
def dead_letters(pubsub_emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A dead-letter topic with a subscription on the emulator, named to the shim through the
    environment as deploy names it; yields a function pulling what reached it."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(PROJECT, "record-dlq")
    subscription = subscriber.subscription_path(PROJECT, "record-dlq-check")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)
    monkeypatch.setenv("PORTABLE_FN_DEAD_LETTER_TOPIC", topic)

    def pull() -> list[Any]:
        answer = subscriber.pull(subscription=subscription, max_messages=10, timeout=10)
        if answer.received_messages:
            subscriber.acknowledge(subscription=subscription, ack_ids=[m.ack_id for m in answer.received_messages])
        return [m.message for m in answer.received_messages]

    yield pull
    subscriber.delete_subscription(subscription=subscription)
    publisher.delete_topic(topic=topic)
    subscriber.close()


def test_a_dead_lettered_event_is_published_to_the_dead_letter_topic_then_acknowledged(
    served: Any, send_to: Any, seen: Any, dead_letters: Any
) -> None:
    payload = json.dumps({"do": "dead", "order": "o-1"}).encode()
    reply = post(send_to, served.url("record"), message_published(payload, {"origin": "checkout"}, deliveryAttempt=4))
    assert reply.status == 200
    delivered = seen()["event"]
    [published] = dead_letters()
    attributes = dict(published.attributes)
    assert {k: v for k, v in attributes.items() if k.startswith("ce-deadletter")} == {
        "ce-deadletterreason": "asked%20to%20dead-letter",
        "ce-deadletterfunction": "record",
        "ce-deadletterattempt": "4",
    }
    assert not any(k.startswith("portable-fn-") for k in attributes)
    assert attributes["ce-id"] == "m-1" and attributes["ce-source"] == TOPIC
    assert json.loads(published.data) == {"do": "dead", "order": "o-1"}
    # a function triggered by the dead-letter topic gets exactly the dead-letter event
    again = message_published(b"")
    again.data["message"].update(data=base64.b64encode(published.data).decode(), attributes=attributes)
    event, _ = unwrap_message(again)
    expected = dead_letter_event(
        CloudEvent.from_dict(delivered), function="record", reason="asked to dead-letter", attempt=4
    )
    # binary mode carries every attribute as a string: the attempt comes back as "4"
    assert event.to_dict() == {**expected.to_dict(), "deadletterattempt": "4"}
    assert dead_letter_info(event) == {"reason": "asked to dead-letter", "function": "record", "attempt": 4}


def test_a_dead_lettered_storage_event_is_published_with_its_object_not_the_view(
    served: Any, send_to: Any, seen: Any, dead_letters: Any
) -> None:
    """The handler got the `StorageObject` view (put into the shim's own event, not a copy); what reaches
    the dead-letter topic is the event as Google sent it, its data the object resource."""
    event = storage_event("dead/report.csv")
    reply = post(send_to, served.url("uploaded"), event)
    assert reply.status == 200
    assert seen()["object"]["key"] == "dead/report.csv"
    [published] = dead_letters()
    assert json.loads(published.data) == event.data
    assert dict(published.attributes)["ce-type"] == "google.cloud.storage.object.v1.finalized"


def test_an_event_that_cannot_be_published_is_answered_500_and_not_lost(
    served: Any, send_to: Any, seen: Any, pubsub_emulator: str, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    monkeypatch.setenv("PORTABLE_FN_DEAD_LETTER_TOPIC", f"projects/{PROJECT}/topics/never-created")
    reply = post(send_to, served.url("record"), message_published(json.dumps({"do": "dead"}).encode()))
    assert reply.status == 500
    assert b"could not be published to the dead-letter topic" in reply.body and b"never-created" in reply.body
    assert "will be retried" in caplog.text


def test_without_a_dead_letter_topic_the_event_is_kept_not_acknowledged(
    served: Any, send_to: Any, seen: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """Dead letters are on (the default) but deploy named no topic: a configuration error; the event is
    answered 500 (Pub/Sub redelivers it) and the log says what to fix."""
    monkeypatch.delenv("PORTABLE_FN_DEAD_LETTER_TOPIC", raising=False)
    reply = post(send_to, served.url("record"), message_published(json.dumps({"do": "dead"}).encode()))
    assert reply.status == 500 and b"PORTABLE_FN_DEAD_LETTER_TOPIC is not set" in reply.body
    assert "will be retried: asked to dead-letter; Function 'record' on gcp: dead letters are on" in caplog.text


@pytest.mark.parametrize("reason", ["x" * 2000, "é " * 900, "%" * 500])
def test_the_message_carries_non_ascii_attributes_and_binary_data(reason: str) -> None:
    event = CloudEvent(id="é-1", source="/s", type="t", data=b"\x00\xff", datacontenttype="application/octet-stream")
    made = message(event, "fn", reason, 2)
    assert base64.b64decode(made["data"]) == b"\x00\xff"
    assert made["attributes"]["ce-id"] == "%C3%A9-1"
    assert made["attributes"]["content-type"] == "application/octet-stream"
    cut = made["attributes"]["ce-deadletterreason"]  # within Pub/Sub's 1024 bytes once percent-encoded
    assert 1000 <= len(cut.encode()) <= 1024
    again, _ = unwrap_message(message_published(base64.b64decode(made["data"]), made["attributes"]))
    assert reason.startswith(again.extensions["deadletterreason"])
    assert (again.extensions["deadletterfunction"], again.extensions["deadletterattempt"]) == ("fn", "2")
