"""Circuit breakers. Two Breaker objects of one name, each opening the same SQLite file through its own
connection, stand for two instances of a function; a fake clock stands for the time passing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portable_fn import CircuitOpenError, DeclarationError, Retry, breaker
from portable_fn.runtime import RETRY, CloudEvent, Request, call_event, call_http, spec_of
from portable_fn.runtime.breaker import STORE, Breaker
from portable_fn.runtime.state import State
from portable_fn.runtime.state_sqlite import SqliteBackend

from ..state_contract import race
from .handlers import breakers as handlers


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "pfn-breakers.sqlite3")


def instance(path: str, clock: Clock, failures: int = 3) -> Breaker:
    """The `payments` breaker as one instance of the function has it: its own connection to the store."""
    store = State("pfn-breakers", internal=True)
    store.backend = SqliteBackend(path)
    return Breaker("payments", failures=failures, reset_after=30, store=store, clock=clock)


def fail(guard: Breaker) -> None:
    with pytest.raises(ConnectionError), guard:
        raise ConnectionError("timed out")


def succeed(guard: Breaker) -> str:
    with guard:
        return "ok"


def test_failures_in_a_row_open_the_circuit_for_every_instance(path: str, clock: Clock) -> None:
    a, b = instance(path, clock), instance(path, clock)
    fail(a)
    fail(a)
    assert succeed(a) == "ok"  # a success resets the count
    for _ in range(3):
        fail(a)
    assert a.state == b.state == "open"
    clock.now += 10
    with pytest.raises(CircuitOpenError) as raised, b:
        pytest.fail("an open circuit never runs the guarded call")
    assert raised.value.after == 20 and raised.value.breaker == "payments"
    assert isinstance(raised.value, Retry) and "'payments' is open" in raised.value.reason


def test_failure_counts_stay_in_the_instance(path: str, clock: Clock) -> None:
    a, b = instance(path, clock), instance(path, clock)
    fail(a)
    fail(a)
    fail(b)
    fail(b)
    assert a.state == "closed"


def test_after_reset_after_one_probe_is_elected_and_its_success_closes(path: str, clock: Clock) -> None:
    a, b = instance(path, clock), instance(path, clock)
    for _ in range(3):
        fail(a)
    clock.now += 30
    with a:  # the probe
        assert a.state == "half_open"
        with pytest.raises(CircuitOpenError), b:
            pass
    assert a.state == b.state == "closed"
    assert succeed(b) == "ok"


def test_a_failed_probe_reopens_the_circuit(path: str, clock: Clock) -> None:
    a, b = instance(path, clock), instance(path, clock)
    for _ in range(3):
        fail(a)
    clock.now += 31
    fail(b)  # b was elected: its failure re-opens for another reset_after
    clock.now += 29
    with pytest.raises(CircuitOpenError) as raised, a:
        pass
    assert raised.value.after == 1


def test_exactly_one_of_many_instances_becomes_the_probe(path: str, clock: Clock) -> None:
    instances = [instance(path, clock) for _ in range(12)]
    for _ in range(3):
        fail(instances[0])
    clock.now += 30

    def enter(i: int) -> bool:
        try:
            instances[i].__enter__()
        except CircuitOpenError:
            return False
        return True

    assert race(12, enter).count(True) == 1


def test_a_probe_that_never_reports_is_replaced_after_reset_after(path: str, clock: Clock) -> None:
    a, b = instance(path, clock), instance(path, clock)
    for _ in range(3):
        fail(a)
    clock.now += 30
    a.__enter__()  # elected, then its instance died
    clock.now += 30
    assert succeed(b) == "ok" and b.state == "closed"


class Unreachable:
    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any) -> Any:
            raise ConnectionError("connection refused")

        return fail


def test_an_unreachable_store_fails_open_with_one_warning(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    store = State("pfn-breakers", internal=True)
    store.backend = Unreachable()  # type: ignore[assignment]
    guard = Breaker("payments", failures=1, reset_after=30, store=store, clock=clock)
    with caplog.at_level(logging.WARNING, "portable_fn"):
        for _ in range(3):
            fail(guard)
        assert succeed(guard) == "ok"
    warnings = [r.getMessage() for r in caplog.records if "circuit breaker" in r.getMessage()]
    assert len(warnings) == 1 and "'pfn-breakers' cannot be reached" in warnings[0]


def test_the_decorator_guards_plain_and_async_functions(path: str, clock: Clock) -> None:
    guard = instance(path, clock, failures=1)
    calls: list[str] = []

    @guard
    def plain() -> str:
        calls.append("plain")
        raise ConnectionError("down")

    @guard
    async def later() -> str:
        calls.append("async")
        return "fine"

    with pytest.raises(ConnectionError):
        plain()
    with pytest.raises(CircuitOpenError):
        asyncio.run(later())
    clock.now += 30
    assert asyncio.run(later()) == "fine" and guard.state == "closed"
    assert calls == ["plain", "async"] and plain.__name__ == "plain"


# -- through the pipeline: the module-level breaker of a real app ----------------------------------


@pytest.fixture
def shared_store(path: str) -> Iterator[None]:
    previous, STORE.backend = STORE._backend, SqliteBackend(path)
    handlers.FLAKY[0] = True
    yield
    STORE.backend = previous


def order_event(amount: int = 5) -> CloudEvent[Any]:
    return CloudEvent(id="o-1", source="/shop", type="order.placed", data={"amount": amount})


def test_an_open_circuit_retries_a_queue_event_after_the_time_left(shared_store: None) -> None:
    fulfil = spec_of(handlers.fulfil)
    assert [call_event(fulfil, order_event()).reason for _ in range(2)] == [
        "ConnectionError: payment provider timed out"
    ] * 2
    refused = call_event(fulfil, order_event())
    assert refused.outcome == RETRY and "'payments' is open" in (refused.reason or "")
    assert isinstance(refused.error, CircuitOpenError) and 0 < (refused.error.delay_s or 0) <= 30


def test_an_open_circuit_answers_an_http_call_503_with_retry_after(shared_store: None) -> None:
    order = spec_of(handlers.order)
    for _ in range(2):
        assert call_http(order, Request("POST", "/orders", body=b'{"amount": 5}')).status == 500
    refused = call_http(order, Request("POST", "/orders", body=b'{"amount": 5}'))
    assert refused.status == 503 and 1 <= int(refused.headers["retry-after"]) <= 30
    assert b"'payments' is open" in refused.body


def test_a_breaker_in_uses_is_write_access_to_the_breakers_store() -> None:
    for handler in (handlers.fulfil, handlers.order):
        spec = spec_of(handler)
        assert spec is not None
        assert [(u.resource.kind, u.resource.name, u.access) for u in spec.options.uses] == [
            ("state", "pfn-breakers", "write")
        ]


def test_a_function_using_a_breaker_it_does_not_declare_is_told_how(shared_store: None) -> None:
    result = call_event(spec_of(handlers.undeclared), order_event())
    assert result.outcome == RETRY and "add uses=[payments] to its @function" in (result.reason or "")
    assert "'undeclared' uses breaker('payments'" in (result.reason or "")


def test_the_declaration_is_checked() -> None:
    with pytest.raises(DeclarationError, match="failures"):
        breaker("payments", failures=0)
    with pytest.raises(DeclarationError, match="reset_after"):
        breaker("payments", reset_after=-1)
    with pytest.raises(DeclarationError, match="portable-fn's own"):
        breaker("pfn-x")
