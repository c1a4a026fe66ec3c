"""HTTP functions sharing a route, alone on one, and a catch-all: what the host delivers to each."""

from __future__ import annotations

from portable_fn import Request, Response, function, http


@function(trigger=http("POST", "/orders", public=True))
def create_order(request: Request) -> Response:
    return Response.json({"created": request.path}, status=201)


@function(trigger=http("GET", "/orders", public=True))
def list_orders(request: Request) -> Response:
    return Response.json({"orders": [], "path": request.path})


@function(trigger=http("GET", "/orders/{order_id}", public=True))
def get_order(request: Request) -> Response:
    return Response.json({"id": request.path_params["order_id"], "path": request.path})


@function(trigger=http("ANY", "/files/{path+}", public=True))
def files(request: Request) -> str:
    return f"{request.method} {request.path_params['path']}"
