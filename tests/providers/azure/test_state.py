"""The Azure Table Storage state backend against the state backend contract, on Azurite's table service
(a real server on 127.0.0.1), the idempotency races and the circuit breaker's shared-state rules on it,
and the entities it writes as Table Storage limits them."""

from __future__ import annotations

import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.core.exceptions import ServiceResponseError
from azure.core.pipeline.policies import RetryPolicy
from azure.data.tables import TableServiceClient
from portable_fn_azure.state import (
    CONNECTION_ENV,
    ROW_KEY,
    TablesBackend,
    open_backend,
    partition_key,
)

from portable_fn.runtime.state import MAX_VALUE_BYTES, Record, State, StateError, new_version

from ...breaker_contract import BreakerContract, closed_port, store_of
from ...state_contract import AWKWARD_KEYS, BackendContract, IdempotencyContract
from .conftest import AZURITE_KEY

FORBIDDEN_IN_TABLE_KEYS = set("/\\#?") | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}
ENDPOINT = "https://devstoreaccount1.table.core.windows.net"  # as deploy writes the locator


def opened(connection: str, table: str, monkeypatch: pytest.MonkeyPatch) -> TablesBackend:
    """The table as a function opens it: deploy's locator, with `connection` in PORTABLE_FN_TABLES_CONNECTION."""
    monkeypatch.setenv(CONNECTION_ENV, connection)
    return open_backend(table, f"{ENDPOINT}/{table}")


def on_port(port: int) -> str:
    """A connection string of Azurite's account with its table endpoint at `port` on 127.0.0.1."""
    account = f"AccountName=devstoreaccount1;AccountKey={AZURITE_KEY}"
    return f"DefaultEndpointsProtocol=http;{account};TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"


@pytest.fixture(scope="module")
def tables(azurite: str) -> Any:
    return TableServiceClient.from_connection_string(azurite)


@pytest.fixture
def backend(azurite: str, tables: Any, monkeypatch: pytest.MonkeyPatch) -> TablesBackend:
    """A fresh table of its own (table names: letters and digits, starting with a letter), opened as a
    function opens it, so the contracts' races run on Azurite through the bounded client."""
    name = f"t{uuid.uuid4().hex}"
    tables.create_table(name)
    return opened(azurite, name, monkeypatch)


class TestTablesOnAzurite(BackendContract):
    pass


class TestIdempotencyOnAzurite(IdempotencyContract):
    """The idempotency races (50 concurrent duplicates, a lease taken over, a late writer) on Azurite's tables."""


class TestBreakerOnAzurite(BreakerContract):
    """The breaker's shared-state rules on Azurite's tables."""

    @pytest.fixture
    def connect(
        self, azurite: str, backend: TablesBackend, monkeypatch: pytest.MonkeyPatch
    ) -> Callable[[], TablesBackend]:
        """Each instance's own client of the fresh table, opened as a function opens it."""
        table = backend.client.table_name
        return lambda: opened(azurite, table, monkeypatch)

    @pytest.fixture
    def unreachable(self, monkeypatch: pytest.MonkeyPatch) -> State:
        """The breakers' table as a function opens it, with the table endpoint moved to a closed port."""
        return store_of(opened(on_port(closed_port()), "breakers", monkeypatch))


@pytest.fixture
def dropping() -> Iterator[tuple[int, list[str]]]:
    """A port on 127.0.0.1 whose server closes every connection unanswered, and what it saw (one line each)."""
    seen: list[str] = []

    class Drop(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            seen.append(self.request.recv(65536).decode("latin-1").partition("\r\n")[0])

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Drop) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.server_address[1], seen
        server.shutdown()
        thread.join()


def test_a_function_s_client_sends_a_call_twice_to_a_store_that_drops_it(
    dropping: tuple[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that takes the connection and drops it unanswered gets the call twice (one read retry), not
    the SDK's four times over 4.8 s; the client waits at most 1 s to connect and 10 s for an answer."""
    port, seen = dropping
    client = opened(on_port(port), "orders", monkeypatch).client
    transports: list[Any] = []
    with pytest.raises(ServiceResponseError):
        client.get_entity("p", ROW_KEY, raw_request_hook=lambda request: transports.append(request.context.transport))
    assert seen == ["GET /devstoreaccount1/orders(PartitionKey='p',RowKey='item') HTTP/1.1"] * 2
    waits = transports[0].connection_config
    assert (waits.timeout, waits.read_timeout) == (1.0, 10.0)


@pytest.mark.parametrize("connection", [True, False], ids=["connection string", "managed identity"])
def test_a_function_s_client_retries_a_refused_connection_once(
    connection: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused connection is retried once, at once, on both ways a function reaches its table, not three
    times with 1.6 s and 3.2 s between; three retries in all. azure-data-tables keeps a client's policies in
    `_policies` (no public accessor); the counts are azure-core's `RetryPolicy` attributes."""
    if connection:
        client = opened(on_port(closed_port()), "orders", monkeypatch).client
    else:
        monkeypatch.delenv(CONNECTION_ENV, raising=False)
        client = open_backend("orders", f"{ENDPOINT}/orders").client
    (retry,) = [policy for policy in client._policies if isinstance(policy, RetryPolicy)]
    assert (retry.total_retries, retry.connect_retries, retry.read_retries) == (3, 1, 1)


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
