"""An app with state: one function writes `orders`, another only reads it, a third declares none; a queue
function with a retry policy."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, function, http, queue
from portable_fn.runtime.retry import RetryPolicy, exponential
from portable_fn.runtime.state import state

orders = state("orders")
audit = state("audit-log")


@function(trigger=queue("orders"), uses=[orders.write(), audit.write()], retry=RetryPolicy(5, exponential(2, max=60)))
def take_order(event: CloudEvent) -> None:
    orders.put(event.id, event.data)
    audit.put(event.id, "taken")


@function(trigger=http("GET", "/orders/{id}"), uses=[orders.read()])
def show_order(request: Request) -> Response:
    return Response.json(orders.get(request.path_params["id"]))


@function(trigger=http("GET", "/ping"))
def ping(request: Request) -> Response:
    return Response.json({"pong": True})
