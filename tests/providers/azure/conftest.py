"""Shared pieces of the Azure tests: the apps, their generated `function_app.py` imported as the
Functions host imports it, real `azure.functions` objects (a host Context, an `Out` binding), and Azurite.

Azurite (npm `azurite` 3.35, the line that runs on Node 20) is installed once into the pytest cache
directory and started for the session on 127.0.0.1 with its blob, queue and table services
(`--disableTelemetry --skipApiVersionCheck`); tests reach it through the well-known `devstoreaccount1`
connection string, which names all three endpoints."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from portable_fn_azure.codegen import function_app_source as generate_function_app

from portable_fn.app import App, load_app

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DATA = REPO / "tests" / "data" / "azure"
EVERY = HERE / "apps" / "every_trigger"


def import_function_app(app: App, directory: Path, plan_sku: str = "Y1") -> ModuleType:
    """Write the app's function_app.py (for plan `plan_sku`) into `directory` and import it under a name of
    its own."""
    path = directory / "function_app.py"
    path.write_text(generate_function_app(app, plan_sku), encoding="utf-8")
    name = f"function_app_{app.name}_{abs(hash(directory))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def every_app() -> App:
    return load_app(EVERY)


@pytest.fixture(scope="session")
def shop_app() -> App:
    return load_app(REPO / "samples" / "shop")


@pytest.fixture
def every_module() -> ModuleType:
    import every_trigger

    every_trigger.SEEN.clear()
    return every_trigger


@pytest.fixture
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[App], dict[str, Any]]:
    """The functions of an app's generated function_app.py as the host indexes them, by name."""

    def index(app: App) -> dict[str, Any]:
        module = import_function_app(app, tmp_path_factory.mktemp(app.name))
        return {fn.get_function_name(): fn for fn in module.app.get_functions()}

    return index


# -- Azurite --------------------------------------------------------------------------------------------
AZURITE_VERSION = "3.35"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SERVICES = ("blob", "queue", "table")


def azurite_entry(cache: Path) -> Path:
    """Azurite's entry point (blob, queue and table), installed with npm into `cache` unless it already is
    (under a file lock, as the suite's parallel workers may all ask at once)."""
    import fcntl  # POSIX; Azurite's tests need Node.js and a POSIX shell anyway

    entry = cache / "node_modules" / "azurite" / "dist" / "src" / "azurite.js"
    with (cache / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if entry.is_file():
            return entry
        if shutil.which("npm") is None or shutil.which("node") is None:
            pytest.skip("Azurite needs Node.js and npm (apt-get install nodejs npm)")
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(cache),
                f"azurite@{AZURITE_VERSION}",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ],
            check=True,
            timeout=600,
        )
    return entry


def azurite_cache(config: pytest.Config) -> Path:
    """pytest's cache directory for Azurite; the same path when the cache plugin is off (-p no:cacheprovider)."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("azurite"))
    path = Path(config.rootpath) / ".pytest_cache" / "d" / "azurite"
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_ports(ports: list[int], process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = list(ports)
    while waiting and time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Azurite exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.5).close()
            waiting.pop(0)
        except OSError:
            time.sleep(0.1)
    if waiting:
        raise RuntimeError(f"Azurite did not listen on 127.0.0.1:{waiting} within {timeout_s} s")


@pytest.fixture(scope="session")
def azurite(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The connection string of Azurite's blob, queue and table services, running for the whole session."""
    entry = azurite_entry(azurite_cache(request.config))
    ports, data = {service: free_port() for service in SERVICES}, tmp_path_factory.mktemp("azurite")
    log = (data / "azurite.log").open("wb")
    listen = [arg for s, port in ports.items() for arg in (f"--{s}Host", "127.0.0.1", f"--{s}Port", str(port))]
    process = subprocess.Popen(
        ["node", str(entry), *listen, "--location", str(data / "store")]
        + ["--disableTelemetry", "--skipApiVersionCheck", "--silent"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_ports(list(ports.values()), process)
        endpoints = "".join(
            f"{s.capitalize()}Endpoint=http://127.0.0.1:{port}/devstoreaccount1;" for s, port in ports.items()
        )
        yield f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};{endpoints}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


# -- an Event Grid topic's publish endpoint --------------------------------------------------------------
GRID_KEY = "dG9waWMta2V5LW9uZQ=="  # the fake ARM's key1 of every custom topic (deploy/arm_server.py)


class GridEndpoint:
    """A custom topic's endpoint on 127.0.0.1: takes a POST whose `aeg-sas-key` is `GRID_KEY` (else 401, as
    Event Grid answers), records `(path, headers by lower-case name, parsed body)` of each, answers 200."""

    def __init__(self) -> None:
        import http.server
        import json
        import threading

        self.received: list[tuple[str, dict[str, str], Any]] = []
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("aeg-sas-key") != GRID_KEY:
                    self.send_response(401)
                else:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    endpoint.received.append((self.path, headers, json.loads(body)))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def grid_endpoint() -> Iterator[GridEndpoint]:
    endpoint = GridEndpoint()
    try:
        yield endpoint
    finally:
        endpoint.stop()
