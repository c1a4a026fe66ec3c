"""Per-invocation cost of a generated Azure Functions v2 function against a hand-written one doing the same
work on the same `azure.functions` objects (HTTP and Storage Queue).

Why it exists: on Azure every invocation goes from the host's trigger object through the generated
`function_app.py` and `portable_fn_azure.shim` (conversion to Request / CloudEvent, dispatch, conversion
back) before the portable handler runs. Goal: within 1.1x of the hand-written function.

Both apps are indexed by the real `azure-functions` library (`app.get_functions()`) and each function is
called through that index (`get_user_function()`), as the worker calls it, with one prebuilt
`func.HttpRequest` (a 315-byte JSON order) or `QueueMessage`. Contenders run interleaved round by round,
so a noisy machine slows both alike; the best round counts.

    python benchmarks/azure_functions.py            # full run (about 20 s)
    python benchmarks/azure_functions.py --quick    # smoke run, rougher numbers
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions.queue import QueueMessage
from portable_fn_azure.shim import generate_function_app

from portable_fn.app import load_app

HERE = Path(__file__).resolve().parent
APP_DIR = HERE / "azure_functions_app"
GOAL = 1.1
ORDER = {"id": "o-1001", "customer": "c-42", "currency": "EUR", "note": "leave at the door, ring twice",
         "lines": [{"sku": f"sku-{i}", "quantity": i + 1, "price": "9.99"} for i in range(5)]}


class HostContext(func.Context):
    """The `azure.functions.Context` the worker passes."""

    invocation_id = property(lambda self: "bench-invocation")
    function_name = property(lambda self: "bench")
    function_directory = property(lambda self: str(APP_DIR))
    trace_context = property(lambda self: None)
    retry_context = property(lambda self: None)
    thread_local_storage = property(lambda self: None)


class Discard(func.Out):  # type: ignore[type-arg]
    def set(self, val: Any) -> None:
        raise AssertionError(f"nothing should be dead-lettered: {val!r}")

    def get(self) -> Any:
        return None


def _import(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def indexed(module: Any) -> dict[str, Callable[..., Any]]:
    return {fn.get_function_name(): fn.get_user_function() for fn in module.app.get_functions()}


def apps() -> tuple[dict[str, Callable[..., Any]], dict[str, Callable[..., Any]]]:
    """(portable functions through the generated function_app.py, hand-written functions)."""
    app = load_app(APP_DIR)
    out = Path(tempfile.mkdtemp(prefix="pf-azure-bench-"))
    (out / "function_app.py").write_text(generate_function_app(app), encoding="utf-8")
    return indexed(_import(out / "function_app.py", "bench_generated")), indexed(
        _import(APP_DIR / "bare_function_app.py", "bench_bare"))


def calls(portable: dict[str, Any], bare: dict[str, Any]) -> dict[str, dict[str, Callable[[], Any]]]:
    body = json.dumps(ORDER).encode()
    request = func.HttpRequest("POST", "https://bench.azurewebsites.net/orders", body=body,
                               headers={"Content-Type": "application/json", "Host": "bench.azurewebsites.net",
                                        "User-Agent": "bench", "Accept": "*/*", "X-Forwarded-For": "10.0.0.1"})
    message = QueueMessage(id="m-1", body=body, dequeue_count=1, pop_receipt="r",
                           insertion_time=datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc))
    ctx, out = HostContext(), Discard()
    return {
        "http": {"portable": lambda: portable["create_order"](request, ctx),
                 "bare": lambda: bare["create_order"](request, ctx)},
        "queue": {"portable": lambda: portable["fulfil"](message, out, ctx),
                  "bare": lambda: bare["fulfil"](message, ctx)},
    }


def check(contenders: dict[str, dict[str, Callable[[], Any]]]) -> None:
    """Both sides answer alike before anything is timed."""
    http = {name: call() for name, call in contenders["http"].items()}
    assert {r.status_code for r in http.values()} == {201}
    assert len({r.get_body() for r in http.values()}) == 1, [r.get_body() for r in http.values()]
    for call in contenders["queue"].values():
        call()


def per_call_us(call: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n * 1e6


def race(contenders: dict[str, Callable[[], Any]], n: int, rounds: int) -> dict[str, float]:
    best = {name: float("inf") for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            best[name] = min(best[name], per_call_us(call, n))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    n, rounds = (2000, 5) if args.quick else (10000, 21)
    contenders = calls(*apps())
    check(contenders)
    results: dict[str, Any] = {"python": sys.version.split()[0], "goal": GOAL, "n": n, "rounds": rounds}
    print(f"Python {results['python']}; per-invocation min of {rounds} rounds x {n} calls")
    print(f"{'trigger':<8} {'generated us':>13} {'hand-written us':>16} {'ratio':>7}  goal <= {GOAL}x")
    for trigger, pair in contenders.items():
        best = race(pair, n, rounds)
        ratio = best["portable"] / best["bare"]
        results[trigger] = {"generated_us": round(best["portable"], 2), "hand_written_us": round(best["bare"], 2),
                            "ratio": round(ratio, 3)}
        print(f"{trigger:<8} {best['portable']:>13.2f} {best['bare']:>16.2f} {ratio:>7.3f}  "
              f"{'met' if ratio <= GOAL else 'NOT MET'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
