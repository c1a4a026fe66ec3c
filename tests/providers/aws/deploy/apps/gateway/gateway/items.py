"""The items API: two public routes and a private one."""

from __future__ import annotations

from portable_fn import Request, Response, function, http

from .models import ITEMS


@function(trigger=http("GET", "/items", public=True))
def list_items(request: Request) -> Response:
    return Response.json(sorted(ITEMS))


@function(trigger=http("GET", "/items/{item_id}", public=True))
def get_item(request: Request) -> Response:
    return Response.json(ITEMS.get(request.path_params["item_id"]))


@function(trigger=http("PUT", "/items/{item_id}"))
def put_item(request: Request) -> Response:
    return Response.json({"stored": request.path_params["item_id"]}, status=201)
