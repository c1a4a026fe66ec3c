"""Functions that emit under the dev host: an order placed over HTTP is announced on a topic two functions
receive; `ping` and `pong` emit to each other for ever (until the hop limit); `shout` emits to a topic no
function receives from. Every function records what it received (and `place` what it emitted) in RECEIVED."""

from __future__ import annotations

from typing import Any

from portable_fn import CloudEvent, Context, Request, Response, function, http, queue, topic

RECEIVED: dict[str, list[Any]] = {}
ORDER_EVENTS = topic("order-events")
PING = queue("ping")
PONG = queue("pong")
NOBODY = topic("nobody-listens")


def _keep(name: str, what: Any) -> None:
    RECEIVED.setdefault(name, []).append(what)


@function(trigger=http("POST", "/orders"), uses=[ORDER_EVENTS.publish()])
def place(request: Request, ctx: Context) -> Response:
    order = request.json()
    sent = ctx.emit(ORDER_EVENTS, data=order, type="shop.order.placed", subject=order["id"])
    _keep("place", sent)
    return Response.json({"id": sent.id}, status=201)


@function(trigger=topic("order-events"))
def ship(event: CloudEvent[Any], ctx: Context) -> None:
    _keep("ship", (event, ctx.trace))


@function(trigger=topic("order-events"))
def bill(event: CloudEvent[Any], ctx: Context) -> None:
    _keep("bill", (event, ctx.trace))


@function(trigger=http("POST", "/loop"), uses=[PING.send()])
def start_loop(request: Request, ctx: Context) -> Response:
    ctx.emit(PING, data={"n": 0}, type="test.ping")
    return Response.json({"started": True}, status=202)


@function(trigger=queue("ping"), uses=[PONG.send()], retries=0)
def ping(event: CloudEvent[Any], ctx: Context) -> None:
    _keep("ping", event.extensions.get("pfnhops"))
    ctx.emit(PONG, data={"n": event.data["n"] + 1}, type="test.pong")


@function(trigger=queue("pong"), uses=[PING.send()], retries=0)
def pong(event: CloudEvent[Any], ctx: Context) -> None:
    _keep("pong", event.extensions.get("pfnhops"))
    ctx.emit(PING, data={"n": event.data["n"] + 1}, type="test.ping")


@function(trigger=http("POST", "/shout"), uses=[NOBODY.publish()])
def shout(request: Request, ctx: Context) -> Response:
    ctx.emit(NOBODY, data={"hello": True}, type="test.shout")
    return Response.json({"shouted": True})


@function(trigger=queue("later"))
def later(event: CloudEvent[Any]) -> None:
    _keep("later", event)
