"""A route without its leading '/' on line 12: the declaration fails at import, version 1 keeps answering."""

from __future__ import annotations

from typing import Any

from portable_fn import Request, Response, function, http

RECEIVED: list[dict[str, Any]] = []


@function(trigger=http("GET", "version", public=True))
def version(request: Request) -> Response:
    return Response.json({"version": 3})
