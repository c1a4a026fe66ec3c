"""An app with state: `take_order` writes `orders` and `audit-log`, `show_order` reads `orders` and
`prices` (which no function writes), `ping` declares none; the queue function has a retry policy."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, function, http, queue
from portable_fn.runtime.retry import RetryPolicy, exponential
from portable_fn.runtime.state import state

orders = state("orders")
audit = state("audit-log")
prices = state("prices")


@function(trigger=queue("orders"), uses=[orders.write(), audit.write()], retry=RetryPolicy(5, exponential(2, max=60)))
def take_order(event: CloudEvent) -> None:
    orders.put(event.id, event.data)
    audit.put(event.id, "taken")


@function(trigger=http("GET", "/orders/{id}"), uses=[orders.read(), prices.read()])
def show_order(request: Request) -> Response:
    order = orders.get(request.path_params["id"])
    return Response.json({"order": order, "price": prices.get(request.path_params["id"])})


@function(trigger=http("GET", "/ping"))
def ping(request: Request) -> Response:
    return Response.json({"pong": True})
