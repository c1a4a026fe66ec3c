"""Three HTTP functions, two on one path with different methods: what the HTTP API's 405 and 404 name."""

from __future__ import annotations

from typing import Any

from portable_fn import Request, function, http


@function(trigger=http("POST", "/orders", public=True))
def create_order(request: Request) -> dict[str, Any]:
    return {"created": True}


@function(trigger=http("GET", "/orders"))  # private: AWS_IAM on its route of the HTTP API
def list_orders(request: Request) -> dict[str, Any]:
    return {"orders": []}


@function(trigger=http("GET", "/orders/{order_id}", public=True))
def get_order(request: Request) -> dict[str, Any]:
    return {"id": request.path_params["order_id"]}
