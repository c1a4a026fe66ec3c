"""Lambda's HTTP events <-> the neutral `Request` and `Response`. Ships in the zip: standard library only.

Three native shapes carry an HTTP request into Lambda, and each wants its own response shape back:

| source (recognised by)                 | request read from                      | response written as               |
|----------------------------------------|----------------------------------------|-----------------------------------|
| API Gateway REST, payload 1.0          | `multiValueHeaders`, `multiValue-      | `statusCode`, `multiValueHeaders` |
| (`httpMethod`)                         | QueryStringParameters` (decoded)       |                                   |
| HTTP API and Function URLs, payload    | `headers`, `cookies[]` (put back into  | `statusCode`, `headers` (repeats  |
| 2.0 (`version` 2.0, `requestContext.   | a `cookie` header), `rawQueryString`   | comma-joined), `cookies[]`        |
| http`)                                 |                                        |                                   |
| ALB (`requestContext.elb`)             | `headers` or `multiValueHeaders`;      | `statusCode`, `statusDescription`,|
|                                        | query values percent-decoded here      | the header style of the request   |

Every response carries `body` and `isBase64Encoded`: binary bodies (`Response.is_binary`) go as base64.
A request body flagged `isBase64Encoded` that is not valid base64 (hand-written events and test payloads
do this) is taken as the text it is, never an error.

The path is the one the client sent, percent-encoded, as on every cloud: an HTTP API hands it over
decoded (Function URLs, REST APIs and ALB do not), so a path holding a space or non-ASCII letters is
encoded again (all but what stands in an encoded path as it is). ASCII punctuation the API decoded
(`%7B` to `{`) stays as it came, as a `%2F` decoded into `/` must.
It is the one the function's route sees: a named API Gateway stage (`requestContext.stage` other
than `$default`) that starts the path is taken off it (an HTTP API puts `/prod` in `rawPath`; a REST API
keeps it out of `path` unless a custom domain's base path repeats it). The shim matches the request
against the function's route (`portable_fn.runtime.routes`) and fills the path parameters from it; a
Request read here holds the event's own `pathParameters`.

Every field is type-checked as it is read: an event that cannot be read raises InvalidEventError naming
the field (the shim answers 400 with it), and nothing is sized by a number found in the event.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, unquote_plus

from portable_fn.runtime.errors import InvalidEventError
from portable_fn.runtime.http import Headers, QueryParams, Request, Response, request_from_native

REST_V1 = "API Gateway REST (payload 1.0)"
HTTP_V2 = "API Gateway HTTP API / Function URL (payload 2.0)"
ALB = "Application Load Balancer"

Native = Mapping[str, Any]
# What stands in an encoded path as it is: RFC 3986's pchar, "/", and "%" (an escape already made).
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"


def http_source(event: Native) -> str | None:
    """Which HTTP source sent `event`, or None when it is not an HTTP event."""
    context = event.get("requestContext")
    if context.__class__ is not dict and not isinstance(context, Mapping):
        return None
    if "elb" in context:
        return ALB
    if event.get("version") == "2.0" and "http" in context:
        return HTTP_V2
    return REST_V1 if "httpMethod" in event else None


def to_request(source: str, event: Native) -> Request:
    """The neutral Request for a native HTTP event from `source` (InvalidEventError when it cannot be
    read)."""
    return _READERS[source](event)


def to_native_response(source: str, response: Response, event: Native) -> dict[str, Any]:
    """The response shape `source` expects (`event` is the request: ALB answers in its header style)."""
    return _WRITERS[source](response, event)


# -- requests ------------------------------------------------------------------------------------


def _from_rest_v1(event: Native) -> Request:
    path = _rest_path(_string(event, "path", "/"), event["requestContext"])
    return Request(
        _string(event, "httpMethod"),
        path,
        headers=_pairs(event, "multiValueHeaders", "headers"),
        query=_pairs(event, "multiValueQueryStringParameters", "queryStringParameters"),
        body=_body(event),
        path_params=_path_params(event),
        raw=event,
    )


def _from_http_v2(event: Native) -> Request:
    context = event["requestContext"]
    http = context["http"]
    if http.__class__ is not dict and not isinstance(http, Mapping):
        raise InvalidEventError(f"'requestContext.http' must be an object, got {type(http).__name__}.", "http")
    path = event.get("rawPath") or http.get("path") or "/"
    if path.__class__ is not str:
        raise InvalidEventError(f"'rawPath' must be a string, got {type(path).__name__}.", "rawPath")
    raw_query = event.get("rawQueryString")
    if raw_query.__class__ is str:
        query: QueryParams = _RawQuery(raw_query)
    elif raw_query is None:
        query = QueryParams(_pairs(event, "", "queryStringParameters"))
    else:  # what Request(query=...) makes of it (an error for anything but a mapping or pairs)
        query = QueryParams.parse(raw_query) if isinstance(raw_query, str) else QueryParams(raw_query)
    headers = _V2Headers(event.get("headers"), event.get("cookies"))
    if not headers.well_formed():
        headers.multi_items()  # read now: a malformed event is a 400 here, not an error on first read
    if not path.isascii() or " " in path:  # an HTTP API's decoded path (0.1 µs, a regex 1 µs)
        path = quote(path, safe=_PATH_SAFE)
    return request_from_native(
        _string(http, "method"), _unstaged(path, context), headers, query, _body(event), _path_params(event), event
    )


class _RawQuery(QueryParams):
    """Payload 2.0's `rawQueryString`, parsed on first read (a handler often reads no parameter).
    MultiDict keeps its parsed state in the `_pairs` and `_index` slots: they are filled in then."""

    __slots__ = ("_raw",)

    def __init__(self, raw: str) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        if name != "_pairs" and name != "_index":
            raise AttributeError(name)
        parsed = QueryParams.parse(self._raw)
        self._pairs, self._index = parsed._pairs, parsed._index
        return getattr(parsed, name)


class _V2Headers(Headers):
    """Payload 2.0's `headers` and `cookies[]`, indexed on first read like `_RawQuery`. The cookies go
    back into a `cookie` header, where the request had them before API Gateway moved them out."""

    __slots__ = ("_native", "_cookies")

    def __init__(self, native: Mapping[str, str] | None, cookies: list[str] | None) -> None:
        self._native = native
        self._cookies = cookies

    def well_formed(self) -> bool:
        """True when reading them later cannot fail: an object of headers (its names are strings, being
        JSON) and a list of cookie strings."""
        native, cookies = self._native, self._cookies
        if not (native is None or native.__class__ is dict):
            return False
        if cookies is None:
            return True
        if cookies.__class__ is not list:
            return False
        try:
            "".join(cookies)  # the cheapest test that every cookie is a string
        except TypeError:
            return False
        return True

    def __getattr__(self, name: str) -> Any:
        if name != "_pairs" and name != "_index":
            raise AttributeError(name)
        pairs = list((self._native or {}).items())
        if self._cookies and not any(key.lower() == "cookie" for key, _ in pairs):
            pairs.append(("cookie", "; ".join(self._cookies)))
        indexed = Headers(pairs)
        self._pairs, self._index = indexed._pairs, indexed._index
        return getattr(indexed, name)


def _from_alb(event: Native) -> Request:
    query = [
        (unquote_plus(k), unquote_plus(v))
        for k, v in _pairs(event, "multiValueQueryStringParameters", "queryStringParameters")
    ]
    return Request(
        _string(event, "httpMethod"),
        _string(event, "path", "/"),
        headers=_pairs(event, "multiValueHeaders", "headers"),
        query=query,
        body=_body(event),
        path_params=_path_params(event),
        raw=event,
    )


# Native HTTP source -> how its request becomes a Request.
_READERS: dict[str, Callable[[Native], Request]] = {
    REST_V1: _from_rest_v1,
    HTTP_V2: _from_http_v2,
    ALB: _from_alb,
}


def _string(event: Native, key: str, default: str | None = None) -> str:
    """`event[key]`, a non-empty string (or `default` when it is absent or empty)."""
    value = event.get(key)
    if value.__class__ is str and value:
        return value
    if default is not None and not value:
        return default
    got = "an empty string" if value == "" else type(value).__name__
    raise InvalidEventError(f"'{key}' must be a non-empty string, got {got}.", key)


def _rest_path(path: str, context: Any) -> str:
    """A REST API's `path` as the route sees it. On the API's own endpoint `path` holds no stage (the
    request context's `path` is `/<stage>` and then it), so a route whose first segment is the stage's name
    keeps it; elsewhere (a custom domain's base path named as the stage) the stage is taken off."""
    full = context.get("path") if context.__class__ is dict else None
    stage = context.get("stage") if context.__class__ is dict else None
    if full.__class__ is str and stage.__class__ is str and full == f"/{stage}{path}":
        return path
    return _unstaged(path, context)


def _unstaged(path: str, context: Any) -> str:
    """`path` without a named stage's `/<stage>` in front (`$default` is never in a path)."""
    stage = context.get("stage") if context.__class__ is dict else None
    if stage.__class__ is not str or not stage or stage == "$default" or not path.startswith(stage, 1):
        return path
    rest = path[len(stage) + 1 :]
    if path[0] != "/" or (rest and rest[0] != "/"):
        return path  # `/prodution` is not stage `prod`
    return rest or "/"


def _pairs(event: Native, multi_key: str, single_key: str) -> list[tuple[str, str]]:
    """(name, value) pairs from the multi-value field when it has anything, else the single-value one."""
    multi = event.get(multi_key) if multi_key else None
    if multi:
        return [
            (name, value) for name, values in _object(multi, multi_key).items() for value in _list(values, multi_key)
        ]
    single = event.get(single_key)
    return [(name, value) for name, value in _object(single, single_key).items() if value is not None] if single else []


def _object(value: Any, key: str) -> Mapping[str, Any]:
    if value.__class__ is dict or isinstance(value, Mapping):
        return value
    raise InvalidEventError(f"'{key}' must be an object, got {type(value).__name__}.", key)


def _list(values: Any, key: str) -> list[Any]:
    if values.__class__ is list:
        return values
    if values is None:
        return []
    raise InvalidEventError(f"Each value of '{key}' must be a list, got {type(values).__name__}.", key)


def _body(event: Native) -> bytes:
    """The body: a string (base64 when flagged so), or null; never sized by a number in the event."""
    body = event.get("body")
    if body is None:
        return b""
    if body.__class__ is not str:
        raise InvalidEventError(f"'body' must be a string or null, got {type(body).__name__}.", "body")
    flagged = event.get("isBase64Encoded", False)
    if flagged is not None and flagged.__class__ is not bool:  # "false" is truthy: the body was decoded
        raise InvalidEventError(
            f"'isBase64Encoded' must be true or false, got {type(flagged).__name__} {flagged!r:.40}.", "isBase64Encoded"
        )
    if flagged:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            pass  # flagged base64 but it is not: keep the text as sent
    return body.encode("utf-8")


def _path_params(event: Native) -> dict[str, str]:
    """The event's own `pathParameters` (the shim replaces them with its route's)."""
    params = event.get("pathParameters")
    if not params:
        return {}
    return {k: v for k, v in _object(params, "pathParameters").items() if v.__class__ is str}


# -- responses -----------------------------------------------------------------------------------


def _to_rest_v1(response: Response, event: Native) -> dict[str, Any]:
    return {"statusCode": response.status, "multiValueHeaders": _grouped(response), **_payload(response)}


def _to_http_v2(response: Response, event: Native) -> dict[str, Any]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in response.headers.multi_items():  # repeats comma-joined, Set-Cookie to cookies[]
        name = name.lower()
        if name == "set-cookie":
            cookies.append(value)
        elif name in headers:
            headers[name] = f"{headers[name]},{value}"
        else:
            headers[name] = value
    body, binary = _payload_of(response)
    if cookies:
        return {
            "statusCode": response.status,
            "headers": headers,
            "cookies": cookies,
            "body": body,
            "isBase64Encoded": binary,
        }
    return {"statusCode": response.status, "headers": headers, "body": body, "isBase64Encoded": binary}


def _to_alb(response: Response, event: Native) -> dict[str, Any]:
    out: dict[str, Any] = {"statusCode": response.status, "statusDescription": _status_line(response.status)}
    grouped = _grouped(response)
    if "multiValueHeaders" in event:  # the target group has multi-value headers on: answer in kind
        out["multiValueHeaders"] = grouped
    else:  # single-value mode cannot carry repeated Set-Cookie headers: the first one is kept
        out["headers"] = {
            name: values[0] if name == "set-cookie" else ",".join(values) for name, values in grouped.items()
        }
    out.update(_payload(response))
    return out


# Native HTTP source -> how a Response is written back to it.
_WRITERS: dict[str, Callable[[Response, Native], dict[str, Any]]] = {
    REST_V1: _to_rest_v1,
    HTTP_V2: _to_http_v2,
    ALB: _to_alb,
}


def _grouped(response: Response) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        grouped.setdefault(name.lower(), []).append(value)
    return grouped


def _payload(response: Response) -> dict[str, Any]:
    body, binary = _payload_of(response)
    return {"body": body, "isBase64Encoded": binary}


def _payload_of(response: Response) -> tuple[str, bool]:
    """(body, isBase64Encoded): the text of a textual body, base64 of the rest."""
    if not response.is_binary:
        try:
            return response.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass  # declared textual but is not UTF-8: send the bytes unchanged
    return base64.b64encode(response.body).decode("ascii"), True


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
