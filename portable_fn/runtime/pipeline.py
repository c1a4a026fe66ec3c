"""One invocation pipeline: native input -> records -> bind -> call -> outcome -> native answer.

Every entry goes through here: the AWS `lambda_handler`, the GCP `main.py` entry points, the Azure
`function_app.py` functions, the local host and `portable_fn.testing`. A shim only translates: it reads
the native input into an `Invocation` holding one `Call` per record (or per request), calls `run` (events)
or `serve` (HTTP), and turns the `Result`s or the `Response` back into the native answer. What happens in
between is the same on every cloud:

    for each middleware:   start(invocation)
    for each call:         before(call)            (a middleware may answer the call itself)
                           the handler, bound to its annotations (`dispatch`)
                           on_error(call, error)   (only when the handler raised)
                           after(call)             (in reverse order)
    for each middleware:   finish(invocation)      (in reverse order, also after an error)

Cross-cutting work (tracing, logs, and later idempotency, emit, tenants) is a `Middleware`, registered once
with `use`; no shim changes for it. A hook may be `async def`: it is run to completion on the thread's event
loop, as an async handler is. While a call runs, `current_call()` is that call (a context variable, so the
user's own loggers and threads started with `contextvars.copy_context()` see it).
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .cloudevent import CloudEvent
from .context import Context
from .dispatch import Binding, call_with_event, call_with_request, close_loop, failure_of, http_failure, run_coroutine
from .http import Request, Response
from .outcomes import ACK, DEAD_LETTER, RETRY, Result
from .views import MessageMeta

if TYPE_CHECKING:
    from .function import FunctionSpec
    from .tracing import TraceContext

__all__ = [
    "Call",
    "Invocation",
    "Middleware",
    "call_batch",
    "call_event",
    "call_http",
    "close_loop",
    "LazyCarrier",
    "current_call",
    "http_carrier",
    "middleware",
    "remove",
    "run",
    "serve",
    "use",
    "within",
]

_NO_CARRIER: Mapping[str, str] = {}


_UNREAD: Any = object()  # a Call's lazily read fact, not read yet


class Invocation:
    """One native invocation: an HTTP request, one event, or a batch of records, and its calls.

    What a record says beyond its CloudEvent (its `MessageMeta`, its producer's trace carrier, the raw
    object `Context.raw` gives) is read only when something asks (most handlers take no Context), by the
    readers a shim names here: `meta_of(native)`, `carrier_of(native)` and `raw_of(native)`, each given the
    native record the call was added with."""

    __slots__ = (
        "spec",
        "provider",
        "invocation_id",
        "carrier",
        "cold_start",
        "region",
        "deadline",
        "raw",
        "ordered",
        "meta_of",
        "carrier_of",
        "raw_of",
        "logs_failures",
        "state",
        "calls",
        "_trace",
    )

    def __init__(
        self,
        spec: FunctionSpec,
        provider: str,
        invocation_id: str = "",
        *,
        carrier: Mapping[str, str] | None = None,
        deadline: float | None = None,
        raw: Any = None,
        region: str | None = None,
        ordered: bool = False,
        meta_of: Callable[[Any], MessageMeta | None] | None = None,
        carrier_of: Callable[[Any], Mapping[str, str] | None] | None = None,
        raw_of: Callable[[Any], Any] | None = None,
    ) -> None:
        self.spec = spec
        self.provider = provider
        self.invocation_id = invocation_id
        self.carrier = carrier if carrier is not None else _NO_CARRIER  # lower-case keys
        self.cold_start = _cold_start()
        self.region = region
        self.deadline = deadline  # epoch seconds, or None when unknown
        self.raw = raw  # the native invocation (`Context.raw` unless a call has its own)
        self.ordered = ordered  # FIFO: the first failure stops the batch, the rest are retried unattempted
        self.meta_of = meta_of
        self.carrier_of = carrier_of
        self.raw_of = raw_of
        # The shim writes each failed call's one line itself, once it knows what becomes of the record
        # (`logs.log_failure`); a shim that does not leaves the crash to be logged in the call.
        self.logs_failures = False
        self.state: dict[str, Any] = {}  # scratch space per middleware
        self.calls: list[Call] = []
        self._trace: TraceContext | None = None

    @property
    def trace(self) -> TraceContext:
        """The invocation's own span (`tracing.TraceContext`), worked out on first use from what the
        transport carried (`tracing.trace_of`): an invocation nobody asks about pays nothing for it."""
        if self._trace is None:
            from .tracing import trace_of

            self._trace = trace_of(self)
        return self._trace

    @trace.setter
    def trace(self, value: TraceContext) -> None:
        self._trace = value

    def add(
        self,
        event: CloudEvent[Any] | BaseException,
        native: Any = None,
        *,
        meta: Any = _UNREAD,
        attempt: int | None = None,
        carrier: Any = _UNREAD,
        raw: Any = None,
        ctx: Context | None = None,
    ) -> Call:
        """A call for one record: its CloudEvent, or the error saying why it could not be decoded; `native`
        is the record as the platform gave it (read by the invocation's readers when asked)."""
        call = Call(self, len(self.calls), event, None, native, ctx)
        if meta is not _UNREAD or self.meta_of is None:
            call._meta = None if meta is _UNREAD else meta
        if carrier is not _UNREAD or self.carrier_of is None:
            call._carrier = _NO_CARRIER if carrier is _UNREAD or carrier is None else carrier
        if attempt is not None:
            call._attempt = attempt
        if raw is not None:
            call._raw = raw
        self.calls.append(call)
        return call

    def request(self, request: Request, ctx: Context | None = None) -> Call:
        """The call for an HTTP request."""
        call = Call(self, len(self.calls), None, request, None, ctx)
        call._meta, call._carrier, call._attempt = None, _NO_CARRIER, 1
        self.calls.append(call)
        return call

    def __repr__(self) -> str:
        return f"Invocation({self.spec.name!r}, provider={self.provider!r}, calls={len(self.calls)})"


class Call:
    """One handler call: one record of a batch, one event or one request."""

    __slots__ = (
        "invocation",
        "index",
        "event",
        "request",
        "native",
        "result",
        "response",
        "_ctx",
        "_meta",
        "_attempt",
        "_carrier",
        "_raw",
        "_trace",
        "__weakref__",
    )

    def __init__(
        self,
        invocation: Invocation,
        index: int,
        event: CloudEvent[Any] | BaseException | None,
        request: Request | None,
        native: Any,
        ctx: Context | None,
    ) -> None:
        self.invocation = invocation
        self.index = index
        self.event = event  # a CloudEvent, the InvalidEventError of a record that could not be read, or None
        self.request = request
        self.native = native  # the native record, when the shim gave it
        self._trace: TraceContext | None = None
        self.result: Result | None = None  # the outcome of an event
        self.response: Response | None = None  # the answer to a request
        self._ctx = ctx
        self._meta: Any = _UNREAD if ctx is None else ctx.message
        self._attempt: Any = _UNREAD if ctx is None else ctx.attempt
        self._carrier: Any = _UNREAD
        self._raw: Any = _UNREAD if ctx is None else ctx.raw

    @property
    def meta(self) -> MessageMeta | None:
        """The transport's facts about this message (id, delivery count, attributes), or None."""
        if self._meta is _UNREAD:
            self._meta = _read(self.invocation.meta_of, self.native)
        return self._meta  # type: ignore[no-any-return]

    @property
    def attempt(self) -> int:
        """1 on first delivery (the message's delivery count when the transport says it)."""
        if self._attempt is _UNREAD:
            meta = self.meta
            self._attempt = meta.delivery_count if meta is not None else 1
        return self._attempt  # type: ignore[no-any-return]

    @property
    def carrier(self) -> Mapping[str, str]:
        """The trace carrier of this record's producer (lower-case keys), empty when it carries none."""
        if self._carrier is _UNREAD:
            self._carrier = _read(self.invocation.carrier_of, self.native) or _NO_CARRIER
        return self._carrier  # type: ignore[no-any-return]

    @property
    def raw(self) -> Any:
        """What `Context.raw` is for this call."""
        if self._raw is _UNREAD:
            reader = self.invocation.raw_of
            self._raw = reader(self.native) if reader is not None else self.invocation.raw
        return self._raw

    @property
    def trace(self) -> TraceContext:
        """The invocation's span as this call sees it: linked to its record's producer (`tracing.call_trace`),
        worked out on first use."""
        if self._trace is None:
            from .tracing import call_trace

            self._trace = call_trace(self)
        return self._trace

    @trace.setter
    def trace(self, value: TraceContext) -> None:
        self._trace = value

    @property
    def ctx(self) -> Context:
        """The handler's `Context`, made on first use (most handlers do not take one)."""
        ctx = self._ctx
        if ctx is None:
            invocation = self.invocation
            ctx = self._ctx = Context(
                invocation.invocation_id,
                invocation.spec.name,
                invocation.provider,
                self.attempt,
                invocation.deadline,
                self.meta,
                self.raw,
            )
        if ctx._call is None and ctx._trace is None:
            ctx._call = weakref.ref(self)  # `ctx.trace` is worked out on first use (weakly: no cycle)
        return ctx

    @property
    def ctx_if_any(self) -> Context | None:
        """The handler's `Context` if there is one yet (the one the shim passed, or made by `ctx`), without
        making one."""
        return self._ctx

    @property
    def event_id(self) -> str | None:
        event = self.event
        return event.id if isinstance(event, CloudEvent) else None

    def __repr__(self) -> str:
        return f"Call({self.invocation.spec.name!r}, index={self.index}, event_id={self.event_id!r})"


def _read(reader: Callable[[Any], Any] | None, native: Any) -> Any:
    """A lazily read fact: None when there is no reader or the native record does not say (a malformed
    record fails alone, when its CloudEvent is read, never here)."""
    if reader is None:
        return None
    try:
        return reader(native)
    except Exception:
        return None


class Middleware:
    """Cross-cutting work around every invocation. Override what you need; every hook may be async."""

    def wanted(self, spec: FunctionSpec) -> bool:
        """Whether this middleware has work for `spec`'s invocations (asked once per function, so the calls
        of a function that declares none of what it serves do not run its hooks)."""
        return True

    def start(self, invocation: Invocation) -> Any:
        """Before the first call of an invocation."""

    def before(self, call: Call) -> Any:
        """Before the handler; setting `call.result` (an event) or `call.response` (a request) answers the
        call without running the handler (and without the hooks registered after this one)."""

    def after(self, call: Call) -> Any:
        """After every call, its `result` or `response` set (run in reverse order of registration)."""

    def on_error(self, call: Call, error: BaseException) -> Any:
        """The handler raised `error` (before `after`; `call.result` / `call.response` already say what
        becomes of it)."""

    def finish(self, invocation: Invocation) -> Any:
        """After the last call (in reverse order; also when a hook failed)."""


class _Hooks:
    """The registered middleware's overridden hooks, in the order they run."""

    def __init__(self, chain: Sequence[Middleware]) -> None:
        def overridden(name: str) -> list[Callable[..., Any]]:
            return [getattr(m, name) for m in chain if getattr(type(m), name) is not getattr(Middleware, name)]

        self.chain = tuple(chain)
        self.start = overridden("start")
        self.before = overridden("before")
        self.after = overridden("after")[::-1]
        self.on_error = overridden("on_error")[::-1]
        self.finish = overridden("finish")[::-1]


_chain: list[Middleware] = []
_hooks = _Hooks(())
_by_function: dict[int, tuple[FunctionSpec, _Hooks]] = {}  # id(spec) -> its hooks (the wanted middleware's)
_current: contextvars.ContextVar[Call | None] = contextvars.ContextVar("portable_fn_call", default=None)


_M = TypeVar("_M", bound=Middleware)


def use(item: _M) -> _M:
    """Register `item` after the middleware registered so far (once: registering it again is a no-op)."""
    global _hooks
    if item not in _chain:
        _chain.append(item)
        _hooks = _Hooks(_chain)
        _by_function.clear()
    return item


def remove(item: Middleware) -> None:
    """Unregister `item` (tests; a no-op when it is not registered)."""
    global _hooks
    if item in _chain:
        _chain.remove(item)
        _hooks = _Hooks(_chain)
        _by_function.clear()


def middleware() -> tuple[Middleware, ...]:
    """The registered middleware, in the order they run."""
    return _hooks.chain


def _hooks_of(spec: FunctionSpec) -> _Hooks:
    """The hooks that run for `spec`'s invocations: those of the middleware that want it, worked out on its
    first invocation since the chain last changed."""
    found = _by_function.get(id(spec))
    if found is None or found[0] is not spec:
        found = _by_function[id(spec)] = (spec, _Hooks([m for m in _chain if m.wanted(spec)]))
    return found[1]


def current_call() -> Call | None:
    """The call running on this thread (or task), if any."""
    return _current.get()


def within(call: Call, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` with `call` as the current call: what a shim logs about a call once `run` has
    returned (what became of its record) carries the call's facts."""
    token = _current.set(call)
    try:
        return fn(*args, **kwargs)
    finally:
        _current.reset(token)


# -- running -----------------------------------------------------------------------------------------


def run(invocation: Invocation) -> list[Result]:
    """Run every call of an event invocation; one Result per call, in order. Never raises for anything
    the handler, the data or a record does.

    Once the last hook has run, the invocation lets go of its calls (`calls` is empty): each call refers
    to its invocation, so keeping them would make every batch a reference cycle, freed by the garbage
    collector rather than as soon as the shim has answered."""
    hooks = _hooks_of(invocation.spec)
    calls = invocation.calls
    try:
        _run_hooks(hooks.start, invocation)
        try:
            spec = invocation.spec
            binding = spec.binding
            for position, call in enumerate(calls):
                _run_call(spec, binding, call, hooks)
                if invocation.ordered and call.result is not None and call.result.outcome != ACK:
                    _not_attempted(calls[position + 1 :])
                    break
            return [call.result for call in calls]  # type: ignore[misc]
        finally:
            _run_hooks(hooks.finish, invocation)
    finally:
        calls.clear()


def serve(invocation: Invocation) -> Response:
    """Serve the invocation's one request. Bad input is a 400 naming the problem; a crash is a 500.
    The invocation lets go of its call afterwards, as in `run`."""
    hooks = _hooks_of(invocation.spec)
    calls = invocation.calls
    try:
        _run_hooks(hooks.start, invocation)
        try:
            call = calls[0]
            _run_call(invocation.spec, invocation.spec.binding, call, hooks)
            return call.response  # type: ignore[return-value]
        finally:
            _run_hooks(hooks.finish, invocation)
    finally:
        calls.clear()


def _run_call(spec: FunctionSpec, binding: Binding, call: Call, hooks: _Hooks) -> None:
    token = _current.set(call)
    try:
        for hook in hooks.before:
            _await(hook(call))
            if call.result is not None or call.response is not None:
                break
        else:
            ctx = call.ctx if binding.wants_context else None
            error: BaseException | None
            if call.request is not None:
                call.response, error = _respond(spec, binding, call.request, ctx)
            else:
                call.result = _outcome(spec, binding, call.event, ctx)
                error = call.result.error if call.result.outcome != ACK else None
            if error is not None:
                for hook in hooks.on_error:
                    _await(hook(call, error))
        for hook in hooks.after:
            _await(hook(call))
    except Exception as exc:  # a middleware failed: this call alone fails (redelivered), not its batch
        _middleware_failed(spec, call, exc)
    finally:
        _current.reset(token)


def _middleware_failed(spec: FunctionSpec, call: Call, exc: Exception) -> None:
    if call.request is not None:
        call.response = Response.json({"error": "internal error", "function": spec.name}, status=500)
    else:
        call.result = Result(RETRY, None, f"middleware failed: {type(exc).__name__}: {exc}", exc, call.event_id)
        if call.invocation.logs_failures:
            return  # the shim's one line for the record says it, with the traceback
    import logging

    logging.getLogger("portable_fn").error(
        "function %s: middleware raised %s", spec.name, type(exc).__name__, exc_info=exc
    )


# A handler's exception keeps its traceback (in `Result.error`) until the shim has logged it
# (`logs.log_failure`, which then lets the frames go): the frames reach every call of the batch.


def _outcome(
    spec: FunctionSpec, binding: Binding, event: CloudEvent[Any] | BaseException | None, ctx: Context | None
) -> Result:
    """The Result of calling the handler with one record (a record that could not be decoded is
    dead-lettered with the reason it could not)."""
    if not isinstance(event, CloudEvent):
        reason = str(event) if event is not None else "no event"
        return Result(DEAD_LETTER, None, reason, event if isinstance(event, BaseException) else None)
    try:
        return Result(ACK, call_with_event(spec, binding, event, ctx), None, None, event.id)
    except Exception as exc:
        return failure_of(exc, event.id)
    except SystemExit as exc:
        return failure_of(exited(exc), event.id)


def _respond(
    spec: FunctionSpec, binding: Binding, request: Request, ctx: Context | None
) -> tuple[Response, Exception | None]:
    """The Response to one request, and the exception the handler raised, if any."""
    try:
        return call_with_request(spec, binding, request, ctx), None
    except Exception as exc:
        return http_failure(spec, exc), exc
    except SystemExit as exit:
        failed = exited(exit)
        return http_failure(spec, failed), failed


def exited(exit: SystemExit) -> Exception:
    """A handler's `sys.exit()` as the failure it is: the invocation failed (a 500, a retry), and neither
    the process serving it nor the rest of its batch ends with it."""
    failed = RuntimeError(f"the handler called sys.exit({exit.code!r})")
    failed.__cause__ = exit
    return failed


def _not_attempted(calls: Sequence[Call]) -> None:
    """An ordered batch stopped: every later record is retried without being attempted."""
    for call in calls:
        call.result = Result(
            RETRY, None, "not attempted: an earlier message in this ordered batch failed", None, call.event_id
        )


def _run_hooks(hooks: Sequence[Callable[[Invocation], Any]], invocation: Invocation) -> None:
    for hook in hooks:
        _await(hook(invocation))


def _await(value: Any) -> None:
    if value is not None and hasattr(value, "__await__"):
        run_coroutine(value)


_started = False


def _cold_start() -> bool:
    """True for the first invocation of this process."""
    global _started
    if _started:
        return False
    _started = True
    return True


# -- convenience for hosts that already hold CloudEvents and Contexts ------------------------------

_TRACE_HEADERS = ("traceparent", "tracestate")


def http_carrier(headers: Any, carrier: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """A request's trace headers (W3C `traceparent` / `tracestate`, read case-insensitively from any
    headers object with `get`) over `carrier` (what the platform itself says, e.g. Lambda's header), read
    when the trace is first asked for."""

    def read() -> dict[str, str]:
        found = {name: str(value) for name in _TRACE_HEADERS if (value := headers.get(name))}
        return {**carrier, **found} if carrier else found

    return LazyCarrier(read)


class LazyCarrier(Mapping[str, str]):
    """A carrier read by `read()` the first time a trace header is asked for (most invocations never ask),
    e.g. `LazyCarrier(lambda: {"x-amzn-trace-id": os.environ["_X_AMZN_TRACE_ID"]})`."""

    def __init__(self, read: Callable[[], Mapping[str, str] | None]) -> None:
        self._read = read
        self._found: Mapping[str, str] | None = None

    def _carrier(self) -> Mapping[str, str]:
        if self._found is None:
            self._found = self._read() or _NO_CARRIER
        return self._found

    def __getitem__(self, key: str) -> str:
        return self._carrier()[key]

    def get(self, key: str, default: Any = None) -> Any:  # without a KeyError per missing key
        return self._carrier().get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._carrier())

    def __len__(self) -> int:
        return len(self._carrier())


def invocation_of(spec: FunctionSpec, ctx: Context | None, provider: str = "local") -> Invocation:
    """An Invocation carrying what a host's `Context` says (the local host, `portable_fn.testing`)."""
    if ctx is None:
        return Invocation(spec, provider)
    return Invocation(spec, ctx.provider, ctx.invocation_id, deadline=ctx.deadline, raw=ctx.raw)


def call_event(spec: FunctionSpec, event: CloudEvent[Any] | BaseException, ctx: Context | None = None) -> Result:
    """Deliver one event through the pipeline; never raises for anything the handler or the data does."""
    invocation = invocation_of(spec, ctx)
    invocation.add(event, ctx=ctx)
    return run(invocation)[0]


def call_batch(
    spec: FunctionSpec,
    events: Sequence[CloudEvent[Any] | BaseException],
    ctx: Context | Sequence[Context] | None = None,
    ordered: bool = False,
) -> list[Result]:
    """One Result per record. `ordered` (FIFO) stops at the first failure and retries the rest.

    `ctx` is one Context for the whole batch, or a list with one per record (records of one batch
    may have different delivery counts and message ids)."""
    contexts = None if ctx is None or isinstance(ctx, Context) else list(ctx)
    invocation = invocation_of(spec, ctx if isinstance(ctx, Context) else (contexts[0] if contexts else None))
    invocation.ordered = ordered
    for i, event in enumerate(events):
        one = contexts[i] if contexts is not None else ctx
        invocation.add(event, ctx=one if isinstance(one, Context) else None)
    return run(invocation)


def call_http(spec: FunctionSpec, request: Request, ctx: Context | None = None) -> Response:
    """Serve one HTTP request through the pipeline. Bad input is a 400 naming the problem; a crash a 500."""
    invocation = invocation_of(spec, ctx)
    invocation.carrier = http_carrier(request.headers)
    invocation.request(request, ctx)
    return serve(invocation)
