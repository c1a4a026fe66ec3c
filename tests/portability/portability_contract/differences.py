"""What may legitimately differ between clouds for the same logical event, each with its reason, and the
comparison that fails on anything else.

A delivery is flattened to `path -> value` (`seen[0].event.data.value.id`, `outcomes[1]`, `status`); a
path that holds different values on different clouds fails the suite unless a row of DIFFERENCES matches
it (fnmatch patterns over the path and the case name). docs/portability.md holds the same table; the
suite checks it does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

from .delivery import Delivery

ABSENT = "<absent>"


@dataclass(frozen=True)
class Difference:
    field: str  # pattern over the flattened path
    cases: str  # pattern over case names
    why: str
    clouds: str = "all"  # who differs, for the docs table only


DIFFERENCES = [
    Difference("seen[*].context.provider", "*", "names the cloud the function runs on: what it is for"),
    Difference("seen[*].context.invocation_id", "*", "each invocation's own id, assigned by the cloud"),
    Difference("seen[*].context.has_deadline", "*",
               "Lambda and the dev host know when the invocation is cut off; Cloud Functions and Azure Functions "
               "do not tell the function", "gcp, azure"),
]


@dataclass(frozen=True)
class NotCarried:
    case: str
    cloud: str
    why: str


NOT_CARRIED = [
    NotCarried("queue-redelivered", "local", "the dev host counts its own deliveries: a message it accepts is "
               "first delivered as attempt 1"),
]


def flatten(delivery: Delivery) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _flatten(out, "seen", delivery.seen)
    _flatten(out, "outcomes", delivery.outcomes)
    _flatten(out, "letters", delivery.letters)
    for name in ("status", "json", "set_cookies"):
        _flatten(out, name, getattr(delivery, name))
    return out


def _flatten(out: dict[str, Any], path: str, value: Any) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(out, f"{path}.{key}", item)
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            _flatten(out, f"{path}[{i}]", item)
    else:
        out[path] = value


def allowed(path: str, case: str) -> Difference | None:
    return next((d for d in DIFFERENCES if fnmatchcase(path, d.field) and fnmatchcase(case, d.cases)), None)


def sent_headers_only(delivery: Delivery, sent: set[str]) -> Delivery:
    """The delivery with each Request's headers cut to those the client sent: every front door adds its
    own (host, content-length, forwarding and tracing headers), which no handler may rely on."""
    seen = []
    for entry in delivery.seen:
        if "request" in entry:
            headers = [pair for pair in entry["request"]["headers"] if pair[0] in sent]
            entry = {**entry, "request": {**entry["request"], "headers": headers}}
        seen.append(entry)
    return replace(delivery, seen=seen)


def unexplained(case: str, deliveries: dict[str, Delivery]) -> list[str]:
    """One line per path whose value differs between clouds without a row saying why."""
    flat = {cloud: flatten(d) for cloud, d in deliveries.items()}
    paths = sorted({p for f in flat.values() for p in f})
    lines = []
    for path in paths:
        values = {cloud: f.get(path, ABSENT) for cloud, f in flat.items()}
        if len({repr(v) for v in values.values()}) > 1 and allowed(path, case) is None:
            shown = ", ".join(f"{cloud}={value!r}" for cloud, value in values.items())
            lines.append(f"{path}: {shown}")
    return lines
