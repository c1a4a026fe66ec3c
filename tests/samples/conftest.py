"""Fixtures for the samples' tests: a sample imported afresh for each test, its states in tmp_path, a
flaky maintenance API on 127.0.0.1, and the sample served by the local dev host."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app
from portable_fn.local.host import LocalHost
from portable_fn.runtime.state import use_backends
from portable_fn.runtime.state_sqlite import SqliteBackend

from ..app_copy import copy_app
from ..dev_process import Client, Reply
from ..dev_process import wait_for as poll
from ..json_server import Quiet, send_json, serving

REPO = Path(__file__).resolve().parents[2]
TELEMETRY = REPO / "samples" / "telemetry"


@pytest.fixture
def telemetry_dir(tmp_path: Path) -> Path:
    """A private copy of samples/telemetry (dev and deploy write into the app directory)."""
    return copy_app(TELEMETRY, tmp_path)


@pytest.fixture
def telemetry(telemetry_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """The sample, imported afresh (new states and breakers), every state a SQLite file in tmp_path."""
    for name in [n for n in sys.modules if n == "telemetry" or n.startswith("telemetry.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setenv("PORTABLE_FN_STATE_DIR", str(tmp_path / "states"))
    app = load_app(telemetry_dir)
    use_backends(lambda name, _locator: SqliteBackend(str(tmp_path / "states" / f"{name}.sqlite3")))
    for store in app.states:  # portable-fn's own stores are shared by every app: start them empty too
        store.backend = None
    yield app
    use_backends(None)
    for store in app.states:
        store.backend = None


@pytest.fixture
def functions(telemetry: App) -> Any:
    """The sample's functions module (its handlers and states)."""
    return sys.modules["telemetry.functions"]


@dataclass
class FlakyApi:
    """A maintenance API that answers 503 to its first `failing` calls, then opens tickets."""

    failing: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def answer(self, alert: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls.append(alert)
        if len(self.calls) <= self.failing:
            return 503, {"error": "maintenance backend unavailable"}
        return 201, {"ticket": f"T-{len(self.calls)}"}


@pytest.fixture
def flaky_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FlakyApi]:
    """A FlakyApi served on 127.0.0.1 (MAINTENANCE_URL points at it); set `failing` in the test."""
    api = FlakyApi()
    lock = threading.Lock()

    class Handler(Quiet):
        def do_POST(self) -> None:
            alert = json.loads(self.rfile.read(int(self.headers["content-length"])))
            with lock:
                status, body = api.answer(alert)
            send_json(self, status, body)

    with serving(Handler) as url:
        api.url = f"{url}/tickets"
        monkeypatch.setenv("MAINTENANCE_URL", api.url)
        yield api


@dataclass
class Dev:
    """The sample served by a LocalHost: its URL, app, log lines; `request` calls it over HTTP."""

    host: LocalHost
    app: App
    logs: list[str]

    def request(self, method: str, path: str, json_body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        return Client(self.host.url).request(method, path, headers=headers, json_body=json_body)


@pytest.fixture
def dev(telemetry: App, tmp_path: Path) -> Iterator[Dev]:
    """samples/telemetry served by the local dev host on 127.0.0.1 (state under tmp_path), retry delays
    scaled down so a test waits milliseconds, not minutes."""
    logs: list[str] = []
    use_backends(None)  # the host keeps the states in its own state directory, as `portable-fn dev` does
    host = LocalHost(
        telemetry, host="127.0.0.1", port=0, log=logs.append, state_dir=tmp_path / "dev", retry_backoff_s=0.01
    )
    host.start()
    yield Dev(host, telemetry, logs)
    host.stop()


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    """Poll `predicate` until it returns something truthy (returned) or fail after `timeout` s."""
    return poll
