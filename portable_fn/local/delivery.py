"""Local delivery of events to one function: batching, retries with backoff, dead letters.

Every event-triggered function (queue, topic, storage, schedule) gets one `Subscription`: a worker
thread that takes up to `batch_size` ready messages, calls `call_batch`, and settles each `Result`:

- ACK: done;
- RETRY: delivered again after the delay of the function's retry policy
  (`options.retry_policy.delay_s(attempt)`, times the host's `retry_backoff_s` scale, 1 unless a test
  shortens it), or exactly the delay a `Retry` asked for, until the policy's attempts, then dead-lettered;
- DEAD_LETTER: dead-lettered at once.

A FIFO queue keeps its order: a failed message stays at the head and holds back the ones behind it.
Messages live in the `Journal` from the moment they are accepted until they are settled, with their
attempt and when they are ready (wall-clock time), so a host that stops or dies delivers them after it
starts again: at least once, a delivery cut off by the stop repeated as the same attempt.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..runtime import dead_letters
from ..runtime.cloudevent import CloudEvent
from ..runtime.context import Context
from ..runtime.dead_letters import dead_letter_event
from ..runtime.errors import InvalidEventError
from ..runtime.function import FunctionOptions, FunctionSpec
from ..runtime.outcomes import ACK, DEAD_LETTER, DeadLetter, Result, Retry
from ..runtime.pipeline import call_batch, close_loop
from ..runtime.redaction import redact
from ..runtime.retry import RetryPolicy
from ..runtime.views import MessageMeta
from .journal import Journal, Pending

Log = Callable[[str], None]
Clock = Callable[[], float]


Forward = Callable[[str, CloudEvent[Any]], None]


class DeadLetters:
    """Dead-lettered events, kept in the journal: the original event with the dead-letter extensions
    (`portable_fn.runtime.dead_letters`). A function whose `dead_letter` names a queue or topic also has
    them sent there (`forward`), in the same transaction."""

    def __init__(self, journal: Journal, forward: Forward | None = None) -> None:
        self.journal = journal
        self.forward = forward

    def add(
        self, function: str, event: CloudEvent[Any], reason: str, attempts: int, target: bool | str = True
    ) -> dict[str, Any]:
        letter = dead_letter_event(event, function=function, reason=reason, attempt=attempts)
        entry = {
            "function": function,
            "event": letter.to_dict(),
            "reason": reason,
            "attempts": attempts,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if isinstance(target, str):
            entry["target"] = target
        with self.journal.transaction():
            self.journal.add_dead_letter(entry)
            if isinstance(target, str) and self.forward is not None:
                self.forward(target, letter)
        return entry

    def entries(self, function: str | None = None) -> list[dict[str, Any]]:
        return self.journal.dead_letters(function)

    def redrive(self, function: str, put: Callable[[list[CloudEvent[Any]]], None]) -> list[dict[str, Any]]:
        """Send `function`'s dead letters back to it (`put`: into its inbox, as first deliveries of the
        events it was first given) and remove them from the dead letters, in one transaction; the entries
        sent back."""
        with self.journal.transaction():
            entries = self.journal.take_dead_letters(function)
            if entries:
                put([dead_letters.undead(CloudEvent.from_dict(entry["event"])) for entry in entries])
        return entries


@dataclass(frozen=True)
class Policy:
    """How a subscription delivers: batch size, order, the retry policy (its delays times `scale`),
    dead-letter target."""

    batch_size: int = 1
    ordered: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    scale: float = 1.0
    dead_letter: bool | str = True
    timeout_s: float | None = None

    @classmethod
    def of(cls, spec: FunctionSpec, options: FunctionOptions, scale: float = 1.0) -> Policy:
        trigger = spec.trigger
        return cls(
            getattr(trigger, "batch_size", 1),
            bool(getattr(trigger, "fifo", False)),
            options.retry_policy,
            scale,
            options.dead_letter,
            options.timeout_s,
        )

    @property
    def max_attempts(self) -> int:
        return self.retry.attempts

    def delay(self, attempt: int, result: Result) -> float:
        """Seconds before delivery number `attempt + 1`: what a `Retry` asked for, exactly, else the
        policy's delay after failed delivery `attempt`, scaled."""
        asked = result.error.delay_s if isinstance(result.error, Retry) else None
        return asked if asked is not None else self.scale * self.retry.delay_s(attempt)


JOURNAL_POLL_S = 1.0  # how soon a message another process put in the journal is seen


class Subscription:
    """One function's inbox (its messages in the journal) and the worker thread that delivers it."""

    def __init__(
        self,
        spec: FunctionSpec,
        policy: Policy,
        journal: Journal,
        dead_letters: DeadLetters,
        log_invocation: Callable[..., None],
        log: Log,
        clock: Clock = time.time,
    ) -> None:
        self.spec = spec
        self.policy = policy
        self.journal = journal
        self.dead_letters = dead_letters
        self._log_invocation = log_invocation
        self._log = log
        self._clock = clock  # wall-clock: ready_at outlives the process
        self._wake = threading.Event()  # set when a message arrives or the host stops
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"local-{spec.name}", daemon=True)

    def put(self, events: Iterable[CloudEvent[Any]], published: str | None = None, ready_at: float = 0.0) -> None:
        """Accept messages, delivered from `ready_at` (wall-clock; 0: now): written to the journal (committed,
        unless inside an outer transaction)."""
        self.journal.add(self.spec.name, events, published, ready_at)
        self._wake.set()

    def pending(self) -> list[Pending]:
        """The messages not settled yet (including the batch being delivered)."""
        return self.journal.pending(self.spec.name)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                try:
                    self._deliver(batch)
                except Exception as exc:  # a host bug must not stop the worker
                    self._log(
                        f"{self.spec.name}: local delivery failed ({type(exc).__name__}: {exc}); "
                        f"{len(batch)} message(s) kept, tried again in {self.policy.scale:g} s"
                    )
                    self._wake.wait(self.policy.scale)
        finally:
            close_loop()

    def _next_batch(self) -> list[Pending] | None:
        """Block until messages are ready (None when stopping) and take a batch of them."""
        while not self._stopping:
            self._wake.clear()  # before looking: a message put after the look wakes the wait below
            batch = self.journal.ready(self.spec.name, self._clock(), self.policy.batch_size, self.policy.ordered)
            if batch:
                return batch
            self._wake.wait(self._wait_time())
        return None

    def _wait_time(self) -> float:
        """Until the next message is due, and at most `JOURNAL_POLL_S`: another process may write to the journal
        (`portable-fn invoke --provider local` beside a running `dev`), and nothing wakes this one for it."""
        ready_at = self.journal.next_ready_at(self.spec.name, self.policy.ordered)
        due = JOURNAL_POLL_S if ready_at is None else ready_at - self._clock()
        return min(JOURNAL_POLL_S, max(0.0, due))

    def _deliver(self, batch: list[Pending]) -> None:
        contexts = [self._context(p) for p in batch]
        started = time.perf_counter()
        results = call_batch(self.spec, [p.event for p in batch], contexts, ordered=self.policy.ordered)
        elapsed_ms = (time.perf_counter() - started) * 1000
        # Behind a failed message of an ordered batch, messages were not attempted: they stay as they
        # are, right after it.
        first_failure = next((i for i, r in enumerate(results) if not r.ok), len(results))
        attempted = list(zip(batch, results, strict=True))
        if self.policy.ordered:
            attempted = attempted[: first_failure + 1]
        for pending, result in attempted:
            self._log_invocation(self.spec, pending.event.id, _describe(result, pending.attempt), elapsed_ms)
            if _is_crash(result.error):  # the handler raised on its own: show where
                self._log(redact("".join(traceback.format_exception(result.error)).rstrip()))
        with self.journal.transaction():  # the whole batch is settled at once
            for pending, result in attempted:
                self._settle(pending, result)

    def _settle(self, pending: Pending, result: Result) -> None:
        """What happens to one delivered message: removed, or kept for its next attempt."""
        if result.outcome == ACK:
            self.journal.remove(pending.seq)
            return
        reason = result.reason or result.outcome
        if result.outcome == DEAD_LETTER:
            self._dead_letter(pending, reason)
        elif pending.attempt >= self.policy.max_attempts:
            self._dead_letter(
                pending, f"gave up after {pending.attempt} attempt{'s' if pending.attempt != 1 else ''}: {reason}"
            )
        else:
            ready_at = self._clock() + self.policy.delay(pending.attempt, result)
            self.journal.retry(pending.seq, pending.attempt + 1, ready_at)

    def _dead_letter(self, pending: Pending, reason: str) -> None:
        """Settle a message given up on: moved to the dead letters, or dropped with dead_letter=False."""
        event = pending.event
        self.journal.remove(pending.seq)
        if self.policy.dead_letter is False:
            self._log(f"{self.spec.name}: dropped event {event.id} ({one_line(reason)}); dead_letter=False")
            return
        self.dead_letters.add(self.spec.name, event, reason, pending.attempt, self.policy.dead_letter)
        said = one_line(reason)
        self._log(f"{self.spec.name}: dead-lettered event {event.id} after {pending.attempt} attempt(s): {said}")

    def _context(self, pending: Pending) -> Context:
        deadline = time.time() + self.policy.timeout_s if self.policy.timeout_s else None
        message = None
        if self.spec.trigger.kind in ("queue", "topic"):
            message = MessageMeta(pending.event.id, pending.attempt, {}, pending.published)
        return Context(str(uuid.uuid4()), self.spec.name, "local", pending.attempt, deadline, message)


def _is_crash(error: BaseException | None) -> bool:
    return error is not None and not isinstance(error, (Retry, DeadLetter, InvalidEventError))


def _describe(result: Result, attempt: int) -> str:
    text = result.outcome if attempt == 1 else f"{result.outcome} (attempt {attempt})"
    return f"{text}: {result.reason}" if result.reason and not result.ok else text


# control characters as Python writes them in a string literal: "\n" -> "\\n", "\x00" -> "\\x00"
_ESCAPED = {code: repr(chr(code))[1:-1] for code in (*range(0x20), *range(0x7F, 0xA0))}


def one_line(text: str) -> str:
    """`text` for one line of the dev log: a request path, an error or a reason carries what the caller sent,
    and a newline in it must not start a line that looks like the host's own."""
    return text.translate(_ESCAPED)
