"""CORS declared once in `[tool.portable-fn.cors]`: the config it is checked against, the environment that
carries it, preflights answered before any credential is asked for (also for a route without OPTIONS, as
the dev host and the GCP and Azure shims route), and the headers on every answer, 401 and 429 included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portable_fn.config import AppConfig
from portable_fn.runtime import Request, call_http, spec_of
from portable_fn.runtime.routes import Route, Router, not_routed
from portable_fn.runtime.state_sqlite import SqliteBackend

from .handlers import routes

ORIGIN = "https://app.example.com"


def config(**cors: Any) -> AppConfig:
    return AppConfig.model_validate({"app": "shop", "modules": ["shop"], "cors": cors})


@pytest.fixture
def cors(monkeypatch: pytest.MonkeyPatch) -> AppConfig:
    declared = config(
        allow_origins=[ORIGIN, "http://localhost:3000"],
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After"],
        max_age=600,
        allow_credentials=True,
    )
    for name, value in declared.runtime_env().items():
        monkeypatch.setenv(name, value)
    return declared


def preflight(method: str = "POST", origin: str = ORIGIN, headers: str = "authorization, content-type") -> Request:
    return Request(
        "OPTIONS",
        "/orders",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def spec(handler: Any) -> Any:
    found = spec_of(handler)
    assert found is not None
    return found


def test_the_policy_reaches_functions_as_json_in_their_environment(cors: AppConfig) -> None:
    assert json.loads(cors.runtime_env()["PORTABLE_FN_CORS"]) == {
        "allow_origins": [ORIGIN, "http://localhost:3000"],
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["Authorization", "Content-Type"],
        "expose_headers": ["Retry-After"],
        "max_age": 600,
        "allow_credentials": True,
    }
    assert "PORTABLE_FN_CORS" not in AppConfig.model_validate({"app": "shop", "modules": ["m"]}).runtime_env()


@pytest.mark.parametrize(
    ("cors", "message"),
    [
        ({"allow_origins": ["*"], "allow_credentials": True}, "cannot go with allow_credentials = true"),
        ({"allow_origins": ["https://app.example.com/path"]}, "is not an origin"),
        ({"allow_origins": ["app.example.com"]}, "is not an origin"),
        ({"allow_origins": []}, "at least 1"),
        ({"allow_origins": ["*"], "allow_methods": ["FETCH"]}, "'FETCH' is not an HTTP method"),
        ({"allow_origins": ["*"], "max_age": -1}, "greater than or equal to 0"),
        ({"allow_origins": ["*"], "allow_origin": ["*"]}, "Extra inputs are not permitted"),
    ],
)
def test_a_policy_browsers_would_refuse_is_a_config_error(cors: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        config(**cors)


def test_a_preflight_is_answered_before_auth_asks_for_a_token(cors: AppConfig) -> None:
    response = call_http(spec(routes.create_order), preflight())
    assert (response.status, response.body) == (204, b"")
    assert response.headers.multi_items() == [
        ("Access-Control-Allow-Origin", ORIGIN),
        ("Vary", "Origin"),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Allow-Methods", "GET, POST"),
        ("Access-Control-Allow-Headers", "authorization, content-type"),
        ("Access-Control-Max-Age", "600"),
    ]


def test_a_preflight_for_a_route_without_options_is_answered_where_nothing_routes_it(cors: AppConfig) -> None:
    """The dev host, the GCP shim and the Azure shim answer a request their routes do not take with
    `not_routed`: a preflight for a path some route serves is answered there."""
    router = Router([Route("POST", "/orders"), Route("GET", "/orders/{id}")])
    response = not_routed(router, preflight())
    assert (response.status, response.headers["access-control-allow-origin"]) == (204, ORIGIN)
    elsewhere = not_routed(router, Request("OPTIONS", "/nothing", headers=preflight().headers))
    assert elsewhere.status == 404
    plain = not_routed(router, Request("OPTIONS", "/orders"))
    assert (plain.status, plain.headers["allow"]) == (405, "POST")


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (
            preflight(origin="https://evil.example"),
            "origin 'https://evil.example' is not in [tool.portable-fn.cors] allow_origins",
        ),
        (preflight(method="DELETE"), "method 'DELETE' is not in [tool.portable-fn.cors] allow_methods"),
        (preflight(headers="x-debug"), "header(s) x-debug are not in [tool.portable-fn.cors] allow_headers"),
    ],
)
def test_a_preflight_the_policy_does_not_allow_is_403_naming_what(
    cors: AppConfig, request_: Request, reason: str
) -> None:
    response = call_http(spec(routes.create_order), request_)
    assert (response.status, json.loads(response.body)) == (403, {"error": "forbidden", "reason": reason})
    assert "access-control-allow-origin" not in response.headers


def test_every_answer_to_an_allowed_origin_carries_the_headers_401_included(cors: AppConfig) -> None:
    response = call_http(spec(routes.list_orders), Request("GET", "/orders", headers={"Origin": ORIGIN}))
    assert response.status == 401
    assert [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-type"] == [
        ("WWW-Authenticate", "Bearer"),
        ("Access-Control-Allow-Origin", ORIGIN),
        ("Vary", "Origin"),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Expose-Headers", "Retry-After"),
    ]


def test_a_429_carries_them_too(cors: AppConfig, buckets: SqliteBackend) -> None:
    def status() -> Any:
        headers = {"Origin": ORIGIN, "X-Forwarded-For": "192.0.2.1"}
        return call_http(spec(routes.status), Request("GET", "/status", headers=headers))

    assert status().status == 200
    refused = status()
    assert (refused.status, refused.headers["access-control-allow-origin"]) == (429, ORIGIN)
    assert refused.headers["retry-after"] == "3600"


def test_another_origin_gets_no_allow_origin_but_vary(cors: AppConfig) -> None:
    response = call_http(spec(routes.open_route), Request("GET", "/open", headers={"Origin": "https://evil.example"}))
    assert (response.status, response.headers.getall("vary")) == (200, ["Origin"])
    assert "access-control-allow-origin" not in response.headers


def test_any_origin_without_credentials_is_answered_with_a_star(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTABLE_FN_CORS", config(allow_origins=["*"]).runtime_env()["PORTABLE_FN_CORS"])
    response = call_http(spec(routes.open_route), Request("GET", "/open", headers={"Origin": "https://a.example"}))
    assert response.headers["access-control-allow-origin"] == "*"
    answered = call_http(spec(routes.open_route), preflight(method="PATCH", headers="x-anything"))
    assert (answered.status, answered.headers["access-control-allow-methods"]) == (204, "PATCH")
    assert answered.headers["access-control-allow-headers"] == "x-anything"


def test_without_a_policy_nothing_changes() -> None:
    response = call_http(spec(routes.open_route), Request("GET", "/open", headers={"Origin": ORIGIN}))
    assert response.headers.multi_items() == [("content-type", "application/json")]
    assert not_routed(Router([Route("POST", "/orders")]), preflight()).status == 405


# -- the clouds' own routing: a preflight for a POST route reaches no handler, the shim answers it -----


def test_the_gcp_entry_point_answers_a_preflight_for_a_post_route(cors: AppConfig) -> None:
    from portable_fn_gcp.shim import entry_point
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request as WerkzeugRequest

    native = WerkzeugRequest(
        EnvironBuilder(method="OPTIONS", path="/orders", headers=preflight().headers.multi_items()).get_environ()
    )
    body, status, headers = entry_point(spec(routes.create_order))(native)
    assert (status, body, headers["access-control-allow-origin"]) == (204, b"", [ORIGIN])
    assert headers["access-control-allow-methods"] == ["GET, POST"]


def test_the_azure_entry_answers_a_preflight_for_a_post_route(cors: AppConfig) -> None:
    import azure.functions as func
    from portable_fn_azure.shim import http_entry

    entry = http_entry(spec(routes.create_order), func.HttpResponse)
    native = func.HttpRequest(
        "OPTIONS", "https://authed.azurewebsites.net/orders", headers=dict(preflight().headers), body=b""
    )
    answer = entry(native)
    assert (answer.status_code, answer.get_body()) == (204, b"")
    assert (answer.headers["Access-Control-Allow-Origin"], answer.headers["Access-Control-Max-Age"]) == (ORIGIN, "600")
