"""The local state backend: one SQLite file per state (standard library), for `dev` and tests.

The file is `<PORTABLE_FN_STATE_DIR>/<name>.sqlite3` (the local host points that at its state directory),
or the path `PORTABLE_FN_STATE_<NAME>` names; `:memory:` keeps a state in this process only. Conditional
writes run in an immediate transaction, so they hold between the threads of one process and between the
processes sharing the file.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from .state import Record

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS items "
    "(key TEXT PRIMARY KEY, value TEXT NOT NULL, version TEXT NOT NULL, expires_at REAL)"
)
DEFAULT_DIR = ".portable-fn/state"


class SqliteBackend:
    """A state in one SQLite database (one connection per thread)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._memory: sqlite3.Connection | None = None
        self._memory_lock = threading.Lock()
        if path == ":memory:":  # one connection shared by the threads of this process, behind a lock
            self._memory = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._memory.execute(_SCHEMA)
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._connection().execute(_SCHEMA)

    def read(self, key: str) -> Record | None:
        with self._lock():
            row = (
                self._connection()
                .execute("SELECT key, value, version, expires_at FROM items WHERE key = ?", (key,))
                .fetchone()
            )
        return None if row is None else Record(*row)

    def write(self, record: Record) -> None:
        with self._lock():
            self._connection().execute(
                "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?)",
                (record.key, record.value, record.version, record.expires_at),
            )

    def create(self, record: Record, now: float) -> bool:
        with self._transaction() as db:
            row = db.execute("SELECT expires_at FROM items WHERE key = ?", (record.key,)).fetchone()
            if row is not None and (row[0] is None or row[0] > now):
                return False
            db.execute(
                "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?)",
                (record.key, record.value, record.version, record.expires_at),
            )
            return True

    def replace(self, record: Record, version: str) -> bool:
        with self._lock():
            changed = (
                self._connection()
                .execute(
                    "UPDATE items SET value = ?, version = ?, expires_at = ? WHERE key = ? AND version = ?",
                    (record.value, record.version, record.expires_at, record.key, version),
                )
                .rowcount
            )
        return bool(changed)

    def delete(self, key: str, version: str | None = None) -> bool:
        with self._lock():
            if version is None:
                deleted = self._connection().execute("DELETE FROM items WHERE key = ?", (key,)).rowcount
            else:
                deleted = (
                    self._connection()
                    .execute("DELETE FROM items WHERE key = ? AND version = ?", (key, version))
                    .rowcount
                )
        return bool(deleted)

    def scan(self, prefix: str, limit: int = 100) -> list[Record]:
        """Up to `limit` records whose key starts with `prefix`, by key (listing, not a hot path)."""
        with self._lock():
            rows = (
                self._connection()
                .execute(
                    "SELECT key, value, version, expires_at FROM items "
                    "WHERE substr(key, 1, ?) = ? ORDER BY key LIMIT ?",
                    (len(prefix), prefix, limit),
                )
                .fetchall()
            )
        return [Record(*row) for row in rows]

    # -- connections -------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._memory is not None:
            return self._memory
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            self._local.connection = connection
        return connection

    def _lock(self) -> _Guard:
        return _Guard(self._memory_lock if self._memory is not None else None)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._connection(), self._lock())


class _Guard:
    """The in-memory database's lock (a file database needs none: SQLite locks the file)."""

    def __init__(self, lock: threading.Lock | None) -> None:
        self.lock = lock

    def __enter__(self) -> None:
        if self.lock is not None:
            self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        if self.lock is not None:
            self.lock.release()


class _Transaction:
    """`BEGIN IMMEDIATE` ... `COMMIT` (or `ROLLBACK` on error): a read and a write no other writer splits."""

    def __init__(self, connection: sqlite3.Connection, guard: _Guard) -> None:
        self.connection = connection
        self.guard = guard

    def __enter__(self) -> sqlite3.Connection:
        self.guard.__enter__()
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            self.connection.execute("ROLLBACK" if kind is not None else "COMMIT")
        finally:
            self.guard.__exit__()


def open_backend(name: str, locator: str | None) -> SqliteBackend:
    """The SQLite file for state `name`: `locator` when given, else `<PORTABLE_FN_STATE_DIR>/<name>.sqlite3`."""
    if locator:
        return SqliteBackend(locator)
    directory = os.environ.get("PORTABLE_FN_STATE_DIR") or DEFAULT_DIR
    return SqliteBackend(str(Path(directory) / f"{name}.sqlite3"))
