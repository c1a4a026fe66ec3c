"""`azure.functions.HttpRequest` -> `Request`, and `Response` -> `azure.functions.HttpResponse`.

Ships in the package zip: standard library only. The generated `function_app.py` declares each route
without the host's `/api` prefix (host.json `routePrefix` is empty), so the request's URL path is the
path the user declared, and the host's `route_params` are the path parameters (`{id}`; a greedy
`{rest+}` is declared to Azure as the catch-all `{*rest}`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from portable_fn.runtime.http import Headers, QueryParams, Request, Response


def _lazy(name: str, build: Callable[[Any], Any]) -> Any:
    """A property for the `name` slot of Request: `build(native request)` the first time it is read."""
    slot = Request.__dict__[name]

    def read(request: Request) -> Any:
        try:
            return slot.__get__(request)
        except AttributeError:  # not read yet
            value = build(request.raw)
            slot.__set__(request, value)
            return value

    return property(read, slot.__set__)


def _query(native: Any) -> QueryParams:
    """Repeated parameters are kept in the URL, not in `params`."""
    query = _split(native.url)[1]
    return QueryParams.parse(query) if query else QueryParams(native.params or None)


class AzureRequest(Request):
    """A Request whose path, path parameters, headers and query are read from the native request the first
    time they are read: a handler reads few of them, and building them all costs more than the rest of
    the invocation's overhead."""

    __slots__ = ()
    path = _lazy("path", lambda native: "/" + _split(native.url)[0])
    path_params = _lazy("path_params", lambda native: dict(native.route_params or {}))
    headers = _lazy("headers", lambda native: Headers(native.headers.__http_headers__))
    query = _lazy("query", _query)


def azure_route(path: str) -> str:
    """The `route=` of a portable path: no leading slash, `{rest+}` as Azure's catch-all `{*rest}`."""
    route = path.strip("/")
    if route.endswith("+}"):
        start = route.rindex("{")
        route = f"{route[:start]}{{*{route[start + 1:-2]}}}"
    return route


def to_request(native: Any) -> Request:
    """The neutral Request of an HttpRequest: what `Request(...)` would hold, method and body read now, the
    rest on first use (repeated query parameters kept from the URL)."""
    if native.url.__class__ is not str:
        raise TypeError(f"the request URL is {native.url!r}")
    request = object.__new__(AzureRequest)
    request.method = native.method.upper()
    body = native.get_body() or b""
    if body.__class__ is not bytes:
        if not isinstance(body, (str, bytearray, memoryview)):  # bytes(n) of a number would allocate n bytes
            raise TypeError(f"the request body is a {type(body).__name__}, not bytes")
        body = body.encode() if isinstance(body, str) else bytes(body)
    request.body = body
    request._cookies = None
    request.raw = native
    headers = native.headers
    if getattr(headers, "__http_headers__", None).__class__ is not dict:  # not the library's: read it now
        request.headers = Headers(headers.items())
    return request


def _split(url: str) -> tuple[str, str]:
    """(path without the leading "/", query string) of a URL, fragments dropped."""
    path, _, query = url.split("://", 1)[-1].partition("/")[2].partition("?")
    return path.partition("#")[0], query.partition("#")[0]


def to_http_response(response: Response, http_response: Any) -> Any:
    """An HttpResponse (the class is handed in) with the status, every header (repeats too) and the body."""
    pairs = response.headers.multi_items()
    content_type = ""
    for name, value in pairs:  # the first one, as headers.get() would give (a loop beats both here)
        if name.lower() == "content-type":
            content_type = value
            break
    mimetype, charset, derived = _media(content_type)
    made = http_response(response.body, status_code=response.status, mimetype=mimetype, charset=charset)
    for name, value in pairs:
        if value != derived or name.lower() != "content-type":  # else the library writes it from mimetype
            made.headers.add_header(name, value)
    return made


@lru_cache(maxsize=64)
def _media(content_type: str) -> tuple[str | None, str | None, str]:
    """(mimetype, charset) for HttpResponse, and the Content-Type the library derives from them."""
    media, _, params = content_type.partition(";")
    mimetype, charset = media.strip() or None, params.partition("charset=")[2].strip() or None
    shown, encoding = mimetype or "text/plain", charset or "utf-8"  # the library's defaults
    return mimetype, charset, f"{shown}; charset={encoding}" if shown.startswith("text/") else shown
