"""What the Functions host gave up on for a blob function: its messages in the app's `webjobs-blobtrigger-poison`
queue (in Azurite), shaped as the WebJobs storage extension writes them (`BlobTriggerMessage`'s JSON, base64),
listed by `dead-letters` beside the shim's letters; other functions' messages stay untouched and visible
(`blob_poison`; that `--redrive` keeps them is in deploy/test_host_redrive.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from azure.storage.queue import QueueServiceClient
from portable_fn_azure.blob_poison import POISON_QUEUE
from portable_fn_azure.names import dead_letter_queue
from portable_fn_azure.provider import AzureProvider

from portable_fn.app import App, load_app

FAILING = Path(__file__).resolve().parent / "apps" / "failing"
BLOB_FUNCTIONS = ("on_upload", "on_gone")


@pytest.fixture
def app() -> App:
    return load_app(FAILING)


@pytest.fixture
def queues(azurite: str) -> Any:
    service = QueueServiceClient.from_connection_string(azurite)
    for queue in service.list_queues():
        service.delete_queue(queue.name)
    for function in BLOB_FUNCTIONS:
        service.create_queue(dead_letter_queue(function))
    return service


@pytest.fixture
def provider(azurite: str) -> AzureProvider:
    return AzureProvider(
        {"subscription_id": "11111111-2222-3333-4444-555555555555", "location": "westeurope"}
        | {"storage_connection_string": azurite}
    )


def poison(queues: Any, function: str, blob: str) -> None:
    """The host's message for a blob it gave up on, as the storage extension serializes it, base64."""
    message = {
        "Type": "BlobTrigger",
        "FunctionId": f"Host.Functions.{function}",
        "BlobType": "BlockBlob",
        "ContainerName": "uploads",
        "BlobName": blob,
        "ETag": '"0x8DC5B1E4B0F1A2C"',
    }
    queue = queues.get_queue_client(POISON_QUEUE)
    queue.send_message(base64.b64encode(json.dumps(message).encode()).decode())


@pytest.fixture
def poisoned(queues: Any) -> Any:
    queues.create_queue(POISON_QUEUE)
    poison(queues, "resize", "a.png")  # another app function's
    poison(queues, "on_upload", "b.txt")
    poison(queues, "on_upload_v2", "c.txt")  # a name that starts the same
    poison(queues, "on_upload", "d.txt")
    return queues.get_queue_client(POISON_QUEUE)


def test_a_blob_functions_poison_messages_are_listed_and_no_other_is_touched(
    poisoned: Any, provider: AzureProvider, app: App
) -> None:
    entries = provider.dead_letters(app, "dev", app.function("on_upload"))
    assert [(e.function, e.reason, e.attempts, e.where) for e in entries] == [
        (
            "on_upload",
            "the Functions host gave up on blob uploads/b.txt after 5 attempts",
            5,
            f"storage queue {POISON_QUEUE}",
        ),
        (
            "on_upload",
            "the Functions host gave up on blob uploads/d.txt after 5 attempts",
            5,
            f"storage queue {POISON_QUEUE}",
        ),
    ]
    assert all(e.time for e in entries) and entries[0].time <= entries[1].time
    # peeked, not received: all four there, never dequeued, visible now
    assert [m.dequeue_count for m in poisoned.peek_messages(max_messages=32)] == [0, 0, 0, 0]
    assert provider.dead_letters(app, "dev", app.function("on_gone")) == []  # none names it


def test_no_poison_queue_is_no_letters(queues: Any, provider: AzureProvider, app: App) -> None:
    assert provider.dead_letters(app, "dev", app.function("on_upload")) == []


def test_past_the_32_messages_a_peek_sees_the_entries_say_there_are_more(
    queues: Any, provider: AzureProvider, app: App
) -> None:
    queues.create_queue(POISON_QUEUE)
    poison(queues, "on_upload", "first.txt")
    for n in range(32):
        poison(queues, "resize", f"{n}.png")
    [entry] = provider.dead_letters(app, "dev", app.function("on_upload"))
    assert entry.where == f"storage queue {POISON_QUEUE} (its first 32 messages; it holds more)"
