"""HTTP-triggered functions."""

from __future__ import annotations

from typing import Any

from portable_fn import (
    CloudEvent,
    Context,
    DeadLetter,
    Request,
    Response,
    Retry,
    function,
    http,
)

from .models import Order


@function(trigger=http("POST", "/orders"))
def create_order(request: Request) -> Response:
    order = Order.model_validate(request.json())
    return Response.json(order, status=201, headers={"location": f"/orders/{order.id}"})


@function(trigger=http("POST", "/orders/validated"))
def create_validated_order(request: Request) -> Response:
    order = Order.model_validate_json(request.body)  # as the README's create_order reads its body
    return Response.json(order, status=201)


@function(trigger=http("GET", "/search"))
def search(request: Request) -> dict[str, Any]:
    return {"tags": request.query.getall("tag"), "user": request.cookies.get("user")}


@function(trigger=http("DELETE", "/orders/{id}"))
def delete_order(request: Request) -> None:
    return None


@function(trigger=http("GET", "/hello"))
async def hello(request: Request, ctx: Context) -> str:
    return f"hello from {ctx.function_name}"


@function(trigger=http("POST", "/events"))
def receive_event(event: CloudEvent[Order]) -> dict[str, Any]:
    return {"id": event.id, "source": event.source, "order": event.data.id}


@function(trigger=http("POST", "/echo"))
def echo_json(request: Request) -> Any:
    return request.json()


@function(trigger=http("GET", "/boom"))
def boom(request: Request) -> None:
    raise RuntimeError("database password is hunter2")


@function(trigger=http("GET", "/busy"))
def busy(request: Request) -> None:
    raise Retry("warehouse is busy")


@function(trigger=http("GET", "/gone"))
def gone(request: Request) -> None:
    raise DeadLetter("order was cancelled")
