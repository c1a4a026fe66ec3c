"""Measure an SQS batch through the AWS shim against Powertools' BatchProcessor and a hand-written loop.

Why it exists: on AWS most event-driven functions are SQS consumers, and there the shim does what
Powertools' batch utility does (call a handler per record, answer Lambda with the partial-batch response),
plus turning each record into a CloudEvent. Every contender runs in this one process, interleaved round
by round as in `run.measure`, so a noisy machine slows all of them alike; the order changes each round, so
each contender is timed after each of the others equally often, and the garbage collector stays on
(`measure_rotating`).

    python benchmarks/aws_sqs.py            # full run (about 8 s), writes benchmarks/results_aws_sqs.json
    python benchmarks/aws_sqs.py --quick    # smoke run (about 3 s), same table, rougher numbers

Goals: the whole batch (event in, `batchItemFailures` out) in at most 0.85x Powertools' time and within
1.1x of the hand-written loop.
"""

from __future__ import annotations

import argparse
import copy
import gc
import itertools
import json
import logging
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from portable_fn_aws.records import sqs_to_cloudevent
from portable_fn_aws.shim import make_handler
from run import DATA, _loops_for, machine

from portable_fn.runtime import CloudEvent, function, queue

HERE = Path(__file__).resolve().parent
FIXTURE = Path("/work/shared/fixtures/aws/powertools-lambda-python/tests/events/sqsEvent.json")
POWERTOOLS_GOAL, LOOP_GOAL = 0.85, 1.1
BATCH, FAILING = 10, 6  # FAILING: index of the record whose handler raises
SQS_TYPE = "com.amazonaws.sqs.message"

# -- the event: Powertools' SQS fixture record, repeated with unique ids and ~300-byte JSON bodies ------


def sqs_event(failing: int | None = FAILING) -> dict[str, Any]:
    """A batch of BATCH records; the handler raises for the one at index `failing` (None: all succeed)."""
    template = json.loads(FIXTURE.read_text())["Records"][1]  # the JSON-body record, no message attributes
    records = []
    for i in range(BATCH):
        record = copy.deepcopy(template)
        record["messageId"] = f"059f36b4-87a3-44ab-83d2-6619758{i:05d}"
        record["receiptHandle"] = f"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{i:04d}"
        record["attributes"]["SentTimestamp"] = str(1545082650636 + i)
        record["body"] = json.dumps(
            {**DATA, "order_id": f"ord_8f14e45fceea167a5a36dedd4bea{i:04d}", "fail": i == failing},
            separators=(",", ":"),
        )
        records.append(record)
    return {"Records": records}


class FakeLambdaContext:
    """What the Lambda Python runtime passes as `context` (the attributes Powertools and the shim read)."""

    function_name = "orders-consumer"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-2:123456789012:function:orders-consumer"
    memory_limit_in_mb = 512
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name = "/aws/lambda/orders-consumer"
    log_stream_name = "2024/05/14/[$LATEST]abcdef0123456789"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


# -- the same work in each contender: total the order's lines, fail the flagged order ------------------


def total(order: dict[str, Any]) -> int:
    if order["fail"]:
        raise ValueError(f"order {order['order_id']} cannot be fulfilled")
    return sum(line["qty"] * line["price_cents"] for line in order["lines"])


@function(trigger=queue("orders", batch_size=BATCH))
def on_order(event: CloudEvent) -> int:
    return total(event.data)


@function(trigger=queue("orders-typed", batch_size=BATCH))
def on_order_typed(event: CloudEvent[dict]) -> int:  # type: ignore[type-arg]
    return total(event.data)


ours = make_handler(on_order.__portable_fn__)  # type: ignore[attr-defined]
ours_typed = make_handler(on_order_typed.__portable_fn__)  # type: ignore[attr-defined]

processor = BatchProcessor(event_type=EventType.SQS)  # module level, as Powertools' documentation has it


def record_handler(record: SQSRecord) -> int:
    return total(json.loads(record.body))


def powertools(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def hand_written(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The least code that gives the handler a CloudEvent-shaped dict and reports failures."""
    failures = []
    for record in event["Records"]:
        try:
            total(to_event_dict(record)["data"])
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def to_event_dict(record: dict[str, Any]) -> dict[str, Any]:
    sent = int(record["attributes"]["SentTimestamp"])
    return {
        "id": record["messageId"],
        "source": record["eventSourceARN"],
        "type": SQS_TYPE,
        "time": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(sent // 1000))}.{sent % 1000:03d}Z",
        "data": json.loads(record["body"]),
    }


# -- timing ------------------------------------------------------------------------------------------------


def contenders() -> dict[str, Callable[[dict[str, Any], Any], Any]]:
    return {
        "ours CloudEvent": ours,
        "ours CloudEvent[dict]": ours_typed,
        "powertools": powertools,
        "hand-written": hand_written,
    }


def check(event: dict[str, Any], context: Any, failing: int | None) -> None:
    """Refuse to time contenders that do not report the same failed record, or build other events."""
    failed = [] if failing is None else [{"itemIdentifier": event["Records"][failing]["messageId"]}]
    want = {"batchItemFailures": failed}
    for name, handler in contenders().items():
        got = handler(event, context)
        assert got == want, (name, got, want)
    for record in event["Records"]:
        ours_event = sqs_to_cloudevent(record)
        assert to_event_dict(record) == {k: getattr(ours_event, k) for k in ("id", "source", "type", "time", "data")}, (
            record["messageId"]
        )


def measure_rotating(contenders: dict[str, Callable[[], Any]], quick: bool) -> dict[str, dict[str, Any]]:
    """`run.measure` (interleaved rounds, per-op min and median), with two differences.

    Each round runs in another order, every ordering of the contenders once per 24 rounds (4 contenders):
    what ran just before a contender (what it left in the caches and the allocator) moves its time, and a
    fixed order gives it the same neighbour every round. The result also has, per contender, the min by
    each other contender timed just before it.

    The garbage collector stays on, as in a Lambda process: `timeit` turns it off, which hides the cost of
    a contender that leaves reference cycles (its collections happen after the clock stops) and instead
    makes it pay for memory that grows for the whole run, more the longer the run."""
    orders = list(itertools.permutations(contenders))
    repeats, budget = (len(orders), 0.002) if quick else (2 * len(orders), 0.02)
    timers = {name: timeit.Timer(fn, setup=gc.enable) for name, fn in contenders.items()}
    numbers = {name: _loops_for(t, budget) for name, t in timers.items()}
    samples: dict[str, list[float]] = {name: [] for name in timers}
    after: dict[str, dict[str, list[float]]] = {name: {} for name in timers}
    before = ""
    for r in range(repeats):
        for name in orders[r % len(orders)]:
            ns = timers[name].timeit(numbers[name]) / numbers[name] * 1e9
            samples[name].append(ns)
            after[name].setdefault(before, []).append(ns)
            before = name
    return {
        n: {
            "min_ns": min(s),
            "median_ns": statistics.median(s),
            "min_ns_after": {b: min(v) for b, v in after[n].items() if b and b != n},
        }
        for n, s in samples.items()
    }


def bench(quick: bool, failing: int | None) -> dict[str, Any]:
    event, context = sqs_event(failing), FakeLambdaContext()
    check(event, context, failing)
    t = measure_rotating({name: lambda h=h: h(event, context) for name, h in contenders().items()}, quick)
    rows = []
    for name in ("ours CloudEvent", "ours CloudEvent[dict]"):
        vs_pt = t[name]["min_ns"] / t["powertools"]["min_ns"]
        vs_loop = t[name]["min_ns"] / t["hand-written"]["min_ns"]
        rows.append(
            {
                "case": name,
                "ours_over_powertools": vs_pt,
                "ours_over_loop": vs_loop,
                "met_powertools": vs_pt <= POWERTOOLS_GOAL,
                "met_loop": vs_loop <= LOOP_GOAL,
            }
        )
    return {"failing": failing, "times": t, "rows": rows}


def print_report(result: dict[str, Any], info: dict[str, Any]) -> None:
    t = result["times"]
    print(f"\nPython {info['python']} on {info['cores']} cores ({info['cpu']}); per-batch min of repeats")
    which = "one failing" if result["failing"] is not None else "none failing"
    print(
        f"SQS batch of {BATCH}, {which} -> batchItemFailures; "
        f"powertools {t['powertools']['min_ns'] / 1000:.2f} µs, "
        f"hand-written {t['hand-written']['min_ns'] / 1000:.2f} µs"
    )
    print(
        f"\n{'SQS batch of 10':<24}{'ours':>11}{'per record':>12}{'ours/pt':>9}{'ours/loop':>11}"
        f"  goal (<=0.85x, <=1.1x)"
    )
    for r in result["rows"]:
        ns = t[r["case"]]["min_ns"]
        print(
            f"{r['case']:<24}{ns / 1000:>8.2f} µs{ns / BATCH / 1000:>9.2f} µs"
            f"{r['ours_over_powertools']:>8.2f}x{r['ours_over_loop']:>10.2f}x  "
            f"vs powertools {_verdict(r['met_powertools'])}, vs loop {_verdict(r['met_loop'])}"
        )


def print_order_effect(result: dict[str, Any]) -> None:
    t = result["times"]
    names = list(t)
    print(f"\nmin by the contender timed just before (µs)\n{'':<24}" + "".join(f"{n[-16:]:>18}" for n in names))
    for name in names:
        after = t[name]["min_ns_after"]
        print(f"{name:<24}" + "".join(f"{after[b] / 1000:>18.2f}" if b in after else f"{'-':>18}" for b in names))


def _verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run with few repeats")
    parser.add_argument("--out", type=Path, default=HERE / "results_aws_sqs.json", help="where to write JSON")
    args = parser.parse_args(argv)
    # The shim logs each failed record once (ERROR with its traceback for a crash); Lambda's runtime would
    # format that line and ship it to CloudWatch. A NullHandler keeps the cost of building the record
    # (not of formatting the traceback) and leaves the terminal quiet.
    logging.getLogger("portable_fn").addHandler(logging.NullHandler())
    info = machine()
    results = {}
    for key, failing in (("aws_sqs", FAILING), ("aws_sqs_none_failing", None)):
        results[key] = result = bench(args.quick, failing)
        print_report(result, info)
        print_order_effect(result)
    args.out.write_text(
        json.dumps({"machine": info, "quick": args.quick, **results}, indent=2, ensure_ascii=False) + "\n"
    )
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
