"""What an HTTP function serves and how it refuses the rest, by what fronts it. Ships in the zip: standard
library and `portable_fn.runtime` only.

Either way a request the function does not serve is answered as `portable-fn dev` answers it
(`portable_fn.runtime.routes.not_routed`): 405 with `Allow`, or 404 naming the routes, in JSON.

- A Lambda Function URL (the default) passes every method and path to the function: it serves its own
  route and refuses the rest as an app of that one route would (each function has a URL of its own).
- The app's API Gateway HTTP API (`http = "http-api"`; deploy sets `PORTABLE_FN_HTTP_FRONT=http-api`)
  sends the function its declared route (the event's `routeKey` is `METHOD /path`), and also what deploy
  routes to a function only so that API Gateway never answers on its own (its bare `404 {"message":"Not
  Found"}`): `ANY /path` for each declared path (a method no function declared there) and `$default` (a
  path no route takes). Those are refused as the whole app refuses them: 405 with every method some
  function declared on the path, 404 naming every route. The app's routes come from the generated entry
  module (`packaging.entry_module`): written with the code that declares them, they cannot disagree with
  the handlers in the zip, and they cost nothing of Lambda's 4 KB of environment, which the user's own
  variables share.

A request reaching the function through `ANY /path` or `$default` is never served, whatever its method and
path: those routes carry no authorization, so the explicit route's (AWS_IAM, or the JWT authorizer) would
be skipped. A `HEAD` on a `GET` function's path comes through a `HEAD /path` route deploy adds beside the
`GET`, with the same authorization, and is served by the `GET`'s handler, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from portable_fn.runtime.function import FunctionSpec
from portable_fn.runtime.http import Request, Response
from portable_fn.runtime.routes import Route, Router, not_routed, not_served
from portable_fn.runtime.triggers import Http

FRONT_ENV = "PORTABLE_FN_HTTP_FRONT"  # what deploy says fronts an HTTP function: unset for a Function URL
HTTP_API = "http-api"  # the setting `http`'s value for the app's API Gateway HTTP API


class HttpRoutes:
    """One HTTP function's route (`own`), the routes refusals name (`refusing`), and the `routeKey`s the
    function must be reached by (`keys`: behind the HTTP API only, else None): its own, and for a `GET` the
    `HEAD` deploy routes beside it with the same authorization (`deploy.desired.head_key`)."""

    __slots__ = ("own", "refusing", "keys")

    def __init__(self, spec: FunctionSpec, front: str | None = None, routes: Iterable[tuple[str, str]] = ()) -> None:
        trigger = spec.trigger_as(Http)
        self.own = Router([Route(trigger.method, trigger.path, spec)])
        behind_api = front == HTTP_API
        head = (f"HEAD {trigger.path}",) if trigger.method == "GET" else ()
        self.keys = (f"{trigger.method} {trigger.path}", *head) if behind_api else None
        app = [Route(method, path) for method, path in routes]
        self.refusing = Router(app) if behind_api and app else self.own

    def match(self, request: Request, event: Mapping[str, Any]) -> tuple[Route, dict[str, str]] | None:
        """The function's route and the path parameters when it serves `request`, else None."""
        if self.keys is not None and event.get("routeKey") not in self.keys:
            return None
        own = self.own
        return own.match(request.method, request.path) or (
            own.match("GET", request.path) if request.method == "HEAD" else None
        )

    def refuse(self, request: Request) -> Response:
        """`dev`'s answer for a request no function of the app serves here (`not_served` behind the API)."""
        if self.keys is not None:
            return not_served(self.refusing, request)
        return not_routed(self.refusing, request)
