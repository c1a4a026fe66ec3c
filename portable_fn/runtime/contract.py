"""The contract between the runtime and a provider shim: all a shim imports to run an invocation.

A shim reads its platform's native input and writes its native answer; everything between is the
runtime's (`pipeline`):

    invocation = Invocation(spec, "aws", request_id, carrier=..., deadline=..., raw=...)
    for record in native_records:
        invocation.add(read(record), meta=..., carrier=...)   # a CloudEvent, or the error saying why not
    results = run(invocation)                                    # one Result per record, in order
    ... the Results as the platform wants them (a partial batch response, a status, a raise)

and for HTTP, `invocation.request(request)` then `serve(invocation)` -> `Response`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .cloudevent import CloudEvent
from .errors import InvalidEventError
from .outcomes import Result
from .pipeline import Call, Invocation, LazyCarrier, Middleware, http_carrier, run, serve
from .views import MessageMeta

__all__ = [
    "Call",
    "Carrier",
    "Decoded",
    "EntryPoint",
    "Invocation",
    "LazyCarrier",
    "MessageMeta",
    "Middleware",
    "RecordReader",
    "Result",
    "http_carrier",
    "run",
    "serve",
]

Carrier = Mapping[str, str]
"""Trace headers as a transport carries them, keys lower-case: `traceparent`, `tracestate`,
`x-amzn-trace-id`, `awstraceheader`, `googclient_traceparent`, `diagnostic-id`, `x-cloud-trace-context`."""

Decoded = CloudEvent[Any] | InvalidEventError
"""One native record as a shim read it: its CloudEvent, or the error saying why it has none (the pipeline
dead-letters it with that reason; the rest of its batch is delivered)."""


class RecordReader(Protocol):
    """Reads one native record into its CloudEvent; raises for a record it cannot read."""

    def __call__(self, record: Any, /) -> CloudEvent[Any]: ...


EntryPoint = Callable[..., Any]
"""What a shim hands its platform for one function (`lambda_handler`, a functions-framework function, an
Azure v2 function body)."""
