"""`portable-fn dead-letters FUNCTION --provider azure [--redrive]` for a function Event Grid, a blob trigger
or a timer delivers to: the letters the shim wrote to the function's own Storage Queue
(`names.dead_letter_queue`: a `DeadLetter`, an event that could not be read, a timer's retry on its last
attempt) and, for Event Grid subscriptions, the blobs Event Grid wrote once its retries ran out
(`grid_letters`), listed together oldest first. Provider side.

| trigger                   | letters from                     | `--redrive`                                      |
|---------------------------|----------------------------------|--------------------------------------------------|
| topic on Event Grid       | its queue and its subscription's | each published back to the function's custom     |
|                           | dead-letter blobs                | topic, deleted only once the publish succeeded   |
| storage (created/deleted) | its queue, the system topic      | refused, every letter kept: only Azure Storage   |
|                           | subscription's blobs and its     | publishes blob events                            |
|                           | messages in the host's           |                                                  |
|                           | `webjobs-blobtrigger-poison`     |                                                  |
|                           | (`blob_poison`)                  |                                                  |
| schedule                  | its queue                        | refused, every letter kept: a timer has no input |
|                           |                                  | to send back; the next firing runs it again      |
"""

from __future__ import annotations

import heapq
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from portable_fn.runtime.dead_letters import undead
from portable_fn.runtime.errors import ProviderError

from .blob_poison import POISON_QUEUE
from .grid_letters import SYSTEM_TOPIC_REFUSAL, Publish
from .redrive import DeadLetters

if TYPE_CHECKING:
    from portable_fn.provider import DeadLetterEntry
    from portable_fn.runtime.function import FunctionSpec

UNMARKED = "not written by the shim: it has no deadletterreason"
TIMER_REFUSAL = (
    "Function {function!r} on azure: its dead letters are timer firings, which have no input to send back, so "
    "portable-fn cannot redrive them; they are kept in {where}. The next firing runs the function again; "
    "delete each letter yourself once it is handled."
)
EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


class EventDeadLetters(DeadLetters):
    """The function's own dead-letter queue (`dead_letters`, read through `service`, an azure.storage.queue
    QueueServiceClient); a redrive publishes each letter to `publish` (a topic function's custom topic)."""

    unmarked = UNMARKED

    def __init__(self, service: Any, spec: FunctionSpec, dead_letters: str, publish: Publish | None) -> None:
        super().__init__(service, spec, dead_letters, None, poison=dead_letters)
        self.publish = publish

    def send_back(self, message: Any) -> None:
        event = self.event(message)
        if self.publish is None or event is None:
            raise ProviderError(
                f"Redriving {self.spec.name!r} on azure: the letter {message.id} of {self.poison} cannot be "
                "published back (it is not a CloudEvent, or the function has no topic); it is kept."
            )
        self.publish([json.loads(undead(event).to_json())])


def refusal(spec: FunctionSpec, queue: str, system_topic: str, blobs: str) -> str | None:
    """Why the function's dead letters (in the storage queue `queue` and, for blob events, under `blobs` of
    the dead-letter container) cannot be redriven; None: they can (a topic's)."""
    kind = spec.trigger.kind
    if kind == "schedule":
        return TIMER_REFUSAL.format(function=spec.name, where=f"the storage queue {queue}")
    if kind == "storage":
        where = f"the storage queue {queue}, the storage queue {POISON_QUEUE} (the host's, for blobs) and {blobs}"
        return SYSTEM_TOPIC_REFUSAL.format(function=spec.name, topic=system_topic, where=where)
    return None


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
