"""Imports a module of the app that the tests write only after this file: the reload fails, then works."""

from __future__ import annotations

from portable_fn import Request, Response, function, http

from .helpers import VERSION


@function(trigger=http("GET", "/version", public=True))
def version(request: Request) -> Response:
    return Response.json({"version": VERSION})
