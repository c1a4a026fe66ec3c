"""The portable side of benchmarks/azure_functions.py: the same work as bare_function_app.py."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, function, http, queue, topic

FULFILLED: list[int] = []


@function(trigger=http("POST", "/orders", public=True))
def create_order(request: Request) -> Response:
    order = request.json()
    total = sum(line["quantity"] for line in order["lines"])
    return Response.json({"id": order["id"], "total": total}, status=201)


@function(trigger=queue("orders"))
def fulfil(event: CloudEvent[dict]) -> None:
    FULFILLED.append(sum(line["quantity"] for line in event.data["lines"]))


@function(trigger=topic("orders-placed"))
def on_order_placed(event: CloudEvent[dict]) -> None:
    FULFILLED.append(sum(line["quantity"] for line in event.data["lines"]))
