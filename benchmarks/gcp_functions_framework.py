"""Per-event cost of a portable handler under functions-framework against a bare
`@functions_framework.cloud_event` handler, on the same CloudEvents.

Why it exists: on Cloud Functions every event goes through functions-framework first; the portable shim
(`portable_fn_gcp.shim`) adds its conversion and dispatch on top. Goal: within 1.05x of the bare handler.

Both apps are built by `functions_framework.create_app` from real files (the generated main.py for the
portable app in benchmarks/gcp_functions_framework_app/, `bare_main.py` for the anchor) and measured:
- in-process: the flask test client (the framework's whole WSGI path, no sockets);
- over HTTP: a werkzeug server thread on 127.0.0.1, one request per event (urllib).
Contenders run interleaved round by round, so a noisy machine slows both alike; the best round counts.

    python benchmarks/gcp_functions_framework.py            # full run (about a minute)
    python benchmarks/gcp_functions_framework.py --quick    # smoke run, rougher numbers
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import functions_framework
from portable_fn_gcp.shim import generate_main
from werkzeug.serving import make_server

from portable_fn.app import App
from portable_fn.runtime import CloudEvent, spec_of, to_binary

HERE = Path(__file__).resolve().parent
APP_DIR = HERE / "gcp_functions_framework_app"
CONFORMANCE = (HERE.parent / "tests" / "data" / "gcp" / "functions-framework-conformance" / "events" / "generate"
               / "data")
EVENTS = {"pubsub message": ("pubsub_text", "portable_message"), "storage object": ("storage", "portable_storage")}
GOAL = 1.05


def load_app() -> App:
    """The portable app of APP_DIR, loaded without a pyproject (one module, two functions)."""
    sys.path.insert(0, str(APP_DIR))
    import bench_functions

    specs = [spec_of(bench_functions.portable_message), spec_of(bench_functions.portable_storage)]
    return App(APP_DIR, type("Config", (), {"app": "bench"})(), [s for s in specs if s is not None])


def framework_app(target: str, source: Path) -> Any:
    saved = {k: os.environ.get(k) for k in ("FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE")}
    app = functions_framework.create_app(target, str(source))
    for name, value in saved.items():
        os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
    return app


def binary(case: str) -> tuple[dict[str, str], bytes]:
    event = json.loads((CONFORMANCE / f"{case}-cloudevent-input.json").read_text(encoding="utf-8"))
    return to_binary(CloudEvent.from_dict(event))


def in_process(app: Any, headers: dict[str, str], body: bytes) -> Callable[[], None]:
    client = app.test_client()

    def one() -> None:
        assert client.post("/", data=body, headers=headers).status_code == 200

    return one


def over_http(app: Any, headers: dict[str, str], body: bytes, servers: list[Any]) -> Callable[[], None]:
    server = make_server("127.0.0.1", 0, app, threaded=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    servers.append(server)
    url = f"http://127.0.0.1:{server.server_port}/"

    def one() -> None:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers, method="POST")) as answer:
            assert answer.status == 200
            answer.read()

    return one


def per_event_us(call: Callable[[], None], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n * 1e6


def race(contenders: dict[str, Callable[[], None]], n: int, rounds: int) -> dict[str, float]:
    """Best per-event time of each contender over `rounds` interleaved rounds of `n` events."""
    for call in contenders.values():
        per_event_us(call, max(1, n // 10))  # warm up
    best = {name: float("inf") for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            best[name] = min(best[name], per_event_us(call, n))
    return best


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--quick", action="store_true", help="fewer events and rounds (rougher numbers)")
    quick = args.parse_args(argv).quick
    n_local, n_http, rounds = (300, 100, 3) if quick else (3000, 600, 7)
    source = Path(tempfile.mkdtemp(prefix="portable-fn-gcp-bench-")) / "main.py"
    source.write_text(generate_main(load_app()), encoding="utf-8")
    bare_source = APP_DIR / "bare_main.py"
    servers: list[Any] = []
    rows = []
    for label, (case, target) in EVENTS.items():
        headers, body = binary(case)
        portable, bare = framework_app(target, source), framework_app("bare", bare_source)
        for mode, n in (("in-process", n_local), ("http", n_http)):
            contenders = {name: in_process(app, headers, body) if mode == "in-process"
                          else over_http(app, headers, body, servers)
                          for name, app in (("portable", portable), ("bare", bare))}
            best = race(contenders, n, rounds)
            rows.append((label, mode, best["portable"], best["bare"], best["portable"] / best["bare"]))
    for server in servers:
        server.shutdown()
    print(f"{'event':<16} {'mode':<11} {'portable us':>12} {'bare us':>9} {'ratio':>7}  goal <= {GOAL}x")
    for label, mode, p, b, ratio in rows:
        print(f"{label:<16} {mode:<11} {p:>12.1f} {b:>9.1f} {ratio:>7.3f}  {'ok' if ratio <= GOAL else 'over'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
