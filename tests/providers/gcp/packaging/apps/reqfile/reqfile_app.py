"""An app that lists its requirements in a file, naming its own functions-framework."""

from __future__ import annotations

from portable_fn import Request, Response, function, http


@function(trigger=http("GET", "/status"))
def status(request: Request) -> Response:
    return Response.json({"ok": True})
