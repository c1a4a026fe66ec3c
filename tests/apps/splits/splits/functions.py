"""An HTTP function that says which variant of the checkout a user sees."""

from __future__ import annotations

from ab_test import assign

from portable_fn import Request, Response, function, http

from .test_fixtures import PREVIEW_USER


@function(trigger=http("GET", "/variant"))
def variant(request: Request) -> Response:
    user = request.query.get("user") or PREVIEW_USER
    return Response.json({"user": user, "variant": assign(user)})
