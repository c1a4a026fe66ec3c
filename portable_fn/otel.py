"""OpenTelemetry for portable functions: every invocation a span, exported before the function freezes.

`pip install 'portable-fn[otel]'`, then either set `PORTABLE_FN_OTEL=1` (or the standard
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_TRACES_EXPORTER`) and let the entry call `install()`, or call
`install(tracer_provider=...)` yourself. Each invocation becomes one span with the FaaS, cloud and
messaging attributes of the semantic conventions, links to the producers of its records, a status from
its outcome; its ids are exactly `ctx.trace`'s, so a log line finds its span. The span is flushed, within
a bound, before the invocation returns: Lambda, Cloud Run and Azure freeze or stop an idle instance, and a
span still in a buffer then is lost.

Cheap by design: importing this module imports no OpenTelemetry (`enabled_by_environment` is what every
cold start runs), and nothing discovers instrumentations through entry points.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from portable_fn.runtime import pipeline
from portable_fn.runtime.outcomes import ACK
from portable_fn.runtime.tracing import TraceContext, TracingMiddleware
from portable_fn.runtime.triggers import Http, Queue, Storage, Topic

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = ["FLUSH_TIMEOUT_S", "OtelMiddleware", "enabled_by_environment", "install"]

FLUSH_TIMEOUT_S = 2.0  # the most an invocation waits for its spans to be exported
_FLUSH_MARGIN_S = 0.2  # left before the deadline, for the native answer
_SCOPE = "portable_fn"
_STATE = __name__
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

# What the semantic conventions call each trigger, cloud and transport (attribute names and values from
# semconv: faas.*, cloud.*, messaging.*; "aws.sns" is spelled so there).
_FAAS_TRIGGERS = {"http": "http", "queue": "pubsub", "topic": "pubsub", "schedule": "timer", "storage": "datasource"}
_CLOUDS = {"aws": "aws", "gcp": "gcp", "azure": "azure"}
_MESSAGING_SYSTEMS = {
    ("aws", "queue"): "aws_sqs",
    ("aws", "topic"): "aws.sns",
    ("gcp", "queue"): "gcp_pubsub",
    ("gcp", "topic"): "gcp_pubsub",
    ("azure", "topic"): "eventgrid",  # an Azure queue is a Storage Queue, which semconv does not name
}


def enabled_by_environment(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for OpenTelemetry. Imports nothing: safe on every cold start.

    `PORTABLE_FN_OTEL=1` turns it on and `=0` off; otherwise it is on when `OTEL_EXPORTER_OTLP_ENDPOINT`,
    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_TRACES_EXPORTER` (other than `none`) is set. The
    standard `OTEL_SDK_DISABLED=true` always turns it off.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    switch = env.get("PORTABLE_FN_OTEL", "").strip().lower()
    if switch in _TRUE or switch in _FALSE:
        return switch in _TRUE
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def install(
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    *,
    flush_timeout: float = FLUSH_TIMEOUT_S,
) -> OtelMiddleware:
    """Register the OpenTelemetry middleware (after a `TracingMiddleware`, registered too if missing);
    once: when one is registered already, that one is returned.

    Without `tracer_provider`, the global one is used when it is the SDK's, else one is built from the
    standard `OTEL_*` variables (an OTLP/HTTP exporter by default) and made global. Metrics are recorded
    where a meter provider is given or set globally.
    """
    try:
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    except ImportError as exc:
        raise ImportError(
            f"OpenTelemetry is asked for, but its SDK cannot be imported ({exc}). Install it with "
            "`pip install 'portable-fn[otel]'` (and add it to the function's requirements), or unset "
            "PORTABLE_FN_OTEL / OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_TRACES_EXPORTER."
        ) from exc
    if tracer_provider is None:
        from opentelemetry import trace

        tracer_provider = trace.get_tracer_provider()
        if not isinstance(tracer_provider, SdkTracerProvider):
            tracer_provider = _provider_from_environment()
            trace.set_tracer_provider(tracer_provider)
    registered = pipeline.middleware()
    for existing in registered:
        if isinstance(existing, OtelMiddleware):
            return existing  # once per process: a second span per invocation would be a lie
    if not any(isinstance(m, TracingMiddleware) for m in registered):
        pipeline.use(TracingMiddleware())
    middleware = OtelMiddleware(tracer_provider, meter_provider, flush_timeout=flush_timeout)
    pipeline.use(middleware)
    return middleware


def _provider_from_environment() -> TracerProvider:
    """A tracer provider as the standard `OTEL_*` variables describe it: `OTEL_TRACES_EXPORTER` `otlp`
    (the default; `OTEL_EXPORTER_OTLP_PROTOCOL` `http/protobuf`, the default, or `http/json`, whose
    imports cost a third as much: `portable_fn.otel_json`), `console` or `none`; the resource from
    `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`; the sampler from `OTEL_TRACES_SAMPLER`."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = SdkTracerProvider(resource=Resource.create())
    for name in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(","):
        exporter = _exporter(name.strip().lower())
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _exporter(name: str) -> Any:
    if name in ("", "none"):
        return None
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if name == "otlp" and protocol == "http/json":  # the standard library's HTTP: the cheap cold start
        from .otel_json import OtlpJsonSpanExporter

        return OtlpJsonSpanExporter()
    if name != "otlp" or protocol != "http/protobuf":
        raise ValueError(
            f"OTEL_TRACES_EXPORTER={name!r} with protocol {protocol!r}: portable-fn builds the OTLP exporter "
            "over http/protobuf or http/json, and the console one. Set OTEL_TRACES_EXPORTER=otlp and "
            "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf (or http/json), or configure a TracerProvider yourself "
            "and pass it to portable_fn.otel.install(tracer_provider=...)."
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


class ChosenIds:
    """The tracer's id generator: hands out the ids `TracingMiddleware` chose for the span being started
    (per thread: GCP and Azure run invocations on several threads), else the tracer's own."""

    def __init__(self, fallback: Any) -> None:
        self._fallback = fallback
        self._next = threading.local()

    def choose(self, trace_id: int | None, span_id: int) -> None:
        self._next.trace_id, self._next.span_id = trace_id, span_id

    def generate_trace_id(self) -> int:
        chosen = getattr(self._next, "trace_id", None)
        self._next.trace_id = None
        return chosen if chosen is not None else int(self._fallback.generate_trace_id())

    def generate_span_id(self) -> int:
        chosen = getattr(self._next, "span_id", None)
        self._next.span_id = None
        return chosen if chosen is not None else int(self._fallback.generate_span_id())

    def is_trace_id_random(self) -> bool:
        return True  # ours come from os.urandom, as the SDK's own do from random


class OtelMiddleware(pipeline.Middleware):
    """Every invocation a span (SERVER for HTTP, CONSUMER for messages) with `ctx.trace`'s ids; cold
    starts and durations as metrics; a bounded flush in `finish`."""

    def __init__(
        self,
        tracer_provider: TracerProvider,
        meter_provider: MeterProvider | None = None,
        *,
        flush_timeout: float = FLUSH_TIMEOUT_S,
    ) -> None:
        from opentelemetry import metrics

        self.tracer_provider = tracer_provider
        self.flush_timeout = flush_timeout
        # no scope version: `portable_fn.__version__` may not be set yet (installed while the runtime imports)
        self._tracer: Tracer = tracer_provider.get_tracer(_SCOPE)
        self._ids = ChosenIds(getattr(self._tracer, "id_generator", None))
        if hasattr(self._tracer, "id_generator"):  # the SDK's tracer: a tracer of our own, its ids ours
            self._tracer.id_generator = self._ids
        self.meter_provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        meter = self.meter_provider.get_meter(_SCOPE)
        self._coldstarts = meter.create_counter("faas.coldstarts", "{coldstart}", "Number of invocation cold starts.")
        self._duration = meter.create_histogram(
            "faas.invoke_duration", "s", "Measures the duration of the function's logic execution."
        )

    def start(self, invocation: pipeline.Invocation) -> None:
        from opentelemetry import context

        trace = invocation.trace
        if not isinstance(trace, TraceContext):
            return  # no TracingMiddleware before this one: install() registers one
        span = self._start_span(invocation, trace)
        token = context.attach(_in_context(span))
        invocation.state[_STATE] = (span, token, time.perf_counter())
        if invocation.cold_start:
            self._coldstarts.add(1, {"faas.trigger": _FAAS_TRIGGERS.get(invocation.spec.trigger.kind, "other")})

    def _start_span(self, invocation: pipeline.Invocation, trace: TraceContext) -> Span:
        from opentelemetry.trace import SpanKind

        kind = SpanKind.SERVER if invocation.spec.trigger.kind in ("http", "schedule") else SpanKind.CONSUMER
        self._ids.choose(int(trace.trace_id, 16) if trace.parent_id is None else None, int(trace.span_id, 16))
        span = self._tracer.start_span(
            _span_name(invocation),
            _parent_context(trace),
            kind,
            _attributes(invocation),
            [_link(link) for link in trace.links],
        )
        ids = span.get_span_context()
        if ids.is_valid and (ids.span_id, ids.trace_id) != (int(trace.span_id, 16), int(trace.trace_id, 16)):
            # not the SDK's tracer, which would have taken our ids: ctx.trace takes the span's
            invocation.trace = trace._replace(trace_id=f"{ids.trace_id:032x}", span_id=f"{ids.span_id:016x}")
        if ids.is_valid and ids.trace_flags.sampled != trace.sampled:  # the sampler decided otherwise
            invocation.trace = invocation.trace._replace(sampled=ids.trace_flags.sampled)
        return span

    def on_error(self, call: pipeline.Call, error: BaseException) -> None:
        state = call.invocation.state.get(_STATE)
        if state is not None:
            state[0].record_exception(error)

    def finish(self, invocation: pipeline.Invocation) -> None:
        from opentelemetry import context

        state = invocation.state.pop(_STATE, None)
        if state is None:
            return
        span, token, started = state
        try:
            _set_outcome(span, invocation)
            span.end()
        finally:
            context.detach(token)
        trigger = _FAAS_TRIGGERS.get(invocation.spec.trigger.kind, "other")
        self._duration.record(time.perf_counter() - started, {"faas.trigger": trigger})
        self.flush(invocation.deadline)

    def flush(self, deadline: float | None = None) -> None:
        """Export what is buffered, waiting at most `flush_timeout` and never past `deadline` (epoch s)."""
        timeout = self.flush_timeout
        if deadline is not None:
            timeout = min(timeout, deadline - time.time() - _FLUSH_MARGIN_S)
        if timeout <= 0:
            return
        ends = time.monotonic() + timeout
        for provider in (self.tracer_provider, self.meter_provider):
            flush = getattr(provider, "force_flush", None)
            left = ends - time.monotonic()
            if flush is not None and left > 0:
                try:
                    flush(int(left * 1000))
                except Exception:  # an exporter's failure must not fail the invocation
                    import logging

                    logging.getLogger(__name__).warning("OpenTelemetry flush failed", exc_info=True)


def _span_name(invocation: pipeline.Invocation) -> str:
    trigger = invocation.spec.trigger
    if isinstance(trigger, Http):
        return f"{trigger.method} {trigger.path}"
    return str(invocation.spec.name)


def _attributes(invocation: pipeline.Invocation) -> dict[str, Any]:
    spec, trigger = invocation.spec, invocation.spec.trigger
    attributes: dict[str, Any] = {
        "faas.trigger": _FAAS_TRIGGERS.get(trigger.kind, "other"),
        "faas.name": spec.name,
        "faas.invocation_id": invocation.invocation_id,
        "faas.coldstart": invocation.cold_start,
    }
    if invocation.provider in _CLOUDS:
        attributes["cloud.provider"] = _CLOUDS[invocation.provider]
    if invocation.region:
        attributes["cloud.region"] = invocation.region
    if isinstance(trigger, (Queue, Topic)):
        attributes.update(_messaging(invocation, trigger))
    elif isinstance(trigger, Http):
        attributes["http.route"] = trigger.path
        attributes["http.request.method"] = trigger.method
    elif isinstance(trigger, Storage):
        attributes["faas.document.collection"] = trigger.bucket
        attributes["faas.document.operation"] = "insert" if trigger.on == "created" else "delete"
    return attributes


def _messaging(invocation: pipeline.Invocation, trigger: Queue | Topic) -> dict[str, Any]:
    """The messaging conventions' consumer attributes: one `process` span for the batch."""
    kind = trigger.kind
    attributes: dict[str, Any] = {
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": trigger.name,
    }
    system = _MESSAGING_SYSTEMS.get((invocation.provider, kind))
    if system is not None:
        attributes["messaging.system"] = system
    calls = invocation.calls
    if len(calls) == 1:
        meta = calls[0].meta
        message_id = meta.message_id if meta is not None and meta.message_id else calls[0].event_id
        if message_id:
            attributes["messaging.message.id"] = message_id
    else:
        attributes["messaging.batch.message_count"] = len(calls)
    return attributes


def _parent_context(trace: TraceContext) -> Any:
    """An OpenTelemetry context whose span is the invocation's remote parent (none: a new trace)."""
    from opentelemetry.context import Context
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState, set_span_in_context

    if trace.parent_id is None:
        return Context()  # not the current context: an invocation never nests in whatever ran before
    state = TraceState.from_header([trace.tracestate]) if trace.tracestate else None
    parent = SpanContext(
        int(trace.trace_id, 16),
        int(trace.parent_id, 16),
        True,
        TraceFlags(TraceFlags.SAMPLED if trace.sampled else TraceFlags.DEFAULT),
        state,
    )
    return set_span_in_context(NonRecordingSpan(parent), Context())


def _link(link: Any) -> Any:
    from opentelemetry.trace import Link, SpanContext, TraceFlags

    flags = TraceFlags(TraceFlags.SAMPLED if link.sampled else TraceFlags.DEFAULT)
    return Link(SpanContext(int(link.trace_id, 16), int(link.span_id, 16), True, flags))


def _in_context(span: Span) -> Any:
    from opentelemetry.trace import set_span_in_context

    return set_span_in_context(span)


def _set_outcome(span: Span, invocation: pipeline.Invocation) -> None:
    """ERROR when a record was not acknowledged or a response was a 5xx, as the conventions say (a 4xx is
    the client's error, not the server span's)."""
    from opentelemetry.trace import Status, StatusCode

    for call in invocation.calls:
        if call.response is not None:
            span.set_attribute("http.response.status_code", call.response.status)
            if call.response.status >= 500:
                span.set_status(Status(StatusCode.ERROR, f"HTTP {call.response.status}"))
        elif call.result is not None and call.result.outcome != ACK:
            span.set_status(Status(StatusCode.ERROR, f"{call.result.outcome}: {call.result.reason}"))
            return
