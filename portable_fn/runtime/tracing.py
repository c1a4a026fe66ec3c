"""Trace context across every hop: what each transport carries, read into one W3C shape.

Every invocation gets its own span in the trace it was called in, so a log line, an outgoing call or an
OpenTelemetry span (`portable_fn.otel`) of one cloud joins the trace of another. This module ships inside
every function: standard library only, no OpenTelemetry.

Where the incoming context is read from (the keys of a carrier are lower-case; the first valid one wins):

| carrier key              | transport                                  | format                        |
|--------------------------|--------------------------------------------|-------------------------------|
| `traceparent`            | HTTP, Service Bus application property     | W3C (`tracestate` beside it)  |
| `googclient_traceparent` | Pub/Sub message attribute                  | W3C                           |
| `diagnostic-id`          | Service Bus / Event Hubs application prop. | W3C, or a legacy Request-Id   |
| `awstraceheader`         | SQS system attribute                       | X-Ray                         |
| `x-amzn-trace-id`        | Lambda's `_X_AMZN_TRACE_ID`, ALB, API GW   | X-Ray                         |
| `x-cloud-trace-context`  | Cloud Run / Cloud Functions requests       | Google's `TRACE/SPAN;o=1`     |

A record that carries none of those may still carry a CloudEvent with the distributed-tracing extension:
its `traceparent` names where the event started, and is never rewritten on the way (`from_event`).

A malformed value is ignored, never raised: a broken header from someone else must not fail an
invocation, it only starts a new trace.

`TracingMiddleware` gives each invocation its span: `ctx.trace` on every cloud and in `dev`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from .pipeline import Call, Invocation, Middleware

__all__ = [
    "Link",
    "TraceContext",
    "TracingMiddleware",
    "context_from",
    "from_cloud_trace",
    "from_event",
    "from_request_id",
    "from_traceparent",
    "from_xray",
    "new_root",
    "new_span_id",
    "new_trace_id",
    "producer_of",
]

_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16
# W3C Trace Context level 1: version-traceid-parentid-flags, lower-case hex; a later version may append
# fields after another "-" (read as the spec says: the four known fields, the rest ignored). Compiled at
# import: every traced invocation reads one. The rarer formats below are patterns `re` compiles (and
# caches) on first use, which keeps about a millisecond off every cold start.
_traceparent = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?\Z").match
_TRACESTATE_KEY = r"(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})"
_TRACESTATE_MEMBER = _TRACESTATE_KEY + r"=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]\Z"
_MAX_TRACESTATE_MEMBERS = 32
_HEX_DIGITS = "0123456789abcdefABCDEF"
# The legacy hierarchical Request-Id of .NET / Application Insights, in its W3C-compatible form:
# |<32 hex trace id>.<16 hex span id>.  (other hierarchical ids have no W3C trace id and are ignored)
_REQUEST_ID = r"\|([0-9a-f]{32})\.([0-9a-f]{16})\.\Z"
# Google's own: TRACE_ID/SPAN_ID;o=OPTIONS, the span id an unsigned 64-bit decimal, o=1 when sampled
_CLOUD_TRACE = r"([0-9a-f]{32})/([0-9]{1,20})(?:;o=([0-9]+))?\Z"


class Link(NamedTuple):
    """A span this invocation is linked to: the producer of a record it handles."""

    trace_id: str
    span_id: str
    sampled: bool


class TraceContext(NamedTuple):
    """One span's W3C trace context: the trace it is in, its own id, its parent's and the links.

    `ctx.trace` is the invocation's: `span_id` is this invocation's own span, `parent_id` the caller's
    (None for a new trace), `links` the producers of the records being handled.
    """

    trace_id: str  # 32 lower-case hex
    span_id: str  # 16 lower-case hex
    parent_id: str | None = None
    sampled: bool = True
    tracestate: str = ""  # the W3C tracestate, passed on unchanged
    links: tuple[Link, ...] = ()

    @property
    def traceparent(self) -> str:
        """The W3C `traceparent` naming this span as the parent of what it calls."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    @property
    def xray_header(self) -> str:
        """The same span as an X-Ray trace header (what SQS's `AWSTraceHeader` carries)."""
        trace = self.trace_id
        return f"Root=1-{trace[:8]}-{trace[8:]};Parent={self.span_id};Sampled={'1' if self.sampled else '0'}"

    def headers(self) -> dict[str, str]:
        """The headers (or message attributes) for an outgoing call made in this span."""
        if self.tracestate:
            return {"traceparent": self.traceparent, "tracestate": self.tracestate}
        return {"traceparent": self.traceparent}

    def link(self) -> Link:
        """This span, as a link from another."""
        return Link(self.trace_id, self.span_id, self.sampled)

    def child(self, links: tuple[Link, ...] = ()) -> TraceContext:
        """A new span in this trace, this span its parent."""
        return TraceContext(self.trace_id, new_span_id(), self.span_id, self.sampled, self.tracestate, links)

    def __repr__(self) -> str:
        return f"TraceContext({self.traceparent!r}, parent_id={self.parent_id!r}, links={len(self.links)})"


# Ids: os.urandom costs about 0.85 us an id here, random.getrandbits about 0.3 us, but `random` costs
# about 4 ms to import where nothing has imported it yet, and its state is copied into every instance
# restored from a snapshot (Lambda SnapStart), which would hand out the same ids in each.
def new_trace_id() -> str:
    """A random, valid W3C trace id."""
    trace_id = os.urandom(16).hex()
    return trace_id if trace_id != _INVALID_TRACE else new_trace_id()


def new_span_id() -> str:
    """A random, valid W3C span id."""
    span_id = os.urandom(8).hex()
    return span_id if span_id != _INVALID_SPAN else new_span_id()


def new_root(links: tuple[Link, ...] = ()) -> TraceContext:
    """The first span of a new trace (sampled: whether it is recorded is the tracer's decision)."""
    return TraceContext(new_trace_id(), new_span_id(), None, True, "", links)


# -- readers: each takes what a transport carries, and gives the sender's span or None -------------------


def from_traceparent(traceparent: Any, tracestate: Any = "") -> TraceContext | None:
    """The span a W3C `traceparent` names (with its `tracestate`), or None when it is not valid."""
    if not isinstance(traceparent, str):
        return None
    found = _traceparent(traceparent.strip(" \t"))
    if found is None:
        return None
    version, trace_id, span_id, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == _INVALID_TRACE or span_id == _INVALID_SPAN:
        return None
    sampled = bool(int(flags, 16) & 1)
    return TraceContext(trace_id, span_id, None, sampled, _valid_tracestate(tracestate))


def _valid_tracestate(tracestate: Any) -> str:
    """`tracestate` with its empty members dropped, or "" when it breaks the W3C rules (all or nothing)."""
    if not isinstance(tracestate, str) or not tracestate:
        return ""
    members = [m.strip(" \t") for m in tracestate.split(",")]
    members = [m for m in members if m]
    if len(members) > _MAX_TRACESTATE_MEMBERS or not all(re.match(_TRACESTATE_MEMBER, m) for m in members):
        return ""
    keys = [m.partition("=")[0] for m in members]
    return ",".join(members) if len(set(keys)) == len(keys) else ""


def from_xray(header: Any) -> TraceContext | None:
    """The span an X-Ray trace header names, as W3C: the trace id is the root's 8 hex digits of epoch
    seconds then its 24 hex digits (AWS's documented mapping). None without a valid Root and Parent.

    `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0|1|?`, its fields in any order, other keys too (Lambda
    adds `Lineage`, an ALB `Self`). Read on every record of an SQS batch: split, no pattern."""
    if not isinstance(header, str):
        return None
    root = parent = sampled = ""
    for field in header.split(";"):
        key, _, value = field.partition("=")
        key = key.strip()
        if key == "Root":
            root = value.strip()
        elif key == "Parent":
            parent = value.strip()
        elif key == "Sampled":
            sampled = value.strip()
    if len(root) != 35 or root[:2] != "1-" or root[10] != "-":
        return None
    trace_id, span_id = (root[2:10] + root[11:]).lower(), parent.lower()
    if not (_is_hex(trace_id, 32) and _is_hex(span_id, 16)):
        return None
    return TraceContext(trace_id, span_id, None, sampled == "1")


def _is_hex(text: str, size: int) -> bool:
    """`text` is `size` hex digits, not all zero (W3C's invalid id)."""
    return len(text) == size and not text.strip(_HEX_DIGITS) and text.strip("0") != ""


def from_request_id(value: Any) -> TraceContext | None:
    """A Service Bus `Diagnostic-Id`: a W3C traceparent, or a legacy Request-Id `|<trace>.<span>.`."""
    if not isinstance(value, str):
        return None
    found = re.match(_REQUEST_ID, value.strip())
    if found is None:
        return from_traceparent(value)
    trace_id, span_id = found.groups()
    if trace_id == _INVALID_TRACE or span_id == _INVALID_SPAN:
        return None
    return TraceContext(trace_id, span_id, None, True)  # a Request-Id has no sampling flag: it was recorded


def from_cloud_trace(header: Any) -> TraceContext | None:
    """Google's `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1` (the span id in decimal), as W3C."""
    if not isinstance(header, str):
        return None
    found = re.match(_CLOUD_TRACE, header.strip())
    if found is None:
        return None
    trace_id, span, options = found.groups()
    span_id = f"{int(span):016x}"
    if trace_id == _INVALID_TRACE or span_id == _INVALID_SPAN or len(span_id) != 16:
        return None
    return TraceContext(trace_id, span_id, None, options == "1")


def from_event(event: Any) -> TraceContext | None:
    """Where a CloudEvent started: its distributed-tracing extension (`traceparent`, `tracestate`)."""
    extensions = getattr(event, "extensions", None)
    if not extensions or "traceparent" not in extensions:
        return None
    return from_traceparent(extensions["traceparent"], extensions.get("tracestate", ""))


def context_from(carrier: Mapping[str, str]) -> TraceContext | None:
    """The sender's span from the first valid of a carrier's keys (the table above), or None."""
    for key, read in _READERS:
        value = carrier.get(key)
        if value is not None:
            found = read(carrier, value)
            if found is not None:
                return found
    return None


_Reader = Callable[[Mapping[str, str], str], "TraceContext | None"]
_READERS: tuple[tuple[str, _Reader], ...] = (  # in order of preference: W3C first, as the sender wrote it
    ("traceparent", lambda carrier, value: from_traceparent(value, carrier.get("tracestate", ""))),
    ("googclient_traceparent", lambda carrier, value: from_traceparent(value)),
    ("diagnostic-id", lambda carrier, value: from_request_id(value)),
    ("awstraceheader", lambda carrier, value: from_xray(value)),
    ("x-amzn-trace-id", lambda carrier, value: from_xray(value)),
    ("x-cloud-trace-context", lambda carrier, value: from_cloud_trace(value)),
)


# -- the middleware ----------------------------------------------------------------------------------

_STATE = __name__  # the key of this middleware's scratch space in `Invocation.state`


def trace_of(invocation: Invocation) -> TraceContext:
    """The invocation's own span: a child of its parent (below), linked to each record's producer.

    The parent of a request is its caller (the request's `traceparent`); the parent of messages is the
    span that produced them, when they all have the same one (one record, or a batch one sender sent), so a
    trace follows an event from cloud to cloud. Otherwise the platform's own trace header is the parent
    when the platform records the trace (Lambda's X-Ray header, Cloud Run's `X-Cloud-Trace-Context`, the
    Azure host's context), else a new trace starts. Each record is linked to its producer, as
    OpenTelemetry's messaging conventions link the records of a batch. Nothing is written to the event:
    its `traceparent` extension keeps naming where it started."""
    producers = [producer_of(call) for call in invocation.calls]
    links = tuple(producer.link() for producer in producers if producer is not None)
    parent = _parent(invocation, producers)
    return parent.child(links) if parent is not None else new_root(links)


def call_trace(call: Call) -> TraceContext:
    """The invocation's span as one call sees it: linked to that call's record's producer only."""
    producer = producer_of(call)
    trace: TraceContext = call.invocation.trace
    return trace._replace(links=(producer.link(),) if producer is not None else ())


class TracingMiddleware(Middleware):
    """Works out each invocation's span when it starts, rather than on first use (`Invocation.trace` is
    otherwise read lazily): for exporters that need the span before the first call, such as
    `portable_fn.otel`."""

    def start(self, invocation: Invocation) -> None:
        invocation.trace  # noqa: B018 - work it out now


def producer_of(call: Call) -> TraceContext | None:
    """The span that produced a call's record: the message's own carrier, else its CloudEvent's origin.
    An event a portable function emitted (it carries `pfnhops`) names its sender's span exactly, where a
    transport's header names the platform's own (SQS's `AWSTraceHeader` is the sending Lambda's): its own
    comes first."""
    extensions = getattr(call.event, "extensions", None)
    if extensions and "pfnhops" in extensions:
        return from_event(call.event) or context_from(call.carrier)
    return context_from(call.carrier) or from_event(call.event)


def _parent(invocation: Invocation, producers: list[TraceContext | None]) -> TraceContext | None:
    """The invocation's parent span, or None for a new trace."""
    carrier = invocation.carrier
    if invocation.spec.trigger.kind == "http":
        caller = from_traceparent(carrier.get("traceparent"), carrier.get("tracestate", ""))
        if caller is not None:
            return caller  # sampled or not, the caller decided
    else:
        sender = _one_sender(producers)
        if sender is not None:  # the platform's header names its delivery, not where the message came from
            return sender
    # A platform writes its header even where nothing records the trace (Lambda's `Sampled=0`): following
    # that one would name a span no one keeps, and have a parent-based sampler drop every span of ours.
    platform = context_from(carrier)
    return platform if platform is not None and platform.sampled else None


def _one_sender(producers: list[TraceContext | None]) -> TraceContext | None:
    """The producer of every record, when they all have the same one."""
    first = producers[0] if producers else None
    if first is None:
        return None
    for producer in producers:
        if producer is None or producer.span_id != first.span_id or producer.trace_id != first.trace_id:
            return None
    return first
