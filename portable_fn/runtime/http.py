"""Provider-neutral HTTP: `Request`, `Response`, and the multi-value mappings they use.

Every provider adapter builds a `Request` from its native request and turns a `Response` back, so an
HTTP handler sees the same object on every cloud and locally.
"""

from __future__ import annotations

import json
import json.encoder
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .cloudevent import _jsonable, json_bytes, loads

if TYPE_CHECKING:  # auth imports this module
    from .auth import Auth

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

    def get(self, key: str, default: Any = None) -> Any:  # Mapping.get without its __getitem__ round trip
        values = self._index.get(key.lower() if self._fold else key)
        return default if values is None else values[0]

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

    def __repr__(self) -> str:  # a provider's private subclass shows as the public class it extends
        public = next(cls for cls in type(self).__mro__ if not cls.__name__.startswith("_"))
        return f"{public.__name__}({self._pairs!r})"


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

    __slots__ = ("method", "path", "path_params", "query", "headers", "body", "raw", "auth", "_cookies")

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
        self.auth: Auth | None = None  # who called, when the route verifies callers

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


def request_from_native(
    method: str, path: str, headers: Headers, query: QueryParams, body: bytes, path_params: dict[str, str], raw: Any
) -> Request:
    """A Request a provider adapter maps from a native request, once per request on its hot path:
    positional, and `headers`, `query`, `body` and `path_params` already of their Request types (the
    adapter's own new objects, kept, not copied), so only the method and path are normalised.
    `Request(...)` costs ~1 µs more, most of it `isinstance` against the `Mapping` ABC."""
    request = object.__new__(Request)
    request.method = method.upper()
    request.path = path or "/"
    request.headers, request.query, request.body, request.path_params = headers, query, body, path_params
    request._cookies = None
    request.raw = raw
    request.auth = None
    return request


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
        if not isinstance(status, int) or not 200 <= status <= 599:
            raise ValueError(
                f"Response status must be the HTTP status code of a final answer (200-599), got {status!r}"
                + ("; a 1xx is an interim answer the platform sends itself." if status in range(100, 200) else ".")
            )
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
        for name, value in self.headers.multi_items():
            check_field(name, value)
        self.body = bytes(body)

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: Mapping[str, str] | Pairs | None = None) -> Response:
        """A JSON response; pydantic models and dataclasses are serialised too."""
        body = json_bytes(_encode_json(obj if obj.__class__ is dict else _jsonable(obj)))
        if headers is None and cls is Response and status.__class__ is int and 200 <= status <= 599:
            return _trusted(status, _JSON_HEADERS, body)  # what `cls(...)` gives, without its checks
        return cls(body, status, headers, "application/json")

    @classmethod
    def text(cls, text: str, status: int = 200, headers: Mapping[str, str] | Pairs | None = None) -> Response:
        """A plain-text response."""
        return cls(text.encode("utf-8"), status, headers, "text/plain; charset=utf-8")

    @property
    def cookies(self) -> list[str]:
        """The `Set-Cookie` header values."""
        return self.headers.getall("set-cookie")

    @property
    def is_binary(self) -> bool:
        """True unless the content type is textual (providers base64-encode binary bodies)."""
        if not self.body:
            return False
        ctype = self.headers.get("content-type", "")
        textual = _TEXTUAL.get(ctype)
        if textual is None:
            textual = is_textual(ctype)
            if len(_TEXTUAL) < 64:  # a few content types per function; never grown without bound
                _TEXTUAL[ctype] = textual
        return not textual

    def __repr__(self) -> str:
        return f"Response({self.status}, {len(self.body)} bytes)"


def check_field(name: str, value: str, what: str = "Response header") -> None:
    """ValueError naming the header when `name: value` cannot be sent as one header line on every cloud: a
    name that is not an RFC 9110 token, or a value holding CR, LF or another control character (a header a
    handler copies from its input could otherwise add headers, or end them and start a body), or a
    character past U+00FF (HTTP carries header values as bytes: WSGI, which Cloud Functions serves through,
    and the dev host write them in Latin-1)."""
    if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
        raise ValueError(
            f"{what} name {name!r} is not a header name: use letters, digits and !#$%&'*+-.^_`|~ (RFC 9110)."
        )
    found = _FIELD_VALUE_REFUSED.search(value)
    if found is not None:
        raise ValueError(
            f"{what} {name!r} holds {found[0]!r}, which a header value cannot: no CR, LF or other control "
            "character and nothing past U+00FF (percent-encode it, or use RFC 8187's filename*= for a file name)."
        )


_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE_REFUSED = re.compile("[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]")


def is_textual(content_type: str) -> bool:
    ctype = content_type.lower()
    return (
        ctype.startswith("text/")
        or "json" in ctype
        or "xml" in ctype
        or ("javascript" in ctype or "x-www-form-urlencoded" in ctype)
    )


_TEXTUAL: dict[str, bool] = {}  # content type -> is_textual(it), for Response.is_binary


def _trusted(status: int, headers: Headers, body: bytes) -> Response:
    """A Response of parts that need no checks: a valid status, headers and body of their types."""
    response = object.__new__(Response)
    response.status, response.headers, response.body = status, headers, body
    return response


# The headers of every `Response.json` given none: shared, as a Headers cannot be changed in place.
_JSON_HEADERS = Headers([("content-type", "application/json")])


def _nested(value: Any) -> Any:
    """`default` of the JSON encoder: models and dataclasses inside lists and dicts; other values as their
    text (a datetime, a UUID, a Decimal), but a set, whose text (`{1, 2}`) would read as JSON it is not."""
    if isinstance(value, (set, frozenset)):
        raise TypeError(f"a {type(value).__name__} is not JSON: return a list (sorted(...)) instead")
    converted = _jsonable(value)
    return str(value) if converted is value else converted


# What json.dumps(..., ensure_ascii=False, separators=(",", ":"), default=_nested, allow_nan=False) does,
# without a new JSONEncoder per response; `_encode_json` gives the same, faster. NaN and Infinity are no
# JSON: a body holding them is an error (the handler's 500), never `{"v":Infinity}` sent as application/json.
_checked_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_nested, allow_nan=False).encode


def _fast_encoder() -> Callable[[Any, int], Any] | None:
    """`json`'s C encoder made once (`JSONEncoder.encode` makes one per call) and without the circular-
    reference check (an id dict updated per container): 3.4 µs instead of 4.6 for the benchmark's order.
    None where `json` has no C encoder."""
    make: Callable[..., Callable[[Any, int], Any]] | None = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        return make(None, _nested, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    except TypeError:  # a Python whose C encoder takes other arguments
        return None


_c_encode = _fast_encoder()


def _encode_json(obj: Any) -> str:
    """`_checked_encode(obj)`, the same text or the same error, through the reusable C encoder."""
    try:
        if _c_encode is None:
            return _checked_encode(obj)
        try:
            return "".join(_c_encode(obj, 0))
        except RecursionError:  # a cycle (or nesting too deep): the checked encoder says which
            return _checked_encode(obj)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        raise ValueError(
            "The JSON body holds NaN or an infinite float, which JSON cannot: send null or a string."
        ) from None


def to_response(result: Any) -> Response:
    """Turn whatever an HTTP handler returned into a Response."""
    if result.__class__ is dict:  # the common case first
        return Response.json(result)
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
