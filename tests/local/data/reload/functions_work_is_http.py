"""`work` is an HTTP function now: its queued messages cannot go to it, and the log says so."""

from __future__ import annotations

from portable_fn import Request, Response, function, http


@function(trigger=http("GET", "/version", public=True))
def version(request: Request) -> Response:
    return Response.json({"version": 4})


@function(trigger=http("POST", "/work", public=True))
def work(request: Request) -> Response:
    return Response.json({"worked": True})
