"""`portable-fn dead-letters FUNCTION --provider azure [--redrive]`: reading a queue function's poison queue
and sending what it holds back. Provider side (azure-storage-queue, through the deploy side's client).

A Storage Queue function's dead letters are in `<queue>-poison`, in two shapes, each read into the same
`DeadLetterEntry`:

| message                                    | put there by                           | reason, attempts from   |
|--------------------------------------------|----------------------------------------|-------------------------|
| a CloudEvent with `deadletter*` extensions | the shim (`DeadLetter`, a retry on the | `dead_letter_info`      |
|                                            | last attempt, an unreadable message)   |                         |
| the original message                       | the Functions host, after              | host.json's             |
|                                            | `maxDequeueCount` failed deliveries     | `maxDequeueCount`       |

Both are base64 text as the host's queue bindings write them (plain text is read too). Messages are
received with a short visibility timeout until none is left, listed oldest first, and made visible again
at once unless redriven. A redrive puts each back on the trigger queue as the host reads it (base64; the
event without its dead-letter extensions, or the original message as it was), then deletes it from the
poison queue, so a message is never both redriven and kept, nor lost when its send fails.

A Service Bus function's dead letters are in its own Storage Queue of the app's account
(`names.dead_letter_queue`), written by the shim in the same shape: read by this class too, sent back to
Service Bus by `sb_letters`. Event Grid deliveries (topics, blob events) dead-letter into the
`portable-fn-dead-letters` container of the app's account (see `deploy.desired`): read by `grid_letters`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from portable_fn.provider import DeadLetterEntry
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.dead_letters import dead_letter_info, undead
from portable_fn.runtime.errors import InvalidEventError

from .names import POISON_SUFFIX

if TYPE_CHECKING:
    from portable_fn.runtime.function import FunctionSpec

VISIBILITY_S = 30  # how long a listed message stays hidden should the listing stop half-way
BATCH = 32  # the most messages one Get Messages call returns
HOST_MOVED = "delivered {n} times without success (moved to the poison queue by the Functions host)"


class DeadLetters:
    """One queue function's poison queue, read through `service` (an azure.storage.queue QueueServiceClient).
    `max_dequeue` is host.json's `maxDequeueCount`: the attempts of a message the host moved. `poison` names
    another queue to read (a Service Bus function's, `sb_letters`, which sends back elsewhere)."""

    unmarked = HOST_MOVED  # the reason of a message the shim did not write

    def __init__(
        self, service: Any, spec: FunctionSpec, queue: str, max_dequeue: int | None, poison: str | None = None
    ) -> None:
        self.spec = spec
        self.queue = queue
        self.poison = poison or queue + POISON_SUFFIX
        self.source = service.get_queue_client(queue)
        self.target = service.get_queue_client(self.poison)
        self.max_dequeue = max_dequeue

    def read(self, redrive: bool = False) -> list[DeadLetterEntry]:
        """Every message of the poison queue, oldest first; with `redrive`, each sent back and deleted."""
        messages = sorted(self.receive(), key=lambda m: m.inserted_on)
        entries = [self.entry(m) for m in messages]
        if not redrive:
            self.show(messages)
            return entries
        for done, (entry, message) in enumerate(zip(entries, messages)):
            try:
                self.send_back(message)
            except Exception:
                self.show(messages[done:])  # kept, and listed again at once
                raise
            self.target.delete_message(message)  # only once it was sent: never both, never lost
            entry.redriven = True
        return entries

    def show(self, messages: list[Any]) -> None:
        """Make received messages visible again now, rather than after VISIBILITY_S."""
        for message in messages:
            self.target.update_message(message, visibility_timeout=0)

    def receive(self) -> list[Any]:
        """Every message, each hidden for VISIBILITY_S once received (an empty answer: none left)."""
        from azure.core.exceptions import ResourceNotFoundError

        found: list[Any] = []
        try:
            while True:
                batch = list(self.target.receive_messages(messages_per_page=BATCH, visibility_timeout=VISIBILITY_S))
                if not batch:
                    return found
                found += batch
        except ResourceNotFoundError:
            return found  # no poison queue (not deployed yet): no dead letters

    def entry(self, message: Any) -> DeadLetterEntry:
        event = self.event(message)
        info = None if event is None else dead_letter_info(event)
        if info is None:
            reason, attempts = self.unmarked.format(n=self.max_dequeue), self.max_dequeue
        else:
            reason, attempts = info["reason"], info["attempt"]
        return DeadLetterEntry(
            function=info["function"] if info and info["function"] else self.spec.name,
            id=event.id if event is not None else str(message.id),
            reason=reason,
            attempts=attempts if isinstance(attempts, int) else None,
            time=message.inserted_on.isoformat() if message.inserted_on else None,
            where=f"storage queue {self.poison}",
            event=json.loads(event.to_json()) if event is not None else None,
        )

    def event(self, message: Any) -> CloudEvent[Any] | None:
        """The CloudEvent a message holds in the JSON format, or None when it holds something else."""
        try:
            return CloudEvent.from_json(text_of(message.content))
        except (InvalidEventError, ValueError, TypeError):
            return None

    def send_back(self, message: Any) -> None:
        """Put the message back on the trigger queue, as the host reads it."""
        self.source.send_message(self.sent_back(message))

    def sent_back(self, message: Any) -> str:
        """What goes back on the trigger queue: the event without its dead-letter extensions, base64."""
        event = self.event(message)
        if event is None or dead_letter_info(event) is None:
            return str(message.content)  # the host moved it as it came: send it back the same
        return base64.b64encode(undead(event).to_json().encode()).decode()


def text_of(content: str) -> str:
    """A queue message's text: base64-decoded when it is base64 of UTF-8 (the host's default encoding)."""
    try:
        return base64.b64decode(content, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return content
