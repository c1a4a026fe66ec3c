"""Rate and cron expressions, and when a cron fires next.

`next_after` skips whole months, days and hours; the property test at the end checks it against a plain
minute-by-minute search, with day and weekday sets worked out here independently of the parser.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from portable_fn import DeclarationError
from portable_fn.runtime.timing import CronExpression, parse_rate

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- rate -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 hour)", 3600),
        ("rate(3 days)", 259200),
        ("rate(10 MINUTES)", 600),
        ("rate( 5  minutes )", 300),
    ],
)
def test_parse_rate(expression: str, seconds: int) -> None:
    assert parse_rate(expression) == seconds


@pytest.mark.parametrize(
    "expression",
    [
        "rate(5)",
        "rate(minutes)",
        "rate(5 seconds)",
        "rate(1.5 hours)",
        "rate(-1 minutes)",
        "rate(five minutes)",
        "rate(5 minutes extra)",
        "rate()",
        "rate(1 week)",
    ],
)
def test_bad_rates_show_examples(expression: str) -> None:
    with pytest.raises(DeclarationError, match=r"is not a valid rate: write 'rate\(5 minutes\)'"):
        parse_rate(expression)


def test_rate_of_zero() -> None:
    with pytest.raises(DeclarationError, match="the rate must be at least 1"):
        parse_rate("rate(0 minutes)")


# -- cron parsing -----------------------------------------------------------------------------------


def test_cron_star_ranges_steps_and_lists() -> None:
    c = CronExpression("*/15 9-17 1,15,31 */3 1-5")
    assert c.minutes == {0, 15, 30, 45}
    assert c.hours == set(range(9, 18))
    assert c.days == {1, 15, 31}
    assert c.months == {1, 4, 7, 10}
    assert c.weekdays == {1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    ("field", "minutes"),
    [
        ("5", {5}),
        ("5/20", {5, 25, 45}),  # a start with a step runs to the end of the range
        ("10-20/5", {10, 15, 20}),
        ("0-59/30,7", {0, 30, 7}),
        ("*", set(range(60))),
        ("58-59,0-1", {58, 59, 0, 1}),
    ],
)
def test_cron_minute_field(field: str, minutes: set[int]) -> None:
    assert CronExpression(f"{field} * * * *").minutes == minutes


@pytest.mark.parametrize(
    ("months", "dows", "month_set", "dow_set"),
    [
        ("jan", "sun", {1}, {0}),
        ("JAN-MAR", "Mon-Fri", {1, 2, 3}, {1, 2, 3, 4, 5}),
        ("dec,jun", "sat,sun", {6, 12}, {0, 6}),
        ("*", "7", set(range(1, 13)), {0}),  # 7 is Sunday too
        ("*", "0,7", set(range(1, 13)), {0}),
        ("*", "5-7", set(range(1, 13)), {5, 6, 0}),
        ("*", "*/2", set(range(1, 13)), {0, 2, 4, 6}),
    ],
)
def test_cron_names_and_sunday(months: str, dows: str, month_set: set[int], dow_set: set[int]) -> None:
    c = CronExpression(f"0 0 * {months} {dows}")
    assert (c.months, c.weekdays) == (month_set, dow_set)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 3 * *", "has 4 fields; write 5: minute hour day-of-month month day-of-week"),
        ("0 0 3 * * *", "has 6 fields"),
        ("", "has 0 fields"),
        ("60 * * * *", r"minute '60' is out of range 0-59"),
        ("* 24 * * *", r"hour '24' is out of range 0-23"),
        ("* * 0 * *", r"day of month '0' is out of range 1-31"),
        ("* * 32 * *", r"day of month '32' is out of range 1-31"),
        ("* * * 13 *", r"month '13' is out of range 1-12"),
        ("* * * * 8", r"day of week '8' is out of range 0-7"),
        ("5-1 * * * *", r"minute '5-1' is out of range"),
        ("*/0 * * * *", r"minute '\*/0' is out of range"),
        ("a * * * *", r"minute value 'a' is not a number\."),
        ("* * * foo *", r"month value 'foo' is not a number or a name\."),
        ("* * * * monday", r"day of week value 'monday' is not a number or a name"),
        ("*/x * * * *", r"minute value 'x' is not a number"),
        ("1,,2 * * * *", r"minute value '' is not a number"),
        ("-5 * * * *", r"minute value '' is not a number"),
        ("? * * * *", r"minute value '\?' is not a number"),
        ("L * * * *", r"minute value 'L' is not a number"),
    ],
)
def test_cron_errors_name_the_field(expression: str, message: str) -> None:
    with pytest.raises(DeclarationError, match=message):
        CronExpression(expression)


# -- next_after -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("* * * * *", "2024-01-01T00:00:00", "2024-01-01T00:01:00"),
        ("* * * * *", "2024-01-01T00:00:59.999", "2024-01-01T00:01:00"),  # strictly after, whole minutes
        ("0 3 * * *", "2024-01-01T03:00:00", "2024-01-02T03:00:00"),
        ("0 3 * * *", "2024-01-01T02:59:00", "2024-01-01T03:00:00"),
        ("30 23 31 12 *", "2024-12-31T23:30:00", "2025-12-31T23:30:00"),  # the year rolls over
        ("0 0 31 * *", "2024-04-01T00:00:00", "2024-05-31T00:00:00"),  # April has 30 days
        ("0 0 31 * *", "2024-01-31T00:00:00", "2024-03-31T00:00:00"),
        ("0 0 29 2 *", "2024-03-01T00:00:00", "2028-02-29T00:00:00"),  # next leap year
        ("0 0 29 2 *", "2096-03-01T00:00:00", "2104-02-29T00:00:00"),  # 2100 is no leap year
        ("0 12 28-31 2 *", "2023-02-28T12:00:00", "2024-02-28T12:00:00"),
        ("0 9 * * mon-fri", "2024-03-08T09:00:00", "2024-03-11T09:00:00"),  # Friday -> Monday
        ("0 9 * * 7", "2024-03-04T00:00:00", "2024-03-10T09:00:00"),  # 7 = Sunday
        ("0 9 * * 0", "2024-03-10T09:00:00", "2024-03-17T09:00:00"),
        ("0 0 13 * 5", "2024-09-01T00:00:00", "2024-09-06T00:00:00"),  # day 13 OR Friday
        ("0 0 13 * 5", "2024-09-12T00:00:00", "2024-09-13T00:00:00"),
        ("0 0 */2 * 1", "2024-09-01T00:00:00", "2024-09-09T00:00:00"),  # '*/2' counts as '*': odd
        ("0 0 */2 * 1", "2024-09-09T00:00:00", "2024-09-23T00:00:00"),  # day AND Monday (Vixie)
        ("0 0 1 * mon", "2024-01-01T00:00:00", "2024-01-08T00:00:00"),
        ("*/20 */6 * * *", "2024-01-01T05:59:00", "2024-01-01T06:00:00"),
        ("59 23 * * *", "2024-02-28T23:59:00", "2024-02-29T23:59:00"),
        ("0 0 1 jan,jul *", "2024-01-01T00:00:00", "2024-07-01T00:00:00"),
        ("0 0 * * sat", "2024-12-29T00:00:00", "2025-01-04T00:00:00"),
    ],
)
def test_next_after(expression: str, after: str, expected: str) -> None:
    assert CronExpression(expression).next_after(at(after)) == at(expected)


def test_next_after_converts_other_time_zones_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2024, 1, 1, 4, 30, tzinfo=plus_two)  # 02:30 UTC
    assert CronExpression("0 3 * * *").next_after(moment) == at("2024-01-01T03:00:00")


def test_naive_times_are_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        c = CronExpression("0 3 * * *")
        assert c.next_after(datetime(2024, 1, 1, 2, 30)) == at("2024-01-01T03:00:00")
        assert c.matches(datetime(2024, 1, 1, 3, 0))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert os.environ.get("TZ") != "America/New_York"


def test_a_cron_that_never_fires() -> None:
    with pytest.raises(DeclarationError, match=r"'0 0 30 2 \*' never fires"):
        CronExpression("0 0 30 2 *").next_after(at("2024-01-01T00:00:00"))


def test_matches() -> None:
    c = CronExpression("15 10 * * mon")
    assert c.matches(at("2024-03-11T10:15:00"))
    assert not c.matches(at("2024-03-12T10:15:00"))
    assert not c.matches(at("2024-03-11T10:16:00"))


# -- property: next_after agrees with a minute-by-minute search -------------------------------------

# Each field is generated together with the set of values it denotes, worked out here.
Field = tuple[str, set[int]]


def _numbers(low: int, high: int) -> st.SearchStrategy[Field]:
    single = st.integers(low, high).map(lambda v: (str(v), {v}))
    ranged = st.tuples(st.integers(low, high), st.integers(low, high), st.integers(1, 4)).map(
        lambda t: (
            f"{min(t[0], t[1])}-{max(t[0], t[1])}/{t[2]}",
            set(range(min(t[0], t[1]), max(t[0], t[1]) + 1, t[2])),
        )
    )
    started = st.tuples(st.integers(low, high), st.integers(1, 10)).map(
        lambda t: (f"{t[0]}/{t[1]}", set(range(t[0], high + 1, t[1])))
    )
    return st.one_of(single, ranged, started)


def _field(low: int, high: int) -> st.SearchStrategy[tuple[str, set[int], bool]]:
    """(text, values, starts with '*')."""
    star = st.just(("*", set(range(low, high + 1)), True))
    stepped = st.integers(2, 5).map(lambda k: (f"*/{k}", set(range(low, high + 1, k)), True))
    listed = st.lists(_numbers(low, high), min_size=1, max_size=3).map(
        lambda items: (",".join(t for t, _ in items), set().union(*(v for _, v in items)), False)
    )
    return st.one_of(star, star, stepped, listed)


def _weekday_field() -> st.SearchStrategy[tuple[str, set[int], bool]]:
    names = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
    named = st.lists(st.integers(0, 6), min_size=1, max_size=3).map(
        lambda days: (",".join(names[d] for d in days), set(days), False)
    )
    sunday_as_7 = st.just(("7", {0}, False))
    numbers = _field(0, 7).map(lambda f: (f[0], {v % 7 for v in f[1]}, f[2]))  # 7 is Sunday too
    return st.one_of(numbers, named, sunday_as_7)


def _brute_force(fires: Callable[[datetime], bool], start: datetime, minutes: int) -> datetime | None:
    t = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(minutes):
        if fires(t):
            return t
        t += timedelta(minutes=1)
    return None


WINDOW = 3 * 24 * 60  # three days of minutes


@pytest.mark.slow  # 300 expressions, each searched minute by minute over three days
@settings(max_examples=300, deadline=None)
@given(
    minute=_field(0, 59),
    hour=_field(0, 23),
    dom=_field(1, 31),
    month=st.one_of(st.just(("*", set(range(1, 13)), True)), _field(1, 12)),
    dow=_weekday_field(),
    start=st.datetimes(datetime(1999, 12, 25), datetime(2101, 3, 5)),
)
def test_next_after_matches_a_minute_by_minute_search(
    minute: tuple[str, set[int], bool],
    hour: tuple[str, set[int], bool],
    dom: tuple[str, set[int], bool],
    month: tuple[str, set[int], bool],
    dow: tuple[str, set[int], bool],
    start: datetime,
) -> None:
    expression = " ".join(f[0] for f in (minute, hour, dom, month, dow))
    day_or = not dom[2] and not dow[2]  # both restricted: either may match (Vixie cron)

    def fires(t: datetime) -> bool:
        on_dom, on_dow = t.day in dom[1], t.isoweekday() % 7 in dow[1]
        day = (on_dom or on_dow) if day_or else (on_dom and on_dow)
        return t.minute in minute[1] and t.hour in hour[1] and t.month in month[1] and day

    start = start.replace(tzinfo=UTC)
    cron = CronExpression(expression)
    try:
        found = cron.next_after(start)
    except DeclarationError:  # "never fires": nothing in the window either
        assert _brute_force(fires, start, WINDOW) is None
        assume(False)
        return
    assert found > start and found.second == 0 and found.tzinfo is not None
    assert fires(found) and cron.matches(found)
    expected = _brute_force(fires, start, WINDOW)
    if expected is not None:
        assert found == expected, expression
    else:
        assert found > start + timedelta(minutes=WINDOW), expression


@settings(max_examples=100, deadline=None)
@given(start=st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)))
def test_every_minute_fires_in_the_next_minute(start: datetime) -> None:
    found = CronExpression("* * * * *").next_after(start.replace(tzinfo=UTC))
    assert found == start.replace(second=0, microsecond=0, tzinfo=UTC) + timedelta(minutes=1)
