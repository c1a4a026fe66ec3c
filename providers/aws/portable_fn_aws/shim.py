"""The Lambda runtime shim: `make_handler(spec)` gives the `lambda_handler(event, context)` of a function.

Ships inside every function zip and imports only the standard library and `portable_fn.runtime` (a test
scans the imports). Each native event is recognised, turned into the neutral call through
`portable_fn.runtime.dispatch`, and the outcome turned back into what Lambda expects:

| native event                        | handler gets   | outcome -> Lambda                                            |
|-------------------------------------|----------------|--------------------------------------------------------------|
| API Gateway v1/v2, Function URL, ALB| Request        | the source's response shape (`http_events`)                  |
| SQS, Kinesis, DynamoDB Streams      | one CloudEvent | `{"batchItemFailures": [{"itemIdentifier": ...}]}`: messageId|
|                                     | per record     | for SQS, sequence number for streams. FIFO queues and streams|
|                                     |                | stop at the first failure and report it and all after it     |
| SNS, S3, EventBridge, a CloudEvent  | CloudEvent     | a failure raises `DeliveryFailed`: Lambda's asynchronous     |
| in the JSON format                  |                | retries, then its on-failure destination / DLQ               |

An event of the function's kind is never refused whole for what is in it. A record that cannot be read
(not an object, a field of the wrong type) fails alone, reported by its id; when no id can be read from it
(or `Records` is not a list), its identifier is empty, which Lambda takes as the whole batch failing: the
one safe answer when Lambda cannot be told which record to deliver again. An HTTP event that cannot be
read is a 400 naming the field. An HTTP function answers only its declared route, as `portable-fn dev`
does: another path is a 404, another method a 405 with `Allow` (a Function URL passes every request to
the function; the app's HTTP API routes to a function what it would otherwise refuse itself: `http_routes`),
and a named API Gateway stage is not in the path the handler sees (`http_events`).

DEAD_LETTER: the shim sends the dead-lettered event (the original CloudEvent plus the reason, the function
and the attempt: `portable_fn.runtime.dead_letters`) to the function's dead-letter queue itself
(`dead_letter`, `PORTABLE_FN_DEAD_LETTER_QUEUE_URL`) and acknowledges the record once SQS took it. When
the function has no dead-letter queue, the send fails, or the record could not be read (there is no
CloudEvent to send), it is reported exactly like a retry (a batch item failure, or a raise): the queue's
redrive policy moves it to the DLQ after `maxReceiveCount` receives, a stream's event source mapping sends
it to its on-failure destination after its retry attempts, an asynchronous invocation goes to the
function's on-failure destination after two retries. Nothing is ever lost. Each failed record is one log
line (`logs.log_failure`): its reason, what becomes of it and the attempt, with the traceback (at ERROR)
when the handler crashed. A record that cannot be decoded is dead-lettered alone: the rest of its batch is
delivered.

RETRY on SQS: each failed message is hidden for its retry policy's delay before the batch's failures are
reported (`visibility`), so the policy's backoff, not the queue's visibility timeout, sets when it comes
back; after `maxReceiveCount` receives the queue moves it to the dead-letter queue.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.context import Context
from portable_fn.runtime.contract import Call, Invocation, LazyCarrier, http_carrier, run, serve
from portable_fn.runtime.errors import InvalidEventError, PortableFnError
from portable_fn.runtime.function import FunctionSpec
from portable_fn.runtime.http import Response
from portable_fn.runtime.logs import configure_deployed, log_failure
from portable_fn.runtime.outcomes import ACK, Result
from portable_fn.runtime.triggers import Schedule

from . import dead_letter, visibility
from .http_events import HTTP_V2, http_source, to_native_response, to_request
from .http_routes import FRONT_ENV, HttpRoutes
from .records import (
    CLOUDEVENT,
    EVENTBRIDGE,
    EVENTBRIDGE_WANTED,
    KIND_SOURCES,
    TRIGGER_SOURCES,
    RecordSource,
    record_source,
    scheduled_tick,
)

PROVIDER = "aws"
REGION = os.environ.get("AWS_REGION")  # set by Lambda for the life of the process
LambdaHandler = Callable[[Any, Any], Any]


class DeliveryFailed(PortableFnError):
    """Raised to Lambda when an event delivered one at a time (SNS, S3, EventBridge) was not acknowledged,
    so that Lambda retries it and, after its retries, sends it to the on-failure destination."""


class NativeInvocation:
    """`Context.raw` on AWS: the Lambda context object (its attributes read through), plus the native
    `event` and, for a record of a batch, the `record`."""

    __slots__ = ("context", "event", "record")

    def __init__(self, context: Any, event: Any, record: Any = None) -> None:
        self.context = context
        self.event = event
        self.record = record

    def __getattr__(self, name: str) -> Any:
        return getattr(self.context, name)  # aws_request_id, function_name, get_remaining_time_in_millis


class Delivery:
    """What one native event became: the value for Lambda, each record's Result, the error to raise."""

    __slots__ = ("source", "response", "results", "error")

    def __init__(
        self, source: str, response: Any, results: list[Result] | None = None, error: BaseException | None = None
    ) -> None:
        self.source = source
        self.response = response
        self.results = results if results is not None else []
        self.error = error


def make_handler(spec: FunctionSpec, routes: Iterable[tuple[str, str]] = ()) -> LambdaHandler:
    """The `lambda_handler(event, context)` for one function; its signature is checked now (cold start).
    `routes`: (method, path) of every HTTP function of the app, which its HTTP API's refusals name."""
    spec.binding  # noqa: B018 - a handler the runtime cannot call fails at import, not on the first event
    if spec.trigger.kind == "http":
        return _http_handler(spec, HttpRoutes(spec, os.environ.get(FRONT_ENV), routes))

    def lambda_handler(event: Any, context: Any) -> Any:
        delivery = deliver(spec, event, context)
        if delivery.error is not None:
            raise delivery.error
        return delivery.response

    return lambda_handler


def deliver(spec: FunctionSpec, event: Any, context: Any, route: HttpRoutes | None = None) -> Delivery:
    """Recognise a native event, call the function, and say what to answer Lambda (never raises for
    anything the handler or a record does; an event of the wrong kind raises InvalidEventError).
    `route`: what an HTTP function serves (`http_routes`); its own route alone when not given."""
    if event.__class__ is not dict and not isinstance(event, Mapping):  # Lambda passes a dict
        raise _wrong_event(spec, f"a {type(event).__name__}")
    http = http_source(event)
    if http is not None:
        return _deliver_http(spec, http, event, context, route)
    try:
        source, records = _record_source(event, spec.trigger.kind)
    except InvalidEventError as exc:
        if spec.trigger.kind != "http":
            raise
        # Not an event Lambda sends on its own: a malformed HTTP event, answered in the shape every
        # HTTP source reads.
        return Delivery("HTTP", to_native_response(HTTP_V2, Response.json({"error": str(exc)}, 400), event))
    if spec.trigger.kind == "http" or not (source is CLOUDEVENT or source.name in KIND_SOURCES[spec.trigger.kind]):
        raise _wrong_event(spec, f"{'an' if source.name[0] in 'AEIOS' else 'a'} {source.name} event")
    wanted = EVENTBRIDGE_WANTED.get(spec.trigger.kind) if source is EVENTBRIDGE else None
    if wanted is not None and event.get(wanted[0]) != wanted[1]:
        raise _wrong_event(spec, f"an EventBridge event whose {wanted[0]} is {str(event.get(wanted[0]))[:80]!r}")
    if source is EVENTBRIDGE and spec.trigger.kind == "schedule":
        source = _schedule_source(spec)
    return _deliver_records(spec, source, records, event, context)


def _schedule_source(spec: FunctionSpec) -> RecordSource:
    """EventBridge read for a schedule function: its ticks carry the schedule it declared (`scheduled_tick`)."""
    expression, name = spec.trigger_as(Schedule).expression, spec.name
    return EVENTBRIDGE._replace(to_cloudevent=lambda event: scheduled_tick(event, expression, name))


def _record_source(event: Mapping[str, Any], trigger_kind: str = "") -> tuple[RecordSource, Sequence[Any]]:
    """The source of the event's records and the records; every record is then read as that source's, and
    one that is not fails alone. Lambda sends one source's records in an event, so one record naming
    another source is a malformed record, not a different batch: the source the trigger reads wins when
    any record names it, else the first source a record names (a stream wired to a queue function), else
    the trigger's."""
    records = event.get("Records")
    if records.__class__ is list:
        named = [source for source in map(record_source, records) if source is not None]
        expected = TRIGGER_SOURCES.get(trigger_kind)
        if expected is not None and expected in named:
            return expected, records
        if named:
            return named[0], records
        if expected is not None:
            return expected, records
    elif "Records" in event and trigger_kind in TRIGGER_SOURCES:  # not a list: one unreadable "record"
        return TRIGGER_SOURCES[trigger_kind], [_NotAList(records)]
    if "detail-type" in event and "source" in event:
        return EVENTBRIDGE, [event]
    if "specversion" in event:
        return CLOUDEVENT, [event]
    keys = ", ".join(sorted(map(str, event))[:8])
    raise InvalidEventError(
        f"The AWS adapter does not recognise this event (keys: {keys}); it reads API Gateway, Function "
        "URL, ALB, SQS, SNS, S3, EventBridge, DynamoDB Streams and Kinesis events, and CloudEvents in "
        "the JSON format."
    )


def _http_handler(spec: FunctionSpec, route: HttpRoutes) -> LambdaHandler:
    """The `lambda_handler` of an HTTP function: what `deliver` answers."""

    def lambda_handler(event: Any, context: Any) -> Any:
        return deliver(spec, event, context, route).response

    return lambda_handler


def _deliver_http(
    spec: FunctionSpec, source: str, event: Mapping[str, Any], context: Any, route: HttpRoutes | None
) -> Delivery:
    if spec.trigger.kind != "http":
        raise _wrong_event(spec, f"an HTTP event ({source})")
    router = route if route is not None else HttpRoutes(spec)
    return Delivery(source, _serve_http(spec, source, event, context, router))


def edge_claims(spec: FunctionSpec, event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The claims the HTTP API's JWT authorizer verified (`requestContext.authorizer.jwt.claims`), when the
    route declares that `jwt` and the token is of its issuer; else None (the runtime verifies the token)."""
    issuer = getattr(getattr(spec.trigger, "auth", None), "issuer", None)
    if issuer is None:  # the route verifies no JWT: whatever the API's authorizer saw is not its caller's
        return None
    authorizer = event["requestContext"].get("authorizer")
    jwt = authorizer.get("jwt") if isinstance(authorizer, Mapping) else None
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else None
    if not isinstance(claims, Mapping) or claims.get("iss") != issuer:
        return None
    return dict(claims)


def _serve_http(spec: FunctionSpec, source: str, event: Mapping[str, Any], context: Any, route: HttpRoutes) -> Any:
    """The answer to one HTTP event in the shape `source` wants (never raises for the handler's errors):
    404 / 405 as `dev` answers them for a request the function does not serve (`HttpRoutes.refuse`)."""
    try:
        request = to_request(source, event)
    except Exception as exc:  # a malformed native request (reading it only reads the event)
        reason = str(exc) if isinstance(exc, InvalidEventError) else f"{type(exc).__name__}: {exc}."
        response = Response.json({"error": f"Malformed {source} event: {reason}"}, 400)
        return to_native_response(source, response, event)
    found = route.match(request, event)
    if found is None:
        return to_native_response(source, route.refuse(request), event)
    request.path_params = found[1]
    claims = edge_claims(spec, event)
    if claims is not None:
        from portable_fn.runtime.auth import verified

        verified(request, claims)
    invocation = _invocation(spec, context, event, http_carrier(request.headers, LazyCarrier(_lambda_trace_header)))
    invocation.request(request, tenant_context(invocation, context))
    return to_native_response(source, serve(invocation), event)


def _deliver_records(
    spec: FunctionSpec, source: RecordSource, records: Sequence[Any], event: Any, context: Any
) -> Delivery:
    """Each record a call of one invocation; the failures reported the way `source` reports them."""
    invocation = _invocation(spec, context, event, LazyCarrier(_lambda_trace_header))
    # one record of a FIFO queue makes the batch FIFO (a malformed first record must not turn its order off)
    invocation.ordered = bool(getattr(spec.trigger, "fifo", False)) or any(map(source.ordered, records))
    invocation.meta_of, invocation.carrier_of = source.message_meta, _record_carrier
    invocation.raw_of = lambda record: NativeInvocation(context, event, record)
    invocation.logs_failures = True  # `_log_failures`, once each record's fate is known
    events = [_decode(source, record, index) for index, record in enumerate(records)]
    tenant = tenant_of(context)
    calls = [
        invocation.add(decoded, record, ctx=tenant_context(invocation, context, source, record) if tenant else None)
        for decoded, record in zip(events, records)
    ]
    results = run(invocation)
    failures = {i: result for i, result in enumerate(results) if result.outcome != ACK}
    sent = dead_letter.settle(spec, source, records, events, failures) if failures else set()
    failed = [(records[i], result) for i, result in failures.items() if i not in sent]
    if failed:
        _log_failures(spec, source, [(calls[i], records[i]) for i in failures if i not in sent])
        visibility.back_off(spec, source, failed)  # SQS: each failed message waits its retry policy's delay
    if source.item_id is None:
        error = DeliveryFailed(_failure_message(spec, source, failed)) if failed else None
        return Delivery(source.name, None, results, error)
    item_id = source.item_id
    return Delivery(source.name, {"batchItemFailures": [{"itemIdentifier": item_id(r)} for r, _ in failed]}, results)


def tenant_of(context: Any) -> str | None:
    """The tenant Lambda's tenant isolation mode ran this invocation for (`tenant_id` of the context, which
    awslambdaric reads from the Runtime API's `Lambda-Runtime-Aws-Tenant-Id`), or None."""
    tenant = getattr(context, "tenant_id", None)
    return tenant if isinstance(tenant, str) and tenant else None


def tenant_context(
    invocation: Invocation, context: Any, source: RecordSource | None = None, record: Any = None
) -> Context | None:
    """A Context whose `tenant` is the invocation's (`tenant_of`), which the runtime keeps as the call's
    tenant; None when Lambda named none (the runtime then reads the tenant the function declares)."""
    tenant = tenant_of(context)
    if tenant is None:
        return None
    meta = _message_meta(source, record) if source is not None else None
    return Context(
        invocation.invocation_id,
        invocation.spec.name,
        PROVIDER,
        meta.delivery_count if meta is not None else 1,
        invocation.deadline,
        meta,
        NativeInvocation(context, invocation.raw.event, record) if record is not None else invocation.raw,
        tenant=tenant,
    )


def _message_meta(source: RecordSource, record: Any) -> Any:
    try:
        return source.message_meta(record)
    except Exception:  # a record that cannot be read has no meta; the pipeline says why it failed
        return None


def _invocation(spec: FunctionSpec, context: Any, event: Any, carrier: Mapping[str, str] | None) -> Invocation:
    return Invocation(
        spec,
        PROVIDER,
        str(getattr(context, "aws_request_id", "") or ""),
        carrier=carrier,
        deadline=_deadline(context),
        raw=NativeInvocation(context, event),
        region=REGION,
    )


def _lambda_trace_header() -> dict[str, str] | None:
    """Lambda's own trace header (`_X_AMZN_TRACE_ID`, X-Ray format), which it sets for each invocation."""
    header = os.environ.get("_X_AMZN_TRACE_ID")
    return {"x-amzn-trace-id": header} if header else None


def _record_carrier(record: Any) -> dict[str, str] | None:
    """The producer's trace header an SQS record carries (`attributes.AWSTraceHeader`, X-Ray format)."""
    attributes = record.get("attributes") if isinstance(record, Mapping) else None
    header = attributes.get("AWSTraceHeader") if isinstance(attributes, Mapping) else None
    return {"awstraceheader": header} if isinstance(header, str) and header else None


def _decode(source: RecordSource, record: Any, index: int) -> CloudEvent[Any] | BaseException:
    """The record's CloudEvent, or the error saying why it has none (kept in the batch, never raised)."""
    try:
        return source.to_cloudevent(record)
    except Exception as exc:
        return _undecodable(source, index, record, exc)


def _undecodable(source: RecordSource, index: int, record: Any, exc: Exception) -> InvalidEventError:
    """Why a record has no CloudEvent (an InvalidEventError says it already)."""
    if isinstance(exc, InvalidEventError):
        return exc
    if record.__class__ is _NotAList:
        return InvalidEventError(
            f"The {source.name} event's 'Records' must be a list, got {type(record.value).__name__}.", "Records"
        )
    if not isinstance(record, Mapping):
        return InvalidEventError(
            f"Record {index} of the {source.name} event is a {type(record).__name__}, not an object."
        )
    return InvalidEventError(f"Record {index} of the {source.name} event cannot be read: {type(exc).__name__}: {exc}.")


class _NotAList:
    """`Records` that is not a list, in the place of its records: one record that cannot be read (and
    has no id, so that Lambda retries the whole batch)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _deadline(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return time.time() + remaining() / 1000 if remaining is not None else None


def _wrong_event(spec: FunctionSpec, what: str) -> InvalidEventError:
    return InvalidEventError(
        f"Function {spec.name!r} on aws has a {spec.trigger.kind} trigger but Lambda invoked it with "
        f"{what}; check what the function is subscribed to (`portable-fn plan --provider aws`)."
    )


def _failure_message(spec: FunctionSpec, source: RecordSource, failed: list[tuple[Any, Result]]) -> str:
    reasons = "; ".join(f"{r.event_id or '?'}: {r.outcome} ({r.reason})" for _, r in failed)
    return f"Function {spec.name!r} did not acknowledge {len(failed)} {source.name} event(s): {reasons}"


def _log_failures(spec: FunctionSpec, source: RecordSource, failed: list[tuple[Call, Any]]) -> None:
    """One line per failed record, with its call's facts (`log_failure`): what it raised or why it failed,
    and what becomes of it; a record that could not be read is named by its message id where it has one."""
    fate = "reported as a batch item failure" if source.item_id is not None else "raised to Lambda for its retries"
    for call, record in failed:
        result = call.result
        assert result is not None  # `run` gave every call its Result
        log_failure(
            call,
            "function %s: %s event %s -> %s (%s, attempt %d): %s",
            spec.name,
            source.name,
            result.event_id or _record_id(source, record),
            result.outcome,
            fate,
            call.attempt,
            result.reason,
            logger="portable_fn.aws",
        )


def _record_id(source: RecordSource, record: Any) -> str:
    """The id a record that could not be read still shows: its batch item id (SQS message id, stream sequence
    number), or the SNS MessageId; "?" when it has none ("None" was logged, though the message id was there)."""
    found = source.item_id(record) if source.item_id is not None else None
    if not found and isinstance(record, Mapping) and isinstance(sns := record.get("Sns"), Mapping):
        found = sns.get("MessageId")
    return found if isinstance(found, str) and found else "?"


configure_deployed(PROVIDER)  # cold start, on the cloud only: JSON log lines with the same keys everywhere
