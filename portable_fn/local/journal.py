"""The local host's durable state: every accepted message until it is settled, and the dead letters.

One SQLite database in WAL mode, `<state_dir>/journal.sqlite3`, so `portable-fn dev` can be killed at
any moment and pick up where it was: a message is committed here before its 202 is answered and
removed only when it is settled (acked, or moved to the dead letters in the same transaction).

    messages      seq (the order they were accepted), function (whose inbox), event (the CloudEvent in
                  the JSON event format), attempt (the delivery it waits for, or is in), ready_at
                  (wall-clock seconds, `time.time()`, when it may be delivered), published
    dead_letters  seq, entry (what `GET /_local/dead-letters` lists, as JSON; a redrive moves an entry's
                  event back to `messages`, in one transaction)

`synchronous=NORMAL`: a commit survives the host process dying (the journal is written, not fsynced
for each message); a power cut or an OS crash may lose the last transactions.
One connection serves every thread, one at a time; `transaction()` nests, so a dead letter and the
copy forwarded to its target queue commit with the removal of the message.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runtime.cloudevent import CloudEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    function TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    ready_at REAL NOT NULL,
    published TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_function ON messages (function, seq);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entry TEXT NOT NULL
);
"""
COLUMNS = "seq, event, attempt, ready_at, published"


@dataclass(frozen=True)
class Pending:
    """One message waiting for (re)delivery, as the journal holds it."""

    seq: int
    event: CloudEvent[Any]
    attempt: int
    ready_at: float
    published: str | None


class Journal:
    """The messages and dead letters of one state directory (opened by `open`, at host start)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._depth = 0  # transactions open on this connection (nested ones join the outermost)

    def open(self) -> Journal:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        self._db = db
        return self

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Journal:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Everything written inside commits together (or not at all); nested calls join the outer one."""
        with self._lock:
            db = self._connection()
            outer = self._depth == 0
            if outer:
                db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield db
            except BaseException:
                self._depth -= 1
                if outer:
                    db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                db.execute("COMMIT")

    # -- messages -------------------------------------------------------------------------------

    def add(
        self, function: str, events: Iterable[CloudEvent[Any]], published: str | None, ready_at: float = 0.0
    ) -> None:
        """Accept messages for `function`: first attempt, ready at `ready_at` (wall-clock; 0: now)."""
        rows = [(function, e.to_json(), 1, ready_at, published) for e in events]
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO messages (function, event, attempt, ready_at, published) VALUES (?, ?, ?, ?, ?)", rows
            )

    def ready(self, function: str, now: float, limit: int, ordered: bool) -> list[Pending]:
        """Up to `limit` messages of `function` ready at `now`, oldest first; `ordered` takes only from
        the head, so a message waiting for a retry holds back the ones behind it."""
        if ordered:
            head = self._select("WHERE function = ? ORDER BY seq LIMIT ?", function, limit)
            return list(itertools.takewhile(lambda p: p.ready_at <= now, head))
        return self._select("WHERE function = ? AND ready_at <= ? ORDER BY seq LIMIT ?", function, now, limit)

    def next_ready_at(self, function: str, ordered: bool) -> float | None:
        """When the next message of `function` becomes ready (None: it has none)."""
        query = (
            "SELECT ready_at FROM messages WHERE function = ? ORDER BY seq LIMIT 1"
            if ordered
            else "SELECT MIN(ready_at) FROM messages WHERE function = ?"
        )
        with self._lock:
            row = self._connection().execute(query, (function,)).fetchone()
        return None if row is None else row[0]

    def pending(self, function: str) -> list[Pending]:
        """Every message `function` has not settled yet, in order."""
        return self._select("WHERE function = ? ORDER BY seq", function)

    def counts(self) -> dict[str, int]:
        """Function -> how many messages it has not settled."""
        with self._lock:
            rows = self._connection().execute("SELECT function, COUNT(*) FROM messages GROUP BY function")
            return dict(rows.fetchall())

    def retry(self, seq: int, attempt: int, ready_at: float) -> None:
        with self.transaction() as db:
            db.execute("UPDATE messages SET attempt = ?, ready_at = ? WHERE seq = ?", (attempt, ready_at, seq))

    def remove(self, seq: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM messages WHERE seq = ?", (seq,))

    # -- dead letters ---------------------------------------------------------------------------

    def add_dead_letter(self, entry: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO dead_letters (entry) VALUES (?)", (json.dumps(entry, ensure_ascii=False, default=str),)
            )

    def dead_letters(self, function: str | None = None) -> list[dict[str, Any]]:
        """The dead letters, oldest first (only `function`'s when given)."""
        with self._lock:
            rows = self._connection().execute("SELECT entry FROM dead_letters ORDER BY seq").fetchall()
        entries = [json.loads(entry) for (entry,) in rows]
        return [e for e in entries if function is None or e.get("function") == function]

    def take_dead_letters(self, function: str) -> list[dict[str, Any]]:
        """Remove `function`'s dead letters and return them, oldest first (inside the caller's transaction,
        so they are gone only if what is done with them commits too)."""
        with self.transaction() as db:
            rows = db.execute("SELECT seq, entry FROM dead_letters ORDER BY seq").fetchall()
            taken = [(seq, json.loads(entry)) for seq, entry in rows]
            taken = [(seq, entry) for seq, entry in taken if entry.get("function") == function]
            db.executemany("DELETE FROM dead_letters WHERE seq = ?", [(seq,) for seq, _ in taken])
        return [entry for _, entry in taken]

    # -- helpers --------------------------------------------------------------------------------

    def _select(self, where: str, *params: Any) -> list[Pending]:
        with self._lock:
            rows = self._connection().execute(f"SELECT {COLUMNS} FROM messages {where}", params).fetchall()
        return [
            Pending(seq, CloudEvent.from_json(event), attempt, ready_at, published)
            for seq, event, attempt, ready_at, published in rows
        ]

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError(f"the journal {self.path} is not open: start the host first")
        return self._db
