"""`portable-fn dead-letters FUNCTION --provider azure [--redrive]` for a function Event Grid, a blob trigger
or a timer delivers to: the letters the shim wrote to the function's own Storage Queue
(`names.dead_letter_queue`: a `DeadLetter`, an event that could not be read, a timer's retry on its last
attempt) and, for Event Grid subscriptions, the blobs Event Grid wrote once its retries ran out
(`grid_letters`), listed together oldest first. Provider side.

| trigger                   | letters from                     | `--redrive`                                      |
|---------------------------|----------------------------------|--------------------------------------------------|
| topic on Event Grid       | its queue and its subscription's | each published back to the function's custom     |
|                           | dead-letter blobs                | topic, deleted only once the publish succeeded   |
| storage (created/deleted) | its queue, the system topic      | each event POSTed to the function's webhook on   |
|                           | subscription's blobs and its     | the app's host as Event Grid delivers it         |
|                           | messages in the host's           | (`host_redrive`: a blob's events as written, a   |
|                           | `webjobs-blobtrigger-poison`     | shim letter's rebuilt), deleted once the host    |
|                           | (`blob_poison`)                  | answered 2xx; a created blob's poison message as |
|                           |                                  | the BlobCreated event of its blob (`blob_poison`)|
| schedule                  | its queue                        | one run per letter through the host's admin      |
|                           |                                  | endpoint, deleted once it answered 202           |

The host's name and keys are read from ARM only to redrive, and never shown.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from portable_fn.runtime.dead_letters import undead
from portable_fn.runtime.errors import ProviderError

from .grid_letters import Publish
from .redrive import DeadLetters

if TYPE_CHECKING:
    from portable_fn.provider import DeadLetterEntry
    from portable_fn.runtime.cloudevent import CloudEvent
    from portable_fn.runtime.function import FunctionSpec

UNMARKED = "not written by the shim: it has no deadletterreason"
EARLIEST = datetime.min.replace(tzinfo=timezone.utc)

Send = Callable[["CloudEvent[Any]"], None]


class EventDeadLetters(DeadLetters):
    """The function's own dead-letter queue (`dead_letters`, read through `service`, an azure.storage.queue
    QueueServiceClient); a redrive hands each letter's event, its dead-letter extensions taken off, to `send`
    (a topic's publish, a blob function's webhook, a timer's run: `AzureProvider.event_sender`)."""

    unmarked = UNMARKED

    def __init__(self, service: Any, spec: FunctionSpec, dead_letters: str, send: Send | None) -> None:
        super().__init__(service, spec, dead_letters, None, poison=dead_letters)
        self.send = send

    def send_back(self, message: Any) -> None:
        event = self.event(message)
        if self.send is None or event is None:
            raise ProviderError(
                f"Redriving {self.spec.name!r} on azure: the letter {message.id} of {self.poison} cannot be "
                "sent back (it is not a CloudEvent); it is kept."
            )
        self.send(undead(event))


def published(publish: Publish) -> Send:
    """A topic function's letters: each CloudEvent published to its custom topic."""
    return lambda event: publish([json.loads(event.to_json())])


def oldest_first(*listings: list[DeadLetterEntry]) -> list[DeadLetterEntry]:
    """Listings each oldest first (the queue's, the blobs') merged into one by when each letter was written
    (none known: first), each listing's own order kept (a blob's events in the blob's order)."""
    return list(heapq.merge(*listings, key=lambda entry: moment(entry.time)))


def moment(text: str | None) -> datetime:
    """An entry's time (ISO 8601: the queue's `+00:00`, Event Grid's `Z` with seven decimals) as a UTC
    datetime; the earliest there is when it has none."""
    if not text:
        return EARLIEST
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        return EARLIEST
    return found if found.tzinfo else found.replace(tzinfo=timezone.utc)
