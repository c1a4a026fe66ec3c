"""Measure an HTTP API (payload 2.0) request through the AWS shim against Powertools' APIGatewayHttpResolver.

Why it exists: on AWS an HTTP function is a Lambda behind an HTTP API or a Function URL, and there the
shim does what Powertools' event handler does (route the request, call the handler, write the response
shape API Gateway wants). Every contender runs in this one process, interleaved round by round
(`run.measure`), so a noisy machine slows all of them alike.

    python benchmarks/aws_http.py            # full run (about 5 s), writes benchmarks/results_aws_http.json
    python benchmarks/aws_http.py --quick    # smoke run (about 2 s), same table, rougher numbers

Goal: request in, response out in at most 0.3x Powertools' time.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_sqs import FakeLambdaContext
from portable_fn_aws.shim import make_handler
from run import DATA, machine, measure

from portable_fn.runtime import Request, function, http

HERE = Path(__file__).resolve().parent
FIXTURE = Path("/work/shared/fixtures/aws/powertools-lambda-python/tests/events/apiGatewayProxyV2Event_GET.json")
POWERTOOLS_GOAL = 0.3
ORDER_ID = "ord_8f14e45fceea167a5a36dedd4bea2543"

# -- the event: Powertools' HTTP API GET fixture, routed to /orders/{order_id} ------------------------


def http_event() -> dict[str, Any]:
    event = json.loads(FIXTURE.read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/orders/{ORDER_ID}"
    event["routeKey"] = event["requestContext"]["routeKey"] = "GET /orders/{order_id}"
    event["pathParameters"] = {"order_id": ORDER_ID}
    return event


# -- the same work in each contender: the order named by the path, as JSON -----------------------------


def find_order(order_id: str) -> dict[str, Any]:
    return {**DATA, "order_id": order_id}


@function(trigger=http("GET", "/orders/{order_id}"))
def get_order(request: Request) -> dict[str, Any]:
    return find_order(request.path_params["order_id"])


ours = make_handler(get_order.__portable_fn__)  # type: ignore[attr-defined]

app = APIGatewayHttpResolver()  # module level, as Powertools' documentation has it


@app.get("/orders/<order_id>")
def powertools_get_order(order_id: str) -> dict[str, Any]:
    return find_order(order_id)


def powertools(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


def hand_written(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The least code that answers this one route: no request object, no routing table."""
    order_id = event["rawPath"].rsplit("/", 1)[1]
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(find_order(order_id), separators=(",", ":")),
        "isBase64Encoded": False,
    }


# -- timing ------------------------------------------------------------------------------------------------


def contenders() -> dict[str, Callable[[dict[str, Any], Any], Any]]:
    return {"ours": ours, "powertools": powertools, "hand-written": hand_written}


def check(event: dict[str, Any], context: Any) -> None:
    """Refuse to time contenders that do not answer the same status, content type and JSON body."""
    want = find_order(ORDER_ID)
    for name, handler in contenders().items():
        got = handler(event, context)
        headers = {k.lower(): v for k, v in got["headers"].items()}
        assert got["statusCode"] == 200 and not got["isBase64Encoded"], (name, got)
        assert headers.get("content-type") == "application/json", (name, got["headers"])
        assert json.loads(got["body"]) == want, (name, got["body"])


def bench(quick: bool) -> list[dict[str, Any]]:
    event, context = http_event(), FakeLambdaContext()
    check(event, context)
    t = measure({name: lambda h=h: h(event, context) for name, h in contenders().items()}, quick)
    vs_pt = t["ours"]["min_ns"] / t["powertools"]["min_ns"]
    row = {
        "case": "ours",
        "ours_over_powertools": vs_pt,
        "ours_over_hand_written": t["ours"]["min_ns"] / t["hand-written"]["min_ns"],
        "met_powertools": vs_pt <= POWERTOOLS_GOAL,
    }
    return [{"times": t, "rows": [row]}]


def print_report(result: dict[str, Any], info: dict[str, Any]) -> None:
    t = result["times"]
    print(f"\nPython {info['python']} on {info['cores']} cores ({info['cpu']}); per-request min of repeats")
    print(
        f"HTTP API v2 GET /orders/{{order_id}} -> JSON; powertools {t['powertools']['min_ns'] / 1000:.2f} µs, "
        f"hand-written {t['hand-written']['min_ns'] / 1000:.2f} µs"
    )
    print(f"\n{'HTTP API v2 request':<24}{'ours':>11}{'ours/pt':>9}{'ours/hand':>11}  goal (<=0.3x)")
    for r in result["rows"]:
        ns = t[r["case"]]["min_ns"]
        print(
            f"{r['case']:<24}{ns / 1000:>8.2f} µs{r['ours_over_powertools']:>8.2f}x"
            f"{r['ours_over_hand_written']:>10.2f}x  vs powertools {_verdict(r['met_powertools'])}"
        )


def _verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run with few repeats")
    parser.add_argument("--out", type=Path, default=HERE / "results_aws_http.json", help="where to write JSON")
    args = parser.parse_args(argv)
    [result] = bench(args.quick)
    info = machine()
    print_report(result, info)
    args.out.write_text(
        json.dumps({"machine": info, "quick": args.quick, "aws_http": result}, indent=2, ensure_ascii=False) + "\n"
    )
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
