"""Provider-neutral HTTP: `Request`, `Response`, and the multi-value mappings they use.

Every provider adapter builds a `Request` from its native request and turns a `Response` back, so an
HTTP handler sees the same object on every cloud and locally.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .cloudevent import _jsonable, loads

Pairs = Iterable[tuple[str, str]]


class MultiDict(Mapping[str, str]):
    """An ordered multi-value mapping. `m[k]` is the first value, `m.getall(k)` all of them."""

    __slots__ = ("_pairs", "_index")
    _fold = False  # Headers folds names to lower case

    def __init__(self, items: Mapping[str, str] | Pairs | None = None) -> None:
        pairs: list[tuple[str, str]] = []
        if items is not None:
            source = items if items.__class__ is list else items.items() if isinstance(items, Mapping) else items
            for key, value in source:
                if value.__class__ is str:  # the common case, without the isinstance checks
                    pairs.append((key, value))
                elif isinstance(value, (list, tuple)):
                    pairs.extend((key, str(v)) for v in value)
                else:
                    pairs.append((key, str(value)))
        index: dict[str, list[str]] = {}
        fold = self._fold
        for key, value in pairs:
            index.setdefault(key.lower() if fold else key, []).append(value)
        self._pairs = pairs
        self._index = index

    def _key(self, key: str) -> str:
        return key.lower() if self._fold else key

    def __getitem__(self, key: str) -> str:
        return self._index[self._key(key)][0]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._key(key) in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def getall(self, key: str) -> list[str]:
        """Every value of `key`, in order (empty list when absent)."""
        return list(self._index.get(self._key(key), ()))

    def multi_items(self) -> list[tuple[str, str]]:
        """All (key, value) pairs as received, repeats included."""
        return list(self._pairs)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return sorted(self._index.items()) == sorted(other._index.items())
        if isinstance(other, Mapping):
            return dict(self) == {self._key(k): v for k, v in other.items()}
        return NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._pairs!r})"


class Headers(MultiDict):
    """HTTP headers: case-insensitive names, repeated headers kept. Iterates lowercase names."""

    __slots__ = ()
    _fold = True


class QueryParams(MultiDict):
    """Query string parameters: case-sensitive names, repeated parameters kept."""

    __slots__ = ()

    @classmethod
    def parse(cls, query_string: str) -> QueryParams:
        from urllib.parse import parse_qsl

        return cls(parse_qsl(query_string, keep_blank_values=True))


class Request:
    """One HTTP request as a handler sees it, the same on every provider."""

    __slots__ = ("method", "path", "path_params", "query", "headers", "body", "raw", "_cookies")

    def __init__(
        self,
        method: str,
        path: str,
        *,
        headers: Headers | Mapping[str, str] | Pairs | None = None,
        query: QueryParams | Mapping[str, str] | Pairs | str | None = None,
        body: bytes | str = b"",
        path_params: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        raw: Any = None,
    ) -> None:
        self.method = method.upper()
        self.path = path or "/"
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        if isinstance(query, str):
            self.query = QueryParams.parse(query)
        else:
            self.query = query if isinstance(query, QueryParams) else QueryParams(query)
        self.body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self.path_params = dict(path_params or {})
        self._cookies = dict(cookies) if cookies is not None else None
        self.raw = raw  # the provider's native request, for the rare handler that needs it

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")

    def json(self) -> Any:
        """The body parsed as JSON; a malformed body raises InvalidEventError (a 400)."""
        return loads(self.body, "The request body")

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies from the `Cookie` headers (parsed on first use)."""
        if self._cookies is None:
            self._cookies = parse_cookies(self.headers.getall("cookie"))
        return self._cookies

    def with_path_params(self, params: Mapping[str, str]) -> Request:
        """The same request bound to a route's path parameters."""
        self.path_params = dict(params)
        return self

    def __repr__(self) -> str:
        return f"Request({self.method} {self.path}, {len(self.body)} bytes)"


class Response:
    """What an HTTP handler returns. `Response.json(obj, status=201)` is the common case."""

    __slots__ = ("status", "headers", "body")

    def __init__(
        self,
        body: bytes | str = b"",
        status: int = 200,
        headers: Mapping[str, str] | Pairs | None = None,
        content_type: str | None = None,
    ) -> None:
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"Response status must be an HTTP status code (100-599), got {status!r}.")
        self.status = status
        if headers is None:
            pairs: list[tuple[str, str]] = []
        elif isinstance(headers, MultiDict):
            pairs = headers.multi_items()  # keep repeated headers such as Set-Cookie
        else:
            pairs = list(headers.items() if isinstance(headers, Mapping) else headers or [])
        if isinstance(body, str):
            body = body.encode("utf-8")
            content_type = content_type or "text/plain; charset=utf-8"
        if content_type and not (pairs and any(k.lower() == "content-type" for k, _ in pairs)):
            pairs.append(("content-type", content_type))
        self.headers = Headers(pairs)
        self.body = bytes(body)

    @classmethod
    def json(
        cls, obj: Any, status: int = 200, headers: Mapping[str, str] | Pairs | None = None
    ) -> Response:
        """A JSON response; pydantic models and dataclasses are serialised too."""
        return cls(_encode_json(_jsonable(obj)).encode("utf-8"), status, headers, "application/json")

    @classmethod
    def text(
        cls, text: str, status: int = 200, headers: Mapping[str, str] | Pairs | None = None
    ) -> Response:
        """A plain-text response."""
        return cls(text.encode("utf-8"), status, headers, "text/plain; charset=utf-8")

    @property
    def cookies(self) -> list[str]:
        """The `Set-Cookie` header values."""
        return self.headers.getall("set-cookie")

    @property
    def is_binary(self) -> bool:
        """True unless the content type is textual (providers base64-encode binary bodies)."""
        ctype = self.headers.get("content-type", "").lower()
        textual = ctype.startswith("text/") or "json" in ctype or "xml" in ctype or (
            "javascript" in ctype or "x-www-form-urlencoded" in ctype
        )
        return bool(self.body) and not textual

    def __repr__(self) -> str:
        return f"Response({self.status}, {len(self.body)} bytes)"


def _nested(value: Any) -> Any:
    """`default` of the JSON encoder: models and dataclasses inside lists and dicts."""
    converted = _jsonable(value)
    return str(value) if converted is value else converted


# What json.dumps(..., ensure_ascii=False, separators=(",", ":"), default=_nested) does, without a new
# encoder per response.
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_nested).encode


def to_response(result: Any) -> Response:
    """Turn whatever an HTTP handler returned into a Response."""
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(b"", 204)
    if isinstance(result, (bytes, bytearray)):
        return Response(bytes(result), 200, content_type="application/octet-stream")
    if isinstance(result, str):
        return Response.text(result)
    return Response.json(result)


def parse_cookies(header_values: Iterable[str]) -> dict[str, str]:
    """Parse `Cookie` header values into a dict (first occurrence of a name wins)."""
    cookies: dict[str, str] = {}
    for header in header_values:
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            name = name.strip()
            if sep and name and name not in cookies:
                cookies[name] = value.strip().strip('"')
    return cookies
