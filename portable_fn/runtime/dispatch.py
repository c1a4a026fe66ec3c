"""Dispatch: call a handler with what its annotations ask for and turn what happens into an outcome.

The signature is read once per function (`bind_handler`); each call then only converts data and calls.
Every provider shim goes through `call_http`, `call_event` and `call_batch`, so outcome rules are the
same everywhere.
"""

from __future__ import annotations

import sys
import threading
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .cloudevent import CloudEvent, loads
from .context import Context
from .errors import DataValidationError, DeclarationError, InvalidEventError
from .http import Request, Response, to_response
from .outcomes import ACK, DEAD_LETTER, RETRY, DeadLetter, Result, Retry

_CO_COROUTINE = 0x80
_PLAIN = (dict, list, str, bytes, int, float, bool)


class Binding:
    """How to call one handler: what its first argument is, and whether it wants a Context."""

    __slots__ = ("first", "convert", "wants_context", "is_async", "view", "exact", "call_event", "as_is",
                 "call_owned")

    def __init__(self, first: str, convert: Callable[[Any], Any] | None, wants_context: bool,
                 is_async: bool, view: bool, exact: type | None = None) -> None:
        self.first = first  # "request", "event" or "none"
        self.convert = convert  # data -> T for CloudEvent[T]; None keeps the data as it is
        self.wants_context = wants_context
        self.is_async = is_async
        self.view = view  # convert takes the whole event (StorageObject & co.)
        self.exact = exact  # CloudEvent[dict] & co.: data of exactly this class is handed over as it is
        self.call_event: Callable[[Any, CloudEvent[Any], Context | None], Any] = _call_any
        # The data class for which `call_event(spec, event, None)` is exactly `spec.handler(event)`, so a
        # shim's hot path may call the handler itself (`event.data.__class__ is binding.as_is`); None: never.
        self.as_is: type | None = None
        # `call_event` for an event its caller has just made and shares with no one (a shim's own decoded
        # event): a view (CloudEvent[StorageObject] & co.) goes into that event instead of a copy of it. So
        # after the call the caller's `event.data` may be the view: a caller that still needs the data it
        # decoded (to dead-letter the event) keeps it, and `event.with_data(data)` gives the event back.
        self.call_owned: Callable[[Any, CloudEvent[Any], Context | None], Any] = _call_any

    def specialise(self) -> Binding:
        """Pick the per-event call path once, so the common signatures skip every check per event."""
        if self.first == "event" and not self.wants_context and not self.is_async:
            if self.convert is None:
                self.call_event = _call_plain
            elif self.exact is not None and not self.view:
                self.call_event, self.as_is = _call_exact, self.exact
            elif not self.view:
                self.call_event = _call_converted
            else:
                self.call_event, self.call_owned = _call_view, _call_view_in_place
                return self
        self.call_owned = self.call_event
        return self


def _call_plain(spec: Any, event: CloudEvent[Any], ctx: Context | None) -> Any:
    return spec.handler(event)


def _call_converted(spec: Any, event: CloudEvent[Any], ctx: Context | None) -> Any:
    data = event.data
    value = spec._binding.convert(data)
    return spec.handler(event if value is data else event.with_data(value))


def _call_exact(spec: Any, event: CloudEvent[Any], ctx: Context | None) -> Any:
    """CloudEvent[dict] & co.: data of exactly the declared class is handed over without a conversion."""
    binding = spec._binding  # the slot, not the property: these paths exist only once it is bound
    if event.data.__class__ is binding.exact:
        return spec.handler(event)
    data = event.data
    value = binding.convert(data)
    return spec.handler(event if value is data else event.with_data(value))


def _call_view(spec: Any, event: CloudEvent[Any], ctx: Context | None) -> Any:
    return spec.handler(event.with_data(spec._binding.convert(event)))


def _call_view_in_place(spec: Any, event: CloudEvent[Any], ctx: Context | None) -> Any:
    """`_call_view` for an event no one else holds (`Binding.call_owned`): the view replaces its data."""
    _DATA_SLOT.__set__(event, spec._binding.convert(event))
    return spec.handler(event)


_DATA_SLOT: Any = CloudEvent.__dict__["data"]  # writes `data` past CloudEvent's immutability guard


def _call_any(spec: Any, event: CloudEvent[Any], ctx: Context | None) -> Any:
    binding = spec.binding
    return _invoke(spec, binding, bind_event(binding, event), ctx)


def bind_handler(spec: Any) -> Binding:
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
    required_kwonly = [n for n in code.co_varnames[code.co_argcount: code.co_argcount + code.co_kwonlyargcount]
                       if n not in (getattr(target, "__kwdefaults__", None) or {})]
    if required_kwonly:
        raise DeclarationError(
            f"@function {spec.name!r}: keyword-only parameter(s) {required_kwonly} cannot be supplied; "
            "give them defaults or remove them."
        )
    first, convert, view, exact, wants_context = "none", None, False, None, False
    for position, pname in enumerate(names):
        hint = _without_none(hints.get(pname))
        if hint is Context or (hint is None and pname in ("ctx", "context") and position == 1):
            wants_context = True
            continue
        if position == 1:
            raise DeclarationError(
                f"@function {spec.name!r}: the second parameter {pname!r} must be annotated "
                "Context (or be named ctx)."
            )
        first, convert, view, exact = _first_parameter(spec, pname, hint, is_http)
    return Binding(first, convert, wants_context, is_async, view, exact).specialise()


def _without_none(hint: Any) -> Any:
    """`X | None` and `Optional[X]` read as X (a handler is always given its arguments)."""
    args = typing.get_args(hint)
    if args and type(None) in args and len(args) == 2 and typing.get_origin(hint) is not CloudEvent:
        return next(a for a in args if a is not type(None))
    return hint


def _first_parameter(spec: Any, pname: str, hint: Any, is_http: bool) -> tuple[str, Any, bool, type | None]:
    """(what the handler takes first, the data converter, whether it is a view, the `Binding.exact` type)."""
    if hint is None:
        return ("request" if is_http else "event"), None, False, None
    if hint is Request:
        if not is_http:
            raise DeclarationError(
                f"@function {spec.name!r}: a {spec.trigger.kind} trigger delivers a CloudEvent; "
                f"annotate {pname!r} as CloudEvent (or CloudEvent[YourModel])."
            )
        return "request", None, False, None
    origin = typing.get_origin(hint)
    if hint is CloudEvent or origin is CloudEvent:
        args = typing.get_args(hint)
        if not args or args[0] is Any:
            return "event", None, False, None
        view = hasattr(args[0], "from_cloudevent")
        return "event", _converter(spec, args[0]), view, args[0] if args[0] in _PLAIN else None
    expected = "Request (or CloudEvent for a request carrying one)" if is_http else "CloudEvent[...]"
    raise DeclarationError(
        f"@function {spec.name!r}: parameter {pname!r} is annotated {hint!r}; annotate it as {expected}."
    )


def _converter(spec: Any, target: Any) -> Callable[[Any], Any]:
    """A function turning event data (or, for views, the event) into `target`."""
    if hasattr(target, "from_cloudevent"):
        return target.from_cloudevent  # type: ignore[no-any-return]
    if hasattr(target, "model_validate") and hasattr(target, "model_validate_json"):
        return _pydantic_converter(target)
    if hasattr(target, "__dataclass_fields__"):
        return _dataclass_converter(target)
    if target in _PLAIN:
        return _plain_converter(target)
    raise DeclarationError(
        f"@function {spec.name!r}: CloudEvent[{getattr(target, '__name__', target)}] is not supported; "
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
            raise DataValidationError(
                f"The event data is not a valid {model.__name__}: {_one_line(exc)}"
            ) from None

    return convert


def _dataclass_converter(cls: Any) -> Callable[[Any], Any]:
    fields = cls.__dataclass_fields__

    def convert(data: Any) -> Any:
        if isinstance(data, (bytes, str)):
            data = loads(data, "The event data")
        if not isinstance(data, Mapping):
            raise DataValidationError(
                f"The event data is not a valid {cls.__name__}: expected a JSON object, "
                f"got {type(data).__name__}."
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
            raise DataValidationError(
                f"The event data must be {kind.__name__}, got {type(data).__name__}."
            )
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


def _invoke(spec: Any, binding: Binding, arg: Any, ctx: Context | None) -> Any:
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


def call_event(spec: Any, event: CloudEvent[Any] | BaseException, ctx: Context | None = None) -> Result:
    """Deliver one event; never raises for anything the handler or the data does."""
    if event.__class__ is not CloudEvent and isinstance(event, BaseException):  # could not be decoded
        return Result(DEAD_LETTER, reason=str(event), error=event)
    try:
        return Result(ACK, spec.binding.call_event(spec, event, ctx), None, None, event.id)
    except Exception as exc:
        return failure_of(exc, event.id)


def failure_of(exc: Exception, event_id: str) -> Result:
    """The outcome of a handler that raised `exc` (for shims that call `binding.call_event` themselves
    on their hot path and come here only when it raised)."""
    if isinstance(exc, _SIGNALS):
        if isinstance(exc, DeadLetter):
            return Result(DEAD_LETTER, None, exc.reason, exc, event_id)
        if isinstance(exc, InvalidEventError):
            return Result(DEAD_LETTER, None, str(exc), exc, event_id)
        if isinstance(exc, Retry):
            return Result(RETRY, None, exc.reason, exc, event_id)
    return Result(RETRY, None, f"{exc.__class__.__name__}: {exc}", exc, event_id)


_SIGNALS = (DeadLetter, InvalidEventError, Retry)  # what failure_of reads other than "any exception"


def call_batch(spec: Any, events: Sequence[CloudEvent[Any] | BaseException],
               ctx: Context | Sequence[Context] | None = None, ordered: bool = False) -> list[Result]:
    """One Result per record. `ordered` (FIFO) stops at the first failure and retries the rest.

    `ctx` is one Context for the whole batch, or a list with one per record (records of one batch
    may have different delivery counts and message ids).
    """
    return batch_results(events, *run_batch(spec, events, ctx, ordered))


def batch_results(events: Sequence[CloudEvent[Any] | BaseException], values: list[Any],
                  failures: dict[int, Result]) -> list[Result]:
    """`call_batch`'s list from what `run_batch` returned."""
    return [failures.get(i) or Result(ACK, values[i], None, None, event.id)  # type: ignore[union-attr]
            for i, event in enumerate(events)]


def run_batch(spec: Any, events: Sequence[CloudEvent[Any] | BaseException],
              ctx: Context | Sequence[Context] | None = None,
              ordered: bool = False) -> tuple[list[Any], dict[int, Result]]:
    """`call_batch` without a Result per acknowledged record (the per-record hot path of a batch):
    the handler's value per record, and the Result of each record not acknowledged, by index.

    A failure's Result keeps the exception and its traceback, and so every frame that was running when
    the handler raised: Python links them to the traceback as they return, locals included. A frame that
    still holds the Results when it returns (this one, and each caller up the stack) closes a reference
    cycle, and the whole batch then waits for the garbage collector instead of being freed at once; so
    this frame lets go of them before it returns (`finally`), and the AWS shim's frames do the same."""
    single = ctx if ctx is None or isinstance(ctx, Context) else None
    contexts = None if ctx is None or isinstance(ctx, Context) else list(ctx)
    binding = spec.binding
    call = binding.call_event
    # Called directly: a handler taking the event as it is, or CloudEvent[dict] & co. for `exact` data.
    handler = spec.handler if call is _call_plain or call is _call_exact else None
    exact = binding.exact if handler is not None else None
    values: list[Any] = []
    failures: dict[int, Result] = {}
    try:
        for i, event in enumerate(events):
            one = single if contexts is None else contexts[i]
            if event.__class__ is CloudEvent:  # call_event, inlined
                try:
                    values.append(handler(event) if handler is not None and (
                        exact is None or event.data.__class__ is exact) else call(spec, event, one))
                    continue
                except Exception as exc:
                    failures[i] = failure_of(exc, event.id)
            else:  # not decoded (the error saying why), or a CloudEvent subclass
                failures[i] = call_event(spec, event, one)
                if failures[i].outcome == ACK:
                    values.append(failures.pop(i).value)
                    continue
            values.append(None)
            if ordered:
                _not_attempted(events, i + 1, values, failures)
                break
        return values, failures
    finally:
        del failures  # before the frame returns: see above


def _not_attempted(events: Sequence[CloudEvent[Any] | BaseException], start: int, values: list[Any],
                   failures: dict[int, Result]) -> None:
    """An ordered batch stopped: every record from `start` on is retried without being attempted."""
    for later in range(start, len(events)):
        values.append(None)
        event = events[later]
        failures[later] = Result(RETRY, reason="not attempted: an earlier message in this ordered batch failed",
                                 event_id=event.id if isinstance(event, CloudEvent) else None)


def call_http(spec: Any, request: Request, ctx: Context | None = None) -> Response:
    """Serve one HTTP request. Bad input is a 400 naming the problem; a crash is a 500."""
    try:
        binding = spec.binding
        arg: Any = request
        if binding.first == "event":
            from .http_binding import from_http

            arg = bind_event(binding, from_http(request.headers, request.body))
        return to_response(_invoke(spec, binding, arg, ctx))
    except Exception as exc:
        return http_failure(spec, exc)


def http_failure(spec: Any, exc: Exception) -> Response:
    """The answer to a request whose handler (or its input) raised `exc`: 400, 503, 422 or 500."""
    if isinstance(exc, InvalidEventError):
        body: dict[str, Any] = {"error": str(exc)}
        if exc.attribute:
            body["attribute"] = exc.attribute
        return Response.json(body, status=400)
    if isinstance(exc, Retry):
        return Response.json({"error": exc.reason}, status=503)
    if isinstance(exc, DeadLetter):
        return Response.json({"error": exc.reason}, status=422)
    if type(exc).__module__.startswith("pydantic"):  # the handler validated the body and it failed
        return Response.json({"error": f"Invalid request body: {_one_line(exc)}"}, status=400)
    _log_crash(spec, exc)
    return Response.json({"error": "internal error", "function": spec.name}, status=500)


def _log_crash(spec: Any, exc: BaseException) -> None:
    import logging

    logging.getLogger("portable_fn").error(
        "function %s raised %s", spec.name, type(exc).__name__, exc_info=exc
    )
