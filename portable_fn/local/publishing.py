"""What functions emit under `portable-fn dev`: delivered in-process, through the host's journal.

The dev host installs a `LocalPublisher` (`runtime.channels.use_publisher`) while it serves: an emitted
event goes to the inbox of a queue's consumer or of each subscriber of a topic exactly as a message
POSTed to `/_local/queues/{name}` or `/_local/topics/{name}` does, committed to the journal before
`publish` returns, so an event a succeeded call emitted survives the host being killed. A delay is the
journal's `ready_at` (no limit, where clouds have one: SQS 15 minutes, Storage Queue 7 days). An event larger
than the host's message limit (`limits`, the strictest cloud's) is refused as the clouds' publishers refuse
it. A channel no
function of the app receives from is dropped, said once in the dev log (on a cloud the topic or queue
exists and keeps, or drops, it there).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..runtime.channels import Channel, PublishError
from ..runtime.cloudevent import CloudEvent

if TYPE_CHECKING:
    from .host import LocalHost


class LocalPublisher:
    """Delivers emitted events to the functions of the app a `LocalHost` serves."""

    max_delay_s = math.inf

    def __init__(self, host: LocalHost, log: Callable[[str], None]) -> None:
        self.host = host
        self.log = log
        self._dropped: set[Channel] = set()  # channels whose drop was logged already
        self._lock = threading.Lock()

    def publish(self, channel: Channel, events: Sequence[CloudEvent[Any]], delay_s: float = 0.0) -> None:
        if delay_s < 0:
            raise PublishError(f"{channel!r}: delay_s={delay_s!r}; use a number of seconds of at least 0.")
        if delay_s and channel.kind == "topic":
            raise PublishError(f"{channel!r}: a topic delivers at once; send delayed messages to a queue.")
        self._check_sizes(channel, events)
        ready_at = time.time() + delay_s if delay_s else 0.0
        try:
            delivered = self.host.deliver(channel.kind, channel.name, events, ready_at)
        except Exception as exc:  # the journal failed: the emitting call is retried
            raise PublishError(f"{channel!r}: the dev host's journal refused the events ({exc}).") from exc
        if not delivered:
            self._note_dropped(channel, len(events))

    def _check_sizes(self, channel: Channel, events: Sequence[CloudEvent[Any]]) -> None:
        """PublishError for an event larger (in the JSON format every cloud's publisher sends) than the message
        limit the host enforces on what is POSTed (`limits`): an 11 MB emit was delivered, where each cloud's
        publisher refuses it."""
        limit = self.host.limits.queue if channel.kind == "queue" else self.host.limits.topic
        for event in events:
            try:
                size = len(event.to_json().encode("utf-8"))
            except (ValueError, TypeError) as exc:  # no JSON or no UTF-8 holds it (a lone surrogate)
                raise PublishError(f"{channel!r}: event {event.id!r} cannot be sent as JSON ({exc}).") from None
            if size > limit.size:
                raise PublishError(
                    f"{channel!r}: event {event.id!r} is {size:,} bytes as JSON, larger than {limit.what} may be: "
                    f"at most {limit.describe()}. Keep large data in a bucket or a state and send its key."
                )

    def _note_dropped(self, channel: Channel, count: int) -> None:
        with self._lock:
            if channel in self._dropped:
                return
            self._dropped.add(channel)
        self.log(
            f"{channel!r}: no function of this app is triggered by it, so what is sent to it is dropped "
            f"locally ({count} event(s) now; said once). On a cloud deploy provisions it for other apps to read."
        )
