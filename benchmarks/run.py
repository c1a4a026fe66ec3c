"""Measure the runtime core against the cloudevents 1.x SDK, a hand-written floor and a direct call.

Why it exists: `portable_fn.runtime` ships inside every deployed function, so its per-event cost and its
import time are features with goals. Every contender runs in this one process, interleaved round by round,
so a noisy machine slows all of them alike and the ratios stay honest.

    python benchmarks/run.py            # full run (about a minute), writes benchmarks/results.json
    python benchmarks/run.py --quick    # smoke run (a few seconds), same table, rougher numbers
    python benchmarks/run.py workflow_checkpoint [--quick]   # another benchmark of this folder (SCRIPTS)

Goals: codec ops >= 3x faster than the SDK and within 1.5x of the floor; `call_event` within 1.2x of
calling the handler directly; `import portable_fn.runtime` under 5 ms over `python -c pass`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloudevents import conversion as sdk_conversion
from cloudevents import http as sdk_http
from pydantic import BaseModel

from portable_fn.runtime import CloudEvent, call_event, function, queue
from portable_fn.runtime import http_binding as ours

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SDK_GOAL, FLOOR_GOAL, DISPATCH_GOAL, IMPORT_GOAL_MS = 3.0, 1.5, 1.2, 5.0
# The benchmarks of this folder run.py also runs by name (`run.py NAME [args]`: NAME.py's main(args))
SCRIPTS = ("workflow_checkpoint",)

# -- realistic payload: a ~300 byte JSON object, 6 attributes + the traceparent extension ----------------

DATA: dict[str, Any] = {
    "order_id": "ord_8f14e45fceea167a5a36dedd4bea2543",
    "customer": {"id": "cus_1029", "email": "ana.silva@example.com", "tier": "gold"},
    "lines": [
        {"sku": "TSHIRT-BLK-M", "qty": 2, "price_cents": 1999},
        {"sku": "MUG-WHT", "qty": 1, "price_cents": 1250},
    ],
    "currency": "EUR",
    "placed_at": "2024-05-14T09:21:07.512Z",
    "notes": "Leave at the door",
}
ATTRS = {
    "specversion": "1.0",
    "id": "5d1e7f0c-3b8a-4f7e-9a51-0c2b6d9e8f41",
    "source": "//shop.example.com/orders",
    "type": "com.example.order.created",
    "time": "2024-05-14T09:21:07.518Z",
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
}
CONTENT_TYPE = "application/json"
OTHER_HEADERS = {  # what a real POST also carries; every decoder has to skip these
    "Host": "orders-fn.example.com",
    "User-Agent": "Go-http-client/1.1",
    "Accept-Encoding": "gzip",
    "X-Forwarded-For": "203.0.113.7",
}
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def binary_request() -> tuple[dict[str, str], bytes]:
    headers = {"Ce-" + k.capitalize(): v for k, v in ATTRS.items()}
    headers.update(OTHER_HEADERS)
    headers["Content-Type"] = CONTENT_TYPE
    body = _COMPACT.encode(DATA).encode()
    headers["Content-Length"] = str(len(body))
    return headers, body


def structured_request() -> tuple[dict[str, str], bytes]:
    body = _COMPACT.encode({**ATTRS, "datacontenttype": CONTENT_TYPE, "data": DATA}).encode()
    headers = {**OTHER_HEADERS, "Content-Type": "application/cloudevents+json", "Content-Length": str(len(body))}
    return headers, body


# -- the floors: the least work that yields the same attributes and data ---------------------------------


def floor_decode_binary(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], Any]:
    attrs = {}
    for name, value in headers.items():
        name = name.lower()
        if name.startswith("ce-"):
            attrs[name[3:]] = value
        elif name == "content-type":
            attrs["datacontenttype"] = value
    return attrs, json.loads(body)


def floor_decode_structured(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], Any]:
    lower = {k.lower(): v for k, v in headers.items()}
    if lower["content-type"] != "application/cloudevents+json":
        raise ValueError("not a structured CloudEvent")
    attrs = json.loads(body)
    return attrs, attrs.pop("data", None)


def floor_encode_binary(attrs: dict[str, str], data: Any) -> tuple[dict[str, str], bytes]:
    headers = {"ce-" + k: v for k, v in attrs.items()}
    headers["content-type"] = CONTENT_TYPE
    return headers, _COMPACT.encode(data).encode()


def floor_encode_structured(attrs: dict[str, str], data: Any) -> tuple[dict[str, str], bytes]:
    obj = {**attrs, "datacontenttype": CONTENT_TYPE, "data": data}
    return {"content-type": "application/cloudevents+json"}, _COMPACT.encode(obj).encode()


# -- timing ------------------------------------------------------------------------------------------------


def measure(contenders: dict[str, Callable[[], Any]], quick: bool) -> dict[str, dict[str, float]]:
    """Per-op ns (min and median over repeats), contenders interleaved round by round."""
    repeats, budget = (7, 0.004) if quick else (41, 0.02)
    timers = {name: timeit.Timer(fn) for name, fn in contenders.items()}
    numbers = {name: _loops_for(t, budget) for name, t in timers.items()}
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(repeats):
        for name, t in timers.items():
            samples[name].append(t.timeit(numbers[name]) / numbers[name] * 1e9)
    return {n: {"min_ns": min(s), "median_ns": statistics.median(s)} for n, s in samples.items()}


def _loops_for(timer: timeit.Timer, budget_s: float) -> int:
    number, elapsed = timer.autorange()
    return max(1, int(number * budget_s / elapsed))


# -- 1 and 2: the HTTP binding -----------------------------------------------------------------------------


def codec_cases() -> dict[str, dict[str, Callable[[], Any]]]:
    bin_h, bin_b = binary_request()
    st_h, st_b = structured_request()
    event = CloudEvent(
        data=DATA,
        datacontenttype=CONTENT_TYPE,
        **_without(ATTRS, "traceparent"),
        extensions={"traceparent": ATTRS["traceparent"]},
    )
    sdk_event = sdk_http.CloudEvent({**ATTRS, "datacontenttype": CONTENT_TYPE}, DATA)
    return {
        "decode binary": {
            "ours": lambda: ours.from_http(bin_h, bin_b),
            "sdk": lambda: sdk_http.from_http(bin_h, bin_b),
            "floor": lambda: floor_decode_binary(bin_h, bin_b),
        },
        "decode structured": {
            "ours": lambda: ours.from_http(st_h, st_b),
            "sdk": lambda: sdk_http.from_http(st_h, st_b),
            "floor": lambda: floor_decode_structured(st_h, st_b),
        },
        "encode binary": {
            "ours": lambda: ours.to_binary(event),
            "sdk": lambda: sdk_conversion.to_binary(sdk_event),
            "floor": lambda: floor_encode_binary(ATTRS, DATA),
        },
        "encode structured": {
            "ours": lambda: ours.to_structured(event),
            "sdk": lambda: sdk_conversion.to_structured(sdk_event),
            "floor": lambda: floor_encode_structured(ATTRS, DATA),
        },
    }


def check_codec(cases: dict[str, dict[str, Callable[[], Any]]]) -> None:
    """Refuse to time contenders that do not produce the same event."""
    want = {**ATTRS, "datacontenttype": CONTENT_TYPE}
    for case in ("decode binary", "decode structured"):
        event, sdk_event = cases[case]["ours"](), cases[case]["sdk"]()
        attrs, data = cases[case]["floor"]()
        assert event.attributes() == want == sdk_event.get_attributes() == attrs, case
        assert event.data == sdk_event.data == data == DATA, case
    for case in ("encode binary", "encode structured"):
        for name, fn in cases[case].items():
            decoded = ours.from_http(*fn())
            assert decoded.attributes() == want and decoded.data == DATA, (case, name)


def bench_codec(quick: bool) -> list[dict[str, Any]]:
    cases = codec_cases()
    check_codec(cases)
    rows = []
    for case, contenders in cases.items():
        t = measure(contenders, quick)
        vs_sdk = t["sdk"]["min_ns"] / t["ours"]["min_ns"]
        vs_floor = t["ours"]["min_ns"] / t["floor"]["min_ns"]
        rows.append(
            {
                "case": case,
                "times": t,
                "sdk_over_ours": vs_sdk,
                "ours_over_floor": vs_floor,
                "met_sdk": vs_sdk >= SDK_GOAL,
                "met_floor": vs_floor <= FLOOR_GOAL,
            }
        )
    return rows


# -- 3: dispatch -------------------------------------------------------------------------------------------


@function(trigger=queue("orders"))
def order_total(event: CloudEvent) -> int:
    """A realistic small handler: total the order's lines."""
    return sum(line["qty"] * line["price_cents"] for line in event.data["lines"])


@function(trigger=queue("orders-typed"))
def order_total_typed(event: CloudEvent[dict]) -> int:  # type: ignore[type-arg]
    return sum(line["qty"] * line["price_cents"] for line in event.data["lines"])


class Line(BaseModel):
    sku: str
    qty: int
    price_cents: int


class Order(BaseModel):
    order_id: str
    lines: list[Line]
    currency: str


@function(trigger=queue("orders-model"))
def order_total_model(event: CloudEvent[Order]) -> int:
    """The typical handler: data validated into the user's pydantic model, then used."""
    return sum(line.qty * line.price_cents for line in event.data.lines)


def order_total_model_direct(event: CloudEvent) -> int:
    """The same work without portable-fn: validate the model by hand, then use it."""
    order = Order.model_validate(event.data)
    return sum(line.qty * line.price_cents for line in order.lines)


def bench_dispatch(quick: bool) -> list[dict[str, Any]]:
    event = ours.from_http(*binary_request())
    rows = []
    for label, handler, direct in (
        ("CloudEvent", order_total, order_total),
        ("CloudEvent[dict]", order_total_typed, order_total_typed),
        ("CloudEvent[Order] (pydantic)", order_total_model, order_total_model_direct),
    ):
        spec = handler.__portable_fn__  # type: ignore[attr-defined]
        assert call_event(spec, event).value == direct(event) == 5248, label
        t = measure({"call_event": lambda s=spec: call_event(s, event), "direct": lambda h=direct: h(event)}, quick)
        ratio = t["call_event"]["min_ns"] / t["direct"]["min_ns"]
        rows.append(
            {
                "case": f"call_event {label}",
                "times": t,
                "ratio": ratio,
                "overhead_ns": t["call_event"]["min_ns"] - t["direct"]["min_ns"],
                "met": ratio <= DISPATCH_GOAL,
            }
        )
    return rows


# -- 4: import time ----------------------------------------------------------------------------------------


def bench_import(quick: bool) -> list[dict[str, Any]]:
    """Wall time of fresh interpreters, with .pyc files cached (as a deployed package ships them)."""
    runs = 8 if quick else 40
    path = f"import sys; sys.path.insert(0, {str(ROOT)!r})"
    commands = {  # name -> (python flags, code); -S: no site, so nothing is imported beforehand
        "baseline": ([], "pass"),
        "portable_fn.runtime": ([], "import portable_fn.runtime"),
        "cloudevents.http": ([], "import cloudevents.http"),
        "bare baseline": (["-S"], path),
        "portable_fn.runtime, bare -S": (["-S"], path + "; import portable_fn.runtime"),
    }
    ms: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as cache:
        for i in range(runs + 1):  # the first round fills the cache and is not counted
            for name, (flags, code) in commands.items():
                took = _wall_ms([sys.executable, *flags, "-c", code], _pyc_env(cache))
                if i:
                    ms[name].append(took)
    rows = []
    for name, base in (
        ("portable_fn.runtime", "baseline"),
        ("cloudevents.http", "baseline"),
        ("portable_fn.runtime, bare -S", "bare baseline"),
    ):
        over_median = statistics.median(ms[name]) - statistics.median(ms[base])
        over_min = min(ms[name]) - min(ms[base])
        goal = name == "portable_fn.runtime"
        rows.append(
            {
                "case": f"import {name}",
                "over_baseline_median_ms": over_median,
                "over_baseline_min_ms": over_min,
                "baseline_median_ms": statistics.median(ms[base]),
                "goal": goal,
                "met": over_median < IMPORT_GOAL_MS if goal else None,
            }
        )
    return rows


def _wall_ms(cmd: list[str], env: dict[str, str]) -> float:
    start = timeit.default_timer()
    subprocess.run(cmd, check=True, env=env)
    return (timeit.default_timer() - start) * 1e3


def _pyc_env(cache: str) -> dict[str, str]:
    """Bytecode written to and read from `cache`, outside the work tree (even if the caller's
    environment sets PYTHONDONTWRITEBYTECODE)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def importtime_summary(quick: bool) -> dict[str, Any]:
    """`-X importtime`: self time (median of runs) of every module our import pulls in."""
    runs = 3 if quick else 9
    per_module: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as cache:
        for i in range(runs + 1):  # the first run fills the bytecode cache and is not counted
            err = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", "import portable_fn.runtime"],
                capture_output=True,
                text=True,
                check=True,
                env=_pyc_env(cache),
            ).stderr
            for name, self_us in _after_site(err) if i else ():
                per_module.setdefault(name, []).append(self_us)
    medians = {n: statistics.median(v) for n, v in per_module.items()}
    ours_us = sum(v for n, v in medians.items() if n.startswith("portable_fn"))
    return {
        "ours_self_us": ours_us,
        "stdlib_self_us": sum(medians.values()) - ours_us,
        "modules_us": dict(sorted(medians.items(), key=lambda kv: -kv[1])),
    }


def _after_site(stderr: str) -> list[tuple[str, int]]:
    """(module, self µs) for the imports that ran after `site`, i.e. the ones `-c` caused."""
    lines = [ln for ln in stderr.splitlines() if ln.startswith("import time:") and "|" in ln]
    rows = [(ln.split("|")[2].strip(), ln.split("|")[0].split(":")[1].strip()) for ln in lines]
    last_site = max((i for i, (name, _) in enumerate(rows) if name == "site"), default=-1)
    return [(name, int(us)) for name, us in rows[last_site + 1 :] if us.isdigit()]


# -- report ------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        cpu = next(
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
    }


def _verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def _us(ns: float) -> str:
    return f"{ns / 1000:7.2f} µs"


def print_report(
    codec: list[dict[str, Any]],
    dispatch: list[dict[str, Any]],
    imports: list[dict[str, Any]],
    itime: dict[str, Any],
    info: dict[str, Any],
) -> None:
    print(f"\nPython {info['python']} on {info['cores']} cores ({info['cpu']}); per-op min of repeats")
    print(
        f"\n{'HTTP binding':<19}{'ours':>11}{'sdk':>11}{'floor':>11}"
        f"{'sdk/ours':>10}{'ours/floor':>12}  goal (>=3x, <=1.5x)"
    )
    for r in codec:
        t = r["times"]
        print(
            f"{r['case']:<19}{_us(t['ours']['min_ns'])}{_us(t['sdk']['min_ns'])}"
            f"{_us(t['floor']['min_ns'])}{r['sdk_over_ours']:>9.2f}x{r['ours_over_floor']:>11.2f}x  "
            f"vs sdk {_verdict(r['met_sdk'])}, vs floor {_verdict(r['met_floor'])}"
        )
    print(f"\n{'Dispatch':<40}{'call_event':>11}{'direct':>11}{'ratio':>9}{'overhead':>12}  goal (<=1.2x)")
    for r in dispatch:
        t = r["times"]
        print(
            f"{r['case']:<40}{_us(t['call_event']['min_ns'])}{_us(t['direct']['min_ns'])}"
            f"{r['ratio']:>8.2f}x{r['overhead_ns']:>9.0f} ns  {_verdict(r['met'])}"
        )
    print(f"\n{'Import (over baseline)':<37}{'median':>10}{'min':>10}  goal (<5 ms)")
    for r in imports:
        verdict = _verdict(r["met"]) if r["goal"] else "(reference)"
        print(f"{r['case']:<37}{r['over_baseline_median_ms']:>7.1f} ms{r['over_baseline_min_ms']:>7.1f} ms  {verdict}")
    top = ", ".join(f"{n} {us / 1000:.2f}" for n, us in list(itime["modules_us"].items())[:8])
    print(
        f"-X importtime self ms: ours {itime['ours_self_us'] / 1000:.2f}, stdlib pulled in "
        f"{itime['stdlib_self_us'] / 1000:.2f}; top: {top}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SCRIPTS:
        return int(importlib.import_module(argv[0]).main(argv[1:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run with few repeats")
    parser.add_argument("--out", type=Path, default=HERE / "results.json", help="where to write JSON")
    args = parser.parse_args(argv)
    codec, dispatch = bench_codec(args.quick), bench_dispatch(args.quick)
    imports, itime = bench_import(args.quick), importtime_summary(args.quick)
    info = machine()
    print_report(codec, dispatch, imports, itime, info)
    results = {
        "machine": info,
        "quick": args.quick,
        "codec": codec,
        "dispatch": dispatch,
        "import": imports,
        "importtime": itime,
    }
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {args.out}")
    return 0


def _without(mapping: dict[str, str], key: str) -> dict[str, str]:
    return {k: v for k, v in mapping.items() if k != key}


if __name__ == "__main__":
    sys.exit(main())
