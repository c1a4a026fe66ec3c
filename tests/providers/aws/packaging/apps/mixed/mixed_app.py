"""Two functions that disagree on the CPU: they cannot share one zip."""

from __future__ import annotations

from portable_fn import Request, Response, function, http


@function(trigger=http("GET", "/intel"))
def on_intel(request: Request) -> Response:
    return Response.json({"cpu": "x86_64"})


@function(trigger=http("GET", "/graviton"), architecture="arm64")
def on_graviton(request: Request) -> Response:
    return Response.json({"cpu": "arm64"})
