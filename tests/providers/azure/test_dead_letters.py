"""`AzureProvider.dead_letters` on Azurite's queue service: a Storage Queue function's poison queue listed
(the shim's dead letters and the host's moved messages alike) and redriven to the trigger queue."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from azure.storage.queue import QueueServiceClient
from portable_fn_azure.provider import AzureProvider

from portable_fn.app import App, load_app
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.errors import ProviderError

OUTCOMES = Path(__file__).resolve().parent / "apps" / "outcomes"


def b64(text: str) -> str:
    """As the Functions host's queue bindings write a message (messageEncoding base64, the default)."""
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def app() -> App:
    return load_app(OUTCOMES)


@pytest.fixture
def queues(azurite: str) -> Any:
    service = QueueServiceClient.from_connection_string(azurite)
    for queue in service.list_queues():
        service.delete_queue(queue.name)
    for name in ("acts", "acts-poison"):
        service.create_queue(name)
    return service


@pytest.fixture
def provider(azurite: str) -> AzureProvider:
    return AzureProvider(
        {"subscription_id": "11111111-2222-3333-4444-555555555555", "location": "westeurope"}
        | {"storage_connection_string": azurite}
    )


def poisoned(provider: AzureProvider, app: App, queues: Any) -> dict[str, Any]:
    """The shim's dead letter of a message whose handler raised DeadLetter, on the poison queue as the
    host's output binding writes it, and a message the host moved there after maxDequeueCount."""
    spec = app.function("act_on_message")
    dead = provider.invoke(app, spec, {"id": "m-dead", "body": {"ask": "dead"}})["results"][0]
    assert dead["outcome"] == "dead_letter"
    poison = queues.get_queue_client("acts-poison")
    poison.send_message(b64(json.dumps(dead["dead_letter"])))
    poison.send_message(b64('{"ask": "crash"}'))
    return dict(dead["dead_letter"])


def test_dead_letters_are_listed_with_reason_and_attempts_and_left_in_place(
    provider: AzureProvider, app: App, queues: Any
) -> None:
    letter = poisoned(provider, app, queues)
    entries = provider.dead_letters(app, "dev", app.function("act_on_message"))
    assert [(e.function, e.id, e.reason, e.attempts, e.where) for e in entries] == [
        ("act_on_message", letter["id"], "never", 1, "storage queue acts-poison"),
        ("act_on_message", entries[1].id, entries[1].reason, 3, "storage queue acts-poison"),
    ]
    assert "moved to the poison queue by the Functions host" in str(entries[1].reason)  # maxDequeueCount = 3
    assert entries[0].event is not None and entries[0].event["data"] == {"ask": "dead"}
    assert entries[1].event is None and not any(e.redriven for e in entries)
    assert len(queues.get_queue_client("acts-poison").peek_messages(max_messages=32)) == 2  # visible again
    assert len(provider.dead_letters(app, "dev", app.function("act_on_message"))) == 2


def test_redrive_puts_each_back_on_the_trigger_queue_and_deletes_it(
    provider: AzureProvider, app: App, queues: Any
) -> None:
    letter = poisoned(provider, app, queues)
    entries = provider.dead_letters(app, "dev", app.function("act_on_message"), redrive=True)
    assert [e.redriven for e in entries] == [True, True]
    assert queues.get_queue_client("acts-poison").peek_messages(max_messages=32) == []
    back = [m.content for m in queues.get_queue_client("acts").receive_messages(messages_per_page=32)]
    assert len(back) == 2
    event = CloudEvent.from_json(base64.b64decode(back[0]))
    assert event.id == letter["id"] and event.data == {"ask": "dead"}
    assert not {"deadletterreason", "deadletterfunction", "deadletterattempt"} & set(event.extensions)
    assert base64.b64decode(back[1]) == b'{"ask": "crash"}'  # the host's moved message, as it came
    redelivered = provider.invoke(app, app.function("act_on_message"), {"id": "again", "body": event.to_dict()})
    assert redelivered["results"][0]["reason"] == "never"  # the shim reads it as the event it was


def test_an_http_function_has_no_dead_letters(provider: AzureProvider, app: App) -> None:
    with pytest.raises(ProviderError, match="a http function has no dead letters"):
        provider.dead_letters(app, "dev", app.function("act"))
