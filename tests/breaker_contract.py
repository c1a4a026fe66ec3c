"""The rules a circuit breaker keeps through its shared state (issue 14, section 4), written once and run
against every state backend: SQLite here, DynamoDB on moto, Firestore on its emulator, Azure Tables on
Azurite.

An instance of a function is stood for by one `Breaker` over its own client of the store; a fake clock
stands for the time passing, so nothing waits on the wall clock. A test module subclasses
`BreakerContract` and gives it two fixtures:

- `connect`: a callable opening the same fresh, empty store through a new client on each call;
- `unreachable`: the breakers' store (a `State`) as a function would open it, at a place nothing answers
  (a closed port on 127.0.0.1).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import pytest

from portable_fn import CircuitOpenError, Retry
from portable_fn.runtime.breaker import Breaker
from portable_fn.runtime.state import Backend, State

from .state_contract import race

RESET_AFTER = 30
FAILURES = 3
INSTANCES = 12


class Clock:
    """The time every instance reads (`Breaker(clock=...)`), moved on by the test."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def store_of(backend: Backend) -> State:
    """The breakers' store (`pfn-breakers`) served by `backend`."""
    store = State("pfn-breakers", internal=True)
    store.backend = backend
    return store


def instance(store: State, clock: Clock, failures: int = FAILURES) -> Breaker:
    """The `payments` breaker as one instance of the function has it."""
    return Breaker("payments", failures=failures, reset_after=RESET_AFTER, store=store, clock=clock)


def fail(guard: Breaker) -> None:
    with pytest.raises(ConnectionError), guard:
        raise ConnectionError("timed out")


def succeed(guard: Breaker) -> str:
    with guard:
        return "ok"


def trip(guard: Breaker) -> None:
    for _ in range(guard.failures):
        fail(guard)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound by the system, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BreakerContract:
    """Subclass with `connect` (a new client of one fresh, empty store per call) and `unreachable` fixtures."""

    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    @pytest.fixture
    def instances(self, connect: Callable[[], Backend], clock: Clock) -> Callable[[int], list[Breaker]]:
        """`instances(n)`: n instances of the function, each with its own client of the store."""
        return lambda n: [instance(store_of(connect()), clock) for _ in range(n)]

    def test_an_open_circuit_written_by_one_instance_is_seen_by_another(
        self, instances: Callable[[int], list[Breaker]], clock: Clock
    ) -> None:
        a, b = instances(2)
        fail(a)
        fail(a)
        assert succeed(a) == "ok"  # a success resets the count
        trip(a)
        assert a.state == b.state == "open"
        clock.now += 10
        with pytest.raises(CircuitOpenError) as raised, b:
            pytest.fail("an open circuit never runs the guarded call")
        assert raised.value.after == RESET_AFTER - 10 and raised.value.breaker == "payments"
        assert isinstance(raised.value, Retry) and "'payments' is open" in raised.value.reason

    def test_failure_counts_stay_in_the_instance(self, instances: Callable[[int], list[Breaker]]) -> None:
        a, b = instances(2)
        for guard in (a, b, a, b):
            fail(guard)
        assert a.state == b.state == "closed"

    def test_exactly_one_of_many_concurrent_instances_becomes_the_probe(
        self, instances: Callable[[int], list[Breaker]], clock: Clock
    ) -> None:
        many = instances(INSTANCES)
        trip(many[0])
        clock.now += RESET_AFTER

        refusals: list[float | None] = []

        def enter(i: int) -> bool:
            try:
                many[i].__enter__()  # never exited: the probe runs while the others are refused
            except CircuitOpenError as refused:
                refusals.append(refused.after)
                return False
            return True

        assert race(INSTANCES, enter).count(True) == 1
        assert refusals == [RESET_AFTER] * (INSTANCES - 1)  # for as long as the probe may take
        assert {guard.state for guard in many} == {"half_open"}

    def test_the_probe_s_success_closes_the_circuit_for_every_instance(
        self, instances: Callable[[int], list[Breaker]], clock: Clock
    ) -> None:
        a, b = instances(2)
        trip(a)
        clock.now += RESET_AFTER
        with a:  # the probe
            assert a.state == b.state == "half_open"
            with pytest.raises(CircuitOpenError), b:
                pass
        assert a.state == b.state == "closed"
        assert succeed(b) == "ok"

    def test_a_failed_probe_reopens_the_circuit_for_every_instance(
        self, instances: Callable[[int], list[Breaker]], clock: Clock
    ) -> None:
        a, b = instances(2)
        trip(a)
        clock.now += RESET_AFTER + 1
        fail(b)  # b was elected: its failure re-opens for another reset_after
        clock.now += RESET_AFTER - 1
        with pytest.raises(CircuitOpenError) as raised, a:
            pass
        assert raised.value.after == 1 and a.state == "open"

    def test_a_probe_that_never_reports_is_replaced_after_reset_after(
        self, instances: Callable[[int], list[Breaker]], clock: Clock
    ) -> None:
        a, b = instances(2)
        trip(a)
        clock.now += RESET_AFTER
        a.__enter__()  # elected, then its instance died
        clock.now += RESET_AFTER
        assert succeed(b) == "ok" and a.state == "closed"

    def test_an_unreachable_store_fails_open(
        self, unreachable: State, clock: Clock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Each call waits out the client's own retries once (no second store call), then runs unguarded."""
        guard = instance(unreachable, clock, failures=1)
        with caplog.at_level(logging.WARNING, "portable_fn"):
            fail(guard)  # the dependency's own error, not the store's; one failure would open a reachable circuit
            assert succeed(guard) == "ok"
        warnings = [r.getMessage() for r in caplog.records if "circuit breaker" in r.getMessage()]
        assert len(warnings) == 1 and "'pfn-breakers' cannot be reached" in warnings[0], warnings
