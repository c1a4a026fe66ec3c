"""Local delivery of events to one function: batching, retries with backoff, dead letters.

Every event-triggered function (queue, topic, storage, schedule) gets one `Subscription`: a worker
thread that takes up to `batch_size` ready messages, calls `call_batch`, and settles each `Result`:

- ACK: done;
- RETRY: delivered again after `retry_backoff_s * 2**(attempt-1)` (or the `Retry(delay_s=...)` asked
  for), until the function's `max_attempts`, then dead-lettered;
- DEAD_LETTER: dead-lettered at once.

A FIFO queue keeps its order: a failed message stays at the head and holds back the ones behind it.
Messages live in memory only; whatever is still waiting when the host stops is lost.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runtime.cloudevent import CloudEvent
from ..runtime.context import Context
from ..runtime.dispatch import call_batch, close_loop
from ..runtime.errors import InvalidEventError
from ..runtime.function import FunctionOptions, FunctionSpec
from ..runtime.outcomes import ACK, DEAD_LETTER, DeadLetter, Result, Retry
from ..runtime.views import MessageMeta

Log = Callable[[str], None]
Clock = Callable[[], float]


Forward = Callable[[str, CloudEvent[Any]], None]


class DeadLetters:
    """Dead-lettered events: kept in memory and appended to a JSON Lines file. A function whose
    `dead_letter` names a queue or topic also has its dead letters sent there (`forward`)."""

    def __init__(self, path: Path, forward: Forward | None = None) -> None:
        self.path = path
        self.forward = forward
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, function: str, event: CloudEvent[Any], reason: str, attempts: int,
            target: bool | str = True) -> dict[str, Any]:
        entry = {"function": function, "event": event.to_dict(), "reason": reason, "attempts": attempts,
                 "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if isinstance(target, str):
            entry["target"] = target
        line = json.dumps(entry, ensure_ascii=False, default=str)
        with self._lock:
            self._entries.append(entry)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        if isinstance(target, str) and self.forward is not None:
            self.forward(target, event)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)


@dataclass
class Pending:
    """One message waiting for (re)delivery."""

    event: CloudEvent[Any]
    attempt: int = 1
    ready_at: float = 0.0
    published: str | None = None


@dataclass(frozen=True)
class Policy:
    """How a subscription delivers: batch size, order, attempts, backoff, dead-letter target."""

    batch_size: int = 1
    ordered: bool = False
    max_attempts: int = 3
    backoff_s: float = 1.0
    dead_letter: bool | str = True
    timeout_s: float | None = None

    @classmethod
    def of(cls, spec: FunctionSpec, options: FunctionOptions, backoff_s: float) -> Policy:
        trigger = spec.trigger
        return cls(getattr(trigger, "batch_size", 1), bool(getattr(trigger, "fifo", False)),
                   options.max_attempts, backoff_s, options.dead_letter, options.timeout_s)

    def delay(self, attempt: int, result: Result) -> float:
        """Seconds before delivery number `attempt + 1`."""
        asked = result.error.delay_s if isinstance(result.error, Retry) else None
        return asked if asked is not None else self.backoff_s * 2 ** (attempt - 1)


class Subscription:
    """One function's inbox and the worker thread that delivers it."""

    def __init__(self, spec: FunctionSpec, policy: Policy, dead_letters: DeadLetters,
                 log_invocation: Callable[..., None], log: Log, clock: Clock = time.monotonic) -> None:
        self.spec = spec
        self.policy = policy
        self.dead_letters = dead_letters
        self._log_invocation = log_invocation
        self._log = log
        self._clock = clock
        self._waiting: list[Pending] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"local-{spec.name}", daemon=True)

    def put(self, events: Iterable[CloudEvent[Any]], published: str | None = None) -> None:
        with self._cond:
            self._waiting.extend(Pending(e, 1, 0.0, published) for e in events)
            self._cond.notify()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
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
                    self._log(f"{self.spec.name}: local delivery failed ({type(exc).__name__}: {exc}); "
                              f"{len(batch)} message(s) lost")
        finally:
            close_loop()

    def _next_batch(self) -> list[Pending] | None:
        """Block until messages are ready (None when stopping) and take a batch of them."""
        with self._cond:
            while not self._stopping:
                batch = self._take_ready(self._clock())
                if batch:
                    return batch
                self._cond.wait(self._wait_time())
            return None

    def _take_ready(self, now: float) -> list[Pending]:
        size = self.policy.batch_size
        if self.policy.ordered:  # only from the head: a message waiting for a retry holds the rest
            count = 0
            while count < min(size, len(self._waiting)) and self._waiting[count].ready_at <= now:
                count += 1
            batch, self._waiting[:count] = self._waiting[:count], []
            return batch
        batch = [p for p in self._waiting if p.ready_at <= now][:size]
        taken = {id(p) for p in batch}
        self._waiting = [p for p in self._waiting if id(p) not in taken]
        return batch

    def _wait_time(self) -> float | None:
        if not self._waiting:
            return None
        return max(0.0, min(p.ready_at for p in self._waiting) - self._clock())

    def _deliver(self, batch: list[Pending]) -> None:
        contexts = [self._context(p) for p in batch]
        started = time.perf_counter()
        results = call_batch(self.spec, [p.event for p in batch], contexts, ordered=self.policy.ordered)
        elapsed_ms = (time.perf_counter() - started) * 1000
        first_failure = next((i for i, r in enumerate(results) if not r.ok), len(results))
        retry_later: list[Pending] = []
        for i, (pending, result) in enumerate(zip(batch, results, strict=True)):
            attempted = not self.policy.ordered or i <= first_failure
            if attempted:
                self._log_invocation(self.spec, pending.event.id, _describe(result, pending.attempt),
                                     elapsed_ms)
                if _is_crash(result.error):  # the handler raised on its own: show where
                    self._log("".join(traceback.format_exception(result.error)).rstrip())
            again = self._settle(pending, result, attempted)
            if again is not None:
                retry_later.append(again)
        with self._cond:
            if self.policy.ordered:
                self._waiting[:0] = retry_later
            else:
                self._waiting.extend(retry_later)
            self._cond.notify()

    def _settle(self, pending: Pending, result: Result, attempted: bool) -> Pending | None:
        """What happens to one delivered message; a Pending when it is to be delivered again."""
        if result.outcome == ACK:
            return None
        if not attempted:  # behind a failed message of an ordered batch: same attempt, right after it
            return Pending(pending.event, pending.attempt, 0.0, pending.published)
        reason = result.reason or result.outcome
        if result.outcome == DEAD_LETTER:
            self._dead_letter(pending, reason)
            return None
        if pending.attempt >= self.policy.max_attempts:
            self._dead_letter(pending, f"gave up after {pending.attempt} attempts: {reason}")
            return None
        ready_at = self._clock() + self.policy.delay(pending.attempt, result)
        return Pending(pending.event, pending.attempt + 1, ready_at, pending.published)

    def _dead_letter(self, pending: Pending, reason: str) -> None:
        event = pending.event
        if self.policy.dead_letter is False:
            self._log(f"{self.spec.name}: dropped event {event.id} ({reason}); dead_letter=False")
            return
        self.dead_letters.add(self.spec.name, event, reason, pending.attempt, self.policy.dead_letter)
        self._log(f"{self.spec.name}: dead-lettered event {event.id} after {pending.attempt} "
                  f"attempt(s): {reason}")

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
