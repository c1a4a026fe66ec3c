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

Messages are peeked, never received: the queue holds other functions' letters, which must stay untouched and
visible. A peek sees the first 32 messages of a queue only (Storage's limit); the entries say when it holds
more. They are never redriven (a redrive lists them as kept, `event_letters.POISON_KEPT`): deleting one would
mean receiving from a queue every blob function of the app shares, and a message names only the blob.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from portable_fn.provider import DeadLetterEntry

from .redrive import text_of

if TYPE_CHECKING:
    from portable_fn.runtime.function import FunctionSpec

POISON_QUEUE = "webjobs-blobtrigger-poison"
PEEK_MAX = 32  # the most messages a Peek Messages call returns: the whole of what can be seen
POISON_THRESHOLD = 5  # the host's attempts at a blob before it moves it (BlobsOptions' default)
GAVE_UP = "the Functions host gave up on blob {container}/{blob} after {n} attempts"


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
