"""`State.cached`: a warm instance answers a hot key from memory; the store is read on a miss, written
once when the value had to be loaded. A counting Backend around SQLite counts the store calls."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from portable_fn import State, StateError, state
from portable_fn.runtime.state import CACHE_KEYS, Record
from portable_fn.runtime.state_sqlite import SqliteBackend


class CountingBackend:
    """A Backend that counts the calls it passes on to the one it wraps."""

    def __init__(self, inner: SqliteBackend) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def read(self, key: str) -> Record | None:
        self.calls["read"] += 1
        return self.inner.read(key)

    def write(self, record: Record) -> None:
        self.calls["write"] += 1
        self.inner.write(record)

    def create(self, record: Record, now: float) -> bool:
        self.calls["create"] += 1
        return self.inner.create(record, now)

    def replace(self, record: Record, version: str) -> bool:
        self.calls["replace"] += 1
        return self.inner.replace(record, version)

    def delete(self, key: str, version: str | None = None) -> bool:
        self.calls["delete"] += 1
        return self.inner.delete(key, version)


class Loader:
    def __init__(self, value: Any) -> None:
        self.value = value
        self.loads = 0

    def __call__(self) -> Any:
        self.loads += 1
        return self.value


@pytest.fixture
def prices() -> tuple[State, CountingBackend]:
    store = state("prices")
    counting = CountingBackend(SqliteBackend(":memory:"))
    store.backend = counting
    return store, counting


def test_a_fresh_local_hit_makes_no_store_call(prices: tuple[State, CountingBackend]) -> None:
    store, backend = prices
    load = Loader({"eur": 12})
    assert store.cached("sku-1", 60, load) == {"eur": 12}
    assert (backend.calls, load.loads) == (Counter(read=1, write=1), 1)  # a miss: read, load, put
    for _ in range(5):
        assert store.cached("sku-1", 60, load) == {"eur": 12}
    assert (backend.calls, load.loads) == (Counter(read=1, write=1), 1)


def test_a_value_in_the_store_is_read_once_and_not_loaded(prices: tuple[State, CountingBackend]) -> None:
    store, backend = prices
    store.put("sku-2", {"eur": 3})
    load = Loader({"eur": 99})
    assert store.cached("sku-2", 60, load) == store.cached("sku-2", 60, load) == {"eur": 3}
    assert (backend.calls["read"], load.loads) == (1, 0)


def test_a_stale_value_is_read_again(prices: tuple[State, CountingBackend]) -> None:
    store, backend = prices
    load = Loader("v1")
    store.cached("sku-3", 0.01, load)
    time.sleep(0.02)  # past the ttl here and in the store: the next call must go to the store
    load.value = "v2"
    assert store.cached("sku-3", 60, load) == "v2"
    assert (backend.calls["read"], load.loads) == (2, 2)


def test_this_instances_own_writes_drop_the_cached_value(prices: tuple[State, CountingBackend]) -> None:
    store, _ = prices
    store.cached("sku-4", 60, Loader("old"))
    store.put("sku-4", "new")
    assert store.cached("sku-4", 60, Loader("unused")) == "new"
    store.delete("sku-4")
    assert store.cached("sku-4", 60, Loader("loaded")) == "loaded"


def test_the_cache_keeps_the_most_recently_used_keys(prices: tuple[State, CountingBackend]) -> None:
    store, backend = prices
    for i in range(CACHE_KEYS):
        store.cached(f"k{i}", 60, Loader(i))
    store.cached("k0", 60, Loader("unused"))  # k0 used again: k1 is now the least recently used
    store.cached("one-more", 60, Loader("x"))
    reads = backend.calls["read"]
    assert store.cached("k0", 60, Loader("unused")) == 0 and backend.calls["read"] == reads
    assert store.cached("k1", 60, Loader("unused")) == 1 and backend.calls["read"] == reads + 1


def test_cached_needs_a_ttl(prices: tuple[State, CountingBackend]) -> None:
    store, _ = prices
    with pytest.raises(StateError, match="needs ttl="):
        store.cached("k", None, Loader(1))  # type: ignore[arg-type]


def test_another_store_starts_with_an_empty_cache(prices: tuple[State, CountingBackend]) -> None:
    store, _ = prices
    store.cached("sku-5", 60, Loader("from the first store"))
    store.backend = CountingBackend(SqliteBackend(":memory:"))  # as portable_fn.testing.local_state does
    assert store.cached("sku-5", 60, Loader("from the second")) == "from the second"
