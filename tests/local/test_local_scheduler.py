"""The local timer, driven by a fake clock, and once for real with a scaled-down rate."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from portable_fn import CloudEvent, cron, function, schedule
from portable_fn.local.scheduler import Scheduler

START = datetime(2024, 5, 1, 2, 58, 30, tzinfo=timezone.utc)


@function(trigger=schedule("rate(5 minutes)"))
def every_five(event: CloudEvent) -> None: ...


@function(trigger=cron("0 3 * * *"))
def at_three(event: CloudEvent) -> None: ...


def make(fired: list[tuple[str, datetime]], rate_scale: float = 1.0) -> Scheduler:
    specs = [every_five.__portable_fn__, at_three.__portable_fn__]  # type: ignore[attr-defined]
    return Scheduler(specs, lambda spec, due: fired.append((spec.name, due)), rate_scale=rate_scale)


def test_rates_fire_every_period_starting_one_period_after_the_start() -> None:
    fired: list[tuple[str, datetime]] = []
    scheduler = make(fired)
    scheduler.reset(START)
    early = scheduler.tick(START + timedelta(minutes=4, seconds=59))
    assert "every_five" not in [name for name, _ in early]
    scheduler.tick(START + timedelta(minutes=5))
    scheduler.tick(START + timedelta(minutes=7))
    scheduler.tick(START + timedelta(minutes=10, seconds=1))
    assert [due for name, due in fired if name == "every_five"] == [
        START + timedelta(minutes=5),
        START + timedelta(minutes=10),
    ]


def test_cron_fires_at_its_next_minute_after_the_start() -> None:
    fired: list[tuple[str, datetime]] = []
    scheduler = make(fired)
    scheduler.reset(START)
    assert scheduler.next_due["at_three"] == datetime(2024, 5, 1, 3, 0, tzinfo=timezone.utc)
    scheduler.tick(datetime(2024, 5, 1, 3, 0, 0, 100, tzinfo=timezone.utc))
    assert ("at_three", datetime(2024, 5, 1, 3, 0, tzinfo=timezone.utc)) in fired
    assert scheduler.next_due["at_three"] == datetime(2024, 5, 2, 3, 0, tzinfo=timezone.utc)


def test_missed_firings_collapse_into_one() -> None:
    fired: list[tuple[str, datetime]] = []
    scheduler = make(fired)
    scheduler.reset(START)
    scheduler.tick(START + timedelta(hours=1))  # the machine slept through twelve periods
    assert [name for name, _ in fired].count("every_five") == 1
    assert scheduler.next_due["every_five"] > START + timedelta(hours=1)


def test_the_thread_fires_a_scaled_rate_in_real_time() -> None:
    fired: list[tuple[str, datetime]] = []
    two = threading.Event()

    def fire(spec: Any, due: datetime) -> None:
        fired.append((spec.name, due))
        if len([f for f in fired if f[0] == "every_five"]) >= 2:
            two.set()

    specs = [every_five.__portable_fn__]  # type: ignore[attr-defined]
    scheduler = Scheduler(specs, fire, rate_scale=0.001)  # 5 minutes -> 0.3 s
    began = datetime.now(timezone.utc)
    scheduler.start()
    try:
        assert two.wait(60), f"fired only {fired}"
    finally:
        scheduler.stop()
    first, second = fired[0][1], fired[1][1]
    assert (first - began).total_seconds() >= 0.3 - 1e-3  # one period after the start, never before
    assert abs((second - first).total_seconds() - 0.3) < 1e-6
