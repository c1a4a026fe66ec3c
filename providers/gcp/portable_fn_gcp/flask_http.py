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

The Response goes back as flask's `(body, status, headers)` tuple; headers as a dict of lists, so
repeated headers (`Set-Cookie`) stay repeated.
"""

from __future__ import annotations

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
        return raw.split("?", 1)[0]
    return native.path or "/"  # decoded: an absolute-form request line, or raw bytes that were not ASCII


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
