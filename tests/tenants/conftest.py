"""Fixtures for the tenant tests: every state on SQLite files under tmp_path (one file per state, as the dev
host keeps them), a recording publisher, and the usage lines the calls log."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from portable_fn.runtime.channels import Channel, use_publisher
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.state import use_backends
from portable_fn.runtime.state_sqlite import SqliteBackend
from portable_fn.runtime.tenants import USAGE_LOGGER

from .handlers import tenanted


class Recording:
    """A Publisher keeping what each publish sent."""

    max_delay_s = 900.0

    def __init__(self) -> None:
        self.events: list[CloudEvent[Any]] = []

    def publish(self, channel: Channel, events: Sequence[CloudEvent[Any]], delay_s: float = 0.0) -> None:
        self.events.extend(events)


class Lines(logging.Handler):
    """The records a logger writes."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def stores(tmp_path: Path) -> Iterator[Path]:
    """Every state (the user's and portable-fn's own) in `<tmp>/states/<name>.sqlite3`."""
    folder = tmp_path / "states"
    folder.mkdir()
    previous = use_backends(lambda name, locator: SqliteBackend(str(folder / f"{name}.sqlite3")))
    tenanted.SEEN.clear()
    yield folder
    use_backends(previous)


@pytest.fixture
def published() -> Iterator[Recording]:
    recording = Recording()
    previous = use_publisher(recording)
    yield recording
    use_publisher(previous)


@pytest.fixture
def usage_lines() -> Iterator[list[logging.LogRecord]]:
    """The records of the usage logger during the test."""
    handler = Lines()
    logger = logging.getLogger(USAGE_LOGGER)
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)
