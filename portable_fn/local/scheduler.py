"""The local timer: fires each schedule-triggered function when its rate or cron expression says.

`rate(N unit)` fires every N seconds (times `rate_scale`, so tests can run a minute in a second),
first N seconds after the start; cron fires at `next_after(now)`, in UTC. `tick(now)` does one step
and is what tests drive with a fake clock; the thread only calls it at the right moments.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone

from ..runtime.function import FunctionSpec
from ..runtime.triggers import Schedule

Clock = Callable[[], datetime]
Fire = Callable[[FunctionSpec, datetime], object]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Scheduler:
    """Keeps the next firing time of every schedule and fires the ones that are due."""

    def __init__(
        self, specs: Iterable[FunctionSpec], fire: Fire, clock: Clock = utc_now, rate_scale: float = 1.0
    ) -> None:
        self.specs = [s for s in specs if isinstance(s.trigger, Schedule)]
        self.fire = fire
        self.clock = clock
        self.rate_scale = rate_scale
        self.next_due: dict[str, datetime] = {}
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)

    def reset(self, now: datetime) -> None:
        """Plan the first firing of every schedule from `now`."""
        self.next_due = {s.name: self._after(s, now) for s in self.specs}

    def tick(self, now: datetime) -> list[tuple[str, datetime]]:
        """Fire every schedule due at `now` (once, even if several firings were missed)."""
        fired = []
        for spec in self.specs:
            due = self.next_due[spec.name]
            if due <= now:
                self.fire(spec, due)
                fired.append((spec.name, due))
                following = self._after(spec, due)
                self.next_due[spec.name] = following if following > now else self._after(spec, now)
        return fired

    def start(self) -> None:
        self.reset(self.clock())
        if self.specs:
            self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stopping:
            self.tick(self.clock())
            wait = (min(self.next_due.values()) - self.clock()).total_seconds()
            self._wake.wait(max(0.0, min(wait, 60.0)))

    def _after(self, spec: FunctionSpec, moment: datetime) -> datetime:
        trigger: Schedule = spec.trigger  # type: ignore[assignment]
        cron = trigger.cron_expression()
        if cron is not None:
            return cron.next_after(moment)
        return moment + timedelta(seconds=(trigger.every_s or 60) * self.rate_scale)
