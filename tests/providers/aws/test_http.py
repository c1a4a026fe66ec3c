"""HTTP through the shim: each source's request in, the same source's response shape out, binary bodies
round-tripped as base64, path parameters from the route, CloudEvents read from requests."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from portable_fn_aws.http_events import ALB, HTTP_V2, REST_V1, compile_route, http_source, to_request
from portable_fn_aws.shim import make_handler

from portable_fn.runtime import spec_of

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


def with_body(event: dict[str, Any], body: bytes, content_type: str, path: str = "/my/photo.png") -> dict[str, Any]:
    """The payload with a base64 body, a content type and a path the echo route matches."""
    event = copy.deepcopy(event)
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
    response = handler_for(web_module.echo)(with_body(adapter.load_event("apiGatewayProxyEvent.json"), b"{}",
                                                      "application/json"), lambda_context)
    assert set(response) == {"statusCode", "multiValueHeaders", "body", "isBase64Encoded"}
    headers = response["multiValueHeaders"]
    assert headers["set-cookie"] == ["a=1; Path=/", "b=2; HttpOnly"]
    assert headers["x-multi"] == ["one", "two"] and headers["x-name"] == ["photo.png"]
    assert headers["content-type"] == ["application/json"]


@pytest.mark.parametrize("name", ["apiGatewayProxyV2Event.json", "lambdaFunctionUrlIAMEvent.json"])
def test_v2_answers_with_cookies_and_joined_headers(name, adapter, web_module, lambda_context) -> None:
    response = handler_for(web_module.echo)(with_body(adapter.load_event(name), b"{}", "application/json"),
                                            lambda_context)
    assert response["cookies"] == ["a=1; Path=/", "b=2; HttpOnly"]
    assert response["headers"] == {"x-multi": "one,two", "x-name": "photo.png", "content-type": "application/json"}


def test_alb_answers_with_a_status_description_in_the_header_style_of_the_request(adapter, web_module,
                                                                                  lambda_context) -> None:
    handler = handler_for(web_module.echo)
    single = handler(with_body(adapter.load_event("albEvent.json"), b"x", "text/plain"), lambda_context)
    assert single["statusDescription"] == "201 Created"
    assert single["headers"]["x-multi"] == "one,two" and single["headers"]["set-cookie"] == "a=1; Path=/"
    assert "multiValueHeaders" not in single
    multi = handler(with_body(adapter.load_event("albMultiValueHeadersEvent.json"), b"x", "text/plain"),
                    lambda_context)
    assert multi["multiValueHeaders"]["set-cookie"] == ["a=1; Path=/", "b=2; HttpOnly"]
    assert "headers" not in multi


def test_a_body_flagged_base64_that_is_not_is_read_as_text(adapter) -> None:
    event = adapter.load_event("apiGatewayProxyEvent_noVersionAuth.json")  # "Hello from Lambda!", flagged
    assert event["isBase64Encoded"] is True
    assert to_request(REST_V1, event).body == b"Hello from Lambda!"


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


@pytest.mark.parametrize("template, path, expected", [
    ("/my/{name}", "/my/path", {"name": "path"}),
    ("/my/{name}", "/my/path/", {"name": "path"}),
    ("/files/{rest+}", "/files/a/b.txt", {"rest": "a/b.txt"}),
    ("/orders/{id}/items/{item}", "/orders/7/items/pen", {"id": "7", "item": "pen"}),
])
def test_path_parameters_come_from_the_route(template, path, expected, adapter) -> None:
    event = adapter.load_event("apiGatewayProxyV2Event.json")
    event["rawPath"] = path
    assert to_request(HTTP_V2, event, compile_route(template)).path_params == expected


def test_the_event_path_parameters_are_used_when_the_route_does_not_match(adapter) -> None:
    event = adapter.load_event("apiGatewayProxyV2IamEvent.json")  # /my/path with {proxy+} = hello/world
    assert to_request(HTTP_V2, event, compile_route("/elsewhere/{x}")).path_params == {"proxy": "hello/world"}


@pytest.mark.parametrize("name", SOURCES)
def test_a_request_carrying_a_cloudevent_is_read_as_one(name, adapter, web_module, lambda_context) -> None:
    body = json.dumps({"specversion": "1.0", "id": "e-1", "source": "/s", "type": "com.example.t", "data": 1})
    event = with_body(adapter.load_event(name), body.encode(), "application/cloudevents+json", "/events")
    response = handler_for(web_module.receive)(event, lambda_context)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"id": "e-1", "type": "com.example.t"}


def test_a_request_that_is_not_a_cloudevent_is_a_400(adapter, web_module, lambda_context) -> None:
    response = handler_for(web_module.receive)(adapter.load_event("apiGatewayProxyV2Event.json"), lambda_context)
    assert response["statusCode"] == 400 and "specversion" in response["body"]


def test_a_crashing_handler_is_a_500_not_an_unhandled_error(adapter, web_module, lambda_context) -> None:
    response = handler_for(web_module.boom)(adapter.load_event("albEvent.json"), lambda_context)
    assert response["statusCode"] == 500 and response["statusDescription"] == "500 Internal Server Error"
    assert json.loads(response["body"]) == {"error": "internal error", "function": "boom"}


def test_a_malformed_native_request_is_a_400(adapter, web_module, lambda_context) -> None:
    event = adapter.load_event("apiGatewayProxyV2Event.json")
    del event["requestContext"]["http"]["method"]
    response = handler_for(web_module.echo)(event, lambda_context)
    assert response["statusCode"] == 400 and "Malformed" in response["body"]
