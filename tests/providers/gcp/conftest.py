"""Shared pieces of the Cloud Functions shim tests: the probe app, its generated main.py served by the real
functions-framework over HTTP on 127.0.0.1, and a client that sends requests and reads what the handler saw.

`functions_framework.create_app(target, source)` builds the framework's own app from main.py exactly as
its `functions-framework --target --source` command does; a werkzeug server thread serves it over real
HTTP. One server per target, for the whole session.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.shim import generate_main

from portable_fn.app import App, load_app
from portable_fn.emulators import Emulator

from .framework import framework_app

PROBE_APP = Path(__file__).resolve().parent / "apps" / "probe"
DATA = Path(__file__).resolve().parents[2] / "data" / "gcp"
CONFORMANCE = DATA / "functions-framework-conformance" / "events" / "generate" / "data"
EXPECTED = DATA / "expected"


class Reply:
    """An HTTP answer: status, headers (repeats kept) and body."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


def send(url: str, body: bytes = b"", headers: Mapping[str, str] | None = None, method: str = "POST") -> Reply:
    request = urllib.request.Request(
        url, data=body if method != "GET" else None, method=method, headers=dict(headers or {})
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return Reply(answer.status, list(answer.headers.items()), answer.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, list(error.headers.items()), error.read())


class Served:
    """The generated main.py served by functions-framework, one server per target."""

    def __init__(self, main: Path) -> None:
        self.main = main
        self._servers: dict[str, Any] = {}

    def url(self, target: str) -> str:
        if target not in self._servers:
            self._servers[target] = _serve(target, self.main)
        return f"http://127.0.0.1:{self._servers[target].server_port}"

    def close(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()


def _serve(target: str, main: Path) -> Any:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, framework_app(target, main), threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture(scope="session")
def probe_app() -> App:
    return load_app(PROBE_APP)


@pytest.fixture(scope="session")
def main_py(probe_app: App, tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("gcp-source") / "main.py"
    source.write_text(generate_main(probe_app), encoding="utf-8")
    return source


@pytest.fixture(scope="session")
def served(main_py: Path) -> Iterator[Served]:
    servers = Served(main_py)
    yield servers
    servers.close()


ORDERS_APP = Path(__file__).resolve().parent / "apps" / "orders"


@pytest.fixture(scope="session")
def orders_app() -> App:
    """One HTTP function, `POST /orders/{order_id}`."""
    return load_app(ORDERS_APP)


@pytest.fixture(scope="session")
def served_orders(orders_app: App, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    source = tmp_path_factory.mktemp("gcp-orders-source") / "main.py"
    source.write_text(generate_main(orders_app), encoding="utf-8")
    servers = Served(source)
    yield servers
    servers.close()


@pytest.fixture(scope="session")
def framework_client(main_py: Path) -> Any:
    """`framework_client(target)`: flask's test client on functions-framework's app for the target (the
    framework's whole WSGI path, in process), built once per target. An exception no handler answers
    propagates to the caller instead of becoming the framework's 500."""
    clients: dict[str, Any] = {}

    def client(target: str) -> Any:
        if target not in clients:
            app = framework_app(target, main_py)
            app.config["PROPAGATE_EXCEPTIONS"] = True
            clients[target] = app.test_client()
        return clients[target]

    return client


@pytest.fixture(scope="session")
def send_to() -> Any:
    """`send_to(url, body, headers, method)` -> Reply (test modules cannot import this conftest)."""
    return send


@pytest.fixture
def seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Reads what the probe handler reported for the last request (None when it was not called)."""
    out = tmp_path / "seen.json"
    monkeypatch.setenv("GCP_PROBE_OUT", str(out))

    def read() -> Any:
        if not out.exists():
            return None
        found = json.loads(out.read_text(encoding="utf-8"))
        out.unlink()
        return found

    return read


# -- the Pub/Sub emulator (gcloud's, a Java server) ------------------------------------------------------

EMULATOR_BIN = "platform/pubsub-emulator/bin/cloud-pubsub-emulator"


def _emulator_binary() -> Path | None:
    return _sdk_file(EMULATOR_BIN)


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of gcloud's Pub/Sub emulator, started on 127.0.0.1 for the session."""
    import shutil

    binary = _emulator_binary()
    if binary is None or shutil.which("java") is None:
        pytest.skip(
            "the Pub/Sub emulator needs the Google Cloud SDK's pubsub-emulator component and Java "
            "(gcloud components install pubsub-emulator)"
        )
    command = [str(binary), "--host=127.0.0.1", "--port={port}"]
    with Emulator(
        command,
        "http://127.0.0.1:{port}/v1/projects/portable-fn/topics",
        tmp_path_factory.mktemp("pubsub"),
        "pubsub-emulator",
    ) as emulator:
        yield f"127.0.0.1:{emulator.port}"


# -- the Firestore emulator (gcloud's cloud-firestore-emulator, a Java server) ---------------------------

FIRESTORE_BIN = "platform/cloud-firestore-emulator/cloud_firestore_emulator"


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of gcloud's Firestore emulator (native mode), started on 127.0.0.1 for the session."""
    import shutil

    binary = _sdk_file(FIRESTORE_BIN)
    if binary is None or shutil.which("java") is None:
        pytest.skip(
            "the Firestore emulator needs the Google Cloud SDK's cloud-firestore-emulator component and Java "
            "(gcloud components install cloud-firestore-emulator)"
        )
    command = [str(binary), "start", "--host=127.0.0.1", "--port={port}"]
    with Emulator(
        command, "http://127.0.0.1:{port}/", tmp_path_factory.mktemp("firestore"), "firestore-emulator"
    ) as emulator:
        yield f"127.0.0.1:{emulator.port}"


def _sdk_file(relative: str) -> Path | None:
    """A file of the Google Cloud SDK (next to gcloud, else under /usr/lib/google-cloud-sdk), if installed."""
    import shutil

    gcloud = shutil.which("gcloud")
    roots = [Path(gcloud).resolve().parent.parent] if gcloud else []
    roots.append(Path("/usr/lib/google-cloud-sdk"))
    return next((root / relative for root in roots if (root / relative).exists()), None)
