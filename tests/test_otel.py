"""OpenTelemetry: every invocation one span with ctx.trace's ids, its attributes, links and status, flushed
before the invocation returns; checked with the SDK's in-memory exporter and with the real OTLP/HTTP
exporter sending to a receiver on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.semconv._incubating.attributes import cloud_attributes, faas_attributes, messaging_attributes
from opentelemetry.trace import SpanKind, StatusCode

from portable_fn import otel
from portable_fn.runtime import CloudEvent, Request, pipeline, spec_of
from portable_fn.runtime.tracing import TracingMiddleware, from_traceparent

from .otlp_receiver import otlp_receiver

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = ROOT / "tests" / "runtime" / "handlers" / "traced.py"
LAMBDA = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
PRODUCERS = [f"00-{'1' * 31}{i}-{'2' * 15}{i}-01" for i in range(3)]


def _load_handlers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("otel_test_handlers", HANDLERS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


traced = _load_handlers()
CONSUME, ANSWER = spec_of(traced.consume), spec_of(traced.answer)


class Telemetry:
    def __init__(
        self, exporter: InMemorySpanExporter, metrics: InMemoryMetricReader, middleware: otel.OtelMiddleware
    ) -> None:
        self.exporter, self.metrics, self.middleware = exporter, metrics, middleware

    def span(self) -> ReadableSpan:
        spans = self.exporter.get_finished_spans()
        assert len(spans) == 1, spans
        return spans[0]

    def metric_points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        return [
            point
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == name
            for point in m.data.data_points
        ]


@pytest.fixture(autouse=True)
def _restore_middleware() -> Iterator[None]:
    """Whatever a test registers is removed after it; what the runtime registered stays."""
    before = pipeline.middleware()
    yield
    for registered in pipeline.middleware():
        if registered not in before:
            pipeline.remove(registered)


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    middleware = otel.install(provider, MeterProvider(metric_readers=[reader]))
    traced.SEEN.clear()
    yield Telemetry(exporter, reader, middleware)


def _event(i: int = 0, data: Any = None) -> CloudEvent[Any]:
    return CloudEvent(id=f"e{i}", source="/tests", type="com.example.traced", data=data or {"i": i})


def _sqs_batch(n: int, provider: str = "aws", **invocation: Any) -> pipeline.Invocation:
    built = pipeline.Invocation(
        CONSUME, provider, "c0ffee-1", carrier={"x-amzn-trace-id": LAMBDA}, region="eu-west-1", **invocation
    )
    for i in range(n):
        built.add(_event(i), carrier={"awstraceheader": from_traceparent(PRODUCERS[i]).xray_header})  # type: ignore[union-attr]
    return built


# -- switching on ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({}, False),
        ({"PORTABLE_FN_OTEL": "1"}, True),
        ({"PORTABLE_FN_OTEL": "true"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        ({"PORTABLE_FN_OTEL": "0", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "PORTABLE_FN_OTEL": "1"}, False),
        ({"OTEL_SERVICE_NAME": "shop", "OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
    ],
)
def test_enabled_by_environment(environ: dict[str, str], enabled: bool) -> None:
    assert otel.enabled_by_environment(environ) is enabled


@pytest.mark.slow  # imports in a fresh interpreter
def test_deciding_imports_no_opentelemetry() -> None:
    """What every cold start runs costs no OpenTelemetry import."""
    probe = (
        "import sys, portable_fn.otel as o; o.enabled_by_environment({'PORTABLE_FN_OTEL': '1'}); "
        "print([m for m in sys.modules if m.startswith('opentelemetry')])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"


# -- the span ----------------------------------------------------------------------------------------


def test_a_batch_is_one_consumer_span_with_ctx_traces_ids(telemetry: Telemetry) -> None:
    invocation = _sqs_batch(3)
    invocation.cold_start = True
    assert [r.outcome for r in pipeline.run(invocation)] == ["ack"] * 3
    span = telemetry.span()
    trace = invocation.trace
    assert {t.span_id for t, _ in traced.SEEN} == {trace.span_id}  # what the handler saw is the span
    assert (f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}") == (trace.trace_id, trace.span_id)
    assert span.parent is not None and span.parent.is_remote
    assert (f"{span.parent.trace_id:032x}", f"{span.parent.span_id:016x}") == (
        "5759e988bd862e3fe1be46a994272793",
        "53995c3f42cd8ad8",
    )
    assert span.kind is SpanKind.CONSUMER and span.name == "consume"
    assert [(f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") for link in span.links] == [
        (p[3:35], p[36:52]) for p in PRODUCERS
    ]
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        faas_attributes.FAAS_TRIGGER: "pubsub",
        faas_attributes.FAAS_NAME: "consume",
        faas_attributes.FAAS_INVOCATION_ID: "c0ffee-1",
        faas_attributes.FAAS_COLDSTART: True,
        cloud_attributes.CLOUD_PROVIDER: "aws",
        cloud_attributes.CLOUD_REGION: "eu-west-1",
        messaging_attributes.MESSAGING_SYSTEM: messaging_attributes.MessagingSystemValues.AWS_SQS.value,
        messaging_attributes.MESSAGING_OPERATION_TYPE: "process",
        messaging_attributes.MESSAGING_OPERATION_NAME: "process",
        messaging_attributes.MESSAGING_DESTINATION_NAME: "traced",
        messaging_attributes.MESSAGING_BATCH_MESSAGE_COUNT: 3,
    }


def test_a_failed_record_makes_the_span_an_error(telemetry: Telemetry) -> None:
    invocation = pipeline.Invocation(CONSUME, "gcp", "exec-1", region="europe-west1")
    invocation.add(_event(0, {"fail": "please"}), carrier={"googclient_traceparent": PRODUCERS[0]})
    [result] = pipeline.run(invocation)
    assert result.outcome == "retry"
    span = telemetry.span()
    assert span.status.status_code is StatusCode.ERROR and "retry" in (span.status.description or "")
    assert [e.name for e in span.events] == ["exception"]
    attributes = dict(span.attributes or {})
    assert attributes[messaging_attributes.MESSAGING_SYSTEM] == "gcp_pubsub"
    assert attributes[messaging_attributes.MESSAGING_MESSAGE_ID] == "e0"
    assert f"{span.parent.trace_id:032x}" == PRODUCERS[0][3:35]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/traced", 200, StatusCode.UNSET),
        ("/traced?fail=404", 404, StatusCode.UNSET),
        ("/traced?fail=500", 500, StatusCode.ERROR),
    ],
)
def test_a_request_is_a_server_span_an_error_only_for_5xx(
    telemetry: Telemetry, path: str, status: int, code: StatusCode
) -> None:
    invocation = pipeline.Invocation(ANSWER, "azure", "inv-9")
    caller = f"00-{'a' * 32}-{'b' * 16}-01"
    invocation.carrier = {"traceparent": caller}
    request = Request("GET", path.split("?")[0], query=path.partition("?")[2], headers={"traceparent": caller})
    invocation.request(request)
    assert pipeline.serve(invocation).status == status
    span = telemetry.span()
    assert span.kind is SpanKind.SERVER and span.name == "GET /traced"
    assert span.status.status_code is code
    assert f"{span.context.span_id:016x}" == invocation.trace.span_id
    assert f"{span.parent.span_id:016x}" == "b" * 16  # type: ignore[union-attr]
    attributes = dict(span.attributes or {})
    assert attributes["http.response.status_code"] == status and attributes["cloud.provider"] == "azure"
    assert attributes["faas.trigger"] == "http" and attributes["http.route"] == "/traced"


def test_a_new_trace_keeps_the_ids_ctx_trace_shows(telemetry: Telemetry) -> None:
    invocation = pipeline.Invocation(CONSUME, "local", "dev-1")
    invocation.add(_event())
    pipeline.run(invocation)
    span = telemetry.span()
    assert span.parent is None
    assert (f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}") == (
        invocation.trace.trace_id,
        invocation.trace.span_id,
    )
    assert "cloud.provider" not in (span.attributes or {})


def test_install_registers_once(telemetry: Telemetry) -> None:
    assert otel.install(TracerProvider()) is telemetry.middleware
    kinds = [type(m) for m in pipeline.middleware()]
    assert kinds.count(otel.OtelMiddleware) == 1 and kinds.count(TracingMiddleware) == 1
    assert kinds.index(TracingMiddleware) < kinds.index(otel.OtelMiddleware)


def test_the_handlers_own_spans_are_children_of_the_invocation(telemetry: Telemetry) -> None:
    tracer = telemetry.middleware.tracer_provider.get_tracer("user")
    seen: list[Any] = []

    class Inner(pipeline.Middleware):  # stands for the user's code running inside the invocation
        def before(self, call: pipeline.Call) -> None:
            with tracer.start_as_current_span("charge card") as inner:
                seen.append(inner.get_span_context())

    inner_middleware = pipeline.use(Inner())
    try:
        invocation = _sqs_batch(1)
        pipeline.run(invocation)
    finally:
        pipeline.remove(inner_middleware)
    spans = {s.name: s for s in telemetry.exporter.get_finished_spans()}
    assert spans["charge card"].parent.span_id == spans["consume"].context.span_id  # type: ignore[union-attr]
    assert f"{seen[0].trace_id:032x}" == invocation.trace.trace_id


def test_a_sampler_that_drops_the_trace_is_what_ctx_trace_says() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel.install(provider, MeterProvider())
    traced.SEEN.clear()
    invocation = pipeline.Invocation(CONSUME, "local", "dev-1")
    invocation.add(_event())
    pipeline.run(invocation)
    assert exporter.get_finished_spans() == ()
    ((trace, _),) = traced.SEEN
    assert trace.sampled is False and trace.headers()["traceparent"].endswith("-00")


# -- metrics ----------------------------------------------------------------------------------------


def test_cold_starts_and_durations_are_metrics(telemetry: Telemetry) -> None:
    for cold in (True, False, False):
        invocation = _sqs_batch(1)
        invocation.cold_start = cold
        pipeline.run(invocation)
    [cold_starts] = telemetry.metric_points("faas.coldstarts")
    assert cold_starts.value == 1 and dict(cold_starts.attributes) == {"faas.trigger": "pubsub"}
    [durations] = telemetry.metric_points("faas.invoke_duration")
    assert durations.count == 3 and durations.sum > 0


# -- flushing ---------------------------------------------------------------------------------------


class FlushRecorder(TracerProvider):
    """The SDK's provider, keeping the timeout of each flush it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.flushes: list[int] = []

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.flushes.append(timeout_millis)
        return super().force_flush(timeout_millis)


@pytest.mark.parametrize(("deadline_in", "bound"), [(None, 2000), (60.0, 2000), (1.2, 1000), (0.1, None)])
def test_the_flush_is_bounded_by_the_timeout_and_the_deadline(deadline_in: float | None, bound: int | None) -> None:
    provider = FlushRecorder()
    otel.install(provider, MeterProvider(), flush_timeout=2.0)
    deadline = None if deadline_in is None else time.time() + deadline_in
    pipeline.run(_sqs_batch(1, deadline=deadline))
    if bound is None:
        assert provider.flushes == []  # too close to the deadline: the native answer comes first
    else:
        [timeout] = provider.flushes
        assert bound - 150 <= timeout <= bound


def test_the_real_exporter_has_sent_the_span_when_the_invocation_returns() -> None:
    """A batch processor holds spans for seconds; the flush in finish() sends them before the freeze."""
    with otlp_receiver() as receiver:
        provider = TracerProvider()
        provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=receiver.endpoint + "/v1/traces"), schedule_delay_millis=60_000
            )
        )
        otel.install(provider, MeterProvider())
        try:
            invocation = _sqs_batch(2)
            pipeline.run(invocation)
            [span] = receiver.spans
        finally:
            provider.shutdown()
    assert (span.trace_id, span.span_id, span.parent_id) == (
        invocation.trace.trace_id,
        invocation.trace.span_id,
        "53995c3f42cd8ad8",
    )
    assert span.links == tuple((p[3:35], p[36:52]) for p in PRODUCERS[:2])
    assert span.attributes["faas.invocation_id"] == "c0ffee-1" and span.scope == "portable_fn"
    assert receiver.requests == [("/v1/traces", "application/x-protobuf")]


# -- configured from the environment, in a process of its own ---------------------------------------

ENVIRONMENT_PROBE = textwrap.dedent("""
    import importlib.util, json, sys
    from portable_fn import otel
    from portable_fn.runtime import CloudEvent, pipeline, spec_of
    spec = importlib.util.spec_from_file_location("handlers", sys.argv[1])
    handlers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handlers)
    assert otel.enabled_by_environment()
    otel.install()
    invocation = pipeline.Invocation(spec_of(handlers.consume), "aws", "req-1", region="us-east-1")
    invocation.add(CloudEvent(id="e1", source="/s", type="t", data={}),
                   carrier={"awstraceheader": sys.argv[2]})
    pipeline.run(invocation)
    scanned = None
    metadata = sys.modules.get("opentelemetry.util._importlib_metadata")
    if metadata is not None:  # OpenTelemetry's one cached entry-point reader: misses are scans
        scanned = metadata._original_entry_points_cached.cache_info().misses
    print(json.dumps({"trace": invocation.trace.traceparent, "scanned": scanned,
                      "propagate": "opentelemetry.propagate" in sys.modules}))
""")


@pytest.mark.slow  # imports in a fresh interpreter
def test_install_builds_the_otlp_exporter_from_the_standard_variables() -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME, read as the SDK documents them; no entry point is
    scanned (no instrumentation or propagator discovery at start)."""
    producer = from_traceparent(PRODUCERS[1])
    assert producer is not None
    with otlp_receiver() as receiver:
        env = {
            "PATH": "/usr/bin:/bin",
            "PORTABLE_FN_OTEL": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_SERVICE_NAME": "shop-orders",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
        }
        done = subprocess.run(
            [sys.executable, "-c", ENVIRONMENT_PROBE, str(HANDLERS), producer.xray_header],
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
    assert span.trace_id == PRODUCERS[1][3:35] and span.parent_id == PRODUCERS[1][36:52]
    assert report["trace"] == f"00-{span.trace_id}-{span.span_id}-01"
    assert span.resource["service.name"] == "shop-orders"
    assert span.resource["deployment.environment"] == "test"
    assert span.attributes["cloud.region"] == "us-east-1"
    assert report["scanned"] in (None, 0) and report["propagate"] is False


@pytest.mark.slow  # imports in a fresh interpreter
def test_an_exporter_portable_fn_cannot_build_is_named_with_the_fix() -> None:
    probe = "from portable_fn import otel; otel.install()"
    env = {"PATH": "/usr/bin:/bin", "OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False
    )
    assert done.returncode != 0
    assert "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf" in done.stderr and "tracer_provider=" in done.stderr
