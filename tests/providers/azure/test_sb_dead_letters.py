"""A Service Bus function's dead letters end to end: the generated function_app.py, indexed by the real
`azure-functions` library, given `azure.functions.ServiceBusMessage`s; what the shim sets on the dead-letter
output binding written to Azurite's queue as the host's binding writes it (base64); `dead-letters` listing
it with reason, function and attempts; `--redrive` sending each back through the Service Bus REST API to a
server on 127.0.0.1 that checks every request against Microsoft's pages (`service_bus_rest`), and deleting it
only once the send was answered 201. What Service Bus dead-letters itself: `test_sb_dlq`."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.functions.servicebus import ServiceBusMessage
from azure.storage.queue import QueueServiceClient
from portable_fn_azure.names import dead_letter_queue
from portable_fn_azure.provider import AzureProvider
from portable_fn_azure.sb_letters import ServiceBusSender, sender_for

from portable_fn.app import App, load_app
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.dead_letters import dead_letter_info
from portable_fn.runtime.errors import ProviderError

from .host_objects import Captured, HostContext
from .service_bus_rest import CONNECTION, NAMESPACE, ServiceBusRest

OUTCOMES = Path(__file__).resolve().parent / "apps" / "outcomes"
BUS = {"queue_transport": "service_bus", "topic_transport": "service_bus"}


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
def functions(app: App, indexed: Callable[[App], dict[str, Any]]) -> dict[str, Callable[..., Any]]:
    import outcomes

    outcomes.SEEN.clear()
    return {name: fn.get_user_function() for name, fn in indexed(app).items()}


@pytest.fixture
def queues(azurite: str) -> Any:
    service = QueueServiceClient.from_connection_string(azurite)
    for queue in service.list_queues():
        service.delete_queue(queue.name)
    for function in ("act_on_message", "act_on_event"):
        service.create_queue(dead_letter_queue(function))
    return service


@pytest.fixture
def provider(azurite: str, rest: ServiceBusRest) -> AzureProvider:
    return AzureProvider(
        {"subscription_id": "11111111-2222-3333-4444-555555555555", "location": "westeurope"}
        | {"storage_connection_string": azurite, "service_bus_endpoint": rest.url}
    )


def deliver(functions: dict[str, Any], queues: Any, name: str, ask: str, delivery_count: int) -> Any:
    """One delivery of a Service Bus message to the generated function; what it set on its dead-letter
    binding written to the queue as the host writes it. Returns what the invocation raised, else None."""
    message = ServiceBusMessage(
        body=json.dumps({"ask": ask}).encode(),
        message_id=f"sb-{ask}-{delivery_count}",
        delivery_count=delivery_count,
        application_properties={},
        user_properties={},
    )
    dead = Captured()
    try:
        functions[name](message, dead, HostContext(name))
    except Exception as exc:
        assert dead.value is None
        return exc
    if dead.value is not None:
        queue = queues.get_queue_client(dead_letter_queue(name))
        queue.send_message(base64.b64encode(dead.value.encode()).decode())
    return None


@pytest.mark.parametrize("name", ["act_on_message", "act_on_event"])
def test_a_dead_letter_and_a_last_retry_land_in_the_functions_queue_with_why(
    functions: dict[str, Any], queues: Any, provider: AzureProvider, app: App, name: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("ServiceBusConnection", CONNECTION)  # its entity's $deadletterqueue is read too (empty)
    assert deliver(functions, queues, name, "dead", 1) is None  # completed, never delivered again
    assert "did not acknowledge Service Bus message" in str(deliver(functions, queues, name, "retry", 2))
    assert deliver(functions, queues, name, "retry", 3) is None  # the last of its 3 attempts
    entries = provider.dead_letters(app, "dev", app.function(name))
    where = f"storage queue {dead_letter_queue(name)}"
    assert [(e.function, e.id, e.reason, e.attempts, e.where) for e in entries] == [
        (name, "sb-dead-1", "never", 1, where),
        (name, "sb-retry-3", "later", 3, where),
    ]
    assert entries[0].event is not None and entries[0].event["data"] == {"ask": "dead"}
    assert len(queues.get_queue_client(dead_letter_queue(name)).peek_messages(max_messages=32)) == 2  # kept


def test_redrive_sends_each_back_to_its_entity_and_deletes_it_only_then(
    functions: dict[str, Any], queues: Any, provider: AzureProvider, app: App, rest: ServiceBusRest, monkeypatch: Any
) -> None:
    monkeypatch.setenv("ServiceBusConnection", CONNECTION)  # the binding's connection, as the user holds it
    deliver(functions, queues, "act_on_message", "dead", 1)
    deliver(functions, queues, "act_on_event", "retry", 3)
    for name, entity in (("act_on_message", "acts"), ("act_on_event", "acts")):
        entries = provider.dead_letters(app, "dev", app.function(name), redrive=True)
        assert [e.redriven for e in entries] == [True]
        assert queues.get_queue_client(dead_letter_queue(name)).peek_messages(max_messages=32) == []
        sent_to, headers, body = rest.received[-1]
        assert sent_to == entity
        assert headers["content-type"] == "application/cloudevents+json; charset=utf-8"
        event = CloudEvent.from_json(body)
        assert json.loads(headers["brokerproperties"]) == {"MessageId": event.id}
        assert event.id == entries[0].id and dead_letter_info(event) is None  # as first sent, no extensions
    assert rest.refused == [] and len(rest.received) == 2
    # what was sent back is read by the shim as the event it was
    back = ServiceBusMessage(
        body=rest.received[0][2], message_id="again", application_properties={}, user_properties={}
    )
    dead = Captured()
    functions["act_on_message"](back, dead, HostContext("act_on_message"))
    assert dead_letter_info(CloudEvent.from_json(dead.value)) == {
        "reason": "never",
        "function": "act_on_message",
        "attempt": 1,
    }


@pytest.mark.parametrize("status", [401, 410])
def test_a_refused_send_keeps_every_dead_letter(
    functions: dict[str, Any],
    queues: Any,
    provider: AzureProvider,
    app: App,
    rest: ServiceBusRest,
    monkeypatch: Any,
    status: int,
) -> None:
    monkeypatch.setenv("ServiceBusConnection", CONNECTION)
    deliver(functions, queues, "act_on_message", "dead", 1)
    rest.status = status
    with pytest.raises(ProviderError, match=rf"'acts' of {NAMESPACE}: it answered {status} .*Nothing was deleted"):
        provider.dead_letters(app, "dev", app.function("act_on_message"), redrive=True)
    assert rest.refused == []  # the request itself was right
    assert len(provider.dead_letters(app, "dev", app.function("act_on_message"))) == 1  # kept, visible again


def test_without_a_connection_nothing_is_read_or_sent(
    queues: Any, provider: AzureProvider, app: App, rest: ServiceBusRest, monkeypatch: Any
) -> None:
    monkeypatch.delenv("ServiceBusConnection", raising=False)
    monkeypatch.delenv("ServiceBusConnection__fullyQualifiedNamespace", raising=False)
    with pytest.raises(ProviderError, match="neither ServiceBusConnection .* nor ServiceBusConnection__fully"):
        provider.dead_letters(app, "dev", app.function("act_on_message"), redrive=True)
    assert rest.received == []


def test_an_identity_connection_sends_with_an_entra_token_for_service_bus(rest: ServiceBusRest) -> None:
    scopes: list[str] = []

    class Credential:
        def get_token(self, scope: str) -> Any:
            scopes.append(scope)
            return type("Token", (), {"token": "entra-token"})()

    env = {"Bus__fullyQualifiedNamespace": NAMESPACE}
    sender = sender_for(env, "Bus", "orders", Credential, rest.url)
    assert isinstance(sender, ServiceBusSender) and sender.resource == f"https://{NAMESPACE}/orders"
    with pytest.raises(ProviderError, match="answered 400"):  # this server takes SAS tokens only
        sender.send(b"{}", "application/json", "m-1")
    assert scopes == ["https://servicebus.azure.net/.default"]
    assert rest.refused == ["Authorization 'Bearer entra-token' is not a SAS token"]


def test_invoke_shows_what_the_shim_dead_letters_for_a_service_bus_function(app: App) -> None:
    """`portable-fn invoke --provider azure` hands the Service Bus entry its dead-letter binding, as the host
    does: a DeadLetter is reported with its letter, an earlier retry as a retry."""
    provider = AzureProvider()
    spec = app.function("act_on_event")
    dead = provider.invoke(app, spec, {"id": "m-1", "body": {"ask": "dead"}})["results"][0]
    assert (dead["outcome"], dead["reason"]) == ("dead_letter", "never")
    assert dead_letter_info(CloudEvent.from_dict(dead["dead_letter"])) == {
        "reason": "never",
        "function": "act_on_event",
        "attempt": 1,
    }
    retried = provider.invoke(app, spec, {"id": "m-2", "body": {"ask": "retry"}, "delivery_count": 2})["results"][0]
    assert (retried["outcome"], "dead_letter" in retried) == ("retry", False)
