"""The Azure state backend: one Azure Table Storage table per state, through azure-data-tables.

Deploy makes the table in the app's storage account and sets `PORTABLE_FN_STATE_<NAME>` to its URL,
`https://<account>.table.core.windows.net/<table>`. A function reaches it with its own managed identity (the
custom state reader or writer role on the table, granted to the functions that declare the state: see
`identity`), or, when `PORTABLE_FN_TABLES_CONNECTION` holds a
storage connection string (deploy with `storage_auth = "connection_string"`, or Azurite), with that; the
locator then names only the table.

An entity per key. Table keys refuse '/', '\\', '#', '?' and control characters and stop at 1 KiB, so
PartitionKey is the SHA-256 of the key (one partition per key, as a key-value store wants) and the key
itself is kept in the `key` property. A string property holds at most 64 KiB (32 Ki UTF-16 units), so the
value is split over `value0`..`valueN` (`chunks` says how many). `version` is the record's own version
(the portable token); conditional writes are made on the entity's ETag after reading that version, so
nothing written between the read and the write is overwritten (Table Storage refuses with 412).

Every client is built with `CLIENT_BOUNDS`, so a store that cannot be reached fails a call at once instead
of after azure-core's defaults (300 s connect and read timeouts; three connection retries waiting 0, 1.6 and
3.2 s, 4.8 s per call on a refused connection), which a circuit breaker would pay on every guarded call
while its store is down. Microsoft documents these keywords (azure-core's `RetryPolicy` and
`ConnectionConfiguration`, which TableClient takes) as: `retry_connect` counts errors "raised before the
request is sent to the remote server"; `retry_read` errors raised after, when "the request may have
side-effects"; `retry_total` caps every kind; the first retry is immediate ("most errors are resolved
immediately by a second try without a delay"), later ones wait 0.8 s x 2^n. So:

- one connection retry: a refused connection fails the call in milliseconds; a SYN or TLS handshake lost
  once is made good by the immediate second attempt;
- a 1 s connect timeout (urllib3 counts the TLS handshake in it): a connect takes milliseconds in a region,
  a few hundred across regions, and on 127.0.0.1 the kernel completes it however busy Azurite is. A store
  that drops packets silently fails the call after 2 s;
- a 10 s read timeout (the longest wait for the next bytes of an answer), twice the 5 s the Table service
  lets a query run before it answers with a continuation; one read retry, for a kept-alive connection the
  server closed. A repeated write never overwrites: an upsert writes the same entity again, a conditional
  write carries its ETag (a repeat of one that had landed is refused and reads as a lost race), and
  azure-core never repeats an insert (POST);
- three retries in all: 503 Server Busy and 500 Operation Timeout keep the SDK's backoff (0, 1.6, 3.2 s),
  as Microsoft's scalability targets advise for a busy partition.

The managed identity's token comes through the credential's own client, which these bounds do not cover.

The SDK is imported on first use only: a function that uses no state never loads it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

from portable_fn.runtime.state import Record, StateError

from .identity import ClientPerIdentity, managed_identity

CONNECTION_ENV = "PORTABLE_FN_TABLES_CONNECTION"
ROW_KEY = "item"  # every entity is alone in its partition
CHUNK_CHARS = 16 * 1024  # at most 32 Ki UTF-16 units even if every character is outside the BMP
ATTEMPTS = 8  # rounds of read-then-conditional-write before a create or delete gives up
# azure-core's keywords bounding one call to a store that does not answer (see the module docstring)
CLIENT_BOUNDS: dict[str, Any] = {
    "connection_timeout": 1.0,
    "read_timeout": 10.0,
    "retry_total": 3,
    "retry_connect": 1,
    "retry_read": 1,
}


class TablesBackend:
    """A state in one table: `client`, an `azure.data.tables.TableClient`, or, made by `identity_client` on
    first use, one per identity (the running function's own, `identity.client_id`), so a function never calls
    with a client another function's identity signed."""

    def __init__(self, client: Any = None, identity_client: Callable[[str | None], Any] | None = None) -> None:
        self._clients = ClientPerIdentity(client, identity_client)

    @property
    def client(self) -> Any:
        return self._clients.current

    def read(self, key: str) -> Record | None:
        found = self._entity(key)
        return None if found is None else to_record(found)

    def write(self, record: Record) -> None:
        from azure.data.tables import UpdateMode

        self.client.upsert_entity(to_entity(record), mode=UpdateMode.REPLACE)

    def create(self, record: Record, now: float) -> bool:
        from azure.core.exceptions import ResourceExistsError

        for _ in range(ATTEMPTS):
            try:
                self.client.create_entity(to_entity(record))
                return True
            except ResourceExistsError:
                pass
            found = self._entity(record.key)
            if found is None:
                continue  # deleted since: create again
            if not to_record(found).expired(now):
                return False
            return self._replace_at(found, record)
        raise StateError(f"state table {self.client.table_name}: key {record.key!r} kept changing; try again.")

    def replace(self, record: Record, version: str) -> bool:
        found = self._entity(record.key)
        if found is None or found.get("version") != version:
            return False
        return self._replace_at(found, record)

    def delete(self, key: str, version: str | None = None) -> bool:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError

        for _ in range(ATTEMPTS):
            found = self._entity(key)
            if found is None or (version is not None and found.get("version") != version):
                return False
            try:
                self.client.delete_entity(
                    partition_key=found["PartitionKey"],
                    row_key=ROW_KEY,
                    etag=found.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                return True
            except ResourceModifiedError:
                if version is not None:
                    return False  # another version now: not the one asked to delete
        raise StateError(f"state table {self.client.table_name}: key {key!r} kept changing; try again.")

    def scan(self, prefix: str, limit: int) -> list[Record]:
        """Up to `limit` records whose key starts with `prefix`, in key order (expired ones included: the
        caller decides). PartitionKey is a hash, so the range is asked on the `key` property: Table Storage
        filters the table's entities server side and answers the matches."""
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None
        query, parameters = "key ge @low", {"low": prefix}
        if upper is not None:
            query, parameters = query + " and key lt @high", {**parameters, "high": upper}
        found = [to_record(e) for e in self.client.query_entities(query, parameters=parameters)]
        return sorted((r for r in found if r.key.startswith(prefix)), key=lambda r: r.key)[: max(limit, 0)]

    def _entity(self, key: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            found = self.client.get_entity(partition_key=partition_key(key), row_key=ROW_KEY)
        except ResourceNotFoundError:
            return None
        return found if found.get("key") == key else None

    def _replace_at(self, found: Any, record: Record) -> bool:
        """Replace `found` with `record` only if it is unchanged since read (its ETag); False when not."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        try:
            self.client.update_entity(
                to_entity(record),
                mode=UpdateMode.REPLACE,
                etag=found.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True


def partition_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def to_entity(record: Record) -> dict[str, Any]:
    value = record.value
    chunks = [value[i : i + CHUNK_CHARS] for i in range(0, len(value), CHUNK_CHARS)] or [""]
    entity: dict[str, Any] = {
        "PartitionKey": partition_key(record.key),
        "RowKey": ROW_KEY,
        "key": record.key,
        "version": record.version,
        "chunks": len(chunks),
        **{f"value{i}": chunk for i, chunk in enumerate(chunks)},
    }
    if record.expires_at is not None:
        entity["expires_at"] = float(record.expires_at)
    return entity


def to_record(entity: Any) -> Record:
    value = "".join(entity[f"value{i}"] for i in range(int(entity["chunks"])))
    expires_at = entity.get("expires_at")
    return Record(entity["key"], value, entity["version"], None if expires_at is None else float(expires_at))


def split_locator(locator: str) -> tuple[str, str]:
    """`https://<account>.table.core.windows.net/<table>` -> (endpoint, table)."""
    endpoint, _, table = locator.rstrip("/").rpartition("/")
    if not endpoint or not table:
        raise StateError(
            f"the state locator {locator!r} is not <table endpoint>/<table>; deploy sets it: run `portable-fn "
            "deploy` again."
        )
    return endpoint, table


def open_backend(name: str, locator: str) -> TablesBackend:
    """The table of state `name` at `locator`, reached with `PORTABLE_FN_TABLES_CONNECTION` when set, else
    with the running function's managed identity (the app's system-assigned one when it has none)."""
    from azure.data.tables import TableClient

    endpoint, table = split_locator(locator)
    connection = os.environ.get(CONNECTION_ENV)
    if connection:
        return TablesBackend(TableClient.from_connection_string(connection, table_name=table, **CLIENT_BOUNDS))

    def identity_client(who: str | None) -> Any:
        return TableClient(endpoint, table, credential=managed_identity(who), **CLIENT_BOUNDS)

    return TablesBackend(identity_client=identity_client)
