"""Running workflows in one process, for tests and benchmarks: `WorkflowDriver`, `run_workflow`.

    with WorkflowDriver() as driver:
        instance_id = driver.start(place_order, {"id": "o-1", "total": 30})
        driver.run()                                   # until nothing is due (sleeps skipped, time jumps)
        driver.send_event("shop.payment.confirmed", match="o-1")
        driver.run()
        assert driver.instance(instance_id)["status"] == "completed"

The driver is the workflows' queue and clock: what a workflow sends to its queue waits in the driver, in
order of when it is due, and `run` delivers each through the runner's function (the same pipeline every
cloud runs), moving the clock forward to a delayed message instead of waiting for it. States are SQLite
(in memory unless given a directory). What functions publish to other topics and queues is kept in `sent`.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .runtime import channels, workflow
from .runtime.channels import Channel
from .runtime.cloudevent import CloudEvent
from .runtime.context import Context
from .runtime.function import FunctionSpec
from .runtime.outcomes import ACK, RETRY, Retry
from .runtime.pipeline import call_event
from .runtime.state import use_backends
from .runtime.state_sqlite import SqliteBackend


class WorkflowDriver:
    """Delivers workflow messages in this process, on a clock that jumps to the next due message."""

    max_delay_s = math.inf

    def __init__(self, state_dir: str | Path | None = None, start: float | None = None) -> None:
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.clock = time.time() if start is None else start
        self.sent: list[tuple[Channel, CloudEvent[Any], float]] = []  # (channel, event, delay_s) to others
        self.dead_letters: list[tuple[str, CloudEvent[Any], str]] = []
        self.deliveries = 0
        self._queue: list[tuple[float, int, Channel, CloudEvent[Any], int]] = []
        self._order = itertools.count()
        self._backends: dict[str, SqliteBackend] = {}
        self._restore: tuple[Any, ...] = ()

    # -- as the process's publisher, clock and stores --------------------------------------------------

    def publish(self, channel: Channel, events: Sequence[CloudEvent[Any]], delay_s: float = 0.0) -> None:
        for event in events:
            if self._runner(channel) is None:
                self.sent.append((channel, event, delay_s))
            else:
                self._put(channel, event, self.clock + delay_s, 1)

    def now(self) -> float:
        return self.clock

    def _backend(self, name: str, locator: str | None) -> SqliteBackend:
        if name not in self._backends:
            path = ":memory:" if self.state_dir is None else str(self.state_dir / f"{name}.sqlite3")
            self._backends[name] = SqliteBackend(path)
        return self._backends[name]

    def __enter__(self) -> WorkflowDriver:
        self._restore = (
            channels.use_publisher(self),
            workflow.use_clock(self.now),
            use_backends(self._backend),
        )
        return self

    def __exit__(self, *exc: object) -> None:
        publisher, clock, backends = self._restore
        channels.use_publisher(publisher)
        workflow.use_clock(clock)
        use_backends(backends)

    # -- driving --------------------------------------------------------------------------------------

    def start(
        self, defn: workflow.WorkflowDef, input: Any = None, *, id: str | None = None, tenant: str | None = None
    ) -> str:
        """Start an instance (as `start_workflow` does from a function), serving `tenant` if given; its id."""
        return workflow.start_workflow(defn, input, id=id, tenant=tenant)

    def send_event(self, type: str, match: Any, data: Any = None, *, tenant: str | None = None) -> int:
        """Deliver an awaited event (as `send_event` does from a function), to `tenant`'s instances if given."""
        return workflow.send_event(type, match, data, tenant=tenant)

    def run(self, for_s: float = math.inf, limit: int = 10_000) -> int:
        """Deliver messages in order of when they are due, the clock jumping to each, until none is due
        within `for_s` seconds from now (by default: until none is left; 0: only what is due now); the number
        delivered. A message whose runner asks for a retry is delivered again after the delay the runner's
        retry policy gives."""
        horizon = self.clock + for_s
        delivered = 0
        while self._queue and self._queue[0][0] <= horizon:
            if delivered >= limit:
                raise RuntimeError(
                    f"WorkflowDriver.run: still busy after {limit} messages (a workflow that never ends?)"
                )
            due, _, channel, event, attempt = heapq.heappop(self._queue)
            self.clock = max(self.clock, due)
            self.deliver(channel, event, attempt)
            delivered += 1
        return delivered

    def deliver(self, channel: Channel, event: CloudEvent[Any], attempt: int = 1) -> str:
        """Deliver one message to the runner of `channel` now; its outcome ("ack", "retry", "dead_letter")."""
        spec = self._runner(channel)
        if spec is None:
            raise ValueError(f"{channel!r} is not a workflow's queue")
        self.deliveries += 1
        try:
            result = call_event(spec, event, Context(event.id, spec.name, "local", attempt))
        except BaseException:  # the process "died" (a test's crash): the queue delivers the message again
            self._put(channel, event, self.clock, attempt + 1)
            raise
        if result.outcome == RETRY:
            policy = spec.options.retry_policy
            if attempt < policy.attempts:
                asked = result.error.delay_s if isinstance(result.error, Retry) else None
                wait = asked if asked is not None else policy.delay_s(attempt)
                self._put(channel, event, self.clock + wait, attempt + 1)
            else:
                self.dead_letters.append((spec.name, event, result.reason or ""))
        elif result.outcome != ACK:
            self.dead_letters.append((spec.name, event, result.reason or ""))
        return result.outcome

    def pending(self) -> list[tuple[float, CloudEvent[Any]]]:
        """The messages not delivered yet: (due, event), in order."""
        return [(due, event) for due, _, _, event, _ in sorted(self._queue)]

    def take(self) -> tuple[Channel, CloudEvent[Any], int] | None:
        """Remove and return the next message without delivering it (tests that crash a runner)."""
        if not self._queue:
            return None
        due, _, channel, event, attempt = heapq.heappop(self._queue)
        self.clock = max(self.clock, due)
        return channel, event, attempt

    def instance(self, instance_id: str) -> dict[str, Any]:
        found = workflow.get_instance(instance_id)
        if found is None:
            raise KeyError(instance_id)
        return found

    def _put(self, channel: Channel, event: CloudEvent[Any], due: float, attempt: int) -> None:
        heapq.heappush(self._queue, (due, next(self._order), channel, event, attempt))

    @staticmethod
    def _runner(channel: Channel) -> FunctionSpec | None:
        for defn in workflow.definitions().values():
            if defn.channel == channel:
                return defn.runner.__portable_fn__
        return None


def run_workflow(defn: workflow.WorkflowDef, input: Any = None, *, id: str | None = None) -> dict[str, Any]:
    """Start an instance of `defn` and run it to its end in this process (sleeps skipped); the finished
    instance (status, result or error, history). A workflow waiting for an event stays `waiting`."""
    with WorkflowDriver() as driver:
        instance_id = driver.start(defn, input, id=id)
        driver.run()
        return driver.instance(instance_id)
