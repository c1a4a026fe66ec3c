"""Two HTTP functions sharing `formatting`."""

from __future__ import annotations

from portable_fn import Request, Response, function, http

from . import formatting


@function(trigger=http("GET", "/hello"))
def hello(request: Request) -> Response:
    return Response.json({"message": formatting.greeting("world")})


@function(trigger=http("POST", "/echo"))
def echo(request: Request) -> Response:
    return Response(request.body)
