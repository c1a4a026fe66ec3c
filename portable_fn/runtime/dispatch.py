"""Dispatch: call a handler with what its annotations ask for and turn what happens into an outcome.

The signature is read once per function (`bind_handler`); each call then only converts data and calls
(`call_with_event`, `call_with_request`). The invocation pipeline (`pipeline`) calls these for every entry
on every cloud, so binding and outcome rules are the same everywhere.
"""

from __future__ import annotations

import sys
import threading
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .cloudevent import CloudEvent, loads
from .context import Context
from .errors import DataValidationError, DeclarationError, InvalidEventError
from .http import Request, Response, to_response
from .outcomes import DEAD_LETTER, RETRY, DeadLetter, Result, Retry
from .redaction import redact

if TYPE_CHECKING:
    from .function import FunctionSpec

_CO_COROUTINE = 0x80
_PLAIN = (dict, list, str, bytes, int, float, bool)


class Binding:
    """How to call one handler: what its first argument is, and whether it wants a Context."""

    __slots__ = ("first", "convert", "wants_context", "is_async", "view")

    def __init__(
        self, first: str, convert: Callable[[Any], Any] | None, wants_context: bool, is_async: bool, view: bool
    ) -> None:
        self.first = first  # "request", "event" or "none"
        self.convert = convert  # data -> T for CloudEvent[T]; None keeps the data as it is
        self.wants_context = wants_context
        self.is_async = is_async
        self.view = view  # convert takes the whole event (StorageObject & co.)


def bind_handler(spec: FunctionSpec) -> Binding:
    """Read the handler's signature; a signature we cannot serve raises DeclarationError."""
    fn = spec.handler
    target = getattr(fn, "__wrapped__", fn)
    code = getattr(target, "__code__", None)
    if code is None:
        raise DeclarationError(f"@function {spec.name!r}: the handler must be a plain function.")
    names = code.co_varnames[: code.co_argcount]
    is_async = bool(code.co_flags & _CO_COROUTINE)
    try:
        hints = typing.get_type_hints(target)
    except NameError:
        hints = {}  # forward reference not defined yet: fall back to names; data stays untyped
    is_http = not spec.trigger.is_event
    if len(names) > 2:
        raise DeclarationError(
            f"@function {spec.name!r}: a handler takes at most two parameters, the "
            f"{'Request' if is_http else 'CloudEvent'} and an optional Context; it has {len(names)}."
        )
    required_kwonly = [
        n
        for n in code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
        if n not in (getattr(target, "__kwdefaults__", None) or {})
    ]
    if required_kwonly:
        raise DeclarationError(
            f"@function {spec.name!r}: keyword-only parameter(s) {required_kwonly} cannot be supplied; "
            "give them defaults or remove them."
        )
    first, convert, view, wants_context = "none", None, False, False
    for position, pname in enumerate(names):
        hint = _without_none(hints.get(pname))
        if hint is Context or (hint is None and pname in ("ctx", "context") and position == 1):
            wants_context = True
            continue
        if position == 1:
            raise DeclarationError(
                f"@function {spec.name!r}: the second parameter {pname!r} must be annotated Context (or be named ctx)."
            )
        first, convert, view = _first_parameter(spec, pname, hint, is_http)
    return Binding(first, convert, wants_context, is_async, view)


def _without_none(hint: Any) -> Any:
    """`X | None` and `Optional[X]` read as X (a handler is always given its arguments)."""
    args = typing.get_args(hint)
    if args and type(None) in args and len(args) == 2 and typing.get_origin(hint) is not CloudEvent:
        return next(a for a in args if a is not type(None))
    return hint


def _first_parameter(spec: FunctionSpec, pname: str, hint: Any, is_http: bool) -> tuple[str, Any, bool]:
    """(what the handler takes first, the data converter, whether it is a view)."""
    if hint is None:
        return ("request" if is_http else "event"), None, False
    if hint is Request:
        if not is_http:
            raise DeclarationError(
                f"@function {spec.name!r}: a {spec.trigger.kind} trigger delivers a CloudEvent; "
                f"annotate {pname!r} as CloudEvent (or CloudEvent[YourModel])."
            )
        return "request", None, False
    origin = typing.get_origin(hint)
    if hint is CloudEvent or origin is CloudEvent:
        args = typing.get_args(hint)
        if not args or args[0] is Any:
            return "event", None, False
        return "event", data_converter(f"@function {spec.name!r}", args[0]), hasattr(args[0], "from_cloudevent")
    expected = "Request (or CloudEvent for a request carrying one)" if is_http else "CloudEvent[...]"
    raise DeclarationError(
        f"@function {spec.name!r}: parameter {pname!r} is annotated {hint!r}; annotate it as {expected}."
    )


def data_converter(owner: str, target: Any) -> Callable[[Any], Any]:
    """A function turning event data (or, for views, the event) into `target`; `owner` names the declaration
    in the error (`@function 'fulfil'`, `@workflow 'place_order'`)."""
    if hasattr(target, "from_cloudevent"):
        return target.from_cloudevent  # type: ignore[no-any-return]
    if hasattr(target, "model_validate") and hasattr(target, "model_validate_json"):
        return _pydantic_converter(target)
    if hasattr(target, "__dataclass_fields__"):
        return _dataclass_converter(target)
    if target in _PLAIN:
        return _plain_converter(target)
    raise DeclarationError(
        f"{owner}: CloudEvent[{getattr(target, '__name__', target)}] is not supported; "
        "use a pydantic model, a dataclass, dict, list, str or bytes."
    )


def _pydantic_converter(model: Any) -> Callable[[Any], Any]:
    error_type = sys.modules["pydantic"].ValidationError  # imported already: the model uses it

    def convert(data: Any) -> Any:
        try:
            if isinstance(data, (bytes, str)):
                return model.model_validate_json(data)
            return model.model_validate(data)
        except error_type as exc:
            raise DataValidationError(f"The event data is not a valid {model.__name__}: {_one_line(exc)}") from None

    return convert


def _dataclass_converter(cls: Any) -> Callable[[Any], Any]:
    fields = cls.__dataclass_fields__

    def convert(data: Any) -> Any:
        if isinstance(data, (bytes, str)):
            data = loads(data, "The event data")
        if not isinstance(data, Mapping):
            raise DataValidationError(
                f"The event data is not a valid {cls.__name__}: expected a JSON object, got {type(data).__name__}."
            )
        try:
            return cls(**{k: v for k, v in data.items() if k in fields})
        except TypeError as exc:
            raise DataValidationError(f"The event data is not a valid {cls.__name__}: {exc}.") from None

    return convert


def _plain_converter(kind: type) -> Callable[[Any], Any]:
    def convert(data: Any) -> Any:
        if data.__class__ is kind:  # the common case: already the declared type (a dict for dict)
            return data
        if kind is bytes and isinstance(data, str):
            return data.encode("utf-8")
        if kind is not str and kind is not bytes and isinstance(data, (bytes, str)):
            data = loads(data, "The event data")
        if not isinstance(data, kind):
            raise DataValidationError(f"The event data must be {kind.__name__}, got {type(data).__name__}.")
        return data

    return convert


def _one_line(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = [f"{'.'.join(map(str, e.get('loc', ()))) or 'data'}: {e.get('msg')}" for e in errors()]
        return "; ".join(parts)
    return str(exc)


# -- calling -----------------------------------------------------------------------------------------

_loops = threading.local()


def run_coroutine(coro: Any) -> Any:
    """Run an async handler's coroutine on this thread's own event loop (kept between calls)."""
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        import asyncio

        loop = asyncio.new_event_loop()
        _loops.loop = loop
    return loop.run_until_complete(coro)


def close_loop() -> None:
    """Close this thread's event loop, if it has one (hosts call this before a thread ends)."""
    loop = getattr(_loops, "loop", None)
    if loop is not None and not loop.is_closed():
        loop.close()
    _loops.loop = None


def call_with_event(spec: FunctionSpec, binding: Binding, event: CloudEvent[Any], ctx: Context | None) -> Any:
    """Call an event handler with `event` as it declared it (its data converted to its CloudEvent[T]);
    what the handler returns. Raises whatever the handler or the conversion raises."""
    return _invoke(spec, binding, bind_event(binding, event), ctx)


def call_with_request(spec: FunctionSpec, binding: Binding, request: Request, ctx: Context | None) -> Response:
    """Call an HTTP handler with `request` (decoded to a CloudEvent first for a handler that takes one);
    its value as a Response. Raises whatever the handler or the decoding raises."""
    if binding.first == "event":
        from .http_binding import from_http

        return to_response(_invoke(spec, binding, bind_event(binding, from_http(request.headers, request.body)), ctx))
    return to_response(_invoke(spec, binding, request, ctx))


def _invoke(spec: FunctionSpec, binding: Binding, arg: Any, ctx: Context | None) -> Any:
    if binding.wants_context:
        ctx = ctx if ctx is not None else Context(function_name=spec.name)
        result = spec.handler(ctx) if binding.first == "none" else spec.handler(arg, ctx)
    else:
        result = spec.handler() if binding.first == "none" else spec.handler(arg)
    if binding.is_async:
        result = run_coroutine(result)
    return result


def bind_event(binding: Binding, event: CloudEvent[Any]) -> CloudEvent[Any]:
    """The event as the handler declared it: data converted to its CloudEvent[T] type."""
    convert = binding.convert
    if convert is None:
        return event
    value = convert(event) if binding.view else convert(event.data)
    if value is event.data:  # already the declared type (CloudEvent[dict] of a dict): no copy needed
        return event
    return event.with_data(value)


def failure_of(exc: Exception, event_id: str | None) -> Result:
    """The outcome of a handler that raised `exc`."""
    if isinstance(exc, DeadLetter):
        return Result(DEAD_LETTER, None, exc.reason, exc, event_id)
    if isinstance(exc, InvalidEventError):
        return Result(DEAD_LETTER, None, str(exc), exc, event_id)
    if isinstance(exc, Retry):
        return Result(RETRY, None, exc.reason, exc, event_id)
    # the reason is logged and rides on dead letters: no secret's value in it
    return Result(RETRY, None, redact(f"{exc.__class__.__name__}: {exc}"), exc, event_id)


def http_failure(spec: FunctionSpec, exc: Exception) -> Response:
    """The answer to a request whose handler (or its input) raised `exc`: 400, 503, 422 or 500."""
    if isinstance(exc, InvalidEventError):
        body: dict[str, Any] = {"error": str(exc)}
        if exc.attribute:
            body["attribute"] = exc.attribute
        return Response.json(body, status=400)
    if isinstance(exc, Retry):
        return Response.json({"error": exc.reason}, status=503, headers=retry_after(exc.delay_s))
    if isinstance(exc, DeadLetter):
        return Response.json({"error": exc.reason}, status=422)
    if type(exc).__module__.startswith("pydantic"):  # the handler validated the body and it failed
        return Response.json({"error": f"Invalid request body: {_body_problem(exc)}"}, status=400)
    _log_crash(spec, exc)
    return Response.json({"error": "internal error", "function": spec.name}, status=500)


def _body_problem(exc: Exception) -> str:
    """What was wrong with a body a handler validated; a body that is no JSON at all says what to send."""
    listed = getattr(exc, "errors", None)
    errors = listed() if callable(listed) else []
    if len(errors) != 1 or errors[0].get("type") != "json_invalid":
        return _one_line(exc)
    error = errors[0]
    problem = f"it is not JSON ({error.get('ctx', {}).get('error')})" if error.get("input") else "it is empty"
    return f"{problem}; send a JSON document with content-type: application/json."


def retry_after(delay_s: float | None) -> dict[str, str] | None:
    """The `Retry-After` header for a wait (whole seconds, rounded up, at least 1), or None without one."""
    if delay_s is None:
        return None
    import math

    return {"Retry-After": str(max(1, math.ceil(delay_s)))}


def _log_crash(spec: FunctionSpec, exc: BaseException) -> None:
    import logging

    logging.getLogger("portable_fn").error("function %s raised %s", spec.name, type(exc).__name__, exc_info=exc)
