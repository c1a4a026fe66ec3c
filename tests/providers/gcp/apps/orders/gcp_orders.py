"""One HTTP function declared for `POST /orders/{order_id}`: every other method and path must be refused
the way `portable-fn dev` refuses them."""

from __future__ import annotations

from portable_fn import Request, Response, function, http


@function(trigger=http("POST", "/orders/{order_id}"))
def orders(request: Request) -> Response:
    """Answers with the path parameters it was given."""
    return Response.json({"path_params": request.path_params, "method": request.method})
