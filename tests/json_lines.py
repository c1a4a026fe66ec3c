"""The JSON log lines a logger writes during a test, formatted as a deployed function formats them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from portable_fn.runtime.log_format import JsonFormatter


class Lines(logging.Handler):
    """The lines written, formatted as they are written (when the call's facts are read). Keeps no
    LogRecord, so no traceback outlives its line."""

    def __init__(self, provider: str) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter(provider, environ={}))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@contextmanager
def written(name: str, provider: str) -> Iterator[list[dict[str, Any]]]:
    """The JSON lines logger `name` (and its children) writes, as on `provider`; nothing else sees them
    (pytest's own capture would keep the tracebacks)."""
    logger, handler = logging.getLogger(name), Lines(provider)
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
