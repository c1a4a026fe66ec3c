"""HTTP through the shim: each source's request in, the same source's response shape out, binary bodies
round-tripped as base64, path parameters from the route, CloudEvents read from requests."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

import pytest
from portable_fn_aws.http_events import ALB, HTTP_V2, REST_V1, http_source, to_request
from portable_fn_aws.shim import make_handler

from portable_fn import Context, DeadLetter, Retry, function, http
from portable_fn.app import load_app
from portable_fn.local.host import LocalHost
from portable_fn.runtime import Headers, QueryParams, Request, spec_of
from portable_fn.runtime.http import MultiDict
from portable_fn.runtime.pipeline import call_http

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00binary"

SOURCES = {  # one payload of the corpus per source, with where its Content-Type goes
    "apiGatewayProxyEvent.json": REST_V1,
    "apiGatewayProxyV2Event.json": HTTP_V2,
    "lambdaFunctionUrlIAMEvent.json": HTTP_V2,
    "albEvent.json": ALB,
    "albMultiValueHeadersEvent.json": ALB,
}


def handler_for(function: Any) -> Any:
    spec = spec_of(function)
    assert spec is not None
    return make_handler(spec)


def with_body(
    event: dict[str, Any], body: bytes, content_type: str, path: str = "/my/photo.png", method: str | None = None
) -> dict[str, Any]:
    """The payload with a base64 body, a content type and a path the echo route matches (and `method`)."""
    event = copy.deepcopy(event)
    if method is not None:
        set_method(event, method)
    event["body"] = base64.b64encode(body).decode("ascii")
    event["isBase64Encoded"] = True
    if "multiValueHeaders" in event:
        event["multiValueHeaders"]["Content-Type"] = [content_type]
    if "headers" in event and event["headers"] is not None:
        event["headers"]["Content-Type"] = content_type
    if "rawPath" in event:
        event["rawPath"] = path
    else:
        event["path"] = path
    return event


def set_method(event: dict[str, Any], method: str) -> None:
    if "httpMethod" in event:
        event["httpMethod"] = method
    else:
        event["requestContext"]["http"]["method"] = method


def set_path(event: dict[str, Any], path: str) -> None:
    if "rawPath" in event:
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    else:
        event["path"] = path


@pytest.mark.parametrize("name", SOURCES)
def test_sources_are_recognised(name: str, adapter: Any) -> None:
    assert http_source(adapter.load_event(name)) == SOURCES[name]


@pytest.mark.parametrize("name", SOURCES)
def test_a_binary_body_round_trips(name: str, adapter: Any, web_module: Any, lambda_context: Any) -> None:
    event = with_body(adapter.load_event(name), PNG, "image/png")
    response = handler_for(web_module.echo)(event, lambda_context)
    assert response["statusCode"] == 201
    assert response["isBase64Encoded"] is True
    assert base64.b64decode(response["body"]) == PNG


@pytest.mark.parametrize("name", SOURCES)
def test_a_text_body_stays_text(name: str, adapter: Any, web_module: Any, lambda_context: Any) -> None:
    event = with_body(adapter.load_event(name), "héllo".encode(), "text/plain; charset=utf-8")
    response = handler_for(web_module.echo)(event, lambda_context)
    assert response["isBase64Encoded"] is False and response["body"] == "héllo"


def test_rest_v1_answers_with_multi_value_headers(adapter, web_module, lambda_context) -> None:
    response = handler_for(web_module.echo)(
        with_body(adapter.load_event("apiGatewayProxyEvent.json"), b"{}", "application/json"), lambda_context
    )
    assert set(response) == {"statusCode", "multiValueHeaders", "body", "isBase64Encoded"}
    headers = response["multiValueHeaders"]
    assert headers["set-cookie"] == ["a=1; Path=/", "b=2; HttpOnly"]
    assert headers["x-multi"] == ["one", "two"] and headers["x-name"] == ["photo.png"]
    assert headers["content-type"] == ["application/json"]


@pytest.mark.parametrize("name", ["apiGatewayProxyV2Event.json", "lambdaFunctionUrlIAMEvent.json"])
def test_v2_answers_with_cookies_and_joined_headers(name, adapter, web_module, lambda_context) -> None:
    response = handler_for(web_module.echo)(
        with_body(adapter.load_event(name), b"{}", "application/json"), lambda_context
    )
    assert response["cookies"] == ["a=1; Path=/", "b=2; HttpOnly"]
    assert response["headers"] == {"x-multi": "one,two", "x-name": "photo.png", "content-type": "application/json"}


def test_alb_answers_with_a_status_description_in_the_header_style_of_the_request(
    adapter, web_module, lambda_context
) -> None:
    handler = handler_for(web_module.echo)
    single = handler(with_body(adapter.load_event("albEvent.json"), b"x", "text/plain"), lambda_context)
    assert single["statusDescription"] == "201 Created"
    assert single["headers"]["x-multi"] == "one,two" and single["headers"]["set-cookie"] == "a=1; Path=/"
    assert "multiValueHeaders" not in single
    multi = handler(with_body(adapter.load_event("albMultiValueHeadersEvent.json"), b"x", "text/plain"), lambda_context)
    assert multi["multiValueHeaders"]["set-cookie"] == ["a=1; Path=/", "b=2; HttpOnly"]
    assert "headers" not in multi


def test_a_body_flagged_base64_that_is_not_is_read_as_text(adapter) -> None:
    event = adapter.load_event("apiGatewayProxyEvent_noVersionAuth.json")  # "Hello from Lambda!", flagged
    assert event["isBase64Encoded"] is True
    assert to_request(REST_V1, event).body == b"Hello from Lambda!"


@pytest.mark.parametrize("flag", ["false", "yes", 1, {}])
def test_an_is_base64_encoded_flag_that_is_not_a_boolean_is_a_400(adapter, web_module, lambda_context, flag) -> None:
    # Only its truth was read: "false" decoded the body as base64 ("abcd" became 3 bytes).
    event = with_body(adapter.load_event("apiGatewayProxyV2Event.json"), b"", "text/plain")
    event["body"], event["isBase64Encoded"] = "abcd", flag
    response = handler_for(web_module.echo)(event, lambda_context)
    assert response["statusCode"] == 400
    assert "'isBase64Encoded' must be true or false" in json.loads(response["body"])["error"]


def test_alb_query_values_are_percent_decoded(adapter) -> None:
    event = adapter.load_event("albEvent.json")
    event["queryStringParameters"] = {"q": "a%20b%2Bc", "name%3F": "x+y"}
    assert to_request(ALB, event).query.multi_items() == [("q", "a b+c"), ("name?", "x y")]


def test_v2_cookies_go_back_into_the_cookie_header(adapter) -> None:
    event = adapter.load_event("apiGatewayProxyV2Event.json")
    event["cookies"] = ["session=abc", "theme=dark"]
    request = to_request(HTTP_V2, event)
    assert request.headers["cookie"] == "session=abc; theme=dark"
    assert request.cookies == {"session": "abc", "theme": "dark"}


@pytest.mark.parametrize(
    "template, path, expected",
    [
        ("/my/{name}", "/my/path", {"name": "path"}),
        ("/my/{name}", "/my/path/", {"name": "path"}),
        ("/files/{rest+}", "/files/a/b.txt", {"rest": "a/b.txt"}),
        ("/orders/{id}/items/{item}", "/orders/7/items/pen", {"id": "7", "item": "pen"}),
        ("/orders/{id}", "/orders/caf%C3%A9", {"id": "café"}),
    ],
)
@pytest.mark.parametrize("name", SOURCES)
def test_path_parameters_come_from_the_route(template, path, expected, name, adapter, lambda_context) -> None:
    def params(request: Request) -> dict[str, str]:
        return request.path_params

    event = adapter.load_event(name)  # its own pathParameters (a {proxy+} resource) are not the route's
    set_path(event, path)
    response = handler_for(function(trigger=http("ANY", template))(params))(event, lambda_context)
    assert json.loads(response["body"]) == expected


def test_a_request_read_alone_keeps_the_event_path_parameters(adapter) -> None:
    event = adapter.load_event("apiGatewayProxyV2IamEvent.json")  # /my/path with {proxy+} = hello/world
    assert to_request(HTTP_V2, event).path_params == {"proxy": "hello/world"}


@pytest.mark.parametrize("name", SOURCES)
def test_a_request_carrying_a_cloudevent_is_read_as_one(name, adapter, web_module, lambda_context) -> None:
    body = json.dumps({"specversion": "1.0", "id": "e-1", "source": "/s", "type": "com.example.t", "data": 1})
    event = with_body(adapter.load_event(name), body.encode(), "application/cloudevents+json", "/events", "POST")
    response = handler_for(web_module.receive)(event, lambda_context)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"id": "e-1", "type": "com.example.t"}


def test_a_request_that_is_not_a_cloudevent_is_a_400(adapter, web_module, lambda_context) -> None:
    event = adapter.load_event("apiGatewayProxyV2Event.json")  # POST
    set_path(event, "/events")
    response = handler_for(web_module.receive)(event, lambda_context)
    assert response["statusCode"] == 400 and "specversion" in response["body"]


def test_a_crashing_handler_is_a_500_not_an_unhandled_error(adapter, web_module, lambda_context) -> None:
    event = adapter.load_event("albEvent.json")  # GET
    set_path(event, "/boom")
    response = handler_for(web_module.boom)(event, lambda_context)
    assert response["statusCode"] == 500 and response["statusDescription"] == "500 Internal Server Error"
    assert json.loads(response["body"]) == {"error": "internal error", "function": "boom"}


def test_a_malformed_native_request_is_a_400(adapter, web_module, lambda_context) -> None:
    event = adapter.load_event("apiGatewayProxyV2Event.json")
    del event["requestContext"]["http"]["method"]
    response = handler_for(web_module.echo)(event, lambda_context)
    assert response["statusCode"] == 400 and "Malformed" in response["body"]


# -- payload 2.0: query string, headers and cookies are read on first use -------------------------------
# `_from_http_v2` keeps `rawQueryString`, `headers` and `cookies` as they came and parses them the first
# time the handler reads them; what it then reads must be what an eager `Request` would hold.

V2_QUERY = "tag=a&tag=b&empty=&q=caf%C3%A9+au+lait&Tag=C&flag"
V2_HEADERS = {"Accept": "text/html", "X-Forwarded-For": "10.0.0.1, 10.0.0.2", "x-tag": "a,b"}
V2_COOKIES = ["session=abc", 'theme="dark"', "lang=fr"]


def v2_event(adapter: Any, **fields: Any) -> dict[str, Any]:
    event = adapter.load_event("apiGatewayProxyV2Event.json")
    event.update({"rawQueryString": V2_QUERY, "headers": dict(V2_HEADERS), "cookies": list(V2_COOKIES)})
    event.update(fields)
    return event


def eager(raw_query: str, headers: dict[str, str], cookies: list[str] | None) -> Request:
    """The Request an adapter that parses everything at once would build from the same parts."""
    pairs = list(headers.items()) + ([("cookie", "; ".join(cookies))] if cookies else [])
    return Request("GET", "/", headers=pairs, query=raw_query)


def is_parsed(multidict: Any) -> bool:
    """Whether a (lazy) MultiDict has built its index (read through the slot, not `__getattr__`)."""
    try:
        MultiDict._index.__get__(multidict)
    except AttributeError:
        return False
    return True


# The first thing a handler may do with each (a fresh request per case): every one must parse.
FIRST_READS = {
    "item": lambda m, k: m[k],
    "get": lambda m, k: m.get(k),
    "getall": lambda m, k: m.getall(k),
    "contains": lambda m, k: k in m,
    "iter": lambda m, k: list(m),
    "len": lambda m, k: len(m),
    "multi_items": lambda m, k: m.multi_items(),
    "eq": lambda m, k: m == {},
    "repr": lambda m, k: repr(m),
}


def test_v2_query_and_headers_are_parsed_on_first_read_only(adapter) -> None:
    request = to_request(HTTP_V2, v2_event(adapter))
    assert not is_parsed(request.query) and not is_parsed(request.headers)
    assert request.query["q"] == "café au lait"
    assert is_parsed(request.query) and not is_parsed(request.headers)
    assert request.headers["accept"] == "text/html"
    assert is_parsed(request.headers)


@pytest.mark.parametrize("first", FIRST_READS)
def test_v2_query_read_first_by_any_means_is_the_parsed_query(first: str, adapter) -> None:
    request = to_request(HTTP_V2, v2_event(adapter))
    reference = eager(V2_QUERY, V2_HEADERS, V2_COOKIES).query
    assert FIRST_READS[first](request.query, "tag") == FIRST_READS[first](reference, "tag")
    assert request.query.multi_items() == reference.multi_items()
    assert request.query.getall("tag") == ["a", "b"] and request.query["Tag"] == "C"  # case-sensitive
    assert request.query["empty"] == "" and request.query["flag"] == ""  # blanks kept
    assert request.query == reference and isinstance(request.query, QueryParams)


@pytest.mark.parametrize("first", FIRST_READS)
def test_v2_headers_read_first_by_any_means_are_the_indexed_headers(first: str, adapter) -> None:
    request = to_request(HTTP_V2, v2_event(adapter))
    reference = eager(V2_QUERY, V2_HEADERS, V2_COOKIES).headers
    assert FIRST_READS[first](request.headers, "X-TAG") == FIRST_READS[first](reference, "X-TAG")
    assert request.headers.multi_items() == reference.multi_items()
    assert request.headers == reference and isinstance(request.headers, Headers)


def test_v2_header_values_stay_as_api_gateway_joined_them(adapter) -> None:
    headers = to_request(HTTP_V2, v2_event(adapter)).headers
    assert headers["x-forwarded-for"] == "10.0.0.1, 10.0.0.2"  # one value, commas and all
    assert headers.getall("X-Tag") == ["a,b"]
    assert headers.get("missing") is None and headers.get("MISSING", "-") == "-"
    assert list(headers) == ["accept", "x-forwarded-for", "x-tag", "cookie"]


def test_v2_cookies_are_read_from_the_cookie_header_on_first_use(adapter) -> None:
    request = to_request(HTTP_V2, v2_event(adapter))
    assert request.cookies == {"session": "abc", "theme": "dark", "lang": "fr"}
    assert request.headers.getall("cookie") == ['session=abc; theme="dark"; lang=fr']


def test_v2_a_cookie_header_already_there_is_not_doubled(adapter) -> None:
    request = to_request(HTTP_V2, v2_event(adapter, headers={"Cookie": "kept=1"}))
    assert request.headers.getall("cookie") == ["kept=1"] and request.cookies == {"kept": "1"}


@pytest.mark.parametrize(
    "headers, cookies, expected",
    [
        (None, None, []),
        (None, ["a=1"], [("cookie", "a=1")]),
        ({}, [], []),
        ({"A": "1"}, None, [("A", "1")]),
    ],
)
def test_v2_headers_and_cookies_may_be_absent(headers, cookies, expected, adapter) -> None:
    request = to_request(HTTP_V2, v2_event(adapter, headers=headers, cookies=cookies))
    assert request.headers.multi_items() == expected


def test_v2_without_a_raw_query_string_reads_the_query_parameters(adapter) -> None:
    event = v2_event(adapter, queryStringParameters={"tag": "a,b", "q": "x"})
    del event["rawQueryString"]
    assert to_request(HTTP_V2, event).query.multi_items() == [("tag", "a,b"), ("q", "x")]
    assert len(to_request(HTTP_V2, v2_event(adapter, rawQueryString="")).query) == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"headers": ["Accept", "text/html"]},  # not an object
        {"headers": "Accept: text/html"},
        {"cookies": ["a=1", 2]},  # not strings
        {"cookies": [None]},
        {"rawQueryString": 5},
    ],
    ids=repr,
)
def test_a_malformed_v2_event_fails_when_read_not_when_the_handler_reads_it(
    fields, adapter, web_module, lambda_context
) -> None:
    event = v2_event(adapter, **fields)
    with pytest.raises((TypeError, AttributeError)):
        to_request(HTTP_V2, event)
    response = handler_for(web_module.echo)(event, lambda_context)
    assert response["statusCode"] == 400 and "Malformed" in response["body"], response


# -- the shim's HTTP path: a `(request)` handler is called directly, every other one through call_http ----


def place(request: Request) -> dict[str, Any]:
    body = request.json()  # a malformed body raises InvalidEventError: a 400
    if body.get("retry"):
        raise Retry("stock service unavailable")
    if body.get("reject"):
        raise DeadLetter("unknown product")
    return {"id": "ord_1", **body}


@function(trigger=http("POST", "/orders"))
def create_order(request: Request) -> dict[str, Any]:
    return place(request)


@function(trigger=http("POST", "/orders"))
def create_order_with_context(request: Request, ctx: Context) -> dict[str, Any]:
    return {"function": ctx.function_name, "invocation": ctx.invocation_id, "provider": ctx.provider}


@function(trigger=http("POST", "/orders"))
async def create_order_async(request: Request) -> dict[str, Any]:
    return place(request)


def post(adapter: Any, body: bytes) -> dict[str, Any]:
    event = adapter.load_event("apiGatewayProxyV2Event.json")
    event.update({"rawPath": "/orders", "body": body.decode(), "isBase64Encoded": False})
    event["requestContext"]["http"]["method"] = "POST"
    return event


@pytest.mark.parametrize(
    "body, status, answer",
    [
        (b'{"qty": 2}', 200, {"id": "ord_1", "qty": 2}),
        (
            b"{not json",
            400,
            {
                "error": "The request body is not valid JSON: Expecting property name enclosed in "
                "double quotes: line 1 column 2 (char 1)."
            },
        ),
        (b'{"retry": true}', 503, {"error": "stock service unavailable"}),
        (b'{"reject": true}', 422, {"error": "unknown product"}),
    ],
)
@pytest.mark.parametrize("function", [create_order, create_order_async], ids=["direct", "call_http"])
def test_a_request_handler_answers_as_call_http_does(function, body, status, answer, adapter, lambda_context) -> None:
    event = post(adapter, body)
    response = handler_for(function)(event, lambda_context)
    assert (response["statusCode"], json.loads(response["body"])) == (status, answer)
    served = call_http(spec_of(function), to_request(HTTP_V2, event))
    assert (served.status, json.loads(served.body)) == (status, answer)


def test_a_handler_taking_a_context_gets_the_lambda_one(adapter, lambda_context) -> None:
    response = handler_for(create_order_with_context)(post(adapter, b"{}"), lambda_context)
    assert json.loads(response["body"]) == {
        "function": "create_order_with_context",
        "provider": "aws",
        "invocation": "c6af9ac6-7b61-11e6-9a41-93e812345678",
    }


def test_an_http_event_that_is_a_mapping_but_not_a_dict_is_served_the_same(adapter, lambda_context) -> None:
    event = post(adapter, b'{"qty": 2}')
    handler = handler_for(create_order)
    assert handler(MappingProxyType(event), lambda_context) == handler(event, lambda_context)


def test_the_v2_response_of_a_json_handler(adapter, lambda_context) -> None:
    response = handler_for(create_order)(post(adapter, '{"name": "café"}'.encode()), lambda_context)
    assert response == {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": '{"id":"ord_1","name":"café"}',
        "isBase64Encoded": False,
    }
    assert list(response) == ["statusCode", "headers", "body", "isBase64Encoded"]


# -- malformed requests: a 400 naming the field, never an exception or an allocation sized by the event ---


@pytest.mark.parametrize("name", SOURCES)
@pytest.mark.parametrize("body", [10**12, 2**63, 3.5, ["a"], {"a": 1}, True])
def test_a_body_that_is_not_a_string_is_a_400(name, body, adapter, web_module, lambda_context) -> None:
    event = adapter.load_event(name)
    event["body"] = body  # 10**12 was bytes(10**12): a MemoryError out of the handler
    set_path(event, "/my/x")
    response = handler_for(web_module.echo)(event, lambda_context)
    assert response["statusCode"] == 400
    assert f"'body' must be a string or null, got {type(body).__name__}" in json.loads(response["body"])["error"]


@pytest.mark.parametrize(
    "name, field, value, says",
    [
        ("apiGatewayProxyEvent.json", "httpMethod", 2**63, "'httpMethod' must be a non-empty string, got int"),
        ("albEvent.json", "path", ["/my/x"], "'path' must be a non-empty string, got list"),
        ("apiGatewayProxyV2Event.json", "rawPath", 5, "'rawPath' must be a string, got int"),
        (
            "apiGatewayProxyEvent.json",
            "multiValueHeaders",
            {"Accept": "text/html"},
            "Each value of 'multiValueHeaders' must be a list, got str",
        ),
        ("apiGatewayProxyEvent.json", "pathParameters", ["x"], "'pathParameters' must be an object, got list"),
    ],
)
def test_a_field_of_the_wrong_type_is_a_400_naming_it(
    name, field, value, says, adapter, web_module, lambda_context
) -> None:
    event = adapter.load_event(name)
    event[field] = value
    response = handler_for(web_module.echo)(event, lambda_context)
    assert response["statusCode"] == 400 and says in json.loads(response["body"])["error"], response


def test_an_http_event_that_no_source_recognises_is_a_400(adapter, web_module, lambda_context) -> None:
    event = adapter.load_event("lambdaFunctionUrlIAMEvent.json")
    event["requestContext"] = "broken"
    response = handler_for(web_module.echo)(event, lambda_context)
    assert response["statusCode"] == 400 and "does not recognise" in json.loads(response["body"])["error"]


# -- only what the function declared: 404 and 405 as `dev` answers them ----------------------------------
# A Function URL (and a REST API proxy resource) passes every method and path to the function.

RUST_RUNTIME = Path(__file__).resolve().parents[2] / "data" / "aws" / "aws-lambda-rust-runtime" / "lambda-http"


def rust_event(name: str) -> dict[str, Any]:
    return json.loads((RUST_RUNTIME / "tests" / "data" / name).read_text(encoding="utf-8"))


ORDERS_APP = """
from portable_fn import Request, function, http


@function(trigger=http("POST", "/orders"))
def create_order(request: Request) -> dict:
    return {"created": True}
"""


@pytest.fixture
def orders_app(tmp_path: Path) -> Any:
    """A one-function app (`POST /orders`) loaded as `portable-fn dev` loads it, and its dev host."""
    (tmp_path / "pyproject.toml").write_text('[tool.portable-fn]\napp = "orders"\nmodules = ["h4_orders_app"]\n')
    (tmp_path / "h4_orders_app.py").write_text(ORDERS_APP)
    app = load_app(tmp_path)
    return app, LocalHost(app, port=0, state_dir=tmp_path / "state", log=lambda line: None)


def dev_answer(host: Any, method: str, path: str) -> tuple[int, Any, str | None]:
    response = host.handle(Request(method, path))
    return response.status, json.loads(response.body), response.headers.get("allow")


def cloud_answer(response: dict[str, Any]) -> tuple[int, Any, str | None]:
    return response["statusCode"], json.loads(response["body"]), response["headers"].get("allow")


@pytest.mark.parametrize(
    "name, method, path",
    [
        ("lambdaFunctionUrlEvent.json", "GET", "/"),
        ("lambdaFunctionUrlIAMEvent.json", "POST", "/my/path"),
        ("lambdaFunctionUrlEventPathTrailingSlash.json", "POST", "/my/path/"),
    ],
)
def test_a_function_url_request_for_an_undeclared_path_is_dev_s_404(
    name, method, path, adapter, orders_app, lambda_context
) -> None:
    app, host = orders_app
    event = adapter.load_event(name)
    answer = cloud_answer(make_handler(app.functions[0])(event, lambda_context))
    assert answer == dev_answer(host, method, path)
    assert answer == (404, {"error": f"Nothing serves {method} {path}", "routes": ["POST /orders"]}, None)


@pytest.mark.parametrize("name", ["lambdaFunctionUrlEvent.json", "apiGatewayProxyV2Event_GET.json"])
def test_a_request_with_a_method_not_declared_is_dev_s_405_with_allow(
    name, adapter, orders_app, lambda_context
) -> None:
    app, host = orders_app
    event = adapter.load_event(name)  # GET
    set_path(event, "/orders")
    answer = cloud_answer(make_handler(app.functions[0])(event, lambda_context))
    assert answer == dev_answer(host, "GET", "/orders")
    assert answer == (405, {"error": "GET is not allowed on /orders", "allowed": ["POST"]}, "POST")


@pytest.mark.parametrize("name", ["apiGatewayProxyEvent.json", "albMultiValueHeadersEvent.json"])
def test_the_404_and_405_keep_the_shape_of_the_source(name, adapter, orders_app, lambda_context) -> None:
    event = adapter.load_event(name)
    response = make_handler(orders_app[0].functions[0])(event, lambda_context)
    assert response["statusCode"] == 404 and "multiValueHeaders" in response
    set_path(event, "/orders")
    response = make_handler(orders_app[0].functions[0])(event, lambda_context)
    assert response["statusCode"] == 405 and response["multiValueHeaders"]["allow"] == ["POST"]


def test_a_declared_request_still_reaches_the_function(adapter, orders_app, lambda_context) -> None:
    event = adapter.load_event("lambdaFunctionUrlIAMEvent.json")  # POST
    set_path(event, "/orders/")
    response = make_handler(orders_app[0].functions[0])(event, lambda_context)
    assert (response["statusCode"], json.loads(response["body"])) == (200, {"created": True})


@function(trigger=http("ANY", "/my/{name}"))
def where(request: Request) -> dict[str, Any]:
    return {"path": request.path, "path_params": request.path_params}


def test_a_named_http_api_stage_is_not_in_the_path_the_handler_sees(lambda_context) -> None:
    event = rust_event("apigw_v2_proxy_request_with_stage_in_path.json")  # rawPath /Prod/my/path, stage Prod
    response = handler_for(where)(event, lambda_context)
    assert json.loads(response["body"]) == {"path": "/my/path", "path_params": {"name": "path"}}


@function(trigger=http("GET", "/hello"))
def hello(request: Request) -> dict[str, Any]:
    return {"path": request.path, "path_params": request.path_params}


@pytest.mark.parametrize("path", ["/hello", "/test/hello"])  # the latter: a custom domain's base path "test"
def test_a_named_rest_api_stage_is_not_in_the_path_the_handler_sees(path, lambda_context) -> None:
    event = rust_event("apigw_proxy_request.json")  # stage "test", path "/hello" ({proxy+} = hello)
    event["path"] = path
    response = handler_for(hello)(event, lambda_context)
    assert json.loads(response["body"]) == {"path": "/hello", "path_params": {}}


@function(trigger=http("GET", "/test/status"))
def stage_status(request: Request) -> dict[str, Any]:  # a route whose first segment is the stage's name
    return {"path": request.path}


def test_a_rest_route_named_like_its_stage_keeps_its_first_segment(lambda_context) -> None:
    """On the REST API's own endpoint `path` never holds the stage (`requestContext.path` does): a route
    `/test/status` on stage `test` was cut to `/status` and answered 404."""
    event = rust_event("apigw_proxy_request.json")  # stage "test"
    event["path"], event["requestContext"]["path"] = "/test/status", "/test/test/status"
    response = handler_for(stage_status)(event, lambda_context)
    assert (response["statusCode"], json.loads(response["body"])) == (200, {"path": "/test/status"})


@pytest.mark.parametrize(
    "raw_path, seen",
    [
        ("/my/o 2 Ünï +€", "/my/o%202%20%C3%9Cn%C3%AF%20+%E2%82%AC"),  # an HTTP API decoded it: encoded again
        ("/my/o%202%C3%9C", "/my/o%202%C3%9C"),  # a Function URL's, already encoded: as it is
        ("/my/€?#", "/my/%E2%82%AC%3F%23"),
        ("/my/x;y=1,z@w:v!$&'()*~{", "/my/x;y=1,z@w:v!$&'()*~{"),  # ASCII only, no space: as it came
    ],
)
def test_the_path_is_percent_encoded_as_the_client_sent_it(raw_path: str, seen: str, adapter, lambda_context) -> None:
    """An HTTP API hands the function the path decoded (rawPath and requestContext.http.path): the
    handler still gets it encoded, as from a Function URL and on every other cloud, its parameters
    decoded."""
    event = adapter.load_event("apiGatewayProxyV2Event.json")
    set_path(event, raw_path)
    assert to_request(HTTP_V2, event).path == seen
    response = handler_for(where)(event, lambda_context)
    name = unquote(seen.split("/")[2])
    assert json.loads(response["body"]) == {"path": seen, "path_params": {"name": name}}


@pytest.mark.parametrize(
    "stage, raw_path, seen",
    [
        ("$default", "/$default/my/x", "/$default/my/x"),  # never stripped: not in the path
        ("prod", "/production/my/x", "/production/my/x"),  # a longer first segment is not the stage
        ("prod", "/prod", "/"),
        ("prod", "/my/prod", "/my/prod"),
    ],
)
def test_only_a_named_stage_that_leads_the_path_is_taken_off(stage, raw_path, seen, adapter) -> None:
    event = adapter.load_event("apiGatewayProxyV2Event.json")
    event["rawPath"] = raw_path
    event["requestContext"]["stage"] = stage
    assert to_request(HTTP_V2, event).path == seen
