"""functions-framework's HTTP request <-> the portable Request / Response. Ships in the source zip:
standard library and `portable_fn.runtime` only.

An HTTP function gets the framework's flask request; it is read by duck typing (no flask import):

| Request field | from the flask request                                                            |
|---------------|-----------------------------------------------------------------------------------|
| method        | `method`                                                                          |
| path          | the path below the function's URL as the client sent it, still percent-encoded   |
|               | (the server's `RAW_URI` / `REQUEST_URI`; flask's `path` is decoded), as on every  |
|               | cloud: the route decodes the path parameters, an encoded `/` stays in its segment |
| query         | `query_string`, parsed here: repeated parameters kept in order                    |
| headers       | `headers.items()`: repeated headers as the server delivers them                   |
| cookies       | the `Cookie` header (parsed by `Request.cookies` on first use)                    |
| body          | `get_data()`, the raw bytes                                                       |
| path_params   | the function's route matched against the path (`portable_fn.runtime.routes`)      |

A request the function's route does not serve (another path, another method) never reaches it:
`not_routed` answers 404 with the route, or 405 with an `Allow` header, the JSON bodies
`portable-fn dev` answers; a HEAD is served by a GET route, as in dev.

Every path reaches the function, as in dev: functions-framework's http signature answers `/robots.txt` and
`/favicon.ico` itself (an HTML 404), so a route declared there could never be served and an undeclared one
got no JSON 404. `serve_every_path`, run while the framework loads main.py (inside its app's context), hooks
its app (`before_request`) so that a request its URL map sends anywhere but the function's view is served by
that view, as every other request is. Leading slashes are one, as in dev (whose server, Python's
`http.server`, makes `//orders` `/orders`; gunicorn, what Cloud Functions runs, keeps them): `//orders` is
`/orders` to the route and the handler.

The Response goes back as flask's `(body, status, headers)` tuple; headers as a dict of lists, so
repeated headers (`Set-Cookie`) stay repeated.
"""

from __future__ import annotations

import sys
from typing import Any

from portable_fn.runtime.http import Headers, QueryParams, Request, Response
from portable_fn.runtime.routes import Route, Router, not_routed
from portable_fn.runtime.triggers import Http

FlaskResponse = tuple[bytes, int, dict[str, list[str]]]


def router(trigger: Http) -> Router:
    """The one route an HTTP function declared."""
    return Router([Route(trigger.method, trigger.path, None)])


def to_request(native: Any) -> Request:
    """The portable Request for the flask request functions-framework passed (no path parameters yet)."""
    query = native.query_string
    return Request(
        native.method,
        _sent_path(native),
        headers=Headers(native.headers.items()),
        query=QueryParams.parse(query.decode("latin-1") if isinstance(query, bytes) else query),
        body=native.get_data(),
        raw=native,
    )


def _sent_path(native: Any) -> str:
    """The path as the client sent it (gunicorn and werkzeug keep the request line in `RAW_URI`)."""
    environ = getattr(native, "environ", None) or {}
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw.startswith("/") and raw.isascii():
        path: str = raw.split("?", 1)[0]
    else:
        path = native.path or "/"  # decoded: an absolute-form request line, or raw bytes that were not ASCII
    return "/" + path.lstrip("/") if path[:2] == "//" else path  # dev's server makes `//orders` `/orders`


def routed(routes: Router, request: Request) -> Request | Response:
    """The request bound to its path parameters, or the 404 / 405 answer when the route does not serve it."""
    found = routes.match(request.method, request.path) or (
        routes.match("GET", request.path) if request.method == "HEAD" else None
    )
    if found is None:
        return not_routed(routes, request)
    return request.with_path_params(found[1])


def to_flask_response(response: Response) -> FlaskResponse:
    """What flask accepts from a view: body, status and every header value."""
    headers = response.headers
    return response.body, response.status, {name: headers.getall(name) for name in headers}


# -- functions-framework's app, looked up, never imported ----------------------------------------------

_HOOKED = "portable_fn"  # the key this module sets in the app's `extensions` once its hook is on


def serve_every_path() -> None:
    """Called while functions-framework loads main.py, inside its app's context: hooks that app once
    (`_unrouted`); nothing when no functions-framework app is loading (an entry point built elsewhere)."""
    flask = sys.modules.get("flask")
    if flask is None or "functions_framework" not in sys.modules or not flask.has_app_context():
        return
    app = flask.current_app
    if not isinstance(app.extensions, dict) or _HOOKED in app.extensions:
        return
    try:
        app.before_request(_unrouted)
    except AssertionError:  # an app already serving takes no new hook (flask's setup check)
        return
    app.extensions[_HOOKED] = True


def _unrouted() -> Any:
    """flask's `before_request` hook: a request the http signature's URL map does not send to the function's
    view (`run`), i.e. its own `/robots.txt` and `/favicon.ico` (`error`) or a request werkzeug's routing
    would redirect, is served by that view, as every other request is; None (flask goes on) for the rest."""
    flask = sys.modules["flask"]
    request, views = flask.request, flask.current_app.view_functions
    rule = request.url_rule
    if rule is not None and rule.endpoint != "error":
        return None
    if "run" not in views or "error" not in views:  # not the http signature: its routes are the framework's
        return None
    return views["run"](path=request.path[1:])
