"""Per-invocation cost of generated Azure Functions v2 functions against hand-written ones doing the same
work on the same `azure.functions` objects: HTTP, Storage Queue, Service Bus queue and Event Grid (both
schemas).

Why it exists: on Azure every invocation goes from the host's trigger object through the generated
`function_app.py` and `portable_fn_azure.shim` (conversion to Request / CloudEvent, dispatch, conversion
back) before the portable handler runs. Goal: within 1.1x of the hand-written function.

Both apps (benchmarks/azure_functions_app/) are indexed by the real `azure-functions` library
(`app.get_functions()`) and each function is called through that index (`get_user_function()`), as the
worker calls it, with one prebuilt object per trigger: a `func.HttpRequest` carrying a 315-byte JSON order,
a `QueueMessage` and a `ServiceBusMessage` with the same body (the Service Bus function is the same portable
function generated with `queue_transport = "service_bus"`), and the `EventGridEvent` / `CloudEvent` the
library's own converter makes of an Event Grid delivery in either schema. Before timing, both sides must
give the same answer (HTTP: status, body, content type, headers; events: the same total recorded). Timing
is `run.measure`: contenders interleaved round by round, so a noisy machine slows both alike; min and
median of the rounds.

None of these handlers reads `event.time`: the queue and Service Bus times are formatted only when read
(see benchmarks/README.md for what a read costs).

    python benchmarks/azure_functions.py            # full run (about 20 s); writes results_azure_functions.json
    python benchmarks/azure_functions.py --quick    # smoke run, rougher numbers
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.queue import QueueMessage
from azure.functions.servicebus import ServiceBusMessage
from portable_fn_azure.shim import generate_function_app
from run import machine, measure

from portable_fn.app import load_app

HERE = Path(__file__).resolve().parent
APP_DIR = HERE / "azure_functions_app"
GOAL = 1.1
ORDER = {"id": "o-1001", "customer": "c-42", "currency": "EUR", "note": "leave at the door, ring twice",
         "lines": [{"sku": f"sku-{i}", "quantity": i + 1, "price": "9.99"} for i in range(5)]}
TOPIC = "/subscriptions/0000/resourceGroups/bench/providers/Microsoft.EventGrid/topics/orders-placed"
EVENT_GRID = {"id": "eg-1", "topic": TOPIC, "subject": "orders/o-1001", "eventType": "com.example.order.placed",
              "eventTime": "2024-05-01T10:00:00.1234567Z", "data": ORDER, "dataVersion": "1"}
CLOUD_EVENT = {"specversion": "1.0", "id": "ce-1", "source": TOPIC, "subject": "orders/o-1001",
               "type": "com.example.order.placed", "time": "2024-05-01T10:00:00.1234567Z",
               "datacontenttype": "application/json", "data": ORDER}


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
    """(portable functions through the generated function_app.py, hand-written functions). The portable
    `fulfil` is generated a second time on Service Bus, as `fulfil_service_bus`."""
    app = load_app(APP_DIR)
    portable = indexed(_generated(app, "bench_generated"))
    app.config = app.config.model_copy(update={"azure": {**app.config.azure, "queue_transport": "service_bus"}})
    portable["fulfil_service_bus"] = indexed(_generated(app, "bench_generated_sb"))["fulfil"]
    return portable, indexed(_import(APP_DIR / "bare_function_app.py", "bench_bare"))


def _generated(app: Any, name: str) -> Any:
    out = Path(tempfile.mkdtemp(prefix="pf-azure-bench-"))
    (out / "function_app.py").write_text(generate_function_app(app), encoding="utf-8")
    return _import(out / "function_app.py", name)


def _delivered(body: dict[str, Any]) -> Any:
    """What the worker hands an `eventGridTrigger` function: the library's converter decides the class."""
    return EventGridEventInConverter.decode(Datum(json.dumps(body), "json"), trigger_metadata={})


def calls(portable: dict[str, Any], bare: dict[str, Any]) -> dict[str, dict[str, Callable[[], Any]]]:
    body = json.dumps(ORDER).encode()
    request = func.HttpRequest("POST", "https://bench.azurewebsites.net/orders", body=body,
                               headers={"Content-Type": "application/json", "Host": "bench.azurewebsites.net",
                                        "User-Agent": "bench", "Accept": "*/*", "X-Forwarded-For": "10.0.0.1"})
    message = QueueMessage(id="m-1", body=body, dequeue_count=1, pop_receipt="r",
                           insertion_time=datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc))
    bus = ServiceBusMessage(body=body, message_id="sb-1", content_type="application/json", delivery_count=1,
                            enqueued_time_utc=datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc),
                            sequence_number=1, application_properties={}, user_properties={})
    grid, cloud = _delivered(EVENT_GRID), _delivered(CLOUD_EVENT)
    ctx, out = HostContext(), Discard()
    return {
        "http": {"portable": lambda: portable["create_order"](request, ctx),
                 "bare": lambda: bare["create_order"](request, ctx)},
        "queue": {"portable": lambda: portable["fulfil"](message, out, ctx),
                  "bare": lambda: bare["fulfil"](message, ctx)},
        "service bus queue": {"portable": lambda: portable["fulfil_service_bus"](bus, ctx),
                              "bare": lambda: bare["fulfil_service_bus"](bus, ctx)},
        "event grid": {"portable": lambda: portable["on_order_placed"](grid, ctx),
                       "bare": lambda: bare["on_order_placed"](grid, ctx)},
        "event grid (CloudEvents schema)": {"portable": lambda: portable["on_order_placed"](cloud, ctx),
                                            "bare": lambda: bare["on_order_placed"](cloud, ctx)},
    }


def check(contenders: dict[str, dict[str, Callable[[], Any]]]) -> None:
    """Both sides answer alike before anything is timed."""
    answers = {name: call() for name, call in contenders["http"].items()}
    shown = {name: (r.status_code, r.get_body(), r.mimetype, r.charset, sorted(r.headers.items()))
             for name, r in answers.items()}
    assert shown["portable"] == shown["bare"] and shown["bare"][0] == 201, shown
    generated, hand_written = sys.modules["bench_functions"], sys.modules["bench_bare"]
    for trigger in [name for name in contenders if name != "http"]:
        generated.FULFILLED.clear()
        hand_written.FULFILLED.clear()
        for call in contenders[trigger].values():
            assert call() is None, trigger
        assert generated.FULFILLED == hand_written.FULFILLED == [15], (trigger, generated.FULFILLED)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--out", type=Path, default=HERE / "results_azure_functions.json",
                        help="where to write the figures as JSON")
    args = parser.parse_args(argv)
    contenders = calls(*apps())
    check(contenders)
    info = machine()
    results: dict[str, Any] = {"machine": info, "quick": args.quick, "goal": GOAL, "cases": {}}
    print(f"Python {info['python']}; per-invocation min (median) of interleaved rounds, run.measure")
    print(f"{'trigger':<36} {'generated us':>18} {'hand-written us':>18} {'ratio':>6}  goal <= {GOAL}x")
    for trigger, pair in contenders.items():
        t = measure(pair, args.quick)
        ours, bare = (t[side]["min_ns"] / 1000 for side in ("portable", "bare"))
        ratio = ours / bare
        results["cases"][trigger] = {"generated_us": round(ours, 2), "hand_written_us": round(bare, 2),
                                     "generated_median_us": round(t["portable"]["median_ns"] / 1000, 2),
                                     "hand_written_median_us": round(t["bare"]["median_ns"] / 1000, 2),
                                     "ratio": round(ratio, 3), "met": ratio <= GOAL}
        verdict = "met" if ratio <= GOAL else "NOT MET"
        print(f"{trigger:<36} {ours:>7.2f} ({t['portable']['median_ns'] / 1000:>7.2f}) "
              f"{bare:>7.2f} ({t['bare']['median_ns'] / 1000:>7.2f}) {ratio:>6.3f}  {verdict}")
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
