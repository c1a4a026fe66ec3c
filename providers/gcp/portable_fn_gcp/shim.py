"""The Cloud Functions (2nd gen) runtime shim: `generate_main(app)` writes the functions-framework
`main.py`, and `entry_point(spec)` is what each of its names is.

Ships inside every source zip and imports only the standard library and `portable_fn.runtime` (a test
scans the imports): no functions_framework, flask, werkzeug or cloudevents import. What the framework
passes is read by duck typing, and the framework's own modules, already loaded in the process that runs
`main.py`, are only looked up in `sys.modules` (to register each entry point's signature type and to
answer 4xx/5xx as HTTP errors rather than crashes).

One entry point per function, named after it (the deploy's `--entry-point` / functions-framework's
`--target`):

| trigger                    | signature  | the handler gets                    | outcome -> HTTP status          |
|----------------------------|------------|-------------------------------------|---------------------------------|
| http                       | http       | Request (`flask_http`), when its    | the Response; another path or   |
|                            |            | route serves the method and path    | method: 404 / 405 as in dev     |
| queue, topic, schedule     | http       | the Pub/Sub message's CloudEvent    | ack -> 200                      |
| (Pub/Sub messagePublished) |            | (`events.unwrap_message`); for a    | retry -> 500 (redelivered)      |
|                            |            | schedule, the tick it stands for    |                                 |
|                            |            | (`events.schedule_tick`), no        |                                 |
|                            |            | `Context.message`                   |                                 |
| storage                    | http       | the `storage.object.v1.*` event;    | dead-letter -> 200 once on the  |
|                            |            | keys outside the trigger's prefix / | dead-letter topic (else 500)    |
|                            |            | suffix are acknowledged unseen      | invalid input -> 400 + reason   |

Every path reaches the entry point, functions-framework's own `/robots.txt` and `/favicon.ico` too (its http
signature answers those itself): `entry_point` hooks the framework's app while it loads main.py
(`flask_http.serve_every_path`), so an HTTP function answers each path as dev does.

Retry: a 5xx makes Pub/Sub (behind every Eventarc trigger) redeliver with backoff, as the trigger's
retry policy allows. DEAD_LETTER: the handler gave up on the event, so redelivery could not help: the
event is published to the function's dead-letter topic (`dead_letter`, the topic deploy names in
`PORTABLE_FN_DEAD_LETTER_TOPIC`) in the shared dead-letter shape (`portable_fn.runtime.dead_letters`:
the event plus `deadletterreason`, `deadletterfunction`, `deadletterattempt`), logged at WARNING with its
reason, and only then acknowledged; if the publish fails it is answered 500 and redelivered instead.
Dead letters are on unless the function says `dead_letter=False`: with them on and no topic named, the
function is misconfigured (logged at ERROR at cold start, saying what to fix) and a dead-lettered event
is answered 500, so Pub/Sub keeps it, never acknowledged. A function with `dead_letter=False`
acknowledges a dead letter and logs it at WARNING.

Invalid input (no CloudEvent, a Pub/Sub message that cannot be decoded, a value of the wrong JSON type
anywhere the shim reads, data that fails the handler's annotation) answers 400 with `{"error": reason}`:
no exception leaves an entry point for an event that cannot be read. Pub/Sub treats the 400 as a
failure, so it is redelivered as the retry policy allows; deploy also puts a dead-letter policy on the
trigger's subscription, so what keeps failing ends in the dead-letter topic, never lost.

Every entry point is registered with the http signature, event functions too: the shim reads the request's
CloudEvent itself (`portable_fn.runtime.http_binding.from_http`, binary or structured mode, `ce-*` values
percent-decoded as the spec says) and answers every status itself, in JSON. Under the cloudevent signature
functions-framework parsed first, with the `cloudevents` SDK, and a body it could not read (a structured
event whose JSON is broken, a `ce-*` value the SDK refuses) never reached the shim: the framework answered
an HTML 500, and Pub/Sub redelivered it until the dead-letter policy took it. What that signature also did,
turn a legacy background event or a bare Pub/Sub push body into a CloudEvent, the shim asks of the
framework's own converter (`event_conversion`, looked up in `sys.modules`). A method other than POST is a
405 with `Allow: POST`. Called with a framework CloudEvent (a main.py registered as cloudevent), an entry
point still reads it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.contract import Call, Invocation, LazyCarrier, http_carrier, run, serve
from portable_fn.runtime.errors import InvalidEventError, PortableFnError
from portable_fn.runtime.function import FunctionSpec, top_level_name
from portable_fn.runtime.http import Response
from portable_fn.runtime.http_binding import from_http, is_cloudevent
from portable_fn.runtime.logs import configure_deployed, log_failure
from portable_fn.runtime.outcomes import ACK, DEAD_LETTER, RETRY, Result
from portable_fn.runtime.triggers import Http, Schedule, Storage, Trigger
from portable_fn.runtime.views import MessageMeta

if TYPE_CHECKING:  # packaging's side only: the function never loads it
    from portable_fn.app import App

from . import dead_letter
from .events import MESSAGE_PUBLISHED, from_sdk_message, not_wired, schedule_tick, to_cloudevent, wsgi_headers
from .flask_http import routed, router, serve_every_path, to_flask_response, to_request

PROVIDER = "gcp"
PACKAGE = "portable_fn_gcp"
TIMEOUT_ENV = "PORTABLE_FN_TIMEOUT_S"  # set by deploy to the function's timeout: Context.deadline
FUNCTION_ENV = "PORTABLE_FN_FUNCTION"  # set by deploy to the function the instance serves
REGION = os.environ.get("PORTABLE_FN_REGION")  # set by deploy (gen2 runtimes name no region)
EntryPoint = Callable[[Any], Any]


class DeliveryFailed(PortableFnError):
    """An event was not acknowledged (`status` 500: retry, 400: invalid input); raised to the framework
    when its own HTTP error classes are not loaded."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Answer:
    """What one event became: the HTTP status to answer, why (when not 2xx) and the handler's Result."""

    __slots__ = ("status", "reason", "result", "event")

    def __init__(
        self, status: int, reason: str | None = None, result: Result | None = None, event: CloudEvent[Any] | None = None
    ) -> None:
        self.status = status
        self.reason = reason
        self.result = result
        self.event = event


# -- main.py -------------------------------------------------------------------------------------


def generate_main(app: App) -> str:
    """The source of `main.py`: imports the app's modules, one entry point per function."""
    modules = sorted({spec.module for spec in app.functions})
    alias = {module: f"_m{i}" for i, module in enumerate(modules)}
    lines = [
        f'"""Generated by portable-fn for the app {app.name!r}: functions-framework entry points, '
        'one per function (target = the function\'s name)."""',
        "",
        f"from {PACKAGE}.shim import entry_point",
        "",
    ]
    lines += [f"import {module} as {alias[module]}" for module in modules] + [""]
    for spec in app.functions:
        handler = top_level_name(spec, "Generating main.py on gcp", "functions-framework")
        made = f"entry_point({alias[spec.module]}.{handler}.__portable_fn__)"
        lines.append(f"{spec.name} = {made}" if spec.name.isidentifier() else f"globals()[{spec.name!r}] = {made}")
    return "\n".join(lines) + "\n"


# -- entry points ----------------------------------------------------------------------------------


def entry_point(spec: FunctionSpec) -> EntryPoint:
    """The functions-framework function for one portable function; its signature is checked now."""
    spec.binding  # noqa: B018 - a handler the runtime cannot call fails at import, not on the first event
    made = _http_entry_point(spec) if spec.trigger.kind == "http" else _event_entry_point(spec)
    made.__name__ = made.__qualname__ = spec.name
    _register(spec.name, "http")  # events too: the shim reads them itself (see the module docstring)
    serve_every_path()  # the framework's /robots.txt and /favicon.ico reach the function too (flask_http)
    return made


def _http_entry_point(spec: FunctionSpec) -> EntryPoint:
    routes, timeout = router(spec.trigger_as(Http)), _timeout()

    def handle(request: Any) -> Any:
        served = routed(routes, to_request(request))
        if isinstance(served, Response):  # a path or method the function did not declare
            return to_flask_response(served)
        invocation = _invocation(
            spec, _execution_id(request), timeout, request, http_carrier(served.headers, _cloud_trace(request.headers))
        )
        invocation.request(served)
        return to_flask_response(serve(invocation))

    return handle


def _event_entry_point(spec: FunctionSpec) -> EntryPoint:
    timeout = _timeout()
    _check_dead_letter_target(spec)

    def handle(native: Any) -> Any:
        if hasattr(native, "get_attributes"):  # a framework CloudEvent: a main.py registered as cloudevent
            answer = deliver_event(spec, native, timeout, _binary_request)
            if answer.status >= 300:
                raise _http_error(answer.status, answer.reason or "")
            return None
        method = getattr(native, "method", "POST")
        if method != "POST":  # Eventarc and Pub/Sub push POST every event
            reason = f"an event function takes POST only, not {method}"
            return to_flask_response(Response.json({"error": reason}, 405, {"Allow": "POST"}))
        return _answer_http(deliver_request(spec, native, timeout))

    return handle


def deliver_event(
    spec: FunctionSpec, native: Any, timeout: float | None = None, binary: Callable[[], bool] | None = None
) -> Answer:
    """Convert one framework CloudEvent, call the function, say what to answer (never raises for
    anything the handler or the event does). `binary`: whether the request being served is a binary-mode
    CloudEvent (`from_sdk_message`)."""
    try:
        event, meta = from_sdk_message(native) if binary is None else from_sdk_message(native, binary)
    except Exception as exc:
        return _unreadable(spec, native, exc)
    return deliver(spec, event, meta, native, timeout)


def deliver_request(spec: FunctionSpec, request: Any, timeout: float | None = None) -> Answer:
    """The same for a flask request holding a CloudEvent in binary or structured mode, or a legacy event
    that functions-framework converts."""
    headers = wsgi_headers(request.headers.items())
    try:
        google = from_http(headers, request.get_data())
    except InvalidEventError as exc:
        if is_cloudevent(headers):  # a CloudEvent that is not valid: never read as some other event
            return _rejected(spec, None, str(exc), event_id=_native_id(request))
        converted = _background_event(request)
        if converted is None:
            reason = f"{exc} (an event function reads a CloudEvent, or a legacy event functions-framework converts)"
            return _rejected(spec, None, reason)
        return deliver_event(spec, converted, timeout)
    except Exception as exc:
        return _unreadable(spec, request, exc)
    return deliver_cloudevent(spec, google, request, timeout)


def _background_event(request: Any) -> Any:
    """functions-framework's own CloudEvent for a request holding a legacy background event or a Pub/Sub
    push body (`{"message": ..., "subscription": ...}`), as its cloudevent signature converts them; None
    when the body is neither (or the framework is not loaded)."""
    conversion = sys.modules.get("functions_framework.event_conversion")
    if conversion is None:
        return None
    try:
        return conversion.background_event_to_cloud_event(request)
    except Exception:  # EventConversionException, or flask refusing a body that is no JSON: not a legacy event
        return None


def deliver_cloudevent(
    spec: FunctionSpec, google: CloudEvent[Any], native: Any, timeout: float | None = None
) -> Answer:
    """The same for a Google CloudEvent already decoded (a request, `portable-fn invoke`)."""
    try:
        event, meta = to_cloudevent(google)
    except Exception as exc:
        return _unreadable(spec, google, exc)
    return deliver(spec, event, meta, native, timeout)


def deliver(
    spec: FunctionSpec, event: CloudEvent[Any], meta: MessageMeta | None, native: Any, timeout: float | None
) -> Answer:
    """Call the function with the event it gets (`events.to_cloudevent`) and say what to answer. An event no
    trigger of its kind is wired to (`events.not_wired`: a Firestore event to a queue function, a Pub/Sub message
    or a deleted object to an `on="created"` storage function) is refused, never run and acknowledged: it is
    redelivered, and kept by the subscription's dead-letter policy."""
    why = not_wired(spec.trigger, MESSAGE_PUBLISHED if meta is not None else event.type)
    if why is not None:
        return _rejected(spec, event, why)
    if not _wanted(spec.trigger, event):
        return Answer(200, "filtered out by the trigger's prefix/suffix", None, event)
    schedule = spec.trigger if isinstance(spec.trigger, Schedule) else None
    if schedule is not None and meta is not None:
        try:
            event = schedule_tick(event, schedule, spec.name)
        except Exception as exc:  # a publish time no schedule can have fired at (year 1)
            return _rejected(spec, event, f"the tick cannot be read ({type(exc).__name__}: {str(exc)[:200]})")
    invocation = _invocation(spec, event.id, timeout, native, LazyCarrier(_request_carrier))
    # A tick's Pub/Sub message only carried it: its delivery count is the attempt, it is no `message`.
    call = invocation.add(
        event,
        meta=None if schedule is not None else meta,
        attempt=_attempt_of(meta),
        carrier=LazyCarrier(lambda: _message_carrier(meta)),
    )
    invocation.logs_failures = True  # `_answer` logs a failed event once, saying what becomes of it
    return _answer(spec, event, run(invocation)[0], _attempt_of(meta), call)


def _answer(spec: FunctionSpec, event: CloudEvent[Any], result: Result, attempt: int, call: Call) -> Answer:
    """What to answer for the handler's Result (routing a dead-lettered event first)."""
    outcome = result.outcome
    if outcome == ACK:
        return Answer(200, None, result, event)
    if outcome == DEAD_LETTER and isinstance(result.error, InvalidEventError):
        return _rejected(spec, event, result.reason or "invalid event", result)
    if outcome == DEAD_LETTER and (topic := dead_letter.topic()):
        return _route(spec, event, result, topic, attempt)
    if outcome == DEAD_LETTER and spec.options.dead_letter is not False:
        reason = dead_letter.missing_topic(spec.name)  # kept (redelivered) until the topic is named
        _log(spec, event, Result(RETRY, reason=f"{result.reason}; {reason}"))
        return Answer(500, reason, result, event)
    _log(spec, event, result, call=call)
    return Answer(500 if outcome == RETRY else 200, result.reason, result, event)


def _route(spec: FunctionSpec, event: CloudEvent[Any], result: Result, topic: str, attempt: int) -> Answer:
    """Publish a dead-lettered event to the function's dead-letter topic, then acknowledge it; if that
    fails, answer 500 so Pub/Sub redelivers it (nothing is lost)."""
    try:
        message_id = dead_letter.publish(topic, event, spec.name, result.reason or "dead-lettered", attempt)
    except dead_letter.DeadLetterFailed as exc:
        _log(spec, event, Result(RETRY, reason=str(exc)))
        return Answer(500, str(exc), result, event)
    _log(spec, event, result, f" (published to {topic} as message {message_id})")
    return Answer(200, result.reason, result, event)


def _check_dead_letter_target(spec: FunctionSpec) -> None:
    """At cold start: dead letters on with no topic named is a configuration error, said once, loudly. Only
    for the function this instance serves: main.py builds every function's entry point, and deploy names
    each function's own topic in its own environment."""
    served = os.environ.get(FUNCTION_ENV)
    if served and served != spec.name:
        return
    if spec.options.dead_letter is not False and not dead_letter.topic():
        import logging

        logging.getLogger("portable_fn.gcp").error("%s", dead_letter.missing_topic(spec.name))


def _attempt_of(meta: MessageMeta | None) -> int:
    return meta.delivery_count if meta is not None else 1


def _wanted(trigger: Trigger, event: CloudEvent[Any]) -> bool:
    """Eventarc filters Cloud Storage events by bucket only: the key prefix and suffix are checked here."""
    if not isinstance(trigger, Storage) or not (trigger.prefix or trigger.suffix):
        return True
    name = event.data.get("name") if isinstance(event.data, Mapping) else None
    return not isinstance(name, str) or trigger.matches(name)  # no name to filter by: read, and refused there


def _rejected(
    spec: FunctionSpec, event: CloudEvent[Any] | None, reason: str, result: Result | None = None, event_id: str = "?"
) -> Answer:
    _log(spec, event, result or Result(DEAD_LETTER, reason=reason), event_id=event_id)
    return Answer(400, reason, result, event)


def _unreadable(spec: FunctionSpec, native: Any, exc: Exception) -> Answer:
    """The 400 for an event that cannot be read: the reason `InvalidEventError` gives, else what broke."""
    reason = (
        str(exc)
        if isinstance(exc, InvalidEventError)
        else (f"the event cannot be read ({type(exc).__name__}: {str(exc)[:200]})")
    )
    return _rejected(spec, None, reason, event_id=_native_id(native))


def _native_id(native: Any) -> str:
    """The id of an event that could not be read, where one can be read (for the log line)."""
    found: Any
    try:
        if isinstance(native, CloudEvent):  # read from a request, its data not
            found = native.id
        elif not hasattr(native, "get_attributes") and hasattr(native, "headers"):  # a request's binary mode
            found = native.headers.get("ce-id")
        else:  # a framework CloudEvent
            attributes = getattr(native, "_attributes", None)
            if attributes.__class__ is not dict:
                attributes = native.get_attributes()
            found = attributes.get("id")
    except Exception:  # nothing to name it by
        return "?"
    return found if found.__class__ is str and found else "?"


def _binary_request() -> bool:
    """Whether the request functions-framework is serving is a binary-mode CloudEvent (its `ce-*`
    headers are then the event's attributes, not yet decoded)."""
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_request_context():
        return False
    return "ce-specversion" in flask.request.headers


def _invocation(
    spec: FunctionSpec, invocation_id: str, timeout: float | None, raw: Any, carrier: Mapping[str, str] | None
) -> Invocation:
    return Invocation(
        spec,
        PROVIDER,
        invocation_id,
        carrier=carrier,
        raw=raw,
        region=REGION,
        deadline=time.time() + timeout if timeout is not None else None,
    )


def _message_carrier(meta: MessageMeta | None) -> dict[str, str] | None:
    """The producer's trace context a Pub/Sub message carries (the client libraries' OpenTelemetry
    `googclient_traceparent` attribute)."""
    found = meta.attributes.get("googclient_traceparent") if meta is not None else None
    return {"googclient_traceparent": found} if isinstance(found, str) and found else None


def _cloud_trace(headers: Any) -> dict[str, str] | None:
    """Google's own trace header on the request (`X-Cloud-Trace-Context: TRACE/SPAN;o=1`)."""
    found = headers.get("X-Cloud-Trace-Context")
    return {"x-cloud-trace-context": found} if found else None


def _request_carrier() -> Mapping[str, str] | None:
    """The trace headers of the push request functions-framework is serving (the transport's, not the
    event's own `ce-traceparent`)."""
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_request_context():
        return None
    headers = flask.request.headers
    return http_carrier(headers, _cloud_trace(headers))


# -- the framework side, looked up, never imported -------------------------------------------------


def _register(name: str, signature: str) -> None:
    """Tell functions-framework the entry point's signature type, as its decorators do."""
    registry = getattr(sys.modules.get("functions_framework._function_registry"), "REGISTRY_MAP", None)
    if isinstance(registry, dict):
        registry[name] = signature


def _http_error(status: int, reason: str) -> Exception:
    """werkzeug's HTTP error for `status`, else DeliveryFailed (a 500). A 400 carries `{"error": reason}`
    as its JSON body; a 500 is answered by functions-framework's own crash handler (text, the reason)."""
    exceptions = sys.modules.get("werkzeug.exceptions")
    error = getattr(exceptions, "BadRequest" if status < 500 else "InternalServerError", None)
    if error is None:
        return DeliveryFailed(status, reason)
    wrappers = sys.modules.get("werkzeug.wrappers")
    if status >= 500 or wrappers is None:
        return error(description=reason)  # type: ignore[no-any-return]
    import json

    body = json.dumps({"error": reason})
    answer: Exception = error(
        description=reason, response=wrappers.Response(body, status, content_type="application/json")
    )
    return answer


def _answer_http(answer: Answer) -> Any:
    outcome = answer.result.outcome if answer.result is not None else ACK
    body = {"error": answer.reason} if answer.status >= 300 else {"outcome": outcome}
    return to_flask_response(Response.json(body, answer.status))


def _execution_id(request: Any) -> str:
    headers = request.headers
    found = headers.get("Function-Execution-Id") or headers.get("X-Cloud-Trace-Context") or ""
    return str(found).split("/", 1)[0]


def _timeout() -> float | None:
    value = os.environ.get(TIMEOUT_ENV)
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _log(
    spec: FunctionSpec,
    event: CloudEvent[Any] | None,
    result: Result,
    where: str = "",
    event_id: str = "?",
    call: Call | None = None,
) -> None:
    """One WARNING for an event that was not acknowledged; given its `call`, the call's one line
    (`log_failure`: its facts, and the traceback at ERROR when the handler crashed)."""
    import logging  # only paid for when something was not acknowledged

    what = {RETRY: "will be retried", DEAD_LETTER: "dead-lettered"}.get(result.outcome, result.outcome)
    args = (spec.name, event.id if event is not None else event_id, what, result.reason, where)
    if call is not None:
        log_failure(call, "function %s: event %s %s: %s%s", *args, logger="portable_fn.gcp")
    else:
        logging.getLogger("portable_fn.gcp").warning("function %s: event %s %s: %s%s", *args)


configure_deployed(PROVIDER)  # cold start, on the cloud only: JSON log lines with the same keys everywhere
