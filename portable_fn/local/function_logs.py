"""What handlers log, shown in the dev log: one readable line per record, with the facts the clouds' JSON
lines carry (invocation id, event id, trace id, span id, attempt, cold start, `extra=` fields).

`ctx.logger` is `logging.getLogger("portable_fn.function.<name>")`. With no logging configured, Python
shows WARNING and up only (its last-resort handler), so `ctx.logger.info(...)` vanished under dev while
the clouds' log streams keep it. The dev host attaches this handler while it runs: on `ctx.logger`'s
parent, and, when the app configured no logging of its own, on the root logger too, so what the app's
own loggers write during a call shows as well (and WARNING and up from anywhere, as Python would show
it). The level is the clouds' (`LOG_LEVEL`, else INFO).

It also keeps each call's records, as the clouds' JSON lines with the stage added, in the state
directory's `function-logs.jsonl` (the previous 16 MiB in `function-logs.1.jsonl`), so `portable-fn logs
FUNCTION --usage` reads them back on the local provider as it reads a cloud's (`read_kept`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path
from typing import Any

from ..logread import LogEntry, LogsError, entry_from_fields
from ..runtime.cloudevent import parse_rfc3339
from ..runtime.log_format import JsonFormatter
from ..runtime.logs import current_facts, log_level

LOGGER = "portable_fn.function"
# Each logger the dev hosts of this process hold: (its level and propagate before the first, how many hold it).
_HELD: dict[str, tuple[int, bool, int]] = {}
_HOLDING = threading.Lock()
KEPT = "function-logs.jsonl"
KEPT_BEFORE = "function-logs.1.jsonl"
KEPT_MAX_BYTES = 16 * 1024 * 1024

# the facts shown after the message, under the names a reader knows them by, in this order
_FACTS = (
    ("invocation_id", "invocation"),
    ("event_id", "event"),
    ("trace_id", "trace"),
    ("span_id", "span"),
    ("attempt", "attempt"),
)
# what the line already shows, or is the same for every line of dev
_SHOWN = frozenset(
    (
        "time",
        "level",
        "message",
        "logger",
        "function",
        "provider",
        "cold_start",
        "exception",
        "stack",
        *(key for key, _ in _FACTS),
    )
)


class FunctionLogs(logging.Handler):
    """Writes log records to the dev log; `attach` while the host runs, `detach` after."""

    def __init__(
        self, log: Callable[[str], None], keep_in: Path | None = None, stage: str = "", max_bytes: int = KEPT_MAX_BYTES
    ) -> None:
        super().__init__()
        self._log = log
        self._fields = JsonFormatter("local")  # the facts, read as the clouds' formatter reads them
        self._saved: dict[str, tuple[int, bool]] = {}
        self._keep_in = keep_in
        self._stage = stage
        self._max_bytes = max_bytes
        self.addFilter(_shown_in_dev)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._log(self.line(record))
            self._keep(record)
        except Exception:
            self.handleError(record)

    def _keep(self, record: logging.LogRecord) -> None:
        """Append a call's record to the kept lines (emit runs under the handler's lock)."""
        if self._keep_in is None:
            return
        fields = self._fields.fields(record)
        if not fields.get("function"):
            return  # not written during a call: no function's log on a cloud either
        path = self._keep_in / KEPT
        line = json.dumps({**fields, "stage": self._stage}, default=str) + "\n"
        if path.exists() and path.stat().st_size + len(line) > self._max_bytes:
            path.replace(self._keep_in / KEPT_BEFORE)
        with path.open("a", encoding="utf-8") as file:
            file.write(line)

    def line(self, record: logging.LogRecord) -> str:
        """`09:35:55.123 ship [log] INFO shipping 7  invocation=... event=... trace=... attempt=2`."""
        fields = self._fields.fields(record)
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        function = fields["function"] or record.name.removeprefix(LOGGER + ".")
        line = f"{stamp} {function} [log] {record.levelname} {fields['message']}"
        facts = _facts(record, fields)
        if facts:
            line += "  " + " ".join(facts)
        for extra in ("exception", "stack"):
            if extra in fields:
                line += "\n" + fields[extra]
        return line

    def attach(self) -> None:
        if self._saved:
            return
        if self._keep_in is not None:  # served, even if no function logs: `logs` then finds nothing, not "no dev"
            (self._keep_in / KEPT).touch()
        level = log_level()
        self.setLevel(level)
        function_logger = logging.getLogger(LOGGER)
        self._hold(function_logger, level)
        function_logger.propagate = False  # shown once, here, not again by handlers the app configured
        root = logging.getLogger()
        if not root.handlers:  # the app configured no logging: show its own loggers too
            self._hold(root, level)

    def detach(self) -> None:
        with _HOLDING:
            for name in self._saved:
                logger = logging.getLogger(name or None)
                logger.removeHandler(self)
                level, propagate, holders = _HELD[name]
                if holders > 1:  # another host in this process still shows it
                    _HELD[name] = (level, propagate, holders - 1)
                    continue
                del _HELD[name]
                logger.setLevel(level)
                logger.propagate = propagate
        self._saved = {}

    def _hold(self, logger: logging.Logger, level: int) -> None:
        """Save what `logger` was, lower its level to `level` if need be, and write its records. Hosts in one
        process (tests, `portable_fn.testing`) share the loggers: what it was before the first is put back
        when the last detaches, in whatever order they stop (the second saved what the first had set)."""
        name = logger.name if logger is not logging.getLogger() else ""
        with _HOLDING:
            level_before, propagate_before, holders = _HELD.get(name, (logger.level, logger.propagate, 0))
            _HELD[name] = (level_before, propagate_before, holders + 1)
        self._saved[name] = (level_before, propagate_before)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
        logger.addHandler(self)


def _shown_in_dev(record: logging.LogRecord) -> bool:
    # on the root logger: what the app's loggers write during a call, and what Python would show anyway
    return _is_function_log(record) or current_facts() is not None or record.levelno >= logging.WARNING


def _facts(record: logging.LogRecord, fields: dict[str, Any]) -> list[str]:
    shown = [f"{name}={fields[key]}" for key, name in _FACTS if fields[key] is not None]
    if fields["cold_start"]:
        shown.append("cold_start")
    if not _is_function_log(record):
        shown.append(f"logger={record.name}")
    shown.extend(f"{key}={value}" for key, value in fields.items() if key not in _SHOWN)
    return shown


def _is_function_log(record: logging.LogRecord) -> bool:
    return record.name == LOGGER or record.name.startswith(LOGGER + ".")


def read_kept(state_dir: Path, stage: str, functions: Collection[str], since: datetime) -> list[LogEntry]:
    """The records `functions` logged in `dev` for `stage` at or after `since`, oldest first, from the
    lines the host kept in `state_dir` (a line that is not one of ours is passed over)."""
    if not (state_dir / KEPT).exists() and not (state_dir / KEPT_BEFORE).exists():
        raise LogsError(
            f"`portable-fn dev` has kept no logs in {state_dir}: it keeps its functions' logs there while it runs. "
            "Run `portable-fn dev` for this app and call its functions (a dev started with --state-dir DIR keeps "
            "them in DIR instead)."
        )
    entries = []
    for name in (KEPT_BEFORE, KEPT):
        try:
            lines = (state_dir / name).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            continue
        for number, line in enumerate(lines):
            try:
                fields = json.loads(line)
                moment = parse_rfc3339(fields["time"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a host stopped while writing it
            if fields.get("function") not in functions or fields.get("stage") != stage or moment < since:
                continue
            entry_id = f"{name}:{number}"
            entries.append(
                entry_from_fields(fields, line, time=moment, function=fields["function"], raw=fields, entry_id=entry_id)
            )
    return sorted(entries, key=lambda entry: entry.time)
