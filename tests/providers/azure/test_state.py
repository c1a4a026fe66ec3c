"""The Azure Table Storage state backend against the state backend contract, on Azurite's table service
(a real server on 127.0.0.1), the idempotency races and the circuit breaker's shared-state rules on it,
and the entities it writes as Table Storage limits them."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from azure.data.tables import TableClient, TableServiceClient
from portable_fn_azure.state import CONNECTION_ENV, ROW_KEY, TablesBackend, open_backend, partition_key

from portable_fn.runtime.state import MAX_VALUE_BYTES, Record, State, StateError, new_version

from ...breaker_contract import BreakerContract, closed_port, store_of
from ...state_contract import AWKWARD_KEYS, BackendContract, IdempotencyContract

FORBIDDEN_IN_TABLE_KEYS = set("/\\#?") | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}


@pytest.fixture(scope="module")
def tables(azurite: str) -> Any:
    return TableServiceClient.from_connection_string(azurite)


@pytest.fixture
def backend(tables: Any) -> TablesBackend:
    """A fresh table of its own (table names: letters and digits, starting with a letter)."""
    client = tables.create_table(f"t{uuid.uuid4().hex}")
    return TablesBackend(client)


class TestTablesOnAzurite(BackendContract):
    pass


class TestIdempotencyOnAzurite(IdempotencyContract):
    """The idempotency races (50 concurrent duplicates, a lease taken over, a late writer) on Azurite's tables."""


class TestBreakerOnAzurite(BreakerContract):
    """The breaker's shared-state rules on Azurite's tables."""

    @pytest.fixture
    def connect(self, azurite: str, backend: TablesBackend) -> Callable[[], TablesBackend]:
        """Each instance's own client of the fresh table, through the connection string."""
        table = backend.client.table_name
        return lambda: TablesBackend(TableClient.from_connection_string(azurite, table_name=table))

    @pytest.fixture
    def unreachable(self, azurite: str) -> State:
        """Azurite's connection string with the table endpoint moved to a closed port."""
        elsewhere = re.sub(r"(TableEndpoint=http://127\.0\.0\.1:)\d+", rf"\g<1>{closed_port()}", azurite)
        assert elsewhere != azurite
        return store_of(TablesBackend(TableClient.from_connection_string(elsewhere, table_name="breakers")))


def test_entities_keep_table_key_rules_and_property_limits(backend: TablesBackend) -> None:
    """Every PartitionKey and RowKey is free of what Table Storage forbids and under 1 KiB; every string
    property of a 256 KiB value is under 64 KiB (UTF-16), whatever the key."""
    big = '"' + "é🙂" * 43_690 + '"'  # 256 KiB of UTF-8, the most a state holds; twice that in UTF-16
    assert len(big.encode()) <= MAX_VALUE_BYTES
    for key in AWKWARD_KEYS:
        backend.write(Record(key, big, new_version()))
    for entity in backend.client.list_entities():
        for field in ("PartitionKey", "RowKey"):
            assert not set(entity[field]) & FORBIDDEN_IN_TABLE_KEYS
            assert len(entity[field].encode("utf-16-le")) <= 1024
        strings = [v for v in entity.values() if isinstance(v, str)]
        assert all(len(s.encode("utf-16-le")) <= 64 * 1024 for s in strings)
    assert backend.read(AWKWARD_KEYS[0]) == Record(AWKWARD_KEYS[0], big, backend.read(AWKWARD_KEYS[0]).version)  # type: ignore[union-attr]


def test_a_replace_loses_to_a_write_made_between_its_read_and_its_write(backend: TablesBackend) -> None:
    """The compare-and-set holds on the entity's ETag: a write landing after the version was checked (here
    between `_entity` and the update) makes the replace fail instead of being overwritten."""
    first = Record("k", "1", new_version())
    backend.write(first)
    read = backend._entity

    def read_then_someone_writes(key: str) -> Any:
        found = read(key)
        backend.client.upsert_entity({**dict(found), "value0": "theirs", "version": "theirs"})
        return found

    backend._entity = read_then_someone_writes  # type: ignore[method-assign]
    assert backend.replace(Record("k", "mine", new_version()), first.version) is False
    backend._entity = read  # type: ignore[method-assign]
    assert backend.read("k").value == "theirs"  # type: ignore[union-attr]


def test_expired_entity_is_taken_over_by_create(backend: TablesBackend) -> None:
    backend.write(Record("lease", "old", new_version(), expires_at=time.time() - 1))
    fresh = Record("lease", "new", new_version(), expires_at=time.time() + 60)
    assert backend.create(fresh, time.time()) is True
    assert backend.read("lease") == fresh


def test_open_backend_with_the_connection_setting(azurite: str, tables: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deploy's locator is `<table endpoint>/<table>`; with PORTABLE_FN_TABLES_CONNECTION set, the table is
    reached with that connection string."""
    name = f"t{uuid.uuid4().hex}"
    tables.create_table(name)
    monkeypatch.setenv(CONNECTION_ENV, azurite)
    opened = open_backend("orders", f"https://devstoreaccount1.table.core.windows.net/{name}")
    opened.write(Record("k", "1", "v1"))
    entity = tables.get_table_client(name).get_entity(partition_key("k"), ROW_KEY)
    assert (entity["key"], entity["value0"], entity["version"]) == ("k", "1", "v1")


def test_a_locator_without_a_table_is_refused() -> None:
    with pytest.raises(StateError, match="deploy"):
        open_backend("orders", "orders")


def test_scan_answers_the_keys_under_a_prefix_in_order_up_to_the_limit(backend: TablesBackend) -> None:
    """What `portable-fn workflows list` reads: keys starting with the prefix only (not `wf` alone, nor a key
    just past the range), in key order, cut at the limit; a value split over several properties whole."""
    big = '"' + "x" * (3 * 16 * 1024) + '"'
    for key in ("wf#b", "wf#a", "wf#c", "wf", "wf$", "wg#a", "awf#a"):
        backend.write(Record(key, big if key == "wf#a" else '"v"', new_version()))
    assert [r.key for r in backend.scan("wf#", 10)] == ["wf#a", "wf#b", "wf#c"]
    assert [r.key for r in backend.scan("wf#", 2)] == ["wf#a", "wf#b"]
    assert backend.scan("wf#", 1)[0].value == big
    assert backend.scan("none#", 10) == []
    assert len(backend.scan("", 100)) == 7
