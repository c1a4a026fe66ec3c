"""OTLP/HTTP with the JSON encoding, on the standard library: spans exported at a fraction of the cold start.

OpenTelemetry's own OTLP/HTTP exporter encodes protobuf and sends with `requests`: with the SDK, its imports
cost about 184 ms of every cold start on the machine the benchmarks run on, against 63 ms with this one
(44 of them the SDK's; http.client is imported at the first export). The Python SDK has no exporter for
the JSON encoding OTLP also defines. This one is chosen with
`OTEL_EXPORTER_OTLP_PROTOCOL=http/json` (or `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`) and reads the same
standard variables as the SDK's exporters: `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`, `_HEADERS`, `_TIMEOUT`
and `_COMPRESSION` (`gzip` or `none`).

The encoding is OTLP's JSON mapping of `ExportTraceServiceRequest`: lowerCamelCase names, enums as
integers, 64-bit integers as strings, and trace and span ids as hex (not base64, as protobuf's JSON would).
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import os
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

if TYPE_CHECKING:
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext
    from opentelemetry.util.types import Attributes

__all__ = ["OtlpJsonSpanExporter", "encode_spans"]

DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"
DEFAULT_TIMEOUT_S = 10.0
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200  # opentelemetry.proto.trace.v1.SpanFlags
_log = logging.getLogger(__name__)


class OtlpJsonSpanExporter(SpanExporter):
    """Sends each batch of spans as one OTLP/HTTP JSON request; a failure is logged, never raised."""

    def __init__(
        self,
        endpoint: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        compression: str | None = None,
    ) -> None:
        self.endpoint = endpoint or _endpoint()
        self.headers = {**_setting_pairs("HEADERS"), **(headers or {})}
        timeout_ms = _setting("TIMEOUT")  # milliseconds, as the spec has it
        self.timeout = timeout if timeout is not None else float(timeout_ms) / 1000 if timeout_ms else DEFAULT_TIMEOUT_S
        self.compression = (compression or _setting("COMPRESSION") or "none").lower()
        if self.compression not in ("gzip", "none"):
            raise ValueError(
                f"OTLP compression {self.compression!r} is not supported: use 'gzip' or 'none' "
                "(OTEL_EXPORTER_OTLP_COMPRESSION)."
            )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        import urllib.request  # on the first export: `install()` need not pay for http.client and ssl

        body = json.dumps(encode_spans(spans), separators=(",", ":")).encode("utf-8")
        headers = {**self.headers, "Content-Type": "application/json"}
        if self.compression == "gzip":
            body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
        request = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read()
        except Exception as exc:  # the collector's trouble must not fail the function
            _log.warning("Exporting %d spans to %s failed: %s", len(spans), self.endpoint, exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing is held between exports."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every export is sent as it is made


def encode_spans(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """An `ExportTraceServiceRequest` in OTLP's JSON: spans grouped by resource, then by scope."""
    resources: dict[int, tuple[Any, dict[Any, list[dict[str, Any]]]]] = {}
    for span in spans:
        _, scopes = resources.setdefault(id(span.resource), (span.resource, {}))
        scopes.setdefault(span.instrumentation_scope, []).append(_span(span))
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attributes(resource.attributes)},
                "schemaUrl": resource.schema_url or "",
                "scopeSpans": [
                    {"scope": _scope(scope), "spans": encoded, "schemaUrl": _scope_schema(scope)}
                    for scope, encoded in scopes.items()
                ],
            }
            for resource, scopes in resources.values()
        ]
    }


def _span(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    assert context is not None  # a finished span always has one
    encoded: dict[str, Any] = {
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
        "traceState": context.trace_state.to_header(),
        "name": span.name,
        "kind": span.kind.value + 1,  # the SDK counts from INTERNAL = 0, OTLP from UNSPECIFIED = 0
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or 0),
        "attributes": _attributes(span.attributes),
        "droppedAttributesCount": span.dropped_attributes,
        "events": [
            {
                "timeUnixNano": str(event.timestamp),
                "name": event.name,
                "attributes": _attributes(event.attributes),
                "droppedAttributesCount": event.dropped_attributes,
            }
            for event in span.events
        ],
        "droppedEventsCount": span.dropped_events,
        "links": [
            {
                "traceId": f"{link.context.trace_id:032x}",
                "spanId": f"{link.context.span_id:016x}",
                "traceState": link.context.trace_state.to_header(),
                "attributes": _attributes(link.attributes),
                "droppedAttributesCount": link.dropped_attributes,
                "flags": _flags(link.context),
            }
            for link in span.links
        ],
        "droppedLinksCount": span.dropped_links,
        "status": {"code": span.status.status_code.value, "message": span.status.description or ""},
        "flags": _flags(span.parent),
    }
    if span.parent is not None:
        encoded["parentSpanId"] = f"{span.parent.span_id:016x}"
    return encoded


def _flags(context: SpanContext | None) -> int:
    """SpanFlags: whether the context's remoteness is known (it is), and whether it is remote."""
    return _HAS_IS_REMOTE | (_IS_REMOTE if context is not None and context.is_remote else 0)


def _scope(scope: InstrumentationScope | None) -> dict[str, Any]:
    if scope is None:
        return {}
    return {"name": scope.name, "version": scope.version or "", "attributes": _attributes(scope.attributes)}


def _scope_schema(scope: InstrumentationScope | None) -> str:
    return (scope.schema_url or "") if scope is not None else ""


def _attributes(attributes: Attributes) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in (attributes or {}).items()]


def _value(value: Any) -> dict[str, Any]:
    """An AnyValue: bool before int (a bool is an int), 64-bit integers as strings."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (bytes, bytearray)):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_value(item) for item in value]}}
    return {"stringValue": str(value)}


def _setting(name: str) -> str | None:
    """`OTEL_EXPORTER_OTLP_TRACES_<name>`, else `OTEL_EXPORTER_OTLP_<name>`, as the SDK reads them."""
    return os.environ.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or os.environ.get(f"OTEL_EXPORTER_OTLP_{name}")


def _setting_pairs(name: str) -> dict[str, str]:
    """`key1=value1,key2=value2`, each part percent-decoded (the W3C Baggage format the spec names)."""
    pairs = {}
    for item in (_setting(name) or "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            pairs[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return pairs


def _endpoint() -> str:
    """The traces endpoint is used as given; the base endpoint gets `/v1/traces` appended."""
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return base.rstrip("/") + "/v1/traces" if base else DEFAULT_ENDPOINT
