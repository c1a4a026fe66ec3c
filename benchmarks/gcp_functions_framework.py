"""Per-event cost of a portable handler under functions-framework against a bare
`@functions_framework.cloud_event` handler, on the same CloudEvents.

Why it exists: on Cloud Functions every event goes through functions-framework first; the portable shim
(`portable_fn_gcp.shim`) adds its conversion and dispatch on top. Goal (issue 13): within 1.10x of the bare handler.

Both apps are built by `functions_framework.create_app` from real files (the generated main.py for the
portable app in benchmarks/gcp_functions_framework_app/, `bare_main.py` for the anchor) and measured:
- in-process: the flask test client (the framework's whole WSGI path, no sockets);
- over HTTP: a werkzeug server thread on 127.0.0.1, one request per event (urllib).
Contenders run interleaved round by round, so a noisy machine slows both alike; the best round counts
(the ratio of the median rounds is printed too).

    python benchmarks/gcp_functions_framework.py            # full run (about a minute)
    python benchmarks/gcp_functions_framework.py --quick    # smoke run, rougher numbers
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
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
CONFORMANCE = (
    HERE.parent / "tests" / "data" / "gcp" / "functions-framework-conformance" / "events" / "generate" / "data"
)
# event -> (conformance case, portable target, anchor reading the event as Google's samples do)
EVENTS = {
    "pubsub message": ("pubsub_text", "portable_message", "bare_message"),
    "pubsub json message": ("pubsub_json", "portable_message", "bare_message"),
    "storage object": ("storage", "portable_storage", "bare_storage"),
}
GOAL = 1.10
RESULTS = HERE / "results_gcp_functions_framework.json"


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


ORDER = {"id": "o-1", "customer": "ada", "lines": [{"sku": "widget", "quantity": 2}, {"sku": "gadget", "quantity": 1}]}


def binary(case: str) -> tuple[dict[str, str], bytes]:
    """A conformance case's CloudEvent in binary mode; `pubsub_json` is `pubsub_text` carrying a JSON order."""
    source = "pubsub_text" if case == "pubsub_json" else case
    event = json.loads((CONFORMANCE / f"{source}-cloudevent-input.json").read_text(encoding="utf-8"))
    if case == "pubsub_json":
        event["data"]["message"]["data"] = base64.b64encode(json.dumps(ORDER).encode()).decode()
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


def race(contenders: dict[str, Callable[[], None]], n: int, rounds: int) -> dict[str, list[float]]:
    """Per-event times of each contender in `rounds` interleaved rounds of `n` events."""
    for call in contenders.values():
        per_event_us(call, max(1, n // 10))  # warm up
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            times[name].append(per_event_us(call, n))
    return times


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--quick", action="store_true", help="fewer events and rounds (rougher numbers)")
    quick = args.parse_args(argv).quick
    n_local, n_http, rounds = (300, 100, 3) if quick else (1000, 200, 21)  # short rounds: a burst of noise spoils few
    source = Path(tempfile.mkdtemp(prefix="portable-fn-gcp-bench-")) / "main.py"
    source.write_text(generate_main(load_app()), encoding="utf-8")
    bare_source = APP_DIR / "bare_main.py"
    servers: list[Any] = []
    rows = []
    for label, (case, target, anchor) in EVENTS.items():
        headers, body = binary(case)
        apps = {
            "portable": framework_app(target, source),
            "bare": framework_app(anchor, bare_source),
            "empty": framework_app("bare", bare_source),
        }
        check_same_reading(apps["portable"], apps["bare"], headers, body, label)
        for mode, n in (("in-process", n_local), ("http", n_http)):
            contenders = {
                name: in_process(app, headers, body) if mode == "in-process" else over_http(app, headers, body, servers)
                for name, app in apps.items()
            }
            times = race(contenders, n, rounds)
            best = {name: min(t) for name, t in times.items()}
            middle = {name: statistics.median(t) for name, t in times.items()}
            rows.append(
                {
                    "event": label,
                    "mode": mode,
                    "portable_us": best["portable"],
                    "bare_us": best["bare"],
                    "empty_us": best["empty"],
                    "ratio": best["portable"] / best["bare"],
                    "ratio_to_empty": best["portable"] / best["empty"],
                    "median_ratio": middle["portable"] / middle["bare"],
                }
            )
    for server in servers:
        server.shutdown()
    print(
        f"{'event':<20} {'mode':<11} {'portable us':>12} {'bare us':>9} {'ratio':>7}  goal <= {GOAL}x"
        f"   {'median ratio':>12} {'empty us':>9} {'vs empty':>9}"
    )
    for r in rows:
        print(
            f"{r['event']:<20} {r['mode']:<11} {r['portable_us']:>12.1f} {r['bare_us']:>9.1f} {r['ratio']:>7.3f}  "
            f"{'ok  ' if r['ratio'] <= GOAL else 'over'}          {r['median_ratio']:>12.3f} {r['empty_us']:>9.1f} "
            f"{r['ratio_to_empty']:>9.3f}"
        )
    if not quick:
        RESULTS.write_text(
            json.dumps({"python": sys.version.split()[0], "goal": GOAL, "rows": rows}, indent=2) + "\n",
            encoding="utf-8",
        )
    return 0


def check_same_reading(portable: Any, bare: Any, headers: dict[str, str], body: bytes, label: str) -> None:
    """Before timing: both handlers ran on the event and read the same things from it."""
    import bench_functions

    bench_functions.SEEN.clear()
    in_process(portable, headers, body)()
    in_process(bare, headers, body)()
    seen = bench_functions.SEEN
    assert len(seen) == 2, f"{label}: a handler was not called ({seen})"
    ours, theirs = seen
    assert tuple(ours) == tuple(theirs), f"{label}: the handlers read different things: {ours} != {theirs}"


if __name__ == "__main__":
    raise SystemExit(main())
