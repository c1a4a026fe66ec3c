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

import typing as _typing

from .runtime import (
    Auth,
    Bucket,
    BucketError,
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
    Secret,
    SecretError,
    SecretNotFoundError,
    State,
    StateError,
    StorageObject,
    UndeclaredResourceError,
    VersionConflictError,
    api_key,
    breaker,
    bucket,
    cron,
    current_tenant,
    emit,
    exponential,
    fixed,
    function,
    http,
    idempotent,
    jwt,
    queue,
    schedule,
    secret,
    state,
    storage,
    tenant_from,
    topic,
)

__version__ = "0.1.0"

__all__ = [
    "Auth",
    "Bucket",
    "BucketError",
    "CircuitOpenError",
    "CloudEvent",
    "Context",
    "DataValidationError",
    "DeadLetter",
    "DeclarationError",
    "EventTimeout",
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
    "Secret",
    "SecretError",
    "SecretNotFoundError",
    "State",
    "StateError",
    "StepFailed",
    "StorageObject",
    "UndeclaredResourceError",
    "VersionConflictError",
    "Workflow",
    "WorkflowCancelled",
    "WorkflowError",
    "api_key",
    "breaker",
    "bucket",
    "cron",
    "current_tenant",
    "emit",
    "exponential",
    "fixed",
    "function",
    "http",
    "idempotent",
    "jwt",
    "queue",
    "schedule",
    "secret",
    "send_event",
    "start_workflow",
    "state",
    "step_key",
    "storage",
    "tenant_from",
    "topic",
    "workflow",
]


if _typing.TYPE_CHECKING:  # what type checkers see; at run time `__getattr__` below imports them on first use
    from .runtime.workflow import (
        EventTimeout,
        StepFailed,
        Workflow,
        WorkflowCancelled,
        WorkflowError,
        send_event,
        start_workflow,
        step_key,
        workflow,
    )

# Workflows are imported when an app first uses them, not by every function's cold start (compiling the
# engine costs ~10 ms where bytecode is not cached, as on the clouds' read-only mounts).
_LAZY = (
    "EventTimeout",
    "StepFailed",
    "Workflow",
    "WorkflowCancelled",
    "WorkflowError",
    "send_event",
    "start_workflow",
    "step_key",
    "workflow",
)


def __getattr__(name: str) -> _typing.Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module("portable_fn.runtime.workflow"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
