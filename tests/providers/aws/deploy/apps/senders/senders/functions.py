"""Sending declared three ways: a topic no function of the app receives from, a queue one of its
functions receives from, and a queue only sent to (declared bare); one function sends nothing."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, cron, function, http, queue, topic

order_events = topic("order-events")  # received elsewhere: no function here subscribes
orders = queue("orders")  # received by `fulfil`
audit = queue("audit")  # received by nobody in this app


@function(trigger=http("POST", "/orders"), uses=[order_events.publish(), orders.send()])
def place(request: Request) -> Response:
    return Response.json({"placed": True}, status=201)


@function(trigger=orders, uses=[audit])
def fulfil(event: CloudEvent) -> None:
    pass


@function(trigger=cron("0 3 * * *"))
def nightly(event: CloudEvent) -> None:
    pass
