"""States used three ways (written, read, not at all) and retry policies on a queue and a topic."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, cron, function, http, queue, topic
from portable_fn.runtime.retry import RetryPolicy, exponential, fixed
from portable_fn.runtime.state import state

orders = state("orders")
stock = state("stock", ttl=3600)


@function(
    trigger=queue("orders"),
    uses=[orders.write(), stock.read()],
    retry=RetryPolicy(attempts=5, backoff=exponential(10, max=600)),
)
def fulfil(event: CloudEvent) -> None:
    orders.put(event.id, event.data)


@function(trigger=http("GET", "/stock/{sku}"), uses=[stock.read()])
def show_stock(request: Request) -> Response:
    return Response.json(stock.get(request.path_params["sku"]))


@function(trigger=topic("restocks"), uses=[stock], retry=RetryPolicy(attempts=6, backoff=fixed(120)))
def restock(event: CloudEvent) -> None:
    stock.put(event.data["sku"], event.data["count"])


@function(trigger=cron("0 3 * * *"))
def nightly(event: CloudEvent) -> None:
    pass
