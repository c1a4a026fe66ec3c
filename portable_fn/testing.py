"""Helpers for users' own test suites: call a portable function in-process, as a provider would.

    from portable_fn.testing import invoke, make_event, make_request

    def test_create_order():
        response = invoke(create_order, make_request("POST", "/orders", json={"id": "1", ...}))
        assert response.status == 201

    def test_fulfil_dead_letters_recalled_items():
        result = invoke(fulfil, make_event({"id": "1", ...}))
        assert result.outcome == "dead_letter"

Calls go through the same dispatch as every provider shim, so annotations, data validation and
outcomes behave exactly as deployed: a function touching a state its `uses=` does not declare fails
here as it would on a cloud. `local_state` gives the states a test touches fresh SQLite stores:

    def test_counts(tmp_path):
        with local_state(tmp_path):              # or local_state() to keep them in memory
            invoke(count, make_request("POST", "/count/apples"))
            assert counters.get("apples") == 1

`local_buckets` keeps the objects of every declared bucket in a folder per bucket:

    def test_reports_are_written(tmp_path):
        with local_buckets(tmp_path):
            invoke(report, make_request("POST", "/reports"))
            assert uploads.get("out/report.csv") == b"..."

`secrets` serves the secrets a test's functions read from a dict, in this process:

    def test_charges_with_the_test_key():
        with secrets({"stripe-key": "sk_test_123"}):
            assert invoke(charge, make_request("POST", "/charges", json={...})).status == 201

`emitted` captures what functions publish (`ctx.emit`) instead of sending it:

    def test_paid_orders_are_announced():
        with emitted() as sent:
            invoke(fulfil, make_event({"id": "1", ...}))
        assert [e.type for e in sent.to(order_events)] == ["shop.order.paid"]

Workflows run in this process with `WorkflowDriver` (a clock that jumps to the next due message) or
`run_workflow`, both from `portable_fn.workflows`:

    def test_a_paid_order_ships():
        with WorkflowDriver() as driver:
            instance = driver.start(place_order, {"id": "1", ...})
            driver.run(for_s=60)                              # up to the awaited confirmation
            driver.send_event("shop.payment.confirmed", match="1")
            driver.run()
            assert driver.instance(instance)["status"] == "completed"
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from .runtime import CloudEvent, Context, Request, Response, Result
from .runtime.channels import Channel, use_publisher
from .runtime.cloudevent import loads
from .runtime.emit import channel_of
from .runtime.errors import DeclarationError, InvalidEventError
from .runtime.function import FunctionSpec, spec_of
from .runtime.pipeline import call_batch, call_event, call_http
from .runtime.routes import Route, Router, not_routed
from .runtime.state import Backend, use_backends
from .runtime.triggers import Http, Queue, Topic, route_pattern
from .workflows import WorkflowDriver, run_workflow

__all__ = [
    "Emitted",
    "Sent",
    "WorkflowDriver",
    "emitted",
    "invoke",
    "invoke_batch",
    "invoke_native",
    "local_buckets",
    "local_state",
    "make_event",
    "make_request",
    "match_route",
    "run_workflow",
    "secrets",
]


def make_event(
    data: Any = None,
    *,
    type: str = "dev.portablefn.test",
    source: str = "//portable-fn/testing",
    id: str | None = None,
    **attributes: Any,
) -> CloudEvent[Any]:
    """A CloudEvent with sensible defaults; extra keyword arguments become attributes or extensions."""
    known = {k: attributes.pop(k) for k in ("datacontenttype", "dataschema", "subject", "time") if k in attributes}
    known.setdefault("time", datetime.now(timezone.utc))
    if data is not None and not isinstance(data, (bytes, str)):
        known.setdefault("datacontenttype", "application/json")
    return CloudEvent(
        id=id or str(uuid.uuid4()), source=source, type=type, data=data, extensions=attributes or None, **known
    )


def make_request(
    method: str,
    path: str,
    *,
    json: Any = None,
    body: bytes | str = b"",
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    query: Mapping[str, str] | str | None = None,
) -> Request:
    """A Request; `json=` serialises a body and sets Content-Type."""
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers or [])
    if json is not None:
        import json as _json

        body = _json.dumps(json).encode("utf-8")
        pairs.append(("content-type", "application/json"))
    return Request(method, path, headers=pairs, query=query, body=body)


def invoke(function: Any, arg: CloudEvent[Any] | Request, context: Context | None = None) -> Any:
    """Call a decorated function with a CloudEvent (-> Result) or a Request (-> Response)."""
    spec = _spec(function)
    ctx = context or Context(invocation_id=str(uuid.uuid4()), function_name=spec.name, provider="test")
    if isinstance(arg, Request):
        if spec.trigger.kind != "http":
            raise TypeError(f"{spec.name!r} has a {spec.trigger.kind} trigger; invoke it with a CloudEvent.")
        params = match_route(spec.trigger.path, arg.path)  # type: ignore[attr-defined]
        if params is not None and not arg.path_params:
            arg.with_path_params(params)
        return call_http(spec, arg, ctx)
    if spec.trigger.kind == "http":
        from .runtime.http_binding import to_binary

        headers, body = to_binary(arg)
        return call_http(spec, Request("POST", spec.trigger.path, headers=headers, body=body), ctx)  # type: ignore[attr-defined]
    return call_event(spec, arg, ctx)


def invoke_batch(function: Any, events: Sequence[CloudEvent[Any]], ordered: bool | None = None) -> list[Result]:
    """Deliver a batch; `ordered` defaults to the trigger's `fifo`."""
    spec = _spec(function)
    fifo = bool(getattr(spec.trigger, "fifo", False)) if ordered is None else ordered
    ctx = Context(invocation_id=str(uuid.uuid4()), function_name=spec.name, provider="test")
    return call_batch(spec, events, ctx, ordered=fifo)


@contextmanager
def local_state(directory: str | Path | None = None) -> Iterator[None]:
    """Every state, portable-fn's own stores included (idempotency, breakers), on fresh SQLite inside the
    block: one file per state in `directory` (pytest's `tmp_path`, say), or in this process's memory when
    no directory is given. The stores in use before come back after the block."""
    from .runtime.state_sqlite import SqliteBackend

    opened: dict[str, Backend] = {}

    def fresh(name: str, locator: str | None) -> Backend:
        if name not in opened:  # one store per name, whichever State object asks
            where = ":memory:" if directory is None else str(Path(directory) / f"{name}.sqlite3")
            opened[name] = SqliteBackend(where)
        return opened[name]

    previous = use_backends(fresh)
    try:
        yield
    finally:
        use_backends(previous)


@contextmanager
def local_buckets(directory: str | Path) -> Iterator[None]:
    """Every bucket in the folder `directory/<name>` inside the block (pytest's `tmp_path`, say), as `dev`
    keeps them in its state directory. The stores in use before come back after the block."""
    from .runtime.buckets import FolderStore, use_stores

    previous = use_stores(lambda name, locator: FolderStore(Path(directory) / name))
    try:
        yield
    finally:
        use_stores(previous)


@contextmanager
def secrets(values: Mapping[str, str]) -> Iterator[None]:
    """Every secret served from `values` (name -> value) inside the block, as a deployed function's store
    would serve it (version "1"; a name missing from `values` has no value, SecretNotFoundError). Values
    held before the block are fetched again inside it, and those from inside it again after."""
    from .runtime import secrets as runtime_secrets

    served = _Secrets(dict(values))
    previous = runtime_secrets.use_backends(lambda locator: served)
    try:
        yield
    finally:
        runtime_secrets.use_backends(previous)


class _Secrets:
    """A secret store in this process: the values a test gave `secrets(...)`."""

    where = "the values given to portable_fn.testing.secrets()"

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def fetch(self, name: str) -> tuple[str, str]:
        from .runtime.secrets import not_found

        if name not in self.values:
            raise not_found(name, self.where)
        return self.values[name], "1"


class Sent(NamedTuple):
    """One event a function published: where to, the CloudEvent, and after how long (queues only)."""

    channel: Channel
    event: CloudEvent[Any]
    delay_s: float = 0.0


class Emitted(list[Sent]):
    """What `emitted()` captured, in the order it was published."""

    def to(self, target: Topic | Queue | Channel) -> list[CloudEvent[Any]]:
        """The events sent to `target` (a `topic(...)` / `queue(...)` or a Channel)."""
        channel = channel_of(target)
        return [sent.event for sent in self if sent.channel == channel]


class _Capture:
    """A Publisher that keeps what it is given."""

    max_delay_s = math.inf

    def __init__(self, sent: Emitted) -> None:
        self.sent = sent

    def publish(self, channel: Channel, events: Sequence[CloudEvent[Any]], delay_s: float = 0.0) -> None:
        self.sent.extend(Sent(channel, event, delay_s) for event in events)


@contextmanager
def emitted() -> Iterator[Emitted]:
    """Capture what functions publish inside the block instead of sending it (`ctx.emit`, `emit`, a delayed
    send), as `Sent(channel, event, delay_s)` in a list. Events are captured as they would be published:
    only when the emitting call succeeds, and once per success (the outbox ledger is a fresh in-memory store
    for the block)::

        with emitted() as sent:
            invoke(fulfil, make_event(order))
        assert [e.type for e in sent.to(order_events)] == ["shop.order.paid"]
    """
    from .runtime.emit import OUTBOX
    from .runtime.state_sqlite import SqliteBackend

    sent = Emitted()
    previous = use_publisher(_Capture(sent))
    ledger = OUTBOX._backend
    OUTBOX.backend = SqliteBackend(":memory:")
    try:
        yield sent
    finally:
        OUTBOX.backend = ledger
        use_publisher(previous)


def match_route(template: str, path: str) -> dict[str, str] | None:
    """Path parameters when `path` matches the route `template` (`/orders/{id}`, `/files/{rest+}`)."""
    found = route_pattern(template).fullmatch(path)
    return found.groupdict() if found else None


def invoke_native(spec: FunctionSpec, event: Any, provider: str = "local") -> dict[str, Any]:
    """Run a neutral event description (what `portable-fn invoke --provider local` reads) -> JSON dict.

    HTTP functions take a request description `{"method", "path", "headers", "query", "body"}` (a body
    that is not a string is sent as JSON) or a CloudEvent. Event functions take a CloudEvent in the
    JSON format, a list of them (a batch), or any other JSON value, which becomes the data of a new event.
    """
    ctx = Context(invocation_id=str(uuid.uuid4()), function_name=spec.name, provider=provider)
    if spec.trigger.kind == "http":
        if isinstance(event, Mapping) and "specversion" in event:
            response = invoke(spec.handler, CloudEvent.from_dict(event), ctx)
        else:
            response = _routed(spec, _request_from(event), ctx)
        return response_to_dict(response)
    events = event if isinstance(event, list) else [event]
    if not events:
        raise InvalidEventError(f"Invoking {spec.name!r}: the event is an empty list; a batch needs an event.")
    decoded: list[CloudEvent[Any] | BaseException] = []
    skipped: list[dict[str, Any]] = []
    for item in events:
        try:
            one = (
                CloudEvent.from_dict(item)
                if isinstance(item, Mapping) and "specversion" in item
                else make_event(item, source=f"//local/invoke/{spec.name}")
            )
        except InvalidEventError as exc:
            decoded.append(exc)
            continue
        reason = spec.trigger.skip_reason(one)
        if reason is None:
            decoded.append(one)
        else:
            skipped.append({"id": one.id, "reason": reason})
    results = (
        call_batch(spec, decoded, ctx, ordered=isinstance(spec.trigger, Queue) and spec.trigger.fifo) if decoded else []
    )
    out: dict[str, Any] = {"function": spec.name, "results": [_jsonable_result(r) for r in results]}
    if skipped:
        out["skipped"] = skipped
    return out


def _routed(spec: FunctionSpec, request: Request, ctx: Context) -> Response:
    """The function's answer, or the 404 / 405 every cloud gives a request outside its route."""
    trigger = spec.trigger_as(Http)
    router = Router([Route(trigger.method, trigger.path, spec)])
    if router.match(request.method, request.path) is None:
        return not_routed(router, request)
    return invoke(spec.handler, request, ctx)  # type: ignore[no-any-return]


def response_to_dict(response: Response) -> dict[str, Any]:
    """A Response as JSON: text bodies as text (JSON bodies parsed), binary bodies as base64."""
    out: dict[str, Any] = {"status": response.status, "headers": dict(response.headers.multi_items())}
    ctype = response.headers.get("content-type", "")
    if response.is_binary:
        import base64

        out["body_base64"] = base64.b64encode(response.body).decode("ascii")
    elif "json" in ctype and response.body:
        try:
            out["body"] = loads(response.body, "The response body")
        except ValueError:  # the handler's body is not the JSON it says: shown as the text it is
            out["body"] = response.body.decode("utf-8", errors="replace")
    else:
        out["body"] = response.body.decode("utf-8", errors="replace")
    return out


def _jsonable_result(result: Result) -> dict[str, Any]:
    out = result.to_dict()
    if "value" in out:
        try:
            json.dumps(out["value"], allow_nan=False)
        except (TypeError, ValueError):  # not JSON (a set, a cycle, NaN, a 4,301-digit int): shown as its repr
            out["value"] = _shown(out["value"])
    return out


def _shown(value: Any) -> str:
    """A handler's value that is not JSON, as text (its repr; a type name where even that fails)."""
    try:
        return repr(value)[:10_000]
    except (ValueError, RecursionError):
        return f"<{type(value).__name__}: too large or too deep to show>"


_REQUEST_SHAPE = '{"method": "POST", "path": "/orders", "headers": {...}, "query": {...}, "body": ...}'


def _request_from(description: Any) -> Request:
    if not isinstance(description, Mapping) or not isinstance(description.get("path"), str):
        raise InvalidEventError(
            f"An HTTP function is invoked with a request description such as {_REQUEST_SHAPE} or with a CloudEvent."
        )
    method, path = description.get("method", "GET"), description["path"]
    headers, query = description.get("headers") or {}, description.get("query")
    if not isinstance(method, str) or not path.startswith("/"):
        raise InvalidEventError(f"The request's method must be a string and its path start with '/': {_REQUEST_SHAPE}.")
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        raise InvalidEventError(f"The request's headers must be an object of strings: {_REQUEST_SHAPE}.")
    if (
        query is not None
        and not isinstance(query, str)
        and not (isinstance(query, Mapping) and all(isinstance(v, str) for v in query.values()))
    ):
        raise InvalidEventError(f"The request's query must be a string or an object of strings: {_REQUEST_SHAPE}.")
    body, headers = description.get("body", b""), dict(headers)
    if not isinstance(body, (str, bytes)):
        body = json.dumps(body)
        headers.setdefault("content-type", "application/json")
    return Request(method, path, headers=headers, query=query, body=body)


def _spec(function: Any) -> FunctionSpec:
    spec = function if isinstance(function, FunctionSpec) else spec_of(function)
    if spec is None:
        raise DeclarationError(f"{function!r} is not decorated with @function(trigger=...).")
    return spec
