"""Reading a deployed app's logs back, the same way for every cloud (`portable-fn logs`).

Each provider's `read_logs` turns what its cloud stores (CloudWatch Logs events, Cloud Logging entries,
Application Insights traces) into `LogEntry`s; everything else lives here and knows no cloud: `--since`
read as a duration or an RFC 3339 time, our own JSON log lines read back into their fields, several
functions' entries merged in time order, the trace filter, `--follow`'s polling (with the sleep and the
clock passed in, so tests poll without waiting), the two ways an entry is printed, and `--usage`: the
tenants' usage lines (`runtime.tenants`) summed per tenant.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .runtime.cloudevent import parse_rfc3339
from .runtime.errors import PortableFnError

DEFAULT_SINCE = "10m"
DEFAULT_LEVEL = "DEFAULT"  # a line that says nothing of its level (a print), as Cloud Logging calls it
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(?:\d+[smhdw])+")
# The names a JSON log line may give each field: ours first, then Lambda's JSON log format, then
# Cloud Logging's special fields.
LEVEL_KEYS = ("level", "severity", "levelname")
MESSAGE_KEYS = ("message", "msg")
TRACE_KEYS = ("trace_id", "traceId", "logging.googleapis.com/trace")
INVOCATION_KEYS = ("invocation_id", "requestId", "aws_request_id", "execution_id")
LEVEL_NAMES = {"WARN": "WARNING", "FATAL": "CRITICAL", "TRACE": "DEBUG", "VERBOSE": "DEBUG", "INFORMATION": "INFO"}


class LogsError(PortableFnError):
    """Logs cannot be read as asked (a bad `--since`, a provider without logs)."""


@dataclass(frozen=True)
class LogEntry:
    """One log line of one function, whatever cloud stored it. `time` is aware (UTC); `raw` is what the
    cloud returned for it (never printed in text form); `entry_id` is the cloud's own id, for `follow`
    to tell a line already shown from a new one written in the same millisecond."""

    time: datetime
    function: str
    level: str
    message: str
    trace_id: str | None = None
    invocation_id: str | None = None
    raw: Any = field(default=None, compare=False, repr=False)
    entry_id: str = ""

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.time, self.function, self.entry_id, self.message)

    def text(self) -> str:
        """`time level function message`, one line."""
        message = self.message.rstrip("\n").replace("\n", "\n    ")
        return f"{format_time(self.time)} {self.level} {self.function} {message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": format_time(self.time),
            "function": self.function,
            "level": self.level,
            "message": self.message,
            "trace_id": self.trace_id,
            "invocation_id": self.invocation_id,
            "raw": self.raw,
        }

    def json_line(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds: `2026-01-31T12:00:00.123Z`."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_since(text: str, now: datetime) -> datetime:
    """`--since`: a duration back from `now` (`30s`, `10m`, `2h`, `1d`, `1h30m`) or an RFC 3339 time
    (`2026-01-31T12:00:00Z`; one without an offset is UTC)."""
    value = text.strip()
    if _DURATION.fullmatch(value):
        seconds = sum(int(n) * UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", value))
        return now - timedelta(seconds=seconds)
    try:
        moment = parse_rfc3339(value)
    except ValueError:
        raise LogsError(
            f"--since {text!r} is neither a duration nor a time; give one like 10m, 2h, 1d or 2026-01-31T12:00:00Z."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def level_name(value: Any) -> str:
    """A level as one upper-case name (`warn` -> WARNING); DEFAULT when there is none."""
    if value is None or value == "":
        return DEFAULT_LEVEL
    name = str(value).upper()
    return LEVEL_NAMES.get(name, name)


def read_line(message: str) -> dict[str, Any] | None:
    """The fields of one of our JSON log lines (or any JSON object line), None for plain text."""
    text = message.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def first(fields: Mapping[str, Any], keys: Iterable[str]) -> Any:
    """The value of the first of `keys` present in `fields` (and not empty), else None."""
    return next((fields[k] for k in keys if fields.get(k) not in (None, "")), None)


def entry_from_line(
    message: str,
    *,
    time: datetime,
    function: str,
    level: Any = None,
    trace_id: str | None = None,
    invocation_id: str | None = None,
    raw: Any = None,
    entry_id: str = "",
) -> LogEntry:
    """A LogEntry for a line a cloud stored: what our JSON log line says wins over what the cloud says
    around it (`level`, `trace_id`, `invocation_id`); a plain text line keeps the cloud's."""
    return entry_from_fields(
        read_line(message) or {},
        message.rstrip("\n"),
        time=time,
        function=function,
        level=level,
        trace_id=trace_id,
        invocation_id=invocation_id,
        raw=raw,
        entry_id=entry_id,
    )


def entry_from_fields(
    fields: Mapping[str, Any],
    fallback: str,
    *,
    time: datetime,
    function: str,
    level: Any = None,
    trace_id: str | None = None,
    invocation_id: str | None = None,
    raw: Any = None,
    entry_id: str = "",
) -> LogEntry:
    """A LogEntry from a structured line's `fields` (a JSON log line, Cloud Logging's jsonPayload), its
    message `fallback` when the fields hold none; the keyword values stand where the fields say nothing."""
    text = first(fields, MESSAGE_KEYS)
    message = fallback if text is None else text if isinstance(text, str) else json.dumps(text, sort_keys=True)
    if isinstance(fields.get("exception"), str):  # our lines keep a traceback apart from the message
        message = f"{message}\n{fields['exception'].rstrip()}"
    return LogEntry(
        time=time,
        function=function,
        level=level_name(first(fields, LEVEL_KEYS) or level),
        message=message,
        trace_id=_trace_id(first(fields, TRACE_KEYS)) or trace_id,
        invocation_id=_str(first(fields, INVOCATION_KEYS)) or invocation_id,
        raw=raw,
        entry_id=entry_id,
    )


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _trace_id(value: Any) -> str | None:
    """A trace id as the line gives it, without Cloud Logging's `projects/P/traces/` in front."""
    return None if value is None else str(value).rsplit("/traces/", 1)[-1]


def merged(*streams: Iterable[LogEntry]) -> list[LogEntry]:
    """Every entry of `streams`, oldest first; each stream is sorted here, so none needs to be."""
    return list(heapq.merge(*(sorted(s, key=_when) for s in streams), key=_when))


def _when(entry: LogEntry) -> datetime:
    return entry.time


def with_trace(entries: Iterable[LogEntry], trace_id: str | None) -> list[LogEntry]:
    """The entries of one trace (all of them when `trace_id` is None). A W3C trace id is compared in
    lower case; an X-Ray id (`1-5759e988-bd862e3fe1be46a994272793`) also matches its W3C form."""
    if not trace_id:
        return list(entries)
    wanted = {_plain_trace(trace_id)}
    return [e for e in entries if e.trace_id and _plain_trace(e.trace_id) in wanted]


def _plain_trace(trace_id: str) -> str:
    """A trace id as 32 lower-case hex digits where it is one: Cloud Logging's `projects/P/traces/T`
    and X-Ray's `1-<8 hex>-<24 hex>` are the same id written otherwise."""
    value = trace_id.strip().lower().rsplit("/", 1)[-1]
    xray = re.fullmatch(r"1-([0-9a-f]{8})-([0-9a-f]{24})", value)
    return xray.group(1) + xray.group(2) if xray else value


Reader = Callable[[datetime], list[LogEntry]]


def follow(
    read: Reader, since: datetime, *, sleep: Callable[[float], None], every_s: float = 2.0, max_polls: int | None = None
) -> Iterator[LogEntry]:
    """The entries `read(since)` gives, then, every `every_s` seconds, those written since the newest
    one seen, each once; until the caller stops (Ctrl-C) or after `max_polls` reads (tests)."""
    seen: set[tuple[Any, ...]] = set()
    polls = 0
    while True:
        batch = read(since)
        polls += 1
        for entry in batch:
            if entry.key not in seen:
                seen.add(entry.key)
                yield entry
        if batch:  # read again from the newest instant seen: a line may arrive late in that millisecond
            since = max(since, batch[-1].time)
            seen = {k for k in seen if k[0] >= since}
        if max_polls is not None and polls >= max_polls:
            return
        sleep(every_s)


# -- usage per tenant (`portable-fn logs FUNCTION --usage`) ------------------------------------------

USAGE_COLUMNS = ("tenant", "invocations", "refused", "failed", "total_ms", "mean_ms")
REFUSED = ("refused",)  # a request answered 4xx (`runtime.tenants.outcome_of`)
FAILED = ("error", "retry", "dead_letter")  # a request answered 5xx; an event not acknowledged


@dataclass(frozen=True)
class TenantUsage:
    """What one tenant's calls added up to: how many, how long they took in all (milliseconds), and how
    many ended each way (`outcomes`: "ack", "refused", "error", "retry", "dead_letter")."""

    tenant: str
    invocations: int
    total_ms: float
    outcomes: Mapping[str, int] = field(default_factory=dict)

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.invocations if self.invocations else 0.0

    @property
    def refused(self) -> int:
        return sum(self.outcomes.get(o, 0) for o in REFUSED)

    @property
    def failed(self) -> int:
        return sum(self.outcomes.get(o, 0) for o in FAILED)

    def row(self) -> tuple[str, ...]:
        counts = (self.invocations, self.refused, self.failed)
        return (self.tenant, *map(str, counts), f"{self.total_ms:.1f}", f"{self.mean_ms:.1f}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "invocations": self.invocations,
            "total_ms": round(self.total_ms, 3),
            "mean_ms": round(self.mean_ms, 3),
            "outcomes": dict(sorted(self.outcomes.items())),
        }


def usage_of(entry: LogEntry) -> Mapping[str, Any] | None:
    """The usage one call logged, or None for any other line. The usage is the message itself (an
    object), so every cloud's reader gives it back whole, as the entry's message."""
    fields = read_line(entry.message)
    usage = fields.get("usage") if fields is not None and len(fields) == 1 else None
    if not isinstance(usage, Mapping) or not isinstance(usage.get("tenant"), str):
        return None
    return usage


def usage_by_tenant(entries: Iterable[LogEntry]) -> list[TenantUsage]:
    """The usage lines among `entries` summed per tenant, by tenant name; a line's invocations are counted
    under its `outcome` (a line without one is counted in the total only)."""
    sums: dict[str, tuple[int, float, dict[str, int]]] = {}
    for entry in entries:
        usage = usage_of(entry)
        if usage is None:
            continue
        count, total, outcomes = sums.get(usage["tenant"], (0, 0.0, {}))
        invocations = _number(usage.get("invocations"), 1)
        outcome = usage.get("outcome")
        if isinstance(outcome, str) and outcome:
            outcomes[outcome] = outcomes.get(outcome, 0) + int(invocations)
        sums[usage["tenant"]] = (count + invocations, total + _number(usage.get("duration_ms")), outcomes)
    return [TenantUsage(t, int(count), total, outcomes) for t, (count, total, outcomes) in sorted(sums.items())]


def _number(value: Any, default: float = 0.0) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else default
