"""The Azure Functions runtime shim: what the generated `function_app.py` calls for each portable function.

Ships inside the package zip and imports only the standard library and `portable_fn.runtime` (a test scans
the imports); the `azure.functions` classes it needs (`HttpResponse`) are handed in by the generated code,
which the Azure host runs with `azure-functions` installed. Each `*_entry(spec, ...)` gives the body of one
decorated v2 function; the outcome of the handler becomes what the host expects:

- http (`route`): the handler gets a Request; its Response is the answer, bad input a 4xx with the
  reason (`call_http`).
- queue (`queueTrigger` + a `queue` output binding to `<queue>-poison`): ack returns; retry raises, so the
  host makes the message visible again, up to `maxDequeueCount` (host.json), then moves it to
  `<queue>-poison`; dead-letter writes the message to `<queue>-poison` through the output binding and
  the invocation succeeds: it is never delivered again.
- queue on Service Bus, topic (`eventGridTrigger` or a Service Bus topic subscription), storage
  (`blobTrigger` with the Event Grid source; `deleted`: `eventGridTrigger`): ack returns; retry raises
  (abandoned and redelivered up to MaxDeliveryCount, or Event Grid's retry policy), then the transport's
  dead-letter target (1).
- schedule (`timerTrigger`): ack returns; retry raises: the function's retry policy (`retries`), then
  the next firing.

A queue function whose `retries` is lower than the app's `maxDequeueCount` (one host.json for every queue
function: the highest of them) is dead-lettered by the shim when a retry is asked on its last attempt.

(1) Without a cloud SDK in the function, only Storage Queues can dead-letter one message at once (through
    the output binding). Elsewhere a dead-lettered event is raised like a retry, so nothing is lost: the
    transport's own retries run out and send it to its dead-letter target. Each one is logged at WARNING.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.context import Context
from portable_fn.runtime.dispatch import call_event, call_http, failure_of, http_failure
from portable_fn.runtime.errors import InvalidEventError, PortableFnError
from portable_fn.runtime.http import Response, to_response
from portable_fn.runtime.outcomes import ACK, DEAD_LETTER, Result
from portable_fn.runtime.views import MessageMeta

from .events import (
    blob_to_cloudevent,
    body_text,
    event_grid_to_cloudevent,
    queue_message_meta,
    queue_message_to_cloudevent,
    queue_source,
    service_bus_meta,
    service_bus_source,
    service_bus_to_cloudevent,
    timer_to_cloudevent,
)
from .http_adapter import to_http_response, to_request

PROVIDER = "azure"
Entry = Callable[..., Any]


class DeliveryFailed(PortableFnError):
    """Raised to the Functions host when an event was not acknowledged, so that its transport retries it."""


class NativeInvocation:
    """`Context.raw` on Azure: the `azure.functions.Context` (its attributes read through) and the trigger's
    native object (`native`)."""

    __slots__ = ("context", "native")

    def __init__(self, context: Any, native: Any) -> None:
        self.context = context
        self.native = native

    def __getattr__(self, name: str) -> Any:
        return getattr(self.context, name)  # invocation_id, function_name, trace_context, retry_context


# -- code generation (provider side: runs when packaging, never in the cloud) -----------------------

def generate_function_app(app: Any) -> str:
    """The source of `function_app.py` for `app` (see `codegen`)."""
    from .codegen import function_app_source

    return function_app_source(app)


def host_json(app: Any) -> str:
    """The source of `host.json` for `app` (see `codegen`)."""
    from .codegen import host_json_source

    return host_json_source(app)


# -- entry points: one per decorated v2 function ---------------------------------------------------

def http_entry(spec: Any, http_response: Any, timeout_s: float | None = None) -> Entry:
    """`(req, context=None) -> HttpResponse`; `http_response` is `azure.functions.HttpResponse`."""
    _check(spec, "http")
    binding = spec.binding
    wants_context = binding.wants_context
    plain = binding.first == "request" and not wants_context and not binding.is_async

    def handle(req: Any, context: Any = None) -> Any:
        ctx = _context(spec, context, timeout_s, None, req) if wants_context else None
        try:
            request = to_request(req)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a malformed native request
            response = Response.json({"error": f"Malformed HTTP request: {type(exc).__name__}: {exc}."}, 400)
        else:
            if plain:  # call_http for a `(request: Request)` handler, without its checks per call
                try:
                    response = to_response(spec.handler(request))
                except Exception as exc:
                    response = http_failure(spec, exc)
            else:
                response = call_http(spec, request, ctx)
        return to_http_response(response, http_response)

    return handle


def queue_entry(spec: Any, queue: str, connection: str, max_attempts: int,
                timeout_s: float | None = None) -> Entry:
    """`(msg, poison, context=None) -> None` for a Storage Queue message; `poison` is the `Out` of the
    `<queue>-poison` output binding."""
    _check(spec, "queue")
    source, binding = queue_source(connection, queue), spec.binding
    wants_context, call, handler, as_is = binding.wants_context, binding.call_event, spec.handler, binding.as_is

    def handle(msg: Any, poison: Any, context: Any = None) -> None:
        ctx = _context(spec, context, timeout_s, queue_message_meta(msg), msg) if wants_context else None
        try:
            event = queue_message_to_cloudevent(msg, source)
        except Exception as exc:
            result = call_event(spec, _unreadable(msg, exc), ctx)
        else:
            try:  # call_event without its Result when the handler acknowledges
                if event.data.__class__ is as_is:  # binding.as_is: what call would do, one call less
                    handler(event)
                else:
                    call(spec, event, ctx)
                return
            except Exception as exc:
                result = failure_of(exc, event.id)
        try:
            _queue_failure(spec, queue, max_attempts, msg, poison, result)
        finally:
            del result  # it holds the exception, whose traceback holds this frame: no reference cycle

    return handle


def _queue_failure(spec: Any, queue: str, max_attempts: int, msg: Any, poison: Any, result: Result) -> None:
    """A message that was not acknowledged: to the poison queue now (dead-letter, or the last attempt),
    else raise so the queue redelivers it."""
    attempt = int(msg.dequeue_count or 1)
    if result.outcome is DEAD_LETTER or attempt >= max_attempts:
        poison.set(body_text(msg.get_body()))
        _log(spec, "queue", result, f"moved to {queue}-poison")
        return
    _log(spec, "queue", result, f"attempt {attempt} of {max_attempts}")
    raise DeliveryFailed(_failure(spec, "queue message", result))


def service_bus_entry(spec: Any, entity: str, connection: str, timeout_s: float | None = None) -> Entry:
    """`(msg, context=None) -> None` for a Service Bus queue or topic subscription message."""
    _check(spec, "queue", "topic")
    source, binding = service_bus_source(connection, entity), spec.binding
    wants_context, call, handler, as_is = binding.wants_context, binding.call_event, spec.handler, binding.as_is

    def handle(msg: Any, context: Any = None) -> None:
        ctx = _context(spec, context, timeout_s, service_bus_meta(msg), msg) if wants_context else None
        try:
            event = service_bus_to_cloudevent(msg, source)
        except Exception as exc:
            _settle(spec, "Service Bus", call_event(spec, _unreadable(msg, exc), ctx))
            return
        try:  # call_event without its Result when the handler acknowledges
            if event.data.__class__ is as_is:  # binding.as_is: what call would do, one call less
                handler(event)
            else:
                call(spec, event, ctx)
        except Exception as exc:
            _settle(spec, "Service Bus", failure_of(exc, event.id))

    return handle


def event_grid_entry(spec: Any, timeout_s: float | None = None,
                     blobs: tuple[str, str, str] | None = None) -> Entry:
    """`(event, context=None) -> None` for an Event Grid event in either schema. `blobs` (container,
    prefix, suffix) keeps only the blob events of a `storage(..., on="deleted")` trigger."""
    _check(spec, "topic", "storage")
    binding = spec.binding
    wants_context, call, handler, as_is = binding.wants_context, binding.call_event, spec.handler, binding.as_is

    def handle(event: Any, context: Any = None) -> None:
        ctx = _context(spec, context, timeout_s, None, event) if wants_context else None
        try:
            decoded = event_grid_to_cloudevent(event)
        except Exception as exc:
            _settle(spec, "Event Grid", call_event(spec, _unreadable(event, exc), ctx))
            return
        if blobs is not None and not _blob_matches(decoded, blobs):
            return  # the subscription's filter should have kept it away: acknowledged, not delivered
        try:  # call_event without its Result when the handler acknowledges
            if decoded.data.__class__ is as_is:  # binding.as_is: what call would do, one call less
                handler(decoded)
            else:
                call(spec, decoded, ctx)
        except Exception as exc:
            _settle(spec, "Event Grid", failure_of(exc, decoded.id))

    return handle


def blob_entry(spec: Any, timeout_s: float | None = None) -> Entry:
    """`(blob, context=None) -> None` for a blob trigger with the Event Grid source."""
    _check(spec, "storage")
    wants_context = spec.binding.wants_context

    def handle(blob: Any, context: Any = None) -> None:
        ctx = _context(spec, context, timeout_s, None, blob) if wants_context else None
        _settle(spec, "blob", call_event(spec, _decode(blob_to_cloudevent, blob), ctx))

    return handle


def timer_entry(spec: Any, expression: str, timeout_s: float | None = None) -> Entry:
    """`(timer, context=None) -> None` for a timer trigger; `expression` is the portable schedule."""
    _check(spec, "schedule")
    wants_context = spec.binding.wants_context

    def handle(timer: Any, context: Any = None) -> None:
        event = timer_to_cloudevent(timer, spec.name, expression, datetime.now(timezone.utc))
        ctx = _context(spec, context, timeout_s, None, timer) if wants_context else None
        _settle(spec, "timer", call_event(spec, event, ctx))

    return handle


# -- helpers ---------------------------------------------------------------------------------------

def _check(spec: Any, *kinds: str) -> None:
    """Fail at import (cold start), not on the first event: a handler the runtime cannot call, or an
    entry point generated for another trigger."""
    spec.binding  # noqa: B018
    if spec.trigger.kind not in kinds:
        raise InvalidEventError(
            f"Function {spec.name!r} on azure has a {spec.trigger.kind} trigger but function_app.py binds it "
            f"as {' or '.join(kinds)}; regenerate it with `portable-fn package --provider azure`."
        )


def _decode(convert: Callable[..., CloudEvent[Any]], native: Any, *args: Any) -> CloudEvent[Any] | BaseException:
    """The native object's CloudEvent, or the error saying why it has none (it is dead-lettered)."""
    try:
        return convert(native, *args)
    except Exception as exc:
        return _unreadable(native, exc)


def _unreadable(native: Any, exc: Exception) -> InvalidEventError:
    """Why `native` has no CloudEvent: the call_event input that dead-letters it."""
    if isinstance(exc, InvalidEventError):
        return exc
    return InvalidEventError(f"The {type(native).__name__} cannot be read: {type(exc).__name__}: {exc}.")


def _context(spec: Any, context: Any, timeout_s: float | None, meta: MessageMeta | None, native: Any) -> Context:
    return Context(
        invocation_id=str(getattr(context, "invocation_id", "") or ""), function_name=spec.name,
        provider=PROVIDER, attempt=meta.delivery_count if meta is not None else _retry_attempt(context),
        deadline=time.time() + timeout_s if timeout_s else None, message=meta,
        raw=NativeInvocation(context, native),
    )


def _retry_attempt(context: Any) -> int:
    retry = getattr(context, "retry_context", None)
    return int(getattr(retry, "retry_count", 0) or 0) + 1


def _blob_matches(event: CloudEvent[Any], blobs: tuple[str, str, str]) -> bool:
    container, prefix, suffix = blobs
    _, _, rest = (event.subject or "").partition(f"/containers/{container}/blobs/")
    return bool(rest) and rest.startswith(prefix) and rest.endswith(suffix)


def _settle(spec: Any, what: str, result: Result) -> None:
    if result.outcome is not ACK:
        _log(spec, what, result, "raised for redelivery")
        raise DeliveryFailed(_failure(spec, f"{what} event", result))


def _failure(spec: Any, what: str, result: Result) -> str:
    return (f"Function {spec.name!r} did not acknowledge {what} {result.event_id or '?'}: "
            f"{result.outcome} ({result.reason})")


def _log(spec: Any, what: str, result: Result, action: str) -> None:
    import logging  # only paid for when something failed

    logging.getLogger("portable_fn.azure").warning(
        "function %s: %s event %s -> %s (%s): %s", spec.name, what, result.event_id, result.outcome, action,
        result.reason)
