"""portable-fn: write a cloud function once, run it locally, on AWS Lambda, Google Cloud Functions and
Azure Functions.

    from portable_fn import function, http, Request, Response

    @function(trigger=http("POST", "/orders"))
    def create_order(request: Request) -> Response:
        return Response.json({"ok": True}, status=201)

Everything here is re-exported from `portable_fn.runtime`, the standard-library-only core that ships
inside every deployed function.
"""

from __future__ import annotations

from .runtime import (
    CircuitOpenError,
    CloudEvent,
    Context,
    DataValidationError,
    DeadLetter,
    DeclarationError,
    Headers,
    InvalidEventError,
    Item,
    KeyExistsError,
    MessageMeta,
    PortableFnError,
    QueryParams,
    Request,
    Response,
    Result,
    Retry,
    RetryPolicy,
    ScheduleTick,
    State,
    StateError,
    StorageObject,
    UndeclaredResourceError,
    VersionConflictError,
    breaker,
    cron,
    emit,
    exponential,
    fixed,
    function,
    http,
    idempotent,
    queue,
    schedule,
    state,
    storage,
    topic,
)

__version__ = "0.1.0"

__all__ = [
    "CircuitOpenError",
    "CloudEvent",
    "Context",
    "DataValidationError",
    "DeadLetter",
    "DeclarationError",
    "Headers",
    "InvalidEventError",
    "Item",
    "KeyExistsError",
    "MessageMeta",
    "PortableFnError",
    "QueryParams",
    "Request",
    "Response",
    "Result",
    "Retry",
    "RetryPolicy",
    "ScheduleTick",
    "State",
    "StateError",
    "StorageObject",
    "UndeclaredResourceError",
    "VersionConflictError",
    "breaker",
    "cron",
    "emit",
    "exponential",
    "fixed",
    "function",
    "http",
    "idempotent",
    "queue",
    "schedule",
    "state",
    "storage",
    "topic",
]
