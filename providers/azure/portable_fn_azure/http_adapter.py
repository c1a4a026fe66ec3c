"""`azure.functions.HttpRequest` -> `Request`, and `Response` -> `azure.functions.HttpResponse`.

Ships in the package zip: standard library only. The generated `function_app.py` declares each route
without the host's `/api` prefix (host.json `routePrefix` is empty), so the request's URL path is the
path the user declared, and the host's `route_params` are the path parameters (`{id}`; a greedy
`{rest+}` is declared to Azure as the catch-all `{*rest}`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from portable_fn.runtime.http import Headers, QueryParams, Request, Response


def _query(native: Any) -> QueryParams:
    """Repeated parameters are kept in the URL, not in `params`."""
    query = _split(native.url)[1]
    return QueryParams.parse(query) if query else QueryParams(native.params or None)


_UNREAD: Any = object()


class AzureRequest(Request):
    """A Request whose path, path parameters, headers and query are read from the native request (`raw`)
    the first time they are read: a handler reads few of them, and building them all costs more than the
    rest of the invocation's overhead. Each is a property over a slot of this class."""

    __slots__ = ("_path", "_path_params", "_headers", "_query")

    def __init__(self, native: Any, method: str, body: bytes) -> None:
        self.method = method
        self.body = body
        self.raw = native
        self._cookies = None
        self.auth = None
        self._path = self._path_params = self._headers = self._query = _UNREAD

    @property
    def path(self) -> str:
        if self._path is _UNREAD:
            self._path = "/" + _split(self.raw.url)[0]
        return self._path  # type: ignore[no-any-return]

    @path.setter
    def path(self, value: str) -> None:
        self._path = value

    @property
    def path_params(self) -> dict[str, str]:
        if self._path_params is _UNREAD:
            self._path_params = dict(self.raw.route_params or {})
        return self._path_params  # type: ignore[no-any-return]

    @path_params.setter
    def path_params(self, value: dict[str, str]) -> None:
        self._path_params = value

    @property
    def headers(self) -> Headers:
        if self._headers is _UNREAD:
            self._headers = Headers(self.raw.headers.__http_headers__)
        return self._headers  # type: ignore[no-any-return]

    @headers.setter
    def headers(self, value: Headers) -> None:
        self._headers = value

    @property
    def query(self) -> QueryParams:
        if self._query is _UNREAD:
            self._query = _query(self.raw)
        return self._query  # type: ignore[no-any-return]

    @query.setter
    def query(self, value: QueryParams) -> None:
        self._query = value


def azure_route(path: str) -> str:
    """The `route=` of a portable path: no leading slash, `{rest+}` as Azure's catch-all `{*rest}`."""
    route = path.strip("/")
    if route.endswith("+}"):
        start = route.rindex("{")
        route = f"{route[:start]}{{*{route[start + 1 : -2]}}}"
    return route


def to_request(native: Any) -> Request:
    """The neutral Request of an HttpRequest: what `Request(...)` would hold, method and body read now, the
    rest on first use (repeated query parameters kept from the URL)."""
    if native.url.__class__ is not str:
        raise TypeError(f"the request URL is {native.url!r}")
    body = native.get_body() or b""
    if body.__class__ is not bytes:
        if not isinstance(body, (str, bytearray, memoryview)):  # bytes(n) of a number would allocate n bytes
            raise TypeError(f"the request body is a {type(body).__name__}, not bytes")
        body = body.encode() if isinstance(body, str) else bytes(body)
    request = AzureRequest(native, native.method.upper(), body)
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
