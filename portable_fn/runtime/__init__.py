"""The portable runtime: everything that ships inside a deployed function. Standard library only.

Users import these names from `portable_fn`; provider shims import them from here.
"""

from __future__ import annotations

from .auth import Auth, api_key, jwt
from .breaker import CircuitOpenError, breaker
from .buckets import Bucket, BucketError, bucket
from .cloudevent import CloudEvent
from .context import Context
from .emit import emit
from .errors import (
    DataValidationError,
    DeclarationError,
    InvalidEventError,
    PortableFnError,
)
from .function import FunctionOptions, FunctionSpec, function, spec_of
from .http import Headers, QueryParams, Request, Response
from .http_binding import from_http, from_http_batch, to_batch, to_binary, to_structured
from .idempotency import idempotent
from .outcomes import ACK, DEAD_LETTER, RETRY, DeadLetter, Result, Retry
from .pipeline import call_batch, call_event, call_http
from .resources import UndeclaredResourceError
from .retry import RetryPolicy, exponential, fixed
from .secrets import Secret, SecretError, SecretNotFoundError, secret
from .state import Item, KeyExistsError, State, StateError, VersionConflictError, state
from .tenants import current_tenant, tenant_from
from .triggers import Http, Queue, Schedule, Storage, Topic, cron, http, queue, schedule, storage, topic
from .views import MessageMeta, ScheduleTick, StorageObject

__all__ = [
    "ACK",
    "DEAD_LETTER",
    "RETRY",
    "Auth",
    "Bucket",
    "BucketError",
    "CircuitOpenError",
    "CloudEvent",
    "Context",
    "DataValidationError",
    "DeadLetter",
    "DeclarationError",
    "FunctionOptions",
    "FunctionSpec",
    "Headers",
    "Http",
    "InvalidEventError",
    "Item",
    "KeyExistsError",
    "MessageMeta",
    "PortableFnError",
    "QueryParams",
    "Queue",
    "Request",
    "Response",
    "Result",
    "Retry",
    "RetryPolicy",
    "Schedule",
    "ScheduleTick",
    "Secret",
    "SecretError",
    "SecretNotFoundError",
    "State",
    "StateError",
    "Storage",
    "StorageObject",
    "Topic",
    "UndeclaredResourceError",
    "VersionConflictError",
    "api_key",
    "breaker",
    "bucket",
    "call_batch",
    "call_event",
    "call_http",
    "cron",
    "current_tenant",
    "emit",
    "exponential",
    "fixed",
    "from_http",
    "from_http_batch",
    "function",
    "http",
    "idempotent",
    "jwt",
    "queue",
    "schedule",
    "secret",
    "spec_of",
    "state",
    "storage",
    "tenant_from",
    "to_batch",
    "to_binary",
    "to_structured",
    "topic",
]


def _install_default_middleware() -> None:
    """Every invocation logs with its facts (and is traced: `Invocation.trace`, worked out on first use);
    OpenTelemetry exports the spans when the environment asks for it
    (`portable_fn.otel.enabled_by_environment`) and it is installed."""
    from . import pipeline
    from .auth import AuthMiddleware
    from .emit import OutboxMiddleware
    from .idempotency import IdempotencyMiddleware
    from .logs import LoggingMiddleware
    from .ratelimit import RateLimitMiddleware
    from .tenants import TenantMiddleware

    pipeline.use(LoggingMiddleware())
    pipeline.use(AuthMiddleware())  # answers preflights and refuses callers before anything else runs
    pipeline.use(TenantMiddleware())  # after auth (a claim is read verified), before what it scopes
    pipeline.use(RateLimitMiddleware())  # after Tenant and Auth: a bucket per tenant, key or subject
    pipeline.use(IdempotencyMiddleware())
    pipeline.use(OutboxMiddleware())  # after idempotency: a replayed call emits nothing, a failed publish is retried
    if _otel_requested():
        import importlib

        try:  # optional, outside the runtime: loaded only when asked for, shipped only with the extra
            otel = importlib.import_module("portable_fn.otel")
        except ImportError as exc:  # not shipped with the function: say so, run without it
            import logging

            logging.getLogger("portable_fn").warning(
                "OpenTelemetry is asked for by the environment but cannot be loaded (%s); add "
                "'portable-fn[otel]' to the function's requirements.",
                exc,
            )
        else:
            if otel.enabled_by_environment():
                try:
                    otel.install()
                except ImportError as exc:  # the SDK itself is missing
                    import logging

                    logging.getLogger("portable_fn").warning(
                        "OpenTelemetry is asked for by the environment but cannot be loaded (%s); add "
                        "'portable-fn[otel]' to the function's requirements.",
                        exc,
                    )


def _otel_requested() -> bool:
    import os

    env = os.environ
    return any(
        env.get(name)
        for name in (
            "PORTABLE_FN_OTEL",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_TRACES_EXPORTER",
        )
    )


_install_default_middleware()
