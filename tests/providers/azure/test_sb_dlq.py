"""What Service Bus dead-lettered itself, in the `$deadletterqueue` of a Service Bus function's queue or topic
subscription (`sb_dlq`): `dead-letters` lists it beside the shim's letters, oldest first, with Service Bus's
reason and delivery count, consuming nothing; `--redrive` sends each back to the queue or topic and deletes it
only once the send was answered 201. Against `service_bus_rest`, which checks every request (method, path, SAS
token, lock tokens) as Microsoft's REST pages say; the shim's letters in Azurite's queue."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from azure.functions.servicebus import ServiceBusMessage
from azure.storage.queue import QueueServiceClient
from portable_fn_azure.names import dead_letter_queue
from portable_fn_azure.provider import AzureProvider

from portable_fn.app import App, load_app
from portable_fn.runtime.channels import CONTENT_TYPE, encode
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.errors import ProviderError

from .host_objects import Captured, HostContext
from .service_bus_rest import CONNECTION, ServiceBusRest

OUTCOMES = Path(__file__).resolve().parent / "apps" / "outcomes"
BUS = {"queue_transport": "service_bus", "topic_transport": "service_bus"}
QUEUE_DLQ = "acts/$deadletterqueue"  # act_on_message's queue("acts")
TOPIC_DLQ = "acts/subscriptions/act_on_event/$deadletterqueue"  # act_on_event's subscription of topic("acts")
EARLIER = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)  # before any Azurite insertion
EXPIRED = "TTLExpiredException: The message expired and was dead lettered."
EXCEEDED = "MaxDeliveryCountExceeded: Message could not be consumed after 4 delivery attempts."


@pytest.fixture
def rest() -> Iterator[ServiceBusRest]:
    server = ServiceBusRest()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def app() -> App:
    app = load_app(OUTCOMES)
    app.config = app.config.model_copy(update={"azure": {**app.config.azure, **BUS}})
    return app


@pytest.fixture
def queues(azurite: str) -> Any:
    service = QueueServiceClient.from_connection_string(azurite)
    for queue in service.list_queues():
        service.delete_queue(queue.name)
    for function in ("act_on_message", "act_on_event"):
        service.create_queue(dead_letter_queue(function))
    return service


@pytest.fixture
def provider(azurite: str, queues: Any, rest: ServiceBusRest, monkeypatch: Any) -> AzureProvider:
    """The provider of a clean app storage (`queues`) and a Service Bus namespace at `rest`."""
    monkeypatch.setenv("ServiceBusConnection", CONNECTION)  # the binding's connection, as the user holds it
    return AzureProvider(
        {"subscription_id": "11111111-2222-3333-4444-555555555555", "location": "westeurope"}
        | {"storage_connection_string": azurite, "service_bus_endpoint": rest.url}
    )


@pytest.fixture
def shim_letter(app: App, indexed: Callable[[App], dict[str, Any]], queues: Any) -> Callable[[str], None]:
    """A DeadLetter of the generated function, written to its Storage Queue as the host's binding writes it."""
    functions = indexed(app)

    def write(name: str) -> None:
        message = ServiceBusMessage(
            body=b'{"ask": "dead"}', message_id="sb-dead-1", application_properties={}, user_properties={}
        )
        dead = Captured()
        functions[name].get_user_function()(message, dead, HostContext(name))
        queues.get_queue_client(dead_letter_queue(name)).send_message(base64.b64encode(dead.value.encode()).decode())

    return write


def cloud_event(id: str, ask: str) -> bytes:
    """A CloudEvent's JSON as `publish.bus_messages` sends it."""
    return encode(CloudEvent.from_dict({"specversion": "1.0", "id": id, "source": "/shop", "type": "act", "data": ask}))


def hold_two(rest: ServiceBusRest, path: str) -> None:
    """A message that ran out of deliveries (a CloudEvent) and an older one that expired (raw JSON)."""
    rest.hold(
        path,
        cloud_event("e-1", "crash"),
        message_id="e-1",
        reason="MaxDeliveryCountExceeded",
        description="Message could not be consumed after 4 delivery attempts.",
        delivery_count=4,
        enqueued=EARLIER + timedelta(minutes=30),
        content_type=CONTENT_TYPE,
    )
    rest.hold(
        path,
        b'{"ask": "late"}',
        message_id="raw-1",
        reason="TTLExpiredException",
        description="The message expired and was dead lettered.",
        delivery_count=1,
        enqueued=EARLIER,
        custom={"tenant": "north"},
    )


def kinds(rest: ServiceBusRest) -> list[str]:
    """What each request to the server was, in order."""
    named = {"POST": "send", "PUT": "unlock", "DELETE": "delete"}
    return ["lock" if path.endswith("/messages/head") else named[method] for method, path in rest.requests]


def test_the_dead_letter_queue_is_listed_beside_the_shims_letters_and_nothing_is_consumed(
    rest: ServiceBusRest, provider: AzureProvider, app: App, shim_letter: Callable[[str], None]
) -> None:
    hold_two(rest, QUEUE_DLQ)
    shim_letter("act_on_message")
    entries = provider.dead_letters(app, "dev", app.function("act_on_message"))
    service_bus = "service bus acts/$deadletterqueue"
    assert [(e.function, e.id, e.reason, e.attempts, e.where) for e in entries] == [
        ("act_on_message", "raw-1", EXPIRED, 1, service_bus),
        ("act_on_message", "e-1", EXCEEDED, 4, service_bus),
        ("act_on_message", "sb-dead-1", "never", 1, f"storage queue {dead_letter_queue('act_on_message')}"),
    ]
    expired, exceeded = entries[0], entries[1]
    assert expired.time == EARLIER.isoformat()
    assert expired.event is not None and exceeded.event is not None
    assert (expired.event["type"], expired.event["source"], expired.event["data"]) == (
        "com.microsoft.azure.servicebus.message",
        "sb://shop-bus.servicebus.windows.net/acts",
        {"ask": "late"},
    )
    assert (exceeded.event["id"], exceeded.event["source"], exceeded.event["data"]) == ("e-1", "/shop", "crash")
    assert [m.lock for m in rest.held(QUEUE_DLQ)] == [None, None]  # each unlocked again, none deleted
    assert kinds(rest) == ["lock", "lock", "lock", "unlock", "unlock"] and rest.refused == []
    again = provider.dead_letters(app, "dev", app.function("act_on_message"))
    assert [(e.id, e.reason) for e in again] == [(e.id, e.reason) for e in entries]
    # REST has no lock-free peek: Service Bus counts each listing's lock as a delivery
    assert [e.attempts for e in again[:2]] == [2, 5]


def test_redrive_sends_each_back_as_it_came_then_deletes_it(
    rest: ServiceBusRest, provider: AzureProvider, app: App, shim_letter: Callable[[str], None]
) -> None:
    hold_two(rest, QUEUE_DLQ)
    shim_letter("act_on_message")
    entries = provider.dead_letters(app, "dev", app.function("act_on_message"), redrive=True)
    assert [(e.id, e.redriven) for e in entries] == [("raw-1", True), ("e-1", True), ("sb-dead-1", True)]
    assert rest.held(QUEUE_DLQ) == [] and rest.refused == []
    # the shim's letter, then each Service Bus letter sent before it is deleted
    assert kinds(rest) == ["send", "lock", "lock", "lock", "send", "delete", "send", "delete"]
    [(_, _, shim_body), (to_1, raw_headers, raw_body), (to_2, event_headers, event_body)] = rest.received
    assert (to_1, to_2) == ("acts", "acts")
    assert CloudEvent.from_json(shim_body).id == "sb-dead-1"
    assert event_body == cloud_event("e-1", "crash") and event_headers["content-type"] == CONTENT_TYPE
    assert json.loads(event_headers["brokerproperties"]) == {"MessageId": "e-1"}
    assert raw_body == b'{"ask": "late"}' and raw_headers["content-type"] == "application/json"
    assert json.loads(raw_headers["brokerproperties"]) == {"MessageId": "raw-1"}
    assert raw_headers["tenant"] == '"north"'  # its own properties go back; Service Bus's dead-letter ones do not
    assert "deadletterreason" not in raw_headers and "deadlettererrordescription" not in raw_headers


def test_a_refused_send_keeps_the_letter_locked_by_nobody(
    rest: ServiceBusRest, provider: AzureProvider, app: App
) -> None:
    hold_two(rest, QUEUE_DLQ)
    rest.status = 401
    with pytest.raises(ProviderError, match=r"'acts' of shop-bus.servicebus.windows.net: it answered 401"):
        provider.dead_letters(app, "dev", app.function("act_on_message"), redrive=True)
    assert "delete" not in kinds(rest) and rest.refused == []
    assert [(m.broker["MessageId"], m.lock) for m in rest.held(QUEUE_DLQ)] == [("e-1", None), ("raw-1", None)]
    rest.status = 201
    assert len(provider.dead_letters(app, "dev", app.function("act_on_message"))) == 2  # listed again at once


def test_an_empty_dead_letter_queue_is_one_answered_lock(
    rest: ServiceBusRest, provider: AzureProvider, app: App
) -> None:
    assert provider.dead_letters(app, "dev", app.function("act_on_message")) == []
    assert rest.requests == [("POST", "/acts/$deadletterqueue/messages/head")] and rest.refused == []


def test_a_listing_stops_at_a_hundred_and_says_there_are_more(
    rest: ServiceBusRest, provider: AzureProvider, app: App
) -> None:
    for n in range(101):
        rest.hold(
            QUEUE_DLQ,
            b"{}",
            message_id=f"m-{n:03}",
            reason="MaxDeliveryCountExceeded",
            description="",
            delivery_count=4,
            enqueued=EARLIER + timedelta(seconds=n),
        )
    entries = provider.dead_letters(app, "dev", app.function("act_on_message"))
    assert [e.id for e in entries] == [f"m-{n:03}" for n in range(100)]
    assert {e.where for e in entries} == {"service bus acts/$deadletterqueue (the first 100; it holds more)"}
    assert {e.reason for e in entries} == {"MaxDeliveryCountExceeded"}
    assert len(rest.held(QUEUE_DLQ)) == 101 and all(m.lock is None for m in rest.held(QUEUE_DLQ))
    assert [e.id for e in provider.dead_letters(app, "dev", app.function("act_on_message"))] == [e.id for e in entries]
    assert rest.refused == []


def test_a_topic_functions_subscription_dead_letters_are_read_and_sent_to_the_topic(
    rest: ServiceBusRest, provider: AzureProvider, app: App
) -> None:
    hold_two(rest, TOPIC_DLQ)
    hold_two(rest, QUEUE_DLQ)  # another entity's: untouched
    spec = app.function("act_on_event")
    listed = provider.dead_letters(app, "dev", spec)
    assert {e.where for e in listed} == {f"service bus {TOPIC_DLQ}"}
    entries = provider.dead_letters(app, "dev", spec, redrive=True)
    assert [e.redriven for e in entries] == [True, True] and rest.held(TOPIC_DLQ) == []
    assert [to for to, _, _ in rest.received] == ["acts", "acts"]  # the topic: every subscription gets it again
    assert len(rest.held(QUEUE_DLQ)) == 2 and rest.refused == []
    read = {path.split("/messages")[0] for _, path in rest.requests if path != "/acts/messages"}
    assert read == {"/" + TOPIC_DLQ}  # every lock, unlock and delete on the subscription's dead-letter queue


def test_without_a_connection_nothing_is_read(
    rest: ServiceBusRest, provider: AzureProvider, app: App, shim_letter: Callable[[str], None], monkeypatch: Any
) -> None:
    shim_letter("act_on_message")
    monkeypatch.delenv("ServiceBusConnection")
    with pytest.raises(
        ProviderError, match=r"dead-letter queue 'acts/\$deadletterqueue': neither ServiceBusConnection"
    ):
        provider.dead_letters(app, "dev", app.function("act_on_message"))
    assert rest.requests == []


def test_a_portable_dead_letter_in_the_dead_letter_queue_is_read_and_sent_back_without_its_extensions(
    rest: ServiceBusRest, provider: AzureProvider, app: App
) -> None:
    letter = CloudEvent.from_dict(
        {"specversion": "1.0", "id": "p-1", "source": "/shop", "type": "act", "data": "x"}
        | {"deadletterreason": "no such order", "deadletterfunction": "act_on_message", "deadletterattempt": 3}
    )
    rest.hold(
        QUEUE_DLQ,
        encode(letter),
        message_id="p-1",
        reason="MaxDeliveryCountExceeded",
        description="",
        delivery_count=4,
        enqueued=EARLIER,
        content_type=CONTENT_TYPE,
    )
    [entry] = provider.dead_letters(app, "dev", app.function("act_on_message"), redrive=True)
    assert (entry.id, entry.reason, entry.attempts, entry.redriven) == ("p-1", "no such order", 3, True)
    [(_, headers, body)] = rest.received
    back = CloudEvent.from_json(body)
    assert (back.id, back.data, headers["content-type"]) == ("p-1", "x", CONTENT_TYPE)
    assert not any(name.startswith("deadletter") for name in back.extensions)
