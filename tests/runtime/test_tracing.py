"""Trace context read from what every transport carries, and written for the next hop.

The W3C reader is checked against OpenTelemetry's own propagator on generated headers (the reference
implementation most senders use), and the X-Ray and Request-Id readers against the examples the AWS and
Azure documentation give.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from portable_fn.runtime import CloudEvent, Request, pipeline, spec_of
from portable_fn.runtime.tracing import (
    Link,
    TraceContext,
    TracingMiddleware,
    context_from,
    from_cloud_trace,
    from_event,
    from_request_id,
    from_traceparent,
    from_xray,
    new_root,
    new_span_id,
    new_trace_id,
)

DATA = Path(__file__).resolve().parents[1] / "data"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
W3C = f"00-{TRACE}-{SPAN}-01"
# docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader
XRAY = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
XRAY_TRACE = "5759e988bd862e3fe1be46a994272793"


# -- W3C traceparent / tracestate --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (W3C, (TRACE, SPAN, True)),
        (f"00-{TRACE}-{SPAN}-00", (TRACE, SPAN, False)),
        (f"00-{TRACE}-{SPAN}-03", (TRACE, SPAN, True)),  # unknown flag bits are ignored
        (f" 00-{TRACE}-{SPAN}-01\t", (TRACE, SPAN, True)),  # optional whitespace around a header value
        (f"cc-{TRACE}-{SPAN}-01", (TRACE, SPAN, True)),  # a later version: the known fields are read
        (f"cc-{TRACE}-{SPAN}-01-what-the-future-will-be", (TRACE, SPAN, True)),
    ],
)
def test_a_valid_traceparent_names_the_senders_span(header: str, expected: tuple[str, str, bool]) -> None:
    found = from_traceparent(header)
    assert found is not None
    assert (found.trace_id, found.span_id, found.sampled) == expected
    assert found.parent_id is None and found.links == ()


@pytest.mark.parametrize(
    "header",
    [
        "",
        "00",
        f"00-{TRACE}-{SPAN}",
        f"00-{TRACE}-{SPAN}-01-",
        f"00-{TRACE}-{SPAN}-01-extra",  # 00 is exact
        f"ff-{TRACE}-{SPAN}-01",  # version ff is forbidden
        f"00-{'0' * 32}-{SPAN}-01",
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero ids
        f"00-{TRACE.upper()}-{SPAN}-01",
        f"00-{TRACE}-{SPAN.upper()}-01",  # lower-case hex only
        f"00-{TRACE[:-1]}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}0-01",
        f"00-{TRACE}-{SPAN}-1",
        f"cc-{TRACE}-{SPAN}-01.x",  # a later version's extra fields start with "-"
        f"00_{TRACE}_{SPAN}_01",
        f"0x-{TRACE}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}-0g",
    ],
)
def test_an_invalid_traceparent_is_ignored(header: str) -> None:
    assert from_traceparent(header) is None
    assert context_from({"traceparent": header}) is None


@pytest.mark.parametrize("value", [None, 1, b"00-x", ["00"], {"a": 1}])
def test_a_traceparent_that_is_no_string_is_ignored(value: Any) -> None:
    assert from_traceparent(value) is None
    assert from_xray(value) is None
    assert from_request_id(value) is None


TRACE_IDS = st.integers(1, 2**128 - 1).map("{:032x}".format)
SPAN_IDS = st.integers(1, 2**64 - 1).map("{:016x}".format)
BROKEN = {  # per field, values that break it (or, for version and suffix, may not)
    "version": ["ff", "0", "000", "AB", "zz", "cc", "01"],
    "trace": ["0" * 32, "A" * 32, "a" * 31, "a" * 33, ""],
    "span": ["0" * 16, "F" * 16, "f" * 15, "f" * 17, ""],
    "flags": ["0", "1g", "010", "ff", "03"],
    "suffix": ["-", "-x", ".x", "-00-01", " x"],
}


def _traceparent(trace: str, span: str, flags: str, field: str | None, broken: int) -> str:
    parts = {"version": "00", "trace": trace, "span": span, "flags": flags, "suffix": ""}
    if field is not None:
        parts[field] = BROKEN[field][broken % len(BROKEN[field])]
    return "{version}-{trace}-{span}-{flags}{suffix}".format(**parts)


# A valid header with at most one field broken, so both answers are drawn often; and any text.
NEAR_TRACEPARENT = st.builds(
    _traceparent,
    TRACE_IDS,
    SPAN_IDS,
    st.sampled_from(["00", "01"]),
    st.sampled_from([None, *BROKEN]),
    st.integers(0, 6),
)


@given(NEAR_TRACEPARENT | st.text(max_size=70))
def test_traceparent_is_read_as_opentelemetry_reads_it(header: str) -> None:
    """The reference implementation decides the same, on headers near and far from valid."""
    theirs = TraceContextTextMapPropagator().extract({"traceparent": header.strip(" \t")})
    from opentelemetry import trace

    span = trace.get_current_span(theirs).get_span_context()
    ours = from_traceparent(header)
    if not span.is_valid:
        assert ours is None
    else:
        assert ours is not None
        assert (ours.trace_id, ours.span_id, ours.sampled) == (
            f"{span.trace_id:032x}",
            f"{span.span_id:016x}",
            span.trace_flags.sampled,
        )


@given(TRACE_IDS, SPAN_IDS, st.booleans())
def test_a_context_written_is_read_back(trace_id: str, span_id: str, sampled: bool) -> None:
    context = TraceContext(trace_id, span_id, None, sampled, "vendor=x")
    found = context_from(context.headers())
    assert found == context
    assert from_xray(context.xray_header) == context._replace(tracestate="")


@pytest.mark.parametrize(
    ("tracestate", "kept"),
    [
        ("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        ("rojo=00f067aa0ba902b7 , ,congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),  # empty members
        ("tenant@vendor=value", "tenant@vendor=value"),
        ("", ""),
        ("rojo=1,rojo=2", ""),  # a duplicate key invalidates the whole header
        ("Rojo=1", ""),  # keys are lower-case
        ("rojo=a=b", ""),  # '=' is not allowed in a value
        ("rojo=", ""),  # an empty value
        (",".join(f"k{i}=v" for i in range(33)), ""),  # more than 32 members
    ],
)
def test_tracestate_is_kept_only_when_valid(tracestate: str, kept: str) -> None:
    found = context_from({"traceparent": W3C, "tracestate": tracestate})
    assert found is not None and found.tracestate == kept
    assert found.headers() == ({"traceparent": W3C, "tracestate": kept} if kept else {"traceparent": W3C})


def test_tracestate_without_a_valid_traceparent_is_nothing() -> None:
    assert context_from({"tracestate": "rojo=1"}) is None
    assert context_from({"traceparent": "garbage", "tracestate": "rojo=1"}) is None


# -- X-Ray ---------------------------------------------------------------------------------------------


def test_an_xray_header_maps_to_w3c_as_aws_documents() -> None:
    """Root=1-<epoch 8 hex>-<24 hex>: the W3C trace id is the two joined; Parent is the span id."""
    found = from_xray(XRAY)
    assert found == TraceContext(XRAY_TRACE, "53995c3f42cd8ad8", None, True)
    assert found.xray_header == XRAY


@pytest.mark.parametrize(
    ("header", "sampled"),
    [
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", False),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?", False),  # not decided
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", False),
        # any order, spaces, other keys (Lineage, Self) and upper-case hex, as Lambda and ALB write them
        ("Sampled=1; Parent=53995C3F42CD8AD8; Root=1-5759E988-BD862E3FE1BE46A994272793; Lineage=a87bd80c:1", True),
        (
            "Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;"
            "Parent=53995c3f42cd8ad8;Sampled=1",
            True,
        ),
    ],
)
def test_xray_headers_as_written_in_the_wild(header: str, sampled: bool) -> None:
    found = from_xray(header)
    assert found is not None
    assert (found.trace_id, found.span_id, found.sampled) == (XRAY_TRACE, "53995c3f42cd8ad8", sampled)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Root=",
        "Parent=53995c3f42cd8ad8;Sampled=1",
        "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",  # only version 1 exists
        "Root=1-5759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8",  # 23 hex
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad",
        "Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000",
        ";;;",
        "Root",
        "=;=",
    ],
)
def test_an_invalid_xray_header_is_ignored(header: str) -> None:
    assert from_xray(header) is None


def test_an_xray_root_without_a_parent_is_not_a_parent() -> None:
    """An ALB or API Gateway header (here from Powertools' real ALB event) starts a trace but names no
    span to be the child of: ignored, as OpenTelemetry's X-Ray propagator ignores it."""
    event = json.loads((DATA / "aws" / "events" / "albEvent.json").read_text(encoding="utf-8"))
    header = event["headers"]["x-amzn-trace-id"]
    assert header.startswith("Root=1-") and "Parent" not in header
    assert context_from({"x-amzn-trace-id": header}) is None


# -- Service Bus Diagnostic-Id, Pub/Sub, CloudEvents -----------------------------------------------------


def test_a_diagnostic_id_is_a_traceparent_or_a_legacy_request_id() -> None:
    assert from_request_id(W3C) == TraceContext(TRACE, SPAN, None, True)
    # Application Insights' hierarchical id in its W3C-compatible form: |<trace id>.<span id>.
    assert from_request_id(f"|{TRACE}.{SPAN}.") == TraceContext(TRACE, SPAN, None, True)
    assert from_request_id("|a000b421-5d183ab6.1.") is None  # a hierarchical id with no W3C trace id
    assert from_request_id(f"|{'0' * 32}.{SPAN}.") is None
    assert context_from({"diagnostic-id": f"|{TRACE}.{SPAN}."}) == TraceContext(TRACE, SPAN, None, True)


def test_google_cloud_trace_context_is_read_as_w3c() -> None:
    """TRACE_ID/SPAN_ID;o=1, the span id in decimal (cloud.google.com/trace/docs/trace-context)."""
    header = "105445aa7843bc8bf206b12000100000/1;o=1"
    assert from_cloud_trace(header) == TraceContext("105445aa7843bc8bf206b12000100000", "0000000000000001", None, True)
    assert from_cloud_trace(f"{TRACE}/{int(SPAN, 16)};o=0") == TraceContext(TRACE, SPAN, None, False)
    assert from_cloud_trace(f"{TRACE}/{int(SPAN, 16)}") == TraceContext(TRACE, SPAN, None, False)
    assert context_from({"x-cloud-trace-context": f"{TRACE}/{int(SPAN, 16)};o=1"}) == TraceContext(TRACE, SPAN)
    for bad in [
        "",
        f"{TRACE}",
        f"{TRACE}/",
        f"{TRACE}/0;o=1",
        f"{TRACE}/{2**64};o=1",
        f"{'0' * 32}/1;o=1",
        f"{TRACE.upper()}/1",
        f"{TRACE}/12a;o=1",
        f"{TRACE}/1;o=1;extra",
    ]:
        assert from_cloud_trace(bad) is None, bad


def test_pubsub_carries_a_traceparent_attribute() -> None:
    assert context_from({"googclient_traceparent": W3C}) == TraceContext(TRACE, SPAN, None, True)


def test_a_cloudevent_names_where_it_started() -> None:
    event = CloudEvent(id="1", source="/s", type="t", extensions={"traceparent": W3C, "tracestate": "a=b"})
    assert from_event(event) == TraceContext(TRACE, SPAN, None, True, "a=b")
    assert from_event(CloudEvent(id="1", source="/s", type="t")) is None
    assert from_event(CloudEvent(id="1", source="/s", type="t", extensions={"traceparent": "junk"})) is None
    assert from_event(ValueError("a record that could not be decoded")) is None
    assert from_event(None) is None


def test_the_first_valid_key_wins_w3c_first() -> None:
    other = f"00-{'a' * 32}-{'b' * 16}-01"
    assert context_from({"traceparent": W3C, "x-amzn-trace-id": XRAY}).trace_id == TRACE  # type: ignore[union-attr]
    assert context_from({"traceparent": "junk", "x-amzn-trace-id": XRAY}).trace_id == XRAY_TRACE  # type: ignore[union-attr]
    assert context_from({"googclient_traceparent": other, "awstraceheader": XRAY}).trace_id == "a" * 32  # type: ignore[union-attr]
    assert context_from({"diagnostic-id": "junk", "traceparent": other}).trace_id == "a" * 32  # type: ignore[union-attr]
    assert context_from({}) is None
    assert context_from({"content-type": "application/json"}) is None


# -- new spans ----------------------------------------------------------------------------------------


def test_new_ids_are_valid_and_distinct() -> None:
    traces = {new_trace_id() for _ in range(1000)}
    spans = {new_span_id() for _ in range(1000)}
    assert len(traces) == 1000 and len(spans) == 1000
    assert all(from_traceparent(f"00-{t}-{s}-01") for t, s in zip(traces, spans))


def test_a_child_is_a_new_span_of_the_same_trace() -> None:
    parent = TraceContext(TRACE, SPAN, None, False, "a=b")
    links = (Link("c" * 32, "d" * 16, True),)
    child = parent.child(links)
    assert (child.trace_id, child.parent_id, child.sampled, child.tracestate, child.links) == (
        TRACE,
        SPAN,
        False,
        "a=b",
        links,
    )
    assert child.span_id not in (SPAN, "0" * 16) and len(child.span_id) == 16
    assert child.traceparent == f"00-{TRACE}-{child.span_id}-00"
    assert parent.link() == Link(TRACE, SPAN, False)
    root = new_root()
    assert root.parent_id is None and root.sampled and root.trace_id != TRACE


def test_a_trace_context_is_immutable() -> None:
    context = new_root()
    with pytest.raises(AttributeError):
        context.span_id = "1" * 16  # type: ignore[misc]


# -- the middleware, through the pipeline ------------------------------------------------------------


def _load_handlers() -> ModuleType:
    path = Path(__file__).with_name("handlers") / "traced.py"
    spec = importlib.util.spec_from_file_location("tracing_test_handlers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


traced = _load_handlers()
CONSUME, ANSWER = spec_of(traced.consume), spec_of(traced.answer)
LAMBDA = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
LAMBDA_NOT_RECORDING = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
PRODUCERS = [f"00-{'1' * 31}{i}-{'2' * 15}{i}-01" for i in range(3)]


@pytest.fixture(autouse=True)
def tracing() -> Iterator[TracingMiddleware]:
    """The runtime's own TracingMiddleware when it registered one, else one registered for the test."""
    registered = [m for m in pipeline.middleware() if isinstance(m, TracingMiddleware)]
    middleware = registered[0] if registered else TracingMiddleware()
    if not registered:
        pipeline.use(middleware)
    traced.SEEN.clear()
    yield middleware
    if not registered:
        pipeline.remove(middleware)


def _event(i: int = 0, **extensions: Any) -> CloudEvent[Any]:
    return CloudEvent(id=f"e{i}", source="/tests", type="com.example.traced", data={"i": i}, extensions=extensions)


def _records(
    carrier: dict[str, str] | None, *records: tuple[CloudEvent[Any] | BaseException, dict[str, str]]
) -> pipeline.Invocation:
    invocation = pipeline.Invocation(CONSUME, "test", "inv-1", carrier=carrier)
    for event, record_carrier in records:
        invocation.add(event, carrier=record_carrier)
    return invocation


def test_an_http_request_is_a_child_of_its_callers_span() -> None:
    invocation = pipeline.Invocation(ANSWER, "test", "req-1", carrier={"traceparent": W3C, "tracestate": "a=b"})
    invocation.request(Request("GET", "/traced", headers={"traceparent": W3C}))
    response = pipeline.serve(invocation)
    ((trace, _),) = traced.SEEN
    assert (trace.trace_id, trace.parent_id, trace.tracestate, trace.links) == (TRACE, SPAN, "a=b", ())
    assert trace.span_id != SPAN and trace == invocation.trace
    assert json.loads(response.body) == {"traceparent": f"00-{TRACE}-{trace.span_id}-01", "tracestate": "a=b"}


@pytest.mark.parametrize("carrier", [None, {}, {"traceparent": "00-junk"}, {"x-amzn-trace-id": "Root=;;"}])
def test_a_request_without_a_valid_caller_starts_a_trace(carrier: dict[str, str] | None) -> None:
    invocation = pipeline.Invocation(ANSWER, "test", "req-1", carrier=carrier)
    invocation.request(Request("GET", "/traced"))
    assert pipeline.serve(invocation).status == 200
    ((trace, _),) = traced.SEEN
    assert trace.parent_id is None and trace.sampled and trace.links == ()
    assert from_traceparent(trace.traceparent) is not None


def test_each_record_of_a_batch_is_linked_to_its_producer() -> None:
    """SQS: Lambda's own X-Ray span is the parent; each record links to the span that sent it."""
    invocation = _records(
        {"x-amzn-trace-id": LAMBDA},
        *[
            (_event(i), {"awstraceheader": from_traceparent(p).xray_header})  # type: ignore[union-attr]
            for i, p in enumerate(PRODUCERS)
        ],
    )
    assert [r.outcome for r in pipeline.run(invocation)] == ["ack"] * 3
    producers = [from_traceparent(p).link() for p in PRODUCERS]  # type: ignore[union-attr]
    assert invocation.trace.trace_id == XRAY_TRACE and invocation.trace.parent_id == "53995c3f42cd8ad8"
    assert invocation.trace.links == tuple(producers)
    for i, (trace, event) in enumerate(traced.SEEN):
        assert trace.links == (producers[i],) and event.id == f"e{i}"
        assert (trace.trace_id, trace.span_id, trace.parent_id) == (
            invocation.trace.trace_id,
            invocation.trace.span_id,
            invocation.trace.parent_id,
        )


@pytest.mark.parametrize(
    "platform",
    [None, {"x-amzn-trace-id": LAMBDA_NOT_RECORDING}, {"x-amzn-trace-id": LAMBDA}, {"traceparent": PRODUCERS[2]}],
)  # the last: the Azure host's context
def test_a_single_record_continues_its_producers_trace(platform: dict[str, str] | None) -> None:
    """One record's producer is the parent (and a link), whatever the platform says about its delivery:
    that is how a trace follows an event from cloud to cloud."""
    invocation = _records(platform, (_event(), {"googclient_traceparent": W3C}))
    pipeline.run(invocation)
    ((trace, _),) = traced.SEEN
    assert (trace.trace_id, trace.parent_id, trace.links) == (TRACE, SPAN, (Link(TRACE, SPAN, True),))


def test_a_batch_one_sender_sent_continues_its_trace() -> None:
    sender = {"awstraceheader": from_traceparent(W3C).xray_header}  # type: ignore[union-attr]
    invocation = _records({"x-amzn-trace-id": LAMBDA}, (_event(0), sender), (_event(1), sender))
    pipeline.run(invocation)
    assert (invocation.trace.trace_id, invocation.trace.parent_id) == (TRACE, SPAN)
    assert [t.links for t, _ in traced.SEEN] == [(Link(TRACE, SPAN, True),)] * 2


def test_a_record_without_a_producer_falls_back_to_the_platform_when_it_records() -> None:
    invocation = _records({"x-amzn-trace-id": LAMBDA}, (_event(), {}))
    pipeline.run(invocation)
    assert (invocation.trace.trace_id, invocation.trace.parent_id) == (XRAY_TRACE, "53995c3f42cd8ad8")
    unrecorded = _records({"x-amzn-trace-id": LAMBDA_NOT_RECORDING}, (_event(), {}))
    pipeline.run(unrecorded)
    assert unrecorded.trace.parent_id is None and unrecorded.trace.trace_id != XRAY_TRACE


def test_a_request_without_a_traceparent_follows_a_recording_platform() -> None:
    invocation = pipeline.Invocation(ANSWER, "aws", "req-1", carrier={"x-amzn-trace-id": LAMBDA})
    invocation.request(Request("GET", "/traced"))
    pipeline.serve(invocation)
    assert (invocation.trace.trace_id, invocation.trace.parent_id) == (XRAY_TRACE, "53995c3f42cd8ad8")


def test_a_batch_without_a_carrier_is_a_new_trace_linked_to_every_producer() -> None:
    invocation = _records(
        {"x-amzn-trace-id": LAMBDA_NOT_RECORDING},
        (_event(0), {"traceparent": PRODUCERS[0]}),
        (_event(1), {"diagnostic-id": PRODUCERS[1]}),
    )
    pipeline.run(invocation)
    assert invocation.trace.parent_id is None
    assert invocation.trace.trace_id not in (TRACE, XRAY_TRACE, PRODUCERS[0][3:35])
    assert [t.links[0].span_id for t, _ in traced.SEEN] == [PRODUCERS[0][36:52], PRODUCERS[1][36:52]]


def test_the_events_traceparent_names_the_origin_and_is_never_rewritten() -> None:
    """A record with no carrier of its own: the CloudEvent's traceparent is its producer, and the handler
    gets the event exactly as it was sent."""
    origin = f"00-{TRACE}-{SPAN}-01"
    sent = _event(other="kept", traceparent=origin, tracestate="o=1")
    invocation = _records(None, (sent, {}))
    pipeline.run(invocation)
    ((trace, event),) = traced.SEEN
    assert (trace.trace_id, trace.parent_id, trace.tracestate) == (TRACE, SPAN, "o=1")
    assert event == sent and event.extensions["traceparent"] == origin
    assert trace.headers()["traceparent"] != origin


def test_a_records_own_carrier_wins_over_its_events_origin() -> None:
    """The message carries the hop that sent it; the event's extension the hop where it started."""
    hop = PRODUCERS[2]
    invocation = _records(None, (_event(traceparent=W3C), {"awstraceheader": from_traceparent(hop).xray_header}))  # type: ignore[union-attr]
    pipeline.run(invocation)
    ((trace, _),) = traced.SEEN
    assert trace.parent_id == hop[36:52] and trace.links == (from_traceparent(hop).link(),)  # type: ignore[union-attr]


def test_a_record_that_could_not_be_read_has_no_link_and_breaks_nothing() -> None:
    bad = ValueError("not a CloudEvent")
    invocation = _records(None, (bad, {"awstraceheader": "Root=1-x;Parent=y"}), (_event(1), {"traceparent": W3C}))
    results = pipeline.run(invocation)
    assert [r.outcome for r in results] == ["dead_letter", "ack"]
    assert invocation.trace.links == (Link(TRACE, SPAN, True),)
    ((trace, _),) = traced.SEEN
    assert trace.links == (Link(TRACE, SPAN, True),)
