"""The contract every state backend keeps (`portable_fn.runtime.state.Backend`), written once and run
against each: SQLite here, DynamoDB on moto, Firestore on its emulator, Azure Tables on Azurite.

A test module subclasses `BackendContract` (and `IdempotencyContract`) and gives it a `backend` fixture:
a fresh, empty store.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from portable_fn.runtime import (
    ACK,
    RETRY,
    CloudEvent,
    Context,
    FunctionSpec,
    Result,
    function,
    pipeline,
    queue,
    spec_of,
)
from portable_fn.runtime.idempotency import STORE
from portable_fn.runtime.state import MAX_KEY_CHARS, Backend, Record, create_or_read, new_version

# Keys a backend must keep as they are, whatever its store forbids in its own keys.
AWKWARD_KEYS = [
    "plain",
    "with space",
    "slash/inside/",
    "back\\slash",
    "hash#and?query",
    "per%cent+plus",
    "unicodé-ключ-鍵-🙂",
    ".",
    "..",
    "__reserved__",
    "tab\tnew\nline",
    "x" * MAX_KEY_CHARS,
]


def record(key: str, value: str = '{"n":1}', expires_at: float | None = None) -> Record:
    return Record(key, value, new_version(), expires_at)


def race(workers: int, attempt: Callable[[int], bool]) -> list[bool]:
    """Run `attempt(i)` on `workers` threads released together; what each returned."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers

    def run(i: int) -> None:
        barrier.wait()
        results[i] = attempt(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class BackendContract:
    """Subclass with a `backend` fixture returning a fresh, empty `Backend`."""

    def test_absent_key_reads_none(self, backend: Backend) -> None:
        assert backend.read("nothing-here") is None

    def test_write_then_read_keeps_every_field(self, backend: Backend) -> None:
        written = record("k1", '{"a":[1,2,{"b":"ü"}]}', expires_at=time.time() + 3600.25)
        backend.write(written)
        found = backend.read("k1")
        assert found is not None
        assert (found.key, found.value, found.version) == (written.key, written.value, written.version)
        assert found.expires_at is not None and abs(found.expires_at - written.expires_at) < 0.01  # type: ignore[operator]

    def test_awkward_keys_round_trip_and_stay_distinct(self, backend: Backend) -> None:
        for i, key in enumerate(AWKWARD_KEYS):
            backend.write(record(key, str(i)))
        for i, key in enumerate(AWKWARD_KEYS):
            found = backend.read(key)
            assert found is not None and found.key == key and found.value == str(i), key

    def test_large_value_round_trips(self, backend: Backend) -> None:
        value = '"' + "v" * (256 * 1024 - 2) + '"'
        backend.write(record("big", value))
        found = backend.read("big")
        assert found is not None and found.value == value

    def test_write_overwrites(self, backend: Backend) -> None:
        backend.write(record("k", "1"))
        second = record("k", "2")
        backend.write(second)
        assert backend.read("k") == second

    def test_create_only_when_absent(self, backend: Backend) -> None:
        first = record("k", "1")
        assert backend.create(first, time.time()) is True
        assert backend.create(record("k", "2"), time.time()) is False
        assert backend.read("k") == first

    def test_create_replaces_an_expired_record(self, backend: Backend) -> None:
        backend.write(record("k", "old", expires_at=time.time() - 5))
        fresh = record("k", "new")
        assert backend.create(fresh, time.time()) is True
        assert backend.read("k") == fresh

    def test_create_keeps_a_record_not_yet_expired(self, backend: Backend) -> None:
        kept = record("k", "kept", expires_at=time.time() + 600)
        backend.write(kept)
        assert backend.create(record("k", "new"), time.time()) is False
        assert backend.read("k") == kept

    def test_a_lost_create_hands_back_the_record_it_lost_to(self, backend: Backend) -> None:
        kept = record("k", "kept", expires_at=time.time() + 600)
        assert create_or_read(backend, kept, time.time()) == (True, None)
        assert create_or_read(backend, record("k", "new"), time.time()) == (False, kept)
        assert backend.read("k") == kept
        backend.write(record("old", "old", expires_at=time.time() - 5))
        fresh = record("old", "fresh")
        assert create_or_read(backend, fresh, time.time()) == (True, None)
        assert backend.read("old") == fresh

    def test_replace_only_at_the_version_read(self, backend: Backend) -> None:
        first = record("k", "1")
        backend.write(first)
        second = record("k", "2")
        assert backend.replace(second, first.version) is True
        assert backend.replace(record("k", "3"), first.version) is False
        assert backend.read("k") == second

    def test_replace_of_an_absent_key_fails(self, backend: Backend) -> None:
        assert backend.replace(record("ghost", "1"), new_version()) is False
        assert backend.read("ghost") is None

    def test_delete(self, backend: Backend) -> None:
        kept = record("k", "1")
        backend.write(kept)
        assert backend.delete("k", new_version()) is False
        assert backend.read("k") == kept
        assert backend.delete("k", kept.version) is True
        assert backend.read("k") is None
        assert backend.delete("k") is False
        backend.write(record("k", "2"))
        assert backend.delete("k") is True

    def test_one_of_many_concurrent_creates_wins(self, backend: Backend) -> None:
        won = race(12, lambda i: backend.create(record("contended", str(i)), time.time()))
        assert won.count(True) == 1
        found = backend.read("contended")
        assert found is not None and found.value == str(won.index(True))

    def test_one_of_many_concurrent_replaces_wins(self, backend: Backend) -> None:
        base = record("contended", "base")
        backend.write(base)
        won = race(12, lambda i: backend.replace(record("contended", str(i)), base.version))
        assert won.count(True) == 1
        found = backend.read("contended")
        assert found is not None and found.value == str(won.index(True))


class IdempotencyContract:
    """The races of idempotency (issue 14), through the real pipeline, against one store. Subclass with a
    `backend` fixture returning a fresh, empty `Backend`: it serves as the `pfn-idempotency` store.

    These are the races Powertools' Redis layer lost (PT-Py #8386, PT-TS #5714): duplicates that arrive
    together, a lease that ends while its call still runs, and that call's completion arriving last."""

    @pytest.fixture(autouse=True)
    def _idempotency_store(self, backend: Backend) -> Iterator[Backend]:
        previous, STORE.backend = STORE._backend, backend
        yield backend
        STORE.backend = previous

    def test_fifty_concurrent_duplicates_run_the_handler_once(self) -> None:
        ran = Counter()

        def charge(event: CloudEvent[dict]) -> dict:  # type: ignore[type-arg]
            ran.add()
            return {"charged": event.data["amount"]}

        spec = _idempotent(charge)
        event = _event("pay-1", {"amount": 42})
        results = race(50, lambda i: pipeline.call_event(spec, event))
        assert ran.count == 1
        assert all(r.outcome in (ACK, RETRY) for r in results), [r.reason for r in results]
        acked = [r for r in results if r.outcome == ACK]
        assert acked and all(r.value == {"charged": 42} for r in acked)
        assert all(r.reason.startswith("in progress elsewhere") for r in results if r.outcome == RETRY)
        assert pipeline.call_event(spec, event).value == {"charged": 42}  # replayed afterwards
        assert ran.count == 1

    def test_an_expired_lease_is_taken_over_by_exactly_one_of_many_retries(self) -> None:
        ran = Counter()
        retries: list[Result] = []

        def charge(event: CloudEvent[dict]) -> str:  # type: ignore[type-arg]
            if ran.add() == 1:  # the first call overran its deadline: its retries arrive while it runs
                retries.extend(race(12, lambda i: pipeline.call_event(spec, event)))
                return "late"
            return "taker"

        spec = _idempotent(charge)
        event = _event("pay-2", {"amount": 7})
        first = pipeline.call_event(spec, event, Context(function_name="charge", deadline=time.time() - 1))
        assert first.outcome == ACK and first.value == "late"  # it ran; its answer goes to its own caller
        assert ran.count == 2  # the first call and exactly one taker
        assert all(r.outcome in (ACK, RETRY) for r in retries), [r.reason for r in retries]
        assert all(r.value == "taker" for r in retries if r.outcome == ACK)

    def test_a_late_writer_never_overwrites_the_takers_result(self) -> None:
        ran = Counter()

        def charge(event: CloudEvent[dict]) -> str:  # type: ignore[type-arg]
            if ran.add() == 1:
                taken = pipeline.call_event(spec, event)  # a retry after our lease ended takes over, completes
                assert taken.outcome == ACK and taken.value == "taker"
                return "late"
            return "taker"

        spec = _idempotent(charge)
        event = _event("pay-3", {"amount": 9})
        assert pipeline.call_event(spec, event, Context(function_name="charge", deadline=time.time() - 1)).ok
        duplicate = pipeline.call_event(spec, event)
        assert (duplicate.outcome, duplicate.value) == (ACK, "taker")
        assert ran.count == 2


class Counter:
    """A thread-safe count of handler runs; `add` returns the new count."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def add(self) -> int:
        with self._lock:
            self.count += 1
            return self.count


def _idempotent(handler: Callable[..., Any]) -> FunctionSpec:
    spec = spec_of(function(trigger=queue("payments"), idempotent=True)(handler))
    assert spec is not None
    return spec


def _event(event_id: str, data: dict[str, Any]) -> CloudEvent[Any]:
    return CloudEvent(
        id=f"{event_id}-{uuid.uuid4().hex}", source="/contract/payments", type="payment.requested", data=data
    )
