"""Circuit breakers: the shared-state rules of tests/breaker_contract.py on SQLite (each instance opens the
same file through its own connection; a fake clock stands for the time passing), then what stays in the
instance and in the pipeline: the decorator, the answers an open circuit gives, the declaration."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from portable_fn import CircuitOpenError, DeclarationError, breaker
from portable_fn.runtime import RETRY, CloudEvent, Request, call_event, call_http, spec_of
from portable_fn.runtime.breaker import STORE, Breaker
from portable_fn.runtime.state import State, locator_env
from portable_fn.runtime.state_sqlite import SqliteBackend

from ..breaker_contract import BreakerContract, Clock, fail, instance, store_of, succeed
from .handlers import breakers as handlers


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "pfn-breakers.sqlite3")


class TestBreakerOnSqlite(BreakerContract):
    """The shared-state rules on SQLite: each instance opens the same file through its own connection."""

    @pytest.fixture
    def connect(self, path: str) -> Callable[[], SqliteBackend]:
        return lambda: SqliteBackend(path)

    @pytest.fixture
    def unreachable(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> State:
        """A state file under a path that is a file, not a directory: SQLite cannot open it."""
        (tmp_path / "not-a-directory").write_text("", encoding="utf-8")
        monkeypatch.setenv(locator_env("pfn-breakers"), str(tmp_path / "not-a-directory" / "breakers.sqlite3"))
        return State("pfn-breakers", internal=True)


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
    guard = instance(store_of(SqliteBackend(path)), clock, failures=1)
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
