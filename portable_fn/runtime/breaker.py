"""Circuit breakers: stop calling a dependency that keeps failing, on every instance at once.

    payments = breaker("payments", failures=5, reset_after=30)

    @function(trigger=queue("orders"), uses=[payments])
    def fulfil(event: CloudEvent[Order]) -> None:
        with payments:                       # or decorate the calling function: @payments
            charge(event.data)

Failures are counted in the instance (`failures` in a row open the circuit); the transition to open is
written to the `pfn-breakers` state, so every instance sees an open circuit. While open, a guarded call
raises `CircuitOpenError` (a `Retry` with `after` = the time left): a queue or topic event is retried
then, an HTTP call answers 503 with `Retry-After`. After `reset_after` seconds one half-open probe is
elected by compare-and-set on the record read; its success closes the circuit, its failure re-opens it.
A store that cannot be reached fails open: calls pass through, with one warning per breaker.
"""

from __future__ import annotations

import contextvars
import functools
import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import DeclarationError
from .outcomes import Retry
from .resources import WRITE, Resource, UndeclaredResourceError, Use, check_access
from .state import Record, State, new_version

if TYPE_CHECKING:
    from datetime import timedelta  # annotations only: datetime costs a cold start ~1.5 ms

F = TypeVar("F", bound=Callable[..., Any])
STORE = State("pfn-breakers", internal=True)  # one record per breaker name: closed, open or half_open
CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
_CO_COROUTINE = 0x80


class CircuitOpenError(Retry):
    """A guarded call was not made: the circuit is open. `after` says when to try again."""

    def __init__(self, name: str, after: float) -> None:
        super().__init__(
            f"circuit {name!r} is open: its calls kept failing, so none is made for {after:.0f} s more", after=after
        )
        self.breaker = name


class _Pass:
    """How one guarded call was let through: as a normal call, as the elected probe (holding the version of
    the half-open record it wrote), or unguarded (the store could not be reached)."""

    __slots__ = ("role", "version")

    def __init__(self, role: str, version: str | None = None) -> None:
        self.role = role
        self.version = version


_NORMAL = _Pass("normal")
_UNGUARDED = _Pass("unguarded")


class Breaker(Resource):
    """A circuit breaker over one dependency (`breaker("payments")`). Declaring it in `uses=` (bare, read()
    or write()) grants the function write access to the breakers' store."""

    kind = "breaker"

    def __init__(
        self,
        name: str,
        failures: int = 5,
        reset_after: float | timedelta = 30,
        *,
        store: State = STORE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name)
        seconds = reset_after.total_seconds() if hasattr(reset_after, "total_seconds") else reset_after
        if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
            raise DeclarationError(f"breaker({name!r}, failures={failures!r}): use a whole number of at least 1.")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
            raise DeclarationError(
                f"breaker({name!r}, reset_after={reset_after!r}): use a positive number of seconds or a timedelta."
            )
        self.failures = failures
        self.reset_after = float(seconds)
        self.store = store
        self.clock = clock
        self._count = 0  # failures in a row, in this instance
        self._lock = threading.Lock()
        self._warned = False
        self._passes: contextvars.ContextVar[tuple[_Pass, ...]] = contextvars.ContextVar(
            f"portable_fn_breaker_{name}_{id(self)}", default=()
        )

    # -- declaring ---------------------------------------------------------------------------------

    def read(self) -> Use:
        """A breaker writes its transitions: any use of it is write access to the breakers' store."""
        return self.store.write()

    def write(self) -> Use:
        return self.store.write()

    # -- guarding ----------------------------------------------------------------------------------

    def __enter__(self) -> Breaker:
        self._passes.set((*self._passes.get(), self._admit()))
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        *rest, admitted = self._passes.get()
        self._passes.set(tuple(rest))
        failed = isinstance(error, Exception) and not isinstance(error, CircuitOpenError)
        self._settle(admitted, failed)

    def __call__(self, fn: F) -> F:
        """`@payments`: guard every call of `fn` (a plain or an async function)."""
        code = getattr(fn, "__code__", None)
        if code is not None and code.co_flags & _CO_COROUTINE:

            @functools.wraps(fn)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await fn(*args, **kwargs)

            return guarded_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    @property
    def state(self) -> str:
        """The circuit as the store has it now: "closed", "open" or "half_open" (closed when unreachable)."""
        try:
            found = self.store.backend.read(self.name)
        except Exception as exc:
            self._warn(exc)
            return CLOSED
        return CLOSED if found is None else str(json.loads(found.value)["state"])

    # -- the state machine -------------------------------------------------------------------------

    def _admit(self) -> _Pass:
        """Let a call through, elect it as the probe, or raise CircuitOpenError."""
        self._check_declared()
        try:
            backend = self.store.backend
            found = backend.read(self.name)
            if found is None:
                return _NORMAL
            stored = json.loads(found.value)
            if stored["state"] == CLOSED:
                return _NORMAL
            now = self.clock()
            until = stored["opened_at"] + self.reset_after if stored["state"] == OPEN else stored["probe_until"]
            if until > now:
                raise CircuitOpenError(self.name, until - now)
            probe = self._record(HALF_OPEN, opened_at=stored["opened_at"], probe_until=now + self.reset_after)
            if backend.replace(probe, found.version):  # compare-and-set: one probe among all instances
                return _Pass("probe", probe.version)
        except CircuitOpenError:
            raise
        except Exception as exc:
            self._warn(exc)
            return _UNGUARDED
        raise CircuitOpenError(self.name, self.reset_after)  # another instance's probe runs

    def _check_declared(self) -> None:
        """Inside an invocation, the function must declare the breaker (deploy grants its store then)."""
        try:
            check_access(self.store, WRITE)
        except UndeclaredResourceError:
            from .pipeline import current_call

            call = current_call()
            function = call.invocation.spec.name if call is not None else "?"
            raise UndeclaredResourceError(
                f"Function {function!r} uses {self!r} without declaring it, so deploy grants it no access to the "
                f"breakers' store; add uses=[{self.name_in_code}] to its @function."
            ) from None

    def _settle(self, admitted: _Pass, failed: bool) -> None:
        if admitted.role == "probe":
            closing = self._record(OPEN, opened_at=self.clock()) if failed else self._record(CLOSED)
            self._store(lambda backend: backend.replace(closing, admitted.version))
        if not failed:
            with self._lock:
                self._count = 0
            return
        if admitted.role != "normal":
            return
        with self._lock:
            self._count += 1
            trip = self._count >= self.failures
            if trip:
                self._count = 0
        if trip:
            self._store(self._open)

    def _open(self, backend: Any) -> None:
        """closed -> open, written so every instance sees it (a circuit opened elsewhere is left as it is)."""
        opened = self._record(OPEN, opened_at=self.clock())
        found = backend.read(self.name)
        if found is None:
            backend.create(opened, self.clock())
        elif json.loads(found.value)["state"] == CLOSED:
            backend.replace(opened, found.version)

    def _store(self, write: Callable[[Any], Any]) -> None:
        try:
            write(self.store.backend)
        except Exception as exc:
            self._warn(exc)

    def _record(self, state: str, **fields: float) -> Record:
        value = json.dumps({"state": state, **fields}, separators=(",", ":"))
        return Record(self.name, value, new_version())

    def _warn(self, exc: Exception) -> None:
        if self._warned:
            return
        self._warned = True
        import logging

        logging.getLogger("portable_fn").warning(
            "circuit breaker %r: its store %r cannot be reached (%s: %s); calls pass through unguarded until it "
            "can (declare uses=[%s] on the function so deploy grants it)",
            self.name,
            self.store.name,
            type(exc).__name__,
            exc,
            self.name_in_code,
        )

    def __repr__(self) -> str:
        return f"breaker({self.name!r}, failures={self.failures}, reset_after={self.reset_after:g})"


def breaker(name: str, failures: int = 5, reset_after: float | timedelta = 30) -> Breaker:
    """Declare a circuit breaker (see `Breaker`): `failures` in a row open it for `reset_after` seconds."""
    return Breaker(name, failures, reset_after)
