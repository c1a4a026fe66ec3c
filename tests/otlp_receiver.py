"""An OTLP/HTTP receiver on 127.0.0.1: what a collector would get from the real exporter.

`http.server` on a free port; each POST to /v1/traces is decoded as an `ExportTraceServiceRequest`
(opentelemetry-proto, the collector's own message definitions): a protobuf body, or, for
`application/json`, OTLP's JSON read by protobuf's strict JSON parser (an unknown field is an error), its
hex ids turned into the base64 that parser expects, as collectors do. The spans are kept, flattened into
`ReceivedSpan`s with their ids in W3C hex.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str | None
    kind: int  # opentelemetry.proto.trace.v1.Span.SpanKind
    attributes: dict[str, Any]
    links: tuple[tuple[str, str], ...]  # (trace id, span id)
    status_code: int  # opentelemetry.proto.trace.v1.Status.StatusCode
    resource: dict[str, Any]
    scope: str


class OtlpReceiver:
    """Spans received so far (`spans`), and the raw requests' paths and content types."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.messages: list[ExportTraceServiceRequest] = []  # each request, decoded
        self.headers: list[dict[str, str]] = []  # each request's headers, names lower-case
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.endpoint = ""

    def receive(self, path: str, content_type: str, body: bytes) -> None:
        if content_type.split(";")[0].strip() == "application/json":
            request = json_format.Parse(json.dumps(_base64_ids(json.loads(body))), ExportTraceServiceRequest())
        else:
            request = ExportTraceServiceRequest.FromString(body)
        with self._lock:
            self.requests.append((path, content_type))
            self.messages.append(request)
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend(_span(s, resource, scope_spans.scope.name) for s in scope_spans.spans)


def _base64_ids(request: dict[str, Any]) -> dict[str, Any]:
    """OTLP's JSON carries ids in hex; protobuf's JSON mapping has bytes in base64."""

    def convert(holder: dict[str, Any], *names: str) -> None:
        for name in names:
            if holder.get(name):
                holder[name] = base64.b64encode(bytes.fromhex(holder[name])).decode("ascii")

    for resource_spans in request.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                convert(span, "traceId", "spanId", "parentSpanId")
                for link in span.get("links", []):
                    convert(link, "traceId", "spanId")
    return request


def _span(span: Any, resource: dict[str, Any], scope: str) -> ReceivedSpan:
    return ReceivedSpan(
        name=span.name,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_id=span.parent_span_id.hex() or None,
        kind=span.kind,
        attributes=_attributes(span.attributes),
        links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
        status_code=span.status.code,
        resource=resource,
        scope=scope,
    )


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, which) if which else None


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A receiver serving on a free port of 127.0.0.1 until the block ends; `.endpoint` is its base URL."""
    receiver = OtlpReceiver()

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            encoding = self.headers.get("content-encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            receiver.headers.append({name.lower(): value for name, value in self.headers.items()})
            receiver.receive(self.path, self.headers.get("content-type", ""), body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test asserts on what was received

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
