"""OTLP/HTTP JSON on the standard library (portable_fn.otel_json): what it sends decodes, through protobuf's
strict JSON parser and the collector's own message definitions, to exactly what OpenTelemetry's
protobuf exporter sends for the same spans."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from portable_fn.otel_json import DEFAULT_ENDPOINT, OtlpJsonSpanExporter, encode_spans

from .otlp_receiver import otlp_receiver

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = ROOT / "tests" / "runtime" / "handlers" / "traced.py"


def _spans() -> tuple[ReadableSpan, ...]:
    """Spans with every field the encoding has: kinds, a remote parent with a tracestate, links, events,
    an error status, attributes of every type, two scopes and a resource."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "shop", "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    parent = SpanContext(
        0x4BF92F3577B34DA6A3CE929D0E0E4736,
        0x00F067AA0BA902B7,
        True,
        TraceFlags(TraceFlags.SAMPLED),
        TraceState([("rojo", "00f067aa0ba902b7")]),
    )
    producer = SpanContext(0x11111111111111111111111111111111, 0x2222222222222222, True, TraceFlags(TraceFlags.SAMPLED))
    tracer = provider.get_tracer("portable_fn", "0.1.0")
    with tracer.start_as_current_span(
        "consume",
        set_span_in_context(NonRecordingSpan(parent)),
        SpanKind.CONSUMER,
        attributes={
            "faas.coldstart": True,
            "messaging.batch.message_count": 3,
            "ratio": 0.25,
            "names": ["a", "b"],
            "counts": [1, 2],
            "flags": [True, False],
            "text": "é🌎",
        },
        links=[Link(producer, {"messaging.message.id": "m-1"})],
    ) as span:
        span.add_event("retry", {"attempt": 2})
        span.record_exception(ValueError("bad record"))
        span.set_status(Status(StatusCode.ERROR, "retry: bad record"))
        with provider.get_tracer("user", schema_url="https://opentelemetry.io/schemas/1.26.0").start_as_current_span(
            "charge", kind=SpanKind.CLIENT
        ) as inner:
            inner.set_attribute("amount", 12)
    with tracer.start_as_current_span("GET /orders", kind=SpanKind.SERVER) as root:
        root.set_status(Status(StatusCode.OK))
    spans = memory.get_finished_spans()
    assert len(spans) == 3
    return spans


def test_the_json_sent_decodes_to_what_the_protobuf_exporter_sends() -> None:
    spans = _spans()
    with otlp_receiver() as receiver:
        endpoint = receiver.endpoint + "/v1/traces"
        assert OTLPSpanExporter(endpoint=endpoint).export(spans) is SpanExportResult.SUCCESS
        assert OtlpJsonSpanExporter(endpoint=endpoint).export(spans) is SpanExportResult.SUCCESS
    protobuf, ours = receiver.messages
    assert ours == protobuf
    assert [content_type for _, content_type in receiver.requests] == ["application/x-protobuf", "application/json"]
    assert len(receiver.spans) == 6 and receiver.spans[:3] == receiver.spans[3:]


def test_ids_are_hex_and_integers_strings_as_otlp_json_says() -> None:
    encoded = encode_spans(_spans())
    [resource_spans] = encoded["resourceSpans"]
    spans = [s for scope in resource_spans["scopeSpans"] for s in scope["spans"]]
    consume = next(s for s in spans if s["name"] == "consume")
    assert consume["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert consume["parentSpanId"] == "00f067aa0ba902b7" and consume["traceState"] == "rojo=00f067aa0ba902b7"
    assert consume["kind"] == 5 and consume["status"]["code"] == 2  # CONSUMER, ERROR
    assert {"key": "messaging.batch.message_count", "value": {"intValue": "3"}} in consume["attributes"]
    assert isinstance(consume["startTimeUnixNano"], str)
    assert "parentSpanId" not in next(s for s in spans if s["name"] == "GET /orders")


def test_the_standard_variables_configure_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    ):
        monkeypatch.delenv(name, raising=False)
    default = OtlpJsonSpanExporter()
    assert (default.endpoint, default.headers, default.timeout, default.compression) == (
        DEFAULT_ENDPOINT,
        {},
        10.0,
        "none",
    )
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.example:4318/")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%3Dcret, x-team = shop ,broken")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    configured = OtlpJsonSpanExporter()
    assert configured.endpoint == "https://collector.example:4318/v1/traces"  # the base gets the signal's path
    assert configured.headers == {"api-key": "s=cret", "x-team": "shop"}
    assert (configured.timeout, configured.compression) == (2.5, "gzip")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://traces.example/custom")
    assert OtlpJsonSpanExporter().endpoint == "https://traces.example/custom"  # used as given
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")
    with pytest.raises(ValueError, match="'gzip' or 'none'"):
        OtlpJsonSpanExporter()


def test_gzip_and_headers_reach_the_collector() -> None:
    spans = _spans()
    with otlp_receiver() as receiver:
        exporter = OtlpJsonSpanExporter(receiver.endpoint + "/v1/traces", {"api-key": "k"}, compression="gzip")
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    [message] = receiver.messages
    assert len(message.resource_spans[0].scope_spans) == 2
    [headers] = receiver.headers
    assert (headers["content-encoding"], headers["api-key"]) == ("gzip", "k")


def test_a_collector_that_cannot_be_reached_fails_the_export_not_the_function() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exporter = OtlpJsonSpanExporter(f"http://127.0.0.1:{port}/v1/traces", timeout=5)
    assert exporter.export(_spans()) is SpanExportResult.FAILURE


PROBE = textwrap.dedent("""
    import importlib.util, json, sys
    from portable_fn import otel
    from portable_fn.runtime import CloudEvent, pipeline, spec_of
    spec = importlib.util.spec_from_file_location("handlers", sys.argv[1])
    handlers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handlers)
    otel.install()
    invocation = pipeline.Invocation(spec_of(handlers.consume), "gcp", "exec-1")
    invocation.add(CloudEvent(id="e1", source="/s", type="t", data={}))
    pipeline.run(invocation)
    print(json.dumps({"trace": invocation.trace.traceparent,
                      "heavy": sorted(m for m in ("requests", "urllib3", "google.protobuf") if m in sys.modules)}))
""")


@pytest.mark.slow  # imports in a fresh interpreter
def test_http_json_is_chosen_by_the_standard_protocol_variable_and_loads_no_requests_or_protobuf() -> None:
    with otlp_receiver() as receiver:
        env = {
            "PATH": "/usr/bin:/bin",
            "PORTABLE_FN_OTEL": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        }
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(HANDLERS)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        [span] = receiver.spans
    assert receiver.requests == [("/v1/traces", "application/json")]
    assert report["trace"] == f"00-{span.trace_id}-{span.span_id}-01"
    assert report["heavy"] == []
