"""functions-framework's HTTP request <-> the portable Request / Response. Ships in the source zip:
standard library and `portable_fn.runtime` only.

An HTTP function gets the framework's flask request; it is read by duck typing (no flask import):

| Request field | from the flask request                                                            |
|---------------|-----------------------------------------------------------------------------------|
| method, path  | `method`, `path` (below the function's URL)                                       |
| query         | `query_string`, parsed here: repeated parameters kept in order                    |
| headers       | `headers.items()`: repeated headers as the server delivers them                   |
| cookies       | the `Cookie` header (parsed by `Request.cookies` on first use)                    |
| body          | `get_data()`, the raw bytes                                                       |
| path_params   | the route template of the trigger matched against the path                        |

The Response goes back as flask's `(body, status, headers)` tuple; headers as a dict of lists, so
repeated headers (`Set-Cookie`) stay repeated.
"""

from __future__ import annotations

from typing import Any

from portable_fn.runtime.http import Headers, QueryParams, Request, Response
from portable_fn.runtime.triggers import Http

FlaskResponse = tuple[bytes, int, dict[str, list[str]]]


def to_request(native: Any, trigger: Http) -> Request:
    """The portable Request for the flask request functions-framework passed."""
    path = native.path or "/"
    query = native.query_string
    return Request(
        native.method, path,
        headers=Headers(native.headers.items()),
        query=QueryParams.parse(query.decode("latin-1") if isinstance(query, bytes) else query),
        body=native.get_data(), path_params=trigger.match(path), raw=native,
    )


def to_flask_response(response: Response) -> FlaskResponse:
    """What flask accepts from a view: body, status and every header value."""
    headers = response.headers
    return response.body, response.status, {name: headers.getall(name) for name in headers}
