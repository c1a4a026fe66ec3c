"""The Azure Functions runtime shim: what the generated `function_app.py` calls for each portable function.

Ships inside the package zip and imports only the standard library and `portable_fn.runtime` (a test scans
the imports); the `azure.functions` classes it needs (`HttpResponse`) are handed in by the generated code,
which the Azure host runs with `azure-functions` installed. Each `*_entry(spec, ...)` gives the body of one
decorated v2 function: it reads the trigger's object into one call of the runtime's invocation pipeline
(`portable_fn.runtime.contract`: the host's `context.trace_context` is the invocation's trace carrier, a
Service Bus message's `Diagnostic-Id` / `traceparent` its producer's), and the outcome of the handler
becomes what the host expects:

- http (`route`): the handler gets a Request; its Response is the answer, bad input a 4xx with the
  reason.
- queue (`queueTrigger` + a `queue` output binding to `<queue>-poison`): ack returns; retry raises, so the
  host makes the message visible again, up to `maxDequeueCount` (host.json); dead-letter, and a retry on
  the last attempt, write the dead letter to `<queue>-poison` through the output binding and the
  invocation succeeds: it is never delivered again. The dead letter is the shared shape
  (`portable_fn.runtime.dead_letters`: the CloudEvent plus `deadletterreason`, `deadletterfunction`,
  `deadletterattempt`) in the JSON format, which the queue converter reads back as that very event; a
  message that could not be decoded is carried in an event of type `dev.portable-fn.undecodable`
  (`undecodable_event`) holding its raw body.
- queue on Service Bus, topic on a Service Bus subscription (`serviceBusTrigger` + a Storage Queue
  output binding to the function's own dead-letter queue, `names.dead_letter_queue`, in the app's
  storage): the same rule as a Storage Queue. Ack returns (the host completes the message); retry raises
  (the host abandons it, Service Bus delivers it again); dead-letter, and a retry once the message's
  delivery count reached the function's attempts, write the dead letter to that queue and return, so the
  message is completed and never delivered again. Service Bus's own MaxDeliveryCount is only the
  backstop for an invocation that never returned (a crash, a timeout): see `retries`.
- topic on Event Grid (`eventGridTrigger`), storage (`blobTrigger` with the Event Grid source;
  `deleted`: `eventGridTrigger`), schedule (`timerTrigger`), each + a Storage Queue output binding to the
  function's own dead-letter queue (`names.dead_letter_queue`): ack returns; dead-letter (an event that
  cannot be read too) writes the dead letter to that queue and returns, so it is never delivered again;
  retry raises, so the transport tries again: Event Grid's retry policy, then the subscription's
  dead-letter container (the event as delivered, with Event Grid's own reason); the blob trigger's
  retries, then the host's `webjobs-blobtrigger-poison` queue (the blob's name, no reason); the timer's
  retry policy (`retries`), then the next firing. Only the timer says which retry it runs
  (`context.retry_context`: `retry_count`, `max_retry_count`), so a timer's retry on its last attempt
  is written to the queue too; elsewhere the attempt is the host's retry count + 1 (1 without one).

A queue function whose `retries` is lower than the app's `maxDequeueCount` (one host.json for every queue
function: the highest of them) is dead-lettered by the shim when a retry is asked on its last attempt.

Each event that was not acknowledged is one log line (`logs.log_failure`), written once the shim knows what
becomes of it, with the call's facts (function, invocation and event id, trace, attempt): its reason and
fate, at ERROR with the traceback when the handler crashed, at WARNING for its own Retry or DeadLetter or
data that could not be read.

An http function answers only what it declared: the host routes by the declared route, and a method the
function did not declare (which the generated route lets through, see `codegen`) is answered 405 with
the methods the path allows, as `portable-fn dev` answers (`portable_fn.runtime.routes.not_routed`); a path
no function declared goes to the generated catch-all, answered 404 as `dev` answers it (`not_found_entry`).
Nothing a trigger object holds escapes as an exception other than `DeliveryFailed`: an event that cannot
be read is dead-lettered, a request that cannot be read is answered 400.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.contract import Call, Invocation, LazyCarrier, http_carrier, run, serve
from portable_fn.runtime.dead_letters import dead_letter_event
from portable_fn.runtime.errors import InvalidEventError, PortableFnError
from portable_fn.runtime.function import FunctionSpec
from portable_fn.runtime.http import Response
from portable_fn.runtime.logs import configure_deployed, log_failure
from portable_fn.runtime.outcomes import ACK, DEAD_LETTER, Result
from portable_fn.runtime.routes import Route, Router, not_routed, not_served
from portable_fn.runtime.triggers import Http
from portable_fn.runtime.views import MessageMeta, StorageObject

from .events import (
    blob_event_to_cloudevent,
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
REGION = os.environ.get("REGION_NAME")  # set by the Functions host for the life of the process
UNDECODABLE = "dev.portable-fn.undecodable"  # a dead letter carrying a message that had no CloudEvent
Entry = Callable[..., Any]
# What the library's EventGridEvent (Event Grid schema) and CloudEvent (CloudEvents schema) hold besides data.
GRID_ATTRIBUTES = ("id", "topic", "subject", "event_type", "event_time", "source", "type", "specversion", "time")
BLOB_ATTRIBUTES = ("name", "uri", "length")  # of an azure.functions InputStream
# The source of a dead letter carrying an event that could not be read (the native source may not be a URI).
GRID_SOURCE, BLOB_SOURCE = "/portable-fn/azure/event-grid", "/portable-fn/azure/blob"


class DeliveryFailed(PortableFnError):
    """Raised to the Functions host when an event was not acknowledged, so that its transport retries it;
    `outcome` (retry or dead_letter) and `reason` say what the function asked for."""

    def __init__(self, message: str, outcome: str = "retry", reason: str | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.reason = reason


class NativeInvocation:
    """`Context.raw` on Azure: the `azure.functions.Context` (its attributes read through) and the trigger's
    native object (`native`)."""

    __slots__ = ("context", "native")

    def __init__(self, context: Any, native: Any) -> None:
        self.context = context
        self.native = native

    def __getattr__(self, name: str) -> Any:
        return getattr(self.context, name)  # invocation_id, function_name, trace_context, retry_context


# -- entry points: one per decorated v2 function ---------------------------------------------------


def http_entry(
    spec: FunctionSpec, http_response: Any, timeout_s: float | None = None, routes: tuple[tuple[str, str], ...] = ()
) -> Entry:
    """`(req, context=None) -> HttpResponse`; `http_response` is `azure.functions.HttpResponse`. `routes`
    (method, path) of every http function of the app give a 405 its `Allow` header (default: this one)."""
    _check(spec, "http")
    trigger = spec.trigger_as(Http)
    own = Router([Route(trigger.method, trigger.path, None)])
    router = Router(Route(method, path, None) for method, path in routes or ((trigger.method, trigger.path),))

    def handle(req: Any, context: Any = None) -> Any:
        try:
            request = to_request(req)
        except Exception as exc:  # a malformed native request
            return _malformed(exc, http_response)
        method, path = request.method, request.path
        if own.match(method, path) is None and (method != "HEAD" or own.match("GET", path) is None):
            # what the host lets through that the route does not declare: a method (see codegen), or a path
            # in other letters (the host matches routes ignoring case, dev and the other clouds do not); a HEAD
            # is served by a GET route, as in dev
            return to_http_response(not_routed(router, request), http_response)
        # The request's headers are read only if something asks for the trace (most invocations do not).
        carrier = LazyCarrier(lambda: http_carrier(request.headers, _host_carrier(context)))
        invocation = _invocation(spec, context, timeout_s, req, carrier)
        invocation.request(request)
        return to_http_response(serve(invocation), http_response)

    return handle


def not_found_entry(http_response: Any, routes: tuple[tuple[str, str], ...]) -> Entry:
    """`(req, context=None) -> HttpResponse` of the generated catch-all (`codegen.not_found_name`), which the
    host sends what no function's route takes: `dev`'s JSON 404 naming the app's `routes` (method, path),
    where the host would answer an empty 404 (`portable_fn.runtime.routes.not_served`)."""
    router = Router(Route(method, path) for method, path in routes)

    def handle(req: Any, context: Any = None) -> Any:
        try:
            request = to_request(req)
        except Exception as exc:  # a malformed native request
            return _malformed(exc, http_response)
        return to_http_response(not_served(router, request), http_response)

    return handle


def _malformed(exc: Exception, http_response: Any) -> Any:
    """The 400 of a request that cannot be read, saying why."""
    response = Response.json({"error": f"Malformed HTTP request: {type(exc).__name__}: {exc}."}, 400)
    return to_http_response(response, http_response)


def queue_entry(
    spec: FunctionSpec, queue: str, connection: str, max_attempts: int, timeout_s: float | None = None
) -> Entry:
    """`(msg, poison, context=None) -> None` for a Storage Queue message; `poison` is the `Out` of the
    `<queue>-poison` output binding."""
    _check(spec, "queue")
    source = queue_source(connection, queue)

    def handle(msg: Any, poison: Any, context: Any = None) -> None:
        decoded = _decode(queue_message_to_cloudevent, msg, source)
        call = _run_one(spec, context, timeout_s, msg, decoded, queue_message_meta)
        if _result(call).outcome != ACK:
            attempt = queue_message_meta(msg).delivery_count
            failed = Failed("queue", f"{queue}-poison", source, attempt, max_attempts)
            _message_failure(spec, failed, msg, poison, decoded, call)

    return handle


class Failed:
    """Where a message that was not acknowledged came from and can go: its transport (`what`, for the log
    line), the queue its dead letter is written to, its source, and its attempt of the function's attempts
    (`max_attempts` None: the shim cannot know the last one, the transport retries). `item` names what
    was delivered: a message (queues) or an event (Event Grid, blob, timer)."""

    __slots__ = ("what", "dead_letters", "source", "attempt", "max_attempts", "item")

    def __init__(
        self, what: str, dead_letters: str, source: str, attempt: int, max_attempts: int | None, item: str = "message"
    ) -> None:
        self.what, self.dead_letters, self.source = what, dead_letters, source
        self.attempt, self.max_attempts, self.item = attempt, max_attempts, item

    @property
    def retried(self) -> str:
        """What becomes of a retry, for the log line."""
        if self.max_attempts is None:
            return "raised for redelivery"
        return f"attempt {self.attempt} of {self.max_attempts}"


def _message_failure(
    spec: FunctionSpec, failed: Failed, msg: Any, out: Any, decoded: CloudEvent[Any] | BaseException, call: Call
) -> None:
    """A message that was not acknowledged: its dead letter written to the output binding `out` now
    (dead-letter, or a retry on the last attempt), else raised so that its transport delivers it again."""
    result = _result(call)
    last = failed.max_attempts is not None and failed.attempt >= failed.max_attempts
    if result.outcome is DEAD_LETTER or last:
        carried = decoded if isinstance(decoded, CloudEvent) else undecodable_event(msg, failed.source)
        letter = dead_letter_event(carried, function=spec.name, reason=str(result.reason), attempt=failed.attempt)
        out.set(letter.to_json())
        _log(spec, failed.what, call, f"moved to {failed.dead_letters}", carried.id)
        return
    _log(spec, failed.what, call, failed.retried)
    raise DeliveryFailed(_failure(spec, f"{failed.what} {failed.item}", result), str(result.outcome), result.reason)


def undecodable_event(msg: Any, source: str) -> CloudEvent[Any]:
    """A message that has no CloudEvent, carried whole: type `dev.portable-fn.undecodable`, its id (a new
    one when it has none), its raw body as the data (text when it is UTF-8, else bytes)."""
    msg_id = getattr(msg, "id", None) or getattr(msg, "message_id", None)  # Storage Queue, Service Bus
    if msg_id is None and isinstance(msg, Mapping):  # an Event Grid event as JSON (what `invoke` hands over)
        msg_id = msg.get("id")
    try:
        body = msg.get_body() if hasattr(msg, "get_body") else _described(msg)
    except Exception:
        body = b""
    data = body_text(body) if isinstance(body, bytes) else body if isinstance(body, str) else b""
    return CloudEvent(
        id=msg_id if isinstance(msg_id, str) and msg_id else uuid.uuid4().hex,
        source=source,
        type=UNDECODABLE,
        time=datetime.now(timezone.utc),
        data=data,
        datacontenttype="text/plain; charset=utf-8" if isinstance(data, str) else "application/octet-stream",
    )


def _described(native: Any) -> bytes:
    """A trigger object that has no CloudEvent and no raw body, as JSON: an Event Grid event (the library's
    EventGridEvent or CloudEvent) its attributes that are set and its data, a blob its name, uri and length
    (not its content); empty for anything else."""
    import json

    if isinstance(native, Mapping):  # the JSON `invoke` hands over
        return json.dumps(native, default=str).encode()
    names = GRID_ATTRIBUTES if hasattr(native, "get_json") else BLOB_ATTRIBUTES if hasattr(native, "uri") else ()
    fields = {name: getattr(native, name, None) for name in names}
    if not fields:
        return b""
    shown = {name: value for name, value in fields.items() if value is not None}
    if hasattr(native, "get_json"):
        shown["data"] = native.get_json()
    return json.dumps(shown, default=str).encode()


def service_bus_entry(
    spec: FunctionSpec,
    entity: str,
    connection: str,
    max_attempts: int,
    dead_letters: str,
    timeout_s: float | None = None,
) -> Entry:
    """`(msg, dead, context=None) -> None` for a Service Bus queue or topic subscription message; `dead` is
    the `Out` of the output binding to the Storage Queue `dead_letters` (`names.dead_letter_queue`)."""
    _check(spec, "queue", "topic")
    source = service_bus_source(connection, entity)

    def handle(msg: Any, dead: Any, context: Any = None) -> None:
        decoded = _decode(service_bus_to_cloudevent, msg, source)
        call = _run_one(spec, context, timeout_s, msg, decoded, service_bus_meta, _service_bus_carrier)
        if _result(call).outcome != ACK:
            attempt = service_bus_meta(msg).delivery_count
            failed = Failed("Service Bus", dead_letters, source, attempt, max_attempts)
            _message_failure(spec, failed, msg, dead, decoded, call)

    return handle


def event_grid_entry(
    spec: FunctionSpec, dead_letters: str, timeout_s: float | None = None, blobs: tuple[str, str, str] | None = None
) -> Entry:
    """`(event, dead, context=None) -> None` for an Event Grid event in either schema; `dead` is the `Out` of
    the output binding to the Storage Queue `dead_letters` (`names.dead_letter_queue`). `blobs` (container,
    prefix, suffix) keeps only the blob events of a `storage(..., on="deleted")` trigger, identified as the
    blob trigger identifies the same blob (`blob_event_to_cloudevent`); a topic message gets its
    `ctx.message`."""
    _check(spec, "topic", "storage")
    topic = spec.trigger.kind == "topic"
    decode = event_grid_to_cloudevent if blobs is None else blob_event_to_cloudevent

    def handle(event: Any, dead: Any, context: Any = None) -> None:
        decoded = _decode(decode, event)
        if isinstance(decoded, CloudEvent) and blobs is not None and not _blob_matches(decoded, blobs):
            return  # the subscription's filter should have kept it away: acknowledged, not delivered
        meta_of = (lambda _: _grid_meta(decoded, context)) if topic and isinstance(decoded, CloudEvent) else None
        call = _run_one(spec, context, timeout_s, event, decoded, meta_of)
        failed = Failed("Event Grid", dead_letters, GRID_SOURCE, _retry_attempt(context), None, "event")
        _settle(spec, failed, event, dead, decoded, call)

    return handle


def blob_entry(spec: FunctionSpec, dead_letters: str, timeout_s: float | None = None) -> Entry:
    """`(blob, dead, context=None) -> None` for a blob trigger with the Event Grid source; `dead` as an Event
    Grid trigger's."""
    _check(spec, "storage")

    def handle(blob: Any, dead: Any, context: Any = None) -> None:
        decoded = _decode(blob_to_cloudevent, blob)
        call = _run_one(spec, context, timeout_s, blob, decoded, None)
        failed = Failed("blob", dead_letters, BLOB_SOURCE, _retry_attempt(context), None, "event")
        _settle(spec, failed, blob, dead, decoded, call)

    return handle


def timer_entry(spec: FunctionSpec, expression: str, dead_letters: str, timeout_s: float | None = None) -> Entry:
    """`(timer, dead, context=None) -> None` for a timer trigger; `expression` is the portable schedule,
    `dead` as an Event Grid trigger's. A retry on the timer's last attempt (`retry_context.max_retry_count`
    retries run) is dead-lettered: nothing tries it again."""
    _check(spec, "schedule")

    def handle(timer: Any, dead: Any, context: Any = None) -> None:
        event = timer_to_cloudevent(timer, spec.name, expression, datetime.now(timezone.utc))
        call = _run_one(spec, context, timeout_s, timer, event, None)
        failed = Failed("timer", dead_letters, event.source, _retry_attempt(context), _timer_attempts(context), "event")
        _settle(spec, failed, timer, dead, event, call)

    return handle


def _run_one(
    spec: FunctionSpec,
    context: Any,
    timeout_s: float | None,
    native: Any,
    event: CloudEvent[Any] | BaseException,
    meta_of: Callable[[Any], MessageMeta | None] | None = None,
    carrier_of: Callable[[Any], Mapping[str, str] | None] | None = None,
) -> Call:
    """The call of one event (or of the error saying why the native object has none), run through the
    pipeline (`call.result`); its `MessageMeta` (`meta_of(native)`) and producer's carrier
    (`carrier_of(native)`) read when asked. A failure is not logged in the call: the entry writes its one
    line (`_log`) once it knows what becomes of the event."""
    invocation = _invocation(spec, context, timeout_s, native, LazyCarrier(lambda: _host_carrier(context)))
    invocation.meta_of, invocation.carrier_of = meta_of, carrier_of
    invocation.logs_failures = True
    if meta_of is None:  # no message: the host's retry count is the attempt
        call = invocation.add(event, native, meta=None, attempt=_retry_attempt(context))
    else:
        call = invocation.add(event, native)
    run(invocation)
    return call


def _invocation(
    spec: FunctionSpec, context: Any, timeout_s: float | None, native: Any, carrier: Mapping[str, str] | None
) -> Invocation:
    return Invocation(
        spec,
        PROVIDER,
        str(getattr(context, "invocation_id", "") or ""),
        carrier=carrier,
        deadline=time.time() + timeout_s if timeout_s else None,
        raw=NativeInvocation(context, native),
        region=REGION,
    )


def _host_carrier(context: Any) -> dict[str, str] | None:
    """The trace context the Functions host gives the invocation (`context.trace_context`: W3C)."""
    trace = getattr(context, "trace_context", None)
    parent = getattr(trace, "trace_parent", None) or getattr(trace, "Traceparent", None)
    if not isinstance(parent, str) or not parent:
        return None
    state = getattr(trace, "trace_state", None) or getattr(trace, "Tracestate", None)
    return {"traceparent": parent, "tracestate": state} if isinstance(state, str) and state else {"traceparent": parent}


def _service_bus_carrier(msg: Any) -> dict[str, str] | None:
    """The producer's trace context a Service Bus message carries (`Diagnostic-Id` / `traceparent`
    application properties, set by the Azure SDKs)."""
    try:
        properties = msg.application_properties or {}
    except Exception:
        return None
    found = {}
    for name in ("Diagnostic-Id", "traceparent", "tracestate"):
        value = properties.get(name) if isinstance(properties, Mapping) else None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value:
            found[name.lower()] = value
    return found or None


# -- helpers ---------------------------------------------------------------------------------------


def _check(spec: FunctionSpec, *kinds: str) -> None:
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
    """Why `native` has no CloudEvent: the pipeline's input that dead-letters it."""
    if isinstance(exc, InvalidEventError):
        return exc
    return InvalidEventError(f"The {type(native).__name__} cannot be read: {type(exc).__name__}: {exc}.")


def _grid_meta(event: CloudEvent[Any], context: Any) -> MessageMeta:
    """A topic message Event Grid delivered: its event id. The trigger says neither when it was published nor
    how many times Event Grid tried it (the host's retry count, 1 without a retry policy)."""
    return MessageMeta(event.id, _retry_attempt(context))


def _retry_attempt(context: Any) -> int:
    retry = getattr(context, "retry_context", None)
    return int(getattr(retry, "retry_count", 0) or 0) + 1


def _timer_attempts(context: Any) -> int | None:
    """A timer's attempts under its retry policy (`max_retry_count` + 1), None when the host gives no retry
    context (no policy: the next firing is the only retry, so the shim does not dead-letter a retry)."""
    retry = getattr(context, "retry_context", None)
    retries = getattr(retry, "max_retry_count", None)
    return int(retries) + 1 if isinstance(retries, int) and retries >= 0 else None


def _blob_matches(event: CloudEvent[Any], blobs: tuple[str, str, str]) -> bool:
    """Whether the blob event names a blob of the container under the prefix and suffix, read as the handler's
    `StorageObject` reads it (its key: the blob URL's path, percent-decoded). The subject names the blob as
    it is: decoding it too made `%41/x` match a prefix `A/`. An event that is no blob event passes, to fail in
    the call as any unreadable event does."""
    container, prefix, suffix = blobs
    try:
        found = StorageObject.from_cloudevent(event)
    except PortableFnError:
        return True
    return found.bucket == container and bool(found.key) and found.key.startswith(prefix) and found.key.endswith(suffix)


def _result(call: Call) -> Result:
    result = call.result
    assert result is not None  # `run` gave the call its Result
    return result


def _settle(
    spec: FunctionSpec, failed: Failed, native: Any, out: Any, decoded: CloudEvent[Any] | BaseException, call: Call
) -> None:
    """An event that was not acknowledged: dead-lettered through `out` (`_message_failure`), else raised so
    that its transport tries it again."""
    if _result(call).outcome is not ACK:
        _message_failure(spec, failed, native, out, decoded, call)


def _failure(spec: FunctionSpec, what: str, result: Result) -> str:
    return (
        f"Function {spec.name!r} did not acknowledge {what} {result.event_id or '?'}: "
        f"{result.outcome} ({result.reason})"
    )


def _log(spec: FunctionSpec, what: str, call: Call, action: str, event_id: str | None = None) -> None:
    """The one line of an event that was not acknowledged, with its call's facts (`log_failure`): why, and
    what becomes of it (`action`); at ERROR with the traceback when the handler crashed. `event_id` names
    a message that could not be read (its dead letter's id)."""
    result = _result(call)
    log_failure(
        call,
        "function %s: %s event %s -> %s (%s): %s",
        spec.name,
        what,
        result.event_id or event_id or "?",
        result.outcome,
        action,
        result.reason,
        logger="portable_fn.azure",
    )


configure_deployed(PROVIDER)  # cold start, on the cloud only: JSON log lines with the same keys everywhere
