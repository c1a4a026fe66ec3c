"""Schedule expressions: `rate(5 minutes)` and 5-field cron, parsed once and able to say when they fire next.

Cron fields are minute, hour, day of month, month, day of week (0 or 7 = Sunday), each with `*`, lists,
ranges, steps and English names; day of month and day of week combine with OR when both are restricted,
as in Vixie cron. Times are UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .errors import DeclarationError

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_DAYS = "sun mon tue wed thu fri sat".split()
_FIELDS = (  # name, low, high, names
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)


def parse_rate(expression: str) -> int:
    """Seconds between firings of `rate(N unit)`."""
    inner = expression.strip()[5:-1].split()
    if len(inner) != 2 or not inner[0].isdigit() or inner[1].lower() not in _UNITS:
        raise DeclarationError(
            f"Schedule {expression!r} is not a valid rate: write 'rate(5 minutes)', 'rate(1 hour)' or 'rate(2 days)'."
        )
    count = int(inner[0])
    if count < 1:
        raise DeclarationError(f"Schedule {expression!r}: the rate must be at least 1.")
    return count * _UNITS[inner[1].lower()]


def rate_expression(expression: str) -> str:
    """The canonical spelling of a valid rate: `rate(1 minute)`, `rate(5 minutes)` (as AWS requires)."""
    count, unit = expression.strip()[5:-1].split()
    singular = unit.lower().rstrip("s")
    return f"rate({int(count)} {singular}{'' if int(count) == 1 else 's'})"


class CronExpression:
    """A parsed 5-field cron expression."""

    __slots__ = ("expression", "minutes", "hours", "days", "months", "weekdays", "_dom_any", "_dow_any")

    def __init__(self, expression: str) -> None:
        parts = expression.split()
        if len(parts) != 5:
            raise DeclarationError(
                f"Cron expression {expression!r} has {len(parts)} fields; write 5: minute hour "
                "day-of-month month day-of-week, for example '0 3 * * *' (03:00 UTC daily)."
            )
        self.expression = " ".join(parts)
        sets = [_parse_field(p, *spec, expression) for p, spec in zip(parts, _FIELDS)]
        self.minutes, self.hours, self.days, self.months, weekdays = sets
        self.weekdays = frozenset(d % 7 for d in weekdays)
        # Vixie cron decides on the field's first character: '*/2' counts as '*' for the OR rule
        self._dom_any = parts[2].startswith("*")
        self._dow_any = parts[4].startswith("*")

    def next_after(self, moment: datetime) -> datetime:
        """The first firing strictly after `moment` (a naive `moment` is taken as UTC)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        t = moment.astimezone(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t + timedelta(days=366 * 9)  # 29 February can be 8 years away (2096 -> 2104)
        while t < limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t
        raise DeclarationError(f"Cron expression {self.expression!r} never fires.")

    def matches(self, moment: datetime) -> bool:
        """True when the cron fires at this minute (a naive `moment` is taken as UTC)."""
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc)
        return (
            moment.month in self.months
            and self._day_matches(moment)
            and moment.hour in self.hours
            and moment.minute in self.minutes
        )

    def _day_matches(self, t: datetime) -> bool:
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.weekdays
        if self._dom_any or self._dow_any:
            return dom and dow
        return dom or dow


def _parse_field(text: str, name: str, low: int, high: int, names: list[str] | None, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = _number(step_text, name, expression, names=None) if step_text else 1
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, stop = _number(a, name, expression, names), _number(b, name, expression, names)
        else:
            start = _number(base, name, expression, names)
            stop = high if step_text else start
        if not (low <= start <= high and low <= stop <= high) or start > stop or step < 1:
            raise DeclarationError(f"Cron expression {expression!r}: {name} {item!r} is out of range {low}-{high}.")
        values.update(range(start, stop + 1, step))
    return frozenset(values)


def _number(text: str, name: str, expression: str, names: list[str] | None) -> int:
    if names and text.lower() in names:
        return names.index(text.lower()) + (1 if names is _MONTHS else 0)
    if not text.isdigit():
        raise DeclarationError(
            f"Cron expression {expression!r}: {name} value {text!r} is not a number" + (" or a name." if names else ".")
        )
    return int(text)
