"""Request, Response and their multi-value mappings: what every HTTP handler sees on every provider."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from portable_fn import Headers, InvalidEventError, QueryParams, Request, Response
from portable_fn.runtime.http import (
    _TEXTUAL,
    MultiDict,
    _encode_json,
    _nested,
    parse_cookies,
    request_from_native,
    to_response,
)


class Item(BaseModel):
    id: int
    name: str


@dataclasses.dataclass
class Point:
    x: int
    y: int


# -- headers ----------------------------------------------------------------------------------------


def test_headers_are_case_insensitive_and_keep_every_value() -> None:
    headers = Headers([("Accept", "text/html"), ("X-Tag", "a"), ("x-tag", "b"), ("X-TAG", "c")])
    assert headers["accept"] == headers["ACCEPT"] == "text/html"
    assert headers["X-Tag"] == "a"  # the first value
    assert headers.getall("x-TAG") == ["a", "b", "c"]
    assert "X-Tag" in headers and "x-tag" in headers
    assert list(headers) == ["accept", "x-tag"]  # iterates lowercase names, once each
    assert len(headers) == 2
    assert headers.multi_items()[1:] == [("X-Tag", "a"), ("x-tag", "b"), ("X-TAG", "c")]


def test_headers_from_a_mapping_with_list_values() -> None:
    headers = Headers({"Set-Cookie": ["a=1", "b=2"], "Content-Length": 3})
    assert headers.getall("set-cookie") == ["a=1", "b=2"]
    assert headers["content-length"] == "3"  # values become strings


def test_headers_missing_name() -> None:
    headers = Headers({"a": "1"})
    assert headers.get("b") is None
    assert headers.getall("b") == []
    assert 3 not in headers  # non-string keys are never present
    with pytest.raises(KeyError):
        headers["b"]


def test_headers_equality_ignores_case_but_query_params_do_not() -> None:
    assert Headers({"Content-Type": "a"}) == {"content-type": "a"}
    assert Headers({"Content-Type": "a"}) == Headers({"CONTENT-TYPE": "a"})
    assert QueryParams({"Page": "1"}) != {"page": "1"}
    assert Headers({"a": "1"}) != Headers({"a": "2"})


# -- query parameters -------------------------------------------------------------------------------


def test_query_params_parse_repeats_blanks_and_percent_encoding() -> None:
    query = QueryParams.parse("tag=a&tag=b&empty=&q=caf%C3%A9+au+lait&Tag=C")
    assert query.getall("tag") == ["a", "b"]
    assert query["Tag"] == "C"  # names are case-sensitive
    assert query["empty"] == ""
    assert query["q"] == "café au lait"
    assert query.multi_items()[0] == ("tag", "a")


def test_request_query_from_a_string_pairs_or_mapping() -> None:
    assert Request("GET", "/", query="a=1&a=2").query.getall("a") == ["1", "2"]
    assert Request("GET", "/", query=[("a", "1"), ("a", "2")]).query.getall("a") == ["1", "2"]
    assert Request("GET", "/", query={"a": ["1", "2"]}).query.getall("a") == ["1", "2"]
    assert Request("GET", "/").query == {}


def test_query_params_of_an_empty_string() -> None:
    assert len(QueryParams.parse("")) == 0


# -- request ----------------------------------------------------------------------------------------


def test_request_normalises_method_path_and_body() -> None:
    request = Request("post", "", body="héllo", headers={"X-A": "1"}, path_params={"id": "7"})
    assert request.method == "POST"
    assert request.path == "/"
    assert request.body == "héllo".encode()
    assert request.text == "héllo"
    assert isinstance(request.headers, Headers) and request.headers["x-a"] == "1"
    assert request.path_params == {"id": "7"}
    assert request.with_path_params({"id": "8"}).path_params == {"id": "8"}


def test_request_body_keeps_binary_bytes() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    request = Request("PUT", "/img", body=bytearray(png))
    assert request.body == png and type(request.body) is bytes
    with pytest.raises(UnicodeDecodeError):
        _ = request.text


def test_request_json_parses_the_body() -> None:
    request = Request("POST", "/", body=b'{"id": 1, "tags": ["a"]}')
    assert request.json() == {"id": 1, "tags": ["a"]}


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe{", b'{"a": 1'])
def test_request_json_on_a_malformed_body_is_an_invalid_event(body: bytes) -> None:
    with pytest.raises(InvalidEventError, match="The request body is not valid JSON"):
        Request("POST", "/", body=body).json()


def test_cookies_from_every_cookie_header() -> None:
    request = Request("GET", "/", headers=[("Cookie", 'session=abc; theme="dark"'), ("cookie", "session=x; lang=fr")])
    assert request.cookies == {"session": "abc", "theme": "dark", "lang": "fr"}


def test_cookies_given_by_the_provider_win_over_headers() -> None:
    request = Request("GET", "/", headers={"cookie": "a=1"}, cookies={"b": "2"})
    assert request.cookies == {"b": "2"}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["a=1"], {"a": "1"}),
        (["a=1;b=2"], {"a": "1", "b": "2"}),
        (["token=x=y=="], {"token": "x=y=="}),  # '=' inside a value
        (["flag; =novalue; a=1"], {"a": "1"}),  # parts without a name or '=' are skipped
        ([" a = 1 ;  b=  2 "], {"a": "1", "b": "2"}),
        ([], {}),
    ],
)
def test_parse_cookies(headers: list[str], expected: dict[str, str]) -> None:
    assert parse_cookies(headers) == expected


# -- response ---------------------------------------------------------------------------------------


def test_response_json_of_a_dict() -> None:
    response = Response.json({"id": 1, "name": "café"}, status=201, headers={"Location": "/items/1"})
    assert response.status == 201
    assert response.headers["content-type"] == "application/json"
    assert response.headers["location"] == "/items/1"
    assert json.loads(response.body) == {"id": 1, "name": "café"}
    assert not response.is_binary


def test_response_json_of_a_pydantic_model_and_a_dataclass() -> None:
    assert json.loads(Response.json(Item(id=1, name="pen")).body) == {"id": 1, "name": "pen"}
    assert json.loads(Response.json(Point(1, 2)).body) == {"x": 1, "y": 2}
    nested = Response.json({"items": [Item(id=1, name="pen")], "at": Point(1, 2)})
    assert json.loads(nested.body) == {"items": [{"id": 1, "name": "pen"}], "at": {"x": 1, "y": 2}}


def test_response_json_keeps_an_explicit_content_type() -> None:
    response = Response.json({"a": 1}, headers={"Content-Type": "application/problem+json"})
    assert response.headers.getall("content-type") == ["application/problem+json"]


def test_response_text_and_str_body() -> None:
    response = Response.text("hi", status=202)
    assert (response.status, response.body) == (202, b"hi")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert Response("é").body == "é".encode()
    assert Response("é").headers["content-type"].startswith("text/plain")


def test_response_keeps_repeated_headers() -> None:
    cookies = [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    assert Response(headers=cookies).cookies == ["a=1", "b=2"]
    assert Response(headers=Headers(cookies)).cookies == ["a=1", "b=2"]
    assert Response(headers={"Set-Cookie": ["a=1", "b=2"]}).cookies == ["a=1", "b=2"]


@pytest.mark.parametrize(
    ("content_type", "body", "binary"),
    [
        ("application/octet-stream", b"\x00\x01", True),
        ("image/png", b"\x89PNG", True),
        ("application/pdf", b"%PDF", True),
        (None, b"raw", True),
        ("text/html; charset=utf-8", b"<p>", False),
        ("application/json", b"{}", False),
        ("application/problem+json", b"{}", False),
        ("application/xml", b"<a/>", False),
        ("application/javascript", b"1", False),
        ("application/x-www-form-urlencoded", b"a=1", False),
        ("image/png", b"", False),  # nothing to encode
    ],
)
def test_is_binary(content_type: str | None, body: bytes, binary: bool) -> None:
    assert Response(body, content_type=content_type).is_binary is binary


@pytest.mark.parametrize("status", [99, 100, 199, 600, 0, -1, "200", 200.0, None, True])
def test_invalid_status_is_rejected(status: object) -> None:
    with pytest.raises(ValueError, match="HTTP status code"):
        Response(b"", status=status)  # type: ignore[arg-type]


def test_repr_is_short() -> None:
    assert repr(Request("get", "/a", body=b"xy")) == "Request(GET /a, 2 bytes)"
    assert repr(Response(b"xyz", 404)) == "Response(404, 3 bytes)"
    assert "x-a" not in repr(MultiDict()) and repr(Headers([("X-A", "1")])) == "Headers([('X-A', '1')])"


# -- to_response ------------------------------------------------------------------------------------


def test_to_response_of_none_is_204_without_body() -> None:
    response = to_response(None)
    assert (response.status, response.body) == (204, b"")


def test_to_response_of_str_bytes_and_dict() -> None:
    text = to_response("hello")
    assert (text.status, text.body, text.headers["content-type"]) == (200, b"hello", "text/plain; charset=utf-8")
    raw = to_response(b"\x00\x01")
    assert (raw.body, raw.headers["content-type"], raw.is_binary) == (b"\x00\x01", "application/octet-stream", True)
    data = to_response({"ok": True})
    assert (data.status, json.loads(data.body), data.headers["content-type"]) == (200, {"ok": True}, "application/json")
    assert json.loads(to_response([1, 2]).body) == [1, 2]
    assert json.loads(to_response(Item(id=2, name="cup")).body) == {"id": 2, "name": "cup"}


def test_to_response_passes_a_response_through() -> None:
    response = Response(b"x", 418)
    assert to_response(response) is response


# -- the JSON encoding of Response.json -------------------------------------------------------------
# `_encode_json` reuses one C encoder without the circular-reference check; it must give exactly what
# `json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_nested)` gives, errors included.


def dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_nested, allow_nan=False)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_encode_json_is_json_dumps(value: object) -> None:
    assert _encode_json(value) == dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        'é\n"\\\u2028\x00',
        1.5e300,
        10**30,
        (1, 2),
        {1: "a", None: 1, False: 2, 2.5: 3},
        {"items": [Item(id=1, name="pen")], "at": Point(1, 2), "other": Decimal("1.10")},
    ],
)
def test_encode_json_of_values_json_handles_specially(value: object) -> None:
    assert _encode_json(value) == dumps(value)


@pytest.mark.parametrize("value", [float("nan"), float("-inf"), {"v": float("inf")}, {"v": {1, 2}}])
def test_a_body_json_cannot_hold_is_an_error_not_text_that_is_no_json(value: object) -> None:
    """`{"v": Infinity}` went out as application/json (no parser reads it), and a set as its repr `{1, 2}`."""
    with pytest.raises((ValueError, TypeError), match="NaN or an infinite float|a set is not JSON"):
        Response.json(value)


def test_encode_json_of_a_cycle_fails_as_json_dumps_does_and_the_encoder_still_works() -> None:
    cycle: list[object] = [1]
    cycle.append({"back": cycle})
    with pytest.raises(ValueError, match="Circular reference detected"):
        Response.json(cycle)
    assert _encode_json([1, {"a": [2]}]) == '[1,{"a":[2]}]'


def test_encode_json_of_a_key_json_cannot_hold_fails_as_json_dumps_does() -> None:
    with pytest.raises(TypeError) as expected:
        dumps({(1, 2): 3})
    with pytest.raises(TypeError) as got:
        _encode_json({(1, 2): 3})
    assert str(got.value) == str(expected.value)


def test_response_json_without_headers_is_what_the_constructor_gives() -> None:
    built = Response(dumps({"a": "é"}).encode(), 201, None, "application/json")
    response = Response.json({"a": "é"}, status=201)
    assert (response.status, response.body, response.headers.multi_items()) == (
        built.status,
        built.body,
        built.headers.multi_items(),
    )
    assert response.headers == {"content-type": "application/json"} and not response.is_binary
    assert type(response) is Response


@pytest.mark.parametrize("status", [99, 600, True, "200", None])
def test_response_json_rejects_an_invalid_status(status: object) -> None:
    with pytest.raises(ValueError, match="HTTP status code"):
        Response.json({}, status=status)  # type: ignore[arg-type]


def test_response_json_of_a_subclass_is_built_by_the_subclass() -> None:
    class Traced(Response):
        __slots__ = ()

    assert type(Traced.json({"a": 1})) is Traced


def test_is_binary_reads_the_content_type_case_insensitively_whatever_it_has_seen() -> None:
    for n in range(100):  # more content types than are remembered
        assert Response(b"x", content_type=f"image/x-{n}").is_binary
        assert not Response(b"x", content_type=f"Text/X-{n}").is_binary
        assert not Response(b"x", content_type=f"application/vnd.{n}+JSON").is_binary
    assert len(_TEXTUAL) <= 64


def test_get_of_headers_and_query_params() -> None:
    headers = Headers([("X-A", "1"), ("x-a", "2")])
    assert headers.get("x-A") == "1" and headers.get("b") is None and headers.get("b", "d") == "d"
    query = QueryParams([("a", "1")])
    assert query.get("a") == "1" and query.get("A") is None and query.get("A", "") == ""


def test_request_from_native_keeps_the_parts_and_normalises_method_and_path() -> None:
    headers, query, params = Headers([("Cookie", "a=1")]), QueryParams([("q", "1")]), {"id": "7"}
    request = request_from_native("get", "", headers, query, b"{}", params, raw="native")
    assert (request.method, request.path, request.body, request.raw) == ("GET", "/", b"{}", "native")
    assert request.headers is headers and request.query is query and request.path_params is params
    assert request.cookies == {"a": "1"} and request.json() == {}


def test_a_private_subclass_shows_as_its_public_class() -> None:
    class _Lazy(QueryParams):
        __slots__ = ()

    assert repr(_Lazy([("a", "1")])) == "QueryParams([('a', '1')])"


def test_a_json_body_holding_half_a_surrogate_pair_is_sent_as_its_escape() -> None:
    """A JSON string may hold `\\udc00` (Python reads it as a lone surrogate, which UTF-8 cannot encode): the AWS
    shim's 404 naming such a path raised UnicodeEncodeError out of lambda_handler."""
    body = Response.json({"error": "Nothing serves GET /\ud800"}).body
    assert body == b'{"error":"Nothing serves GET /\\ud800"}'
    assert json.loads(body) == {"error": "Nothing serves GET /\ud800"}
