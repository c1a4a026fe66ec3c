"""The SQLite backend (local provider) against the state backend contract, in a file and in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from portable_fn.runtime.state_sqlite import SqliteBackend

from ..state_contract import BackendContract, IdempotencyContract


class TestSqliteFile(BackendContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> SqliteBackend:
        return SqliteBackend(str(tmp_path / "orders.sqlite3"))


class TestSqliteMemory(BackendContract):
    @pytest.fixture
    def backend(self) -> SqliteBackend:
        return SqliteBackend(":memory:")


class TestSqliteIdempotency(IdempotencyContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> SqliteBackend:
        return SqliteBackend(str(tmp_path / "pfn-idempotency.sqlite3"))
