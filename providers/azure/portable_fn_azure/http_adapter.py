"""`azure.functions.HttpRequest` -> `Request`, and `Response` -> `azure.functions.HttpResponse`.

Ships in the package zip: standard library only. The generated `function_app.py` declares each route
without the host's `/api` prefix (host.json `routePrefix` is empty), so the request's URL path is the
path the user declared, and the host's `route_params` are the path parameters (`{id}`; a greedy
`{rest+}` is declared to Azure as the catch-all `{*rest}`).
"""

from __future__ import annotations

from typing import Any

from portable_fn.runtime.http import Headers, Request, Response


def azure_route(path: str) -> str:
    """The `route=` of a portable path: no leading slash, `{rest+}` as Azure's catch-all `{*rest}`."""
    route = path.strip("/")
    if route.endswith("+}"):
        start = route.rindex("{")
        route = f"{route[:start]}{{*{route[start + 1:-2]}}}"
    return route


def to_request(native: Any) -> Request:
    """The neutral Request of an HttpRequest (repeated query parameters kept from the URL)."""
    path, _, query = native.url.split("://", 1)[-1].partition("/")[2].partition("?")
    headers = native.headers
    plain = getattr(headers, "__http_headers__", None)  # the library's own dict: faster to read than items()
    return Request(native.method, "/" + path.partition("#")[0],
                   headers=Headers(plain if isinstance(plain, dict) else headers.items()),
                   query=query.partition("#")[0] or native.params or None, body=native.get_body() or b"",
                   path_params=native.route_params, raw=native)


def to_http_response(response: Response, http_response: Any) -> Any:
    """An HttpResponse (the class is handed in) with the status, every header (repeats too) and the body."""
    content_type = response.headers.get("content-type", "")
    media, _, params = content_type.partition(";")
    charset = params.partition("charset=")[2].strip() or None
    made = http_response(response.body, status_code=response.status, mimetype=media.strip() or None,
                         charset=charset)
    derived = f"{made.mimetype}; charset={made.charset}" if made.mimetype.startswith("text/") else made.mimetype
    add = made.headers.add_header
    for name, value in response.headers.multi_items():
        if name.lower() != "content-type" or value != derived:  # else the library writes it from mimetype
            add(name, value)
    return made
