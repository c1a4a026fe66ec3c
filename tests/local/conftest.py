"""Fixtures for the local dev host tests: a host factory, a tiny HTTP client and polling.

Every host listens on 127.0.0.1 port 0, keeps its state under tmp_path and logs into a list the test
can read. Apps are imported afresh for each test, so module-level records start empty.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app
from portable_fn.local.host import LocalHost

from ..dev_process import Client, DevProcess
from ..dev_process import wait_for as poll

LOCAL_APPS = Path(__file__).resolve().parent / "apps"


@dataclass
class Running:
    """A started host with its app, client, log lines and the app module's RECEIVED records."""

    host: LocalHost
    app: App
    client: Client
    logs: list[str]

    @property
    def received(self) -> dict[str, list[Any]]:
        return self.app.functions[0].handler.__globals__["RECEIVED"]  # type: ignore[no-any-return]


@pytest.fixture
def connect() -> Callable[[str], Client]:
    """A Client for a host started some other way (a `portable-fn dev` subprocess): `connect(url)`."""
    return Client


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    """Poll `predicate` until it returns something truthy (returned) or fail after `timeout` s."""
    return poll


@pytest.fixture
def start_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Running]]:
    """Start a LocalHost for an app directory; stopped at teardown."""
    started: list[LocalHost] = []

    def start(app_dir: Path, **options: Any) -> Running:
        for name in [n for n in sys.modules if n == "local_workers"]:
            monkeypatch.delitem(sys.modules, name)  # a fresh import: empty records
        app = load_app(app_dir)
        logs: list[str] = []
        options.setdefault("state_dir", tmp_path / "state")
        options.setdefault("retry_backoff_s", 0.02)
        host = LocalHost(app, host="127.0.0.1", port=0, log=logs.append, **options)
        host.start()
        started.append(host)
        return Running(host, app, Client(host.url), logs)

    yield start
    for host in started:
        host.stop()


@pytest.fixture
def workers(start_host: Callable[..., Running]) -> Running:
    """The workers test app, running."""
    return start_host(LOCAL_APPS / "workers")


@pytest.fixture
def shop(start_host: Callable[..., Running], shop_copy: Path, tmp_path: Path) -> Running:
    """samples/shop (a private copy; SHOP_DATA_DIR set before loading), running."""
    return start_host(shop_copy)


@pytest.fixture
def shop_records(tmp_path: Path) -> Callable[[str], list[dict[str, Any]]]:
    """The records the shop wrote to `<SHOP_DATA_DIR>/<kind>.jsonl`."""

    def read(kind: str) -> list[dict[str, Any]]:
        path = tmp_path / "shop-data" / f"{kind}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    return read


@pytest.fixture
def dev_process(tmp_path: Path) -> Iterator[Callable[..., DevProcess]]:
    """Start `portable-fn dev APP --state-dir <tmp>/state` subprocesses (`env` added to the environment,
    `reload` off unless asked); any still running is stopped at teardown."""
    started: list[DevProcess] = []

    def start(
        app_dir: Path, state_dir: Path | None = None, env: dict[str, str] | None = None, reload: bool = False
    ) -> DevProcess:
        output = tmp_path / f"dev-{len(started) + 1}.log"
        started.append(DevProcess(app_dir, state_dir or tmp_path / "state", output, env, reload))
        return started[-1]

    yield start
    for process in started:
        process.stop()
