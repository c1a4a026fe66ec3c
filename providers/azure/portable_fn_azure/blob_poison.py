"""`portable-fn dead-letters FUNCTION --provider azure` for a blob function: the blobs the Functions host itself
gave up on, in the `webjobs-blobtrigger-poison` queue of the app's storage account. The blob trigger runs
through a queue of the host's; once a blob failed `poisonBlobThreshold` times (5 unless host.json's
`extensions.blobs` says otherwise, and portable-fn's host.json does not), the host moves its message to that
queue, shared by every blob function of the app. Provider side (azure-storage-queue, through the deploy side's
client).

The message, as the WebJobs storage extension writes it (its classes, in namespace
Microsoft.Azure.WebJobs.Extensions.Storage.Blobs of Azure/azure-sdk-for-net, and Microsoft.Azure.WebJobs.Host
of Azure/azure-webjobs-sdk before it: `Listeners.BlobTriggerMessage` and its serialization tests,
`SharedBlobQueueListenerFactory` moving a failed message to `HostQueueNames.BlobTriggerPoisonQueue`,
`BlobsOptions.DefaultPoisonBlobThreshold` = 5): JSON `{"Type": "BlobTrigger", "FunctionId", "BlobType",
"ContainerName", "BlobName", "ETag"}`, the function as `Host.Functions.<name>` (how Azure/azure-functions-host
names a function), base64 text as the host's queues write it (plain JSON is read too).

A listing peeks, never receives: the queue holds other functions' letters, which must stay untouched and
visible. A peek sees the first 32 messages of a queue only (Storage's limit); the entries say when it holds
more. A redrive (`redrive`) receives every message, gives each other function's back at once (visible again,
unchanged), and sends each of this function's as the BlobCreated event Azure Storage raises for the blob it
names (`created_event`), POSTed to the function's webhook like its other letters (`host_redrive`); a message
is deleted only once the host took its event, and a refusal makes the rest visible again and keeps them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from portable_fn.provider import DeadLetterEntry

from .redrive import text_of

if TYPE_CHECKING:
    from portable_fn.runtime.function import FunctionSpec

POISON_QUEUE = "webjobs-blobtrigger-poison"
PEEK_MAX = 32  # the most messages a Peek Messages call returns: the whole of what can be seen
POISON_THRESHOLD = 5  # the host's attempts at a blob before it moves it (BlobsOptions' default)
GAVE_UP = "the Functions host gave up on blob {container}/{blob} after {n} attempts"
HIDDEN_S = 60  # how long a received message stays hidden while a redrive runs (made visible again sooner)
CREATED = "Microsoft.Storage.BlobCreated"

Deliver = Callable[[list[dict[str, Any]]], None]  # Event Grid schema events to the function's webhook


class BlobPoison:
    """The function's messages in the app's `webjobs-blobtrigger-poison` queue (read through `service`, an
    azure.storage.queue QueueServiceClient)."""

    def __init__(self, service: Any, spec: FunctionSpec) -> None:
        self.spec = spec
        self.queue = service.get_queue_client(POISON_QUEUE)

    def read(self) -> list[DeadLetterEntry]:
        """The function's letters among the first PEEK_MAX messages, oldest first."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            messages = list(self.queue.peek_messages(max_messages=PEEK_MAX))
            more = len(messages) == PEEK_MAX and self.queue.get_queue_properties().approximate_message_count > PEEK_MAX
        except ResourceNotFoundError:
            return []  # no blob ever failed in this account
        found = [(m, blob) for m in messages if (blob := self.blob_of(m)) is not None]
        return [self.entry(m, blob, more) for m, blob in sorted(found, key=lambda pair: pair[0].inserted_on)]

    def redrive(self, deliver: Deliver, blob_endpoint: str, topic: str) -> list[DeadLetterEntry]:
        """Send back the function's messages, oldest first, each as the BlobCreated event of its blob, and
        delete each once `deliver` returned; every other function's message is made visible again untouched."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            received = list(self.queue.receive_messages(messages_per_page=PEEK_MAX, visibility_timeout=HIDDEN_S))
        except ResourceNotFoundError:
            return []
        mine = [(m, blob) for m in received if (blob := self.blob_of(m)) is not None]
        self.show([m for m in received if all(m is not own for own, _ in mine)])
        mine.sort(key=lambda pair: pair[0].inserted_on)
        entries = []
        for done, (message, blob) in enumerate(mine):
            try:
                deliver([created_event(blob, blob_endpoint, topic)])
            except Exception:
                self.show([m for m, _ in mine[done:]])  # kept, and visible again at once
                raise
            self.queue.delete_message(message)  # only once the host took it: never both, never lost
            entry = self.entry(message, blob, False)
            entry.redriven = True
            entries.append(entry)
        return entries

    def show(self, messages: list[Any]) -> None:
        for message in messages:
            self.queue.update_message(message, visibility_timeout=0)

    def blob_of(self, message: Any) -> dict[str, Any] | None:
        """The message's JSON when it is a blob trigger's naming this function, else None."""
        try:
            blob = json.loads(text_of(message.content))
        except ValueError:
            return None
        if not isinstance(blob, dict) or not isinstance(blob.get("FunctionId"), str):
            return None
        return blob if blob["FunctionId"].rpartition(".")[2] == self.spec.name else None

    def entry(self, message: Any, blob: dict[str, Any], more: bool) -> DeadLetterEntry:
        where = f"storage queue {POISON_QUEUE}"
        reason = GAVE_UP.format(container=blob.get("ContainerName"), blob=blob.get("BlobName"), n=POISON_THRESHOLD)
        return DeadLetterEntry(
            function=self.spec.name,
            id=str(message.id),
            reason=reason,
            attempts=POISON_THRESHOLD,
            time=message.inserted_on.isoformat() if message.inserted_on else None,
            where=f"{where} (its first {PEEK_MAX} messages; it holds more)" if more else where,
        )


def created_event(blob: dict[str, Any], blob_endpoint: str, topic: str) -> dict[str, Any]:
    """The BlobCreated event (Event Grid schema) Azure Storage raises for the blob a poison message names: the
    blob's URL under `blob_endpoint` (`data.url`, which is what the host reads the blob by), its ETag as the id
    and in `data.eTag` (the id the shim gives a created blob's event), its subject as Storage writes it, the
    storage account's ARM id (`topic`) as the topic, and now as the time (the message keeps no other)."""
    container, name = str(blob.get("ContainerName")), str(blob.get("BlobName"))
    etag = str(blob.get("ETag") or "")
    data = {"url": f"{blob_endpoint.rstrip('/')}/{container}/{quote(name)}", "eTag": etag}
    if isinstance(blob.get("BlobType"), str):
        data["blobType"] = blob["BlobType"]
    return {
        "id": etag or f"{container}/{name}",
        "topic": topic,
        "subject": f"/blobServices/default/containers/{container}/blobs/{name}",
        "eventType": CREATED,
        "eventTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "data": data,
        "dataVersion": "",
        "metadataVersion": "1",
    }
