"""An app whose module is named `main`: the generated main.py of Cloud Functions would replace it."""

from __future__ import annotations

from portable_fn import Request, Response, function, http


@function(trigger=http("GET", "/hello"))
def hello(request: Request) -> Response:
    return Response.json({"hello": "world"})
