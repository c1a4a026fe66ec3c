"""Per-invocation cost of generated Azure Functions v2 functions against hand-written ones doing the same
work on the same `azure.functions` objects: HTTP, Storage Queue, Service Bus queue and Event Grid (both
schemas).

Why it exists: on Azure every invocation goes from the host's trigger object through the generated
`function_app.py` and `portable_fn_azure.shim` (conversion to Request / CloudEvent, dispatch, conversion
back) before the portable handler runs. Goal (issue 13): within 1.2x of the hand-written function, per invocation.

Both apps (benchmarks/azure_functions_app/) are indexed by the real `azure-functions` library
(`app.get_functions()`), and each function is reached through that index (`get_user_function()` and its
bindings). Two tables:

- per invocation (the goal): what the Python worker does for one invocation, from the host's message to
  what goes back (see `invocation`): the trigger and its metadata become `Datum`s, the converter
  azure.functions registers for the binding decodes the trigger object, output bindings get an `Out`, the
  function runs, the `$return` and the outputs are encoded. Every invocation gets a new object, as in a
  worker; gRPC, protobuf, logging and the thread-pool hop are left out (the same on both sides).
- the function call alone, with one prebuilt object per trigger: a `func.HttpRequest` carrying a 315-byte
  JSON order, a `QueueMessage` and a `ServiceBusMessage` with the same body (the Service Bus function is
  the same portable function generated with `queue_transport = "service_bus"`), and the `EventGridEvent` /
  `CloudEvent` the library's own converter makes of an Event Grid delivery in either schema. This shows the
  shim's own cost with warm caches; for Event Grid the hand-written call is ~0.5 µs, which 1.1x cannot fit
  any wrapper into.

Before timing, both sides must give the same answer in both tables (HTTP: status, body, content type,
headers, and the encoded response; events: the same total recorded, nothing dead-lettered). Timing is
`run.measure`: contenders interleaved round by round, so a noisy machine slows both alike; min and median
of the rounds.

None of these handlers reads `event.time`: the queue and Service Bus times are formatted only when read
(see benchmarks/README.md for what a read costs).

    python benchmarks/azure_functions.py            # full run (about 40 s); writes results_azure_functions.json
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
from typing import Any, NamedTuple

import azure.functions as func
from azure.functions.decorators.core import BindingDirection
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.queue import QueueMessage
from azure.functions.servicebus import ServiceBusMessage
from portable_fn_azure.codegen import function_app_source as generate_function_app
from run import machine, measure

from portable_fn.app import load_app

HERE = Path(__file__).resolve().parent
APP_DIR = HERE / "azure_functions_app"
GOAL = 1.2
ORDER = {
    "id": "o-1001",
    "customer": "c-42",
    "currency": "EUR",
    "note": "leave at the door, ring twice",
    "lines": [{"sku": f"sku-{i}", "quantity": i + 1, "price": "9.99"} for i in range(5)],
}
TOPIC = "/subscriptions/0000/resourceGroups/bench/providers/Microsoft.EventGrid/topics/orders-placed"
EVENT_GRID = {
    "id": "eg-1",
    "topic": TOPIC,
    "subject": "orders/o-1001",
    "eventType": "com.example.order.placed",
    "eventTime": "2024-05-01T10:00:00.1234567Z",
    "data": ORDER,
    "dataVersion": "1",
}
CLOUD_EVENT = {
    "specversion": "1.0",
    "id": "ce-1",
    "source": TOPIC,
    "subject": "orders/o-1001",
    "type": "com.example.order.placed",
    "time": "2024-05-01T10:00:00.1234567Z",
    "datacontenttype": "application/json",
    "data": ORDER,
}


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


class Indexed(NamedTuple):
    """One function as the worker sees it after indexing: the user function and its bindings."""

    call: Callable[..., Any]
    trigger: str  # the trigger's argument name
    decoder: Any  # the converter azure.functions registers for the trigger's binding type
    outputs: tuple[tuple[str, Any], ...]  # (argument name, converter) of each output binding but $return
    returns: Any  # the $return binding's converter, or None


def indexed(module: Any) -> dict[str, Indexed]:
    registry = func.get_binding_registry()
    found = {}
    for fn in module.app.get_functions():
        bindings, trigger = fn.get_bindings(), fn.get_trigger()
        out = [b for b in bindings if b.direction == BindingDirection.OUT.value]
        found[fn.get_function_name()] = Indexed(
            fn.get_user_function(),
            trigger.name,
            registry.get(trigger.type),
            tuple((b.name, registry.get(b.type)) for b in out if b.name != "$return"),
            next((registry.get(b.type) for b in out if b.name == "$return"), None),
        )
    return found


def apps() -> tuple[dict[str, Indexed], dict[str, Indexed]]:
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


def calls(generated: dict[str, Indexed], written: dict[str, Indexed]) -> dict[str, dict[str, Callable[[], Any]]]:
    """The function call alone, on one prebuilt `azure.functions` object per trigger."""
    portable = {name: f.call for name, f in generated.items()}
    bare = {name: f.call for name, f in written.items()}
    body = json.dumps(ORDER).encode()
    request = func.HttpRequest(
        "POST",
        "https://bench.azurewebsites.net/orders",
        body=body,
        headers={
            "Content-Type": "application/json",
            "Host": "bench.azurewebsites.net",
            "User-Agent": "bench",
            "Accept": "*/*",
            "X-Forwarded-For": "10.0.0.1",
        },
    )
    message = QueueMessage(
        id="m-1",
        body=body,
        dequeue_count=1,
        pop_receipt="r",
        insertion_time=datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc),
    )
    bus = ServiceBusMessage(
        body=body,
        message_id="sb-1",
        content_type="application/json",
        delivery_count=1,
        enqueued_time_utc=datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc),
        sequence_number=1,
        application_properties={},
        user_properties={},
    )
    grid, cloud = _delivered(EVENT_GRID), _delivered(CLOUD_EVENT)
    ctx, out = HostContext(), Discard()
    return {
        "http": {
            "portable": lambda: portable["create_order"](request, ctx),
            "bare": lambda: bare["create_order"](request, ctx),
        },
        "queue": {
            "portable": lambda: portable["fulfil"](message, out, ctx),
            "bare": lambda: bare["fulfil"](message, ctx),
        },
        "service bus queue": {
            "portable": lambda: portable["fulfil_service_bus"](bus, ctx),
            "bare": lambda: bare["fulfil_service_bus"](bus, ctx),
        },
        "event grid": {
            "portable": lambda: portable["on_order_placed"](grid, ctx),
            "bare": lambda: bare["on_order_placed"](grid, ctx),
        },
        "event grid (CloudEvents schema)": {
            "portable": lambda: portable["on_order_placed"](cloud, ctx),
            "bare": lambda: bare["on_order_placed"](cloud, ctx),
        },
    }


# -- the worker's part of an invocation -----------------------------------------------------------------
# What azure-functions-python-worker 4.34 does per invocation around the function (dispatcher.py
# `_handle__invocation_request`, bindings/meta.py `from_incoming_proto`, `to_outgoing_param_binding`):
# every trigger-metadata entry and the trigger's TypedData become a `Datum`, the converter azure.functions
# registers for the binding type decodes the trigger, each output binding gets an `Out`, the function is
# called with keyword arguments, then each `Out` that was set and the `$return` are encoded by their
# converters. Left out, because it is the same on both sides (so leaving it out can only make the ratio
# larger): gRPC and protobuf, the invocation's log line, the `Context`, a sync function's thread-pool hop.
# The host's messages below carry what the host sends for each trigger (values as in `calls`).

URL = "https://bench.azurewebsites.net/orders"
HEADERS = {
    "content-type": "application/json",
    "host": "bench.azurewebsites.net",
    "user-agent": "bench",
    "accept": "*/*",
    "x-forwarded-for": "10.0.0.1",
}
SYS = (
    '{"MethodName":"bench","UtcNow":"2024-05-01T10:00:00.5Z","RandGuid":"6a5f4c1e-0000-4000-8000-000000000001"}',
    "json",
)
BODY = json.dumps(ORDER)
HOST: dict[str, tuple[tuple[Any, str], dict[str, tuple[Any, str]]]] = {  # trigger: (TypedData, metadata)
    "queue": (
        (BODY, "string"),
        {
            "QueueTrigger": (BODY, "string"),
            "Id": ("m-1", "string"),
            "DequeueCount": (1, "int"),
            "ExpirationTime": ("2024-05-08T10:00:00+00:00", "string"),
            "InsertionTime": ("2024-05-01T10:00:00+00:00", "string"),
            "NextVisibleTime": ("2024-05-01T10:10:00+00:00", "string"),
            "PopReceipt": ("r", "string"),
            "sys": SYS,
        },
    ),
    "service bus queue": (
        (BODY.encode(), "bytes"),
        {
            "MessageId": ("sb-1", "string"),
            "ContentType": ("application/json", "string"),
            "DeliveryCount": (1, "int"),
            "SequenceNumber": (1, "int"),
            "EnqueuedSequenceNumber": (1, "int"),
            "EnqueuedTimeUtc": ("2024-05-01T10:00:00.123456+00:00", "string"),
            "ExpiresAtUtc": ("2024-05-15T10:00:00.123456+00:00", "string"),
            "LockedUntil": ("2024-05-01T10:01:00.123456+00:00", "string"),
            "LockToken": ("0b6a1b7e-0000-4000-8000-000000000002", "string"),
            "State": (0, "int"),
            "TimeToLive": ("11:22:33", "string"),
            "UserProperties": ("{}", "json"),
            "ApplicationProperties": ("{}", "json"),
            "sys": SYS,
        },
    ),
    "event grid": ((json.dumps(EVENT_GRID), "json"), {"data": (json.dumps(ORDER), "json"), "sys": SYS}),
    "event grid (CloudEvents schema)": (
        (json.dumps(CLOUD_EVENT), "json"),
        {"data": (json.dumps(ORDER), "json"), "sys": SYS},
    ),
}


class WorkerOut:
    """The worker's `bindings.Out`: what an output binding's argument is."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


def _http_message() -> tuple[Datum, dict[str, Datum]]:
    """`Datum.from_typed_data` of the host's RpcHttp, and the metadata the host sends with it."""
    request = {
        "method": Datum("POST", "string"),
        "url": Datum(URL, "string"),
        "headers": {k: Datum(v, "string") for k, v in HEADERS.items()},
        "body": Datum(BODY.encode(), "bytes"),
        "params": {},
        "query": {},
    }
    return Datum(request, "http"), {
        "Headers": Datum(json.dumps(HEADERS), "json"),
        "Query": Datum("{}", "json"),
        "sys": Datum(*SYS),
    }


def _message(trigger: str) -> Callable[[], tuple[Datum, dict[str, Datum]]]:
    (value, kind), meta = HOST[trigger]
    return lambda: (Datum(value, kind), {k: Datum(v, t) for k, (v, t) in meta.items()})


def invocation(f: Indexed, message: Callable[[], tuple[Datum, dict[str, Datum]]], ctx: Any) -> Callable[[], Any]:
    """One invocation of `f` by the worker, from the host's message to what goes back: the encoded
    `$return`, or the encoded outputs that were set."""
    call, trigger, decode, outputs, returns = f.call, f.trigger, f.decoder.decode, f.outputs, f.returns

    def invoke() -> Any:
        datum, metadata = message()
        args = {trigger: decode(datum, trigger_metadata=metadata)}
        for name, _ in outputs:
            args[name] = WorkerOut()
        args["context"] = ctx
        result = call(**args)
        sent = [
            converter.encode(args[name].get(), expected_type=None)
            for name, converter in outputs
            if args[name].get() is not None
        ]
        return returns.encode(result, expected_type=None) if returns is not None else sent

    return invoke


def invocations(portable: dict[str, Indexed], bare: dict[str, Indexed]) -> dict[str, dict[str, Callable[[], Any]]]:
    ctx = HostContext()
    names = {
        "http": "create_order",
        "queue": "fulfil",
        "service bus queue": "fulfil_service_bus",
        "event grid": "on_order_placed",
        "event grid (CloudEvents schema)": "on_order_placed",
    }
    return {
        trigger: {
            side: invocation(functions[name], _http_message if trigger == "http" else _message(trigger), ctx)
            for side, functions in (("portable", portable), ("bare", bare))
        }
        for trigger, name in names.items()
    }


def check(calls: dict[str, dict[str, Callable[[], Any]]], invoked: dict[str, dict[str, Callable[[], Any]]]) -> None:
    """Both sides answer alike, called alone and invoked by the worker, before anything is timed."""
    answers = {name: call() for name, call in calls["http"].items()}
    shown = {
        name: (r.status_code, r.get_body(), r.mimetype, r.charset, sorted(r.headers.items()))
        for name, r in answers.items()
    }
    assert shown["portable"] == shown["bare"] and shown["bare"][0] == 201, shown
    sent = {name: invoke() for name, invoke in invoked["http"].items()}  # the encoded $return
    assert sent["portable"] == sent["bare"] and sent["bare"].value["status_code"].value == "201", sent
    generated, hand_written = sys.modules["bench_functions"], sys.modules["bench_bare"]
    for trigger in [name for name in calls if name != "http"]:
        for contenders, nothing in ((calls, None), (invoked, [])):
            generated.FULFILLED.clear()
            hand_written.FULFILLED.clear()
            for call in contenders[trigger].values():
                assert call() == nothing, trigger  # acknowledged; nothing dead-lettered
            assert generated.FULFILLED == hand_written.FULFILLED == [15], (trigger, generated.FULFILLED)


def table(title: str, contenders: dict[str, dict[str, Callable[[], Any]]], quick: bool) -> dict[str, Any]:
    print(f"\n{title}")
    print(f"{'trigger':<36} {'generated us':>18} {'hand-written us':>18} {'ratio':>6}  goal <= {GOAL}x")
    cases = {}
    for trigger, pair in contenders.items():
        t = measure(pair, quick)
        ours, bare = (t[side]["min_ns"] / 1000 for side in ("portable", "bare"))
        ratio = ours / bare
        cases[trigger] = {
            "generated_us": round(ours, 2),
            "hand_written_us": round(bare, 2),
            "generated_median_us": round(t["portable"]["median_ns"] / 1000, 2),
            "hand_written_median_us": round(t["bare"]["median_ns"] / 1000, 2),
            "ratio": round(ratio, 3),
            "met": ratio <= GOAL,
        }
        verdict = "met" if ratio <= GOAL else "NOT MET"
        print(
            f"{trigger:<36} {ours:>7.2f} ({t['portable']['median_ns'] / 1000:>7.2f}) "
            f"{bare:>7.2f} ({t['bare']['median_ns'] / 1000:>7.2f}) {ratio:>6.3f}  {verdict}"
        )
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument(
        "--out", type=Path, default=HERE / "results_azure_functions.json", help="where to write the figures as JSON"
    )
    args = parser.parse_args(argv)
    portable, bare = apps()
    invoked, alone = invocations(portable, bare), calls(portable, bare)
    check(alone, invoked)
    info = machine()
    print(f"Python {info['python']}; min (median) of interleaved rounds, run.measure")
    results: dict[str, Any] = {"machine": info, "quick": args.quick, "goal": GOAL}
    results["invocation"] = table(
        "per invocation: the worker's binding work for the host's message, then the call", invoked, args.quick
    )
    results["call"] = table("the function call alone, on a prebuilt azure.functions object", alone, args.quick)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
