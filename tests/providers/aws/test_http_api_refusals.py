"""Behind the app's API Gateway HTTP API, what no function declared is answered as `portable-fn dev` answers it.

Deploy routes `ANY /path` (each declared path) and `$default` (any other path) to a function, whose shim
refuses what they bring (`portable_fn_aws.http_routes`): 405 with every method the app declared on the
path, or 404 naming the app's routes, with dev's JSON bodies and `Allow`. The handlers here are the ones
the generated entry module makes (`packaging.entry_module`, with its route table), with the environment
deploy gives them; the events are the HTTP API's payload 2.0 from the corpus, with the route key API
Gateway sets.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.http_routes import FRONT_ENV, HTTP_API
from portable_fn_aws.packaging import entry_module

from portable_fn.app import App, load_app
from portable_fn.local.host import LocalHost
from portable_fn.runtime import Request

from ...app_copy import copy_app

APP = Path(__file__).with_name("api_orders")
ROUTES = ["POST /orders", "GET /orders", "GET /orders/{order_id}"]  # as dev lists them
CORS = {"allow_origins": ["https://shop.example"], "allow_methods": ["GET", "POST"], "max_age": 600}


@pytest.fixture
def app(tmp_path: Path) -> App:
    return load_app(copy_app(APP, tmp_path))


@pytest.fixture
def dev(app: App, tmp_path: Path) -> LocalHost:
    return LocalHost(app, port=0, state_dir=tmp_path / "state", log=lambda line: None)


def handlers(app: App, monkeypatch: pytest.MonkeyPatch, front: str | None = HTTP_API) -> dict[str, Any]:
    """The module Lambda imports (`portable_fn_entry`), run with the environment deploy sets for `front`."""
    if front is None:
        monkeypatch.delenv(FRONT_ENV, raising=False)
    else:
        monkeypatch.setenv(FRONT_ENV, front)
    namespace: dict[str, Any] = {"__name__": "portable_fn_entry"}
    exec(compile(entry_module(app), "portable_fn_entry.py", "exec"), namespace)
    return namespace


def api_event(adapter: Any, route_key: str, method: str, path: str, headers: dict[str, str] | None = None) -> Any:
    """An HTTP API request API Gateway sent through the route `route_key`."""
    event = copy.deepcopy(adapter.load_event("apiGatewayProxyV2Event.json"))
    event["routeKey"] = route_key
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["body"], event["isBase64Encoded"], event["pathParameters"] = None, False, None
    event["headers"] = {**(headers or {})}
    return event


def answer(response: dict[str, Any]) -> tuple[int, Any, str | None]:
    return response["statusCode"], json.loads(response["body"]), response["headers"].get("allow")


def dev_answer(host: LocalHost, method: str, path: str) -> tuple[int, Any, str | None]:
    response = host.handle(Request(method, path))
    return response.status, json.loads(response.body), response.headers.get("allow")


def test_the_entry_module_carries_the_app_s_routes(app: App) -> None:
    source = entry_module(app)
    assert "ROUTES = (('POST', '/orders'), ('GET', '/orders'), ('GET', '/orders/{order_id}'))" in source
    assert "create_order = make_handler(_m0.create_order.__portable_fn__, ROUTES)" in source


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH"])
def test_a_method_no_function_declared_is_dev_s_405_naming_every_method_of_the_path(
    method, app, dev, adapter, lambda_context, monkeypatch
) -> None:
    create_order = handlers(app, monkeypatch)["create_order"]  # what `ANY /orders` goes to
    got = answer(create_order(api_event(adapter, "ANY /orders", method, "/orders"), lambda_context))
    assert got == dev_answer(dev, method, "/orders")
    assert got == (405, {"error": f"{method} is not allowed on /orders", "allowed": ["GET", "POST"]}, "GET, POST")


@pytest.mark.parametrize("path", ["/", "/my/path", "/orders/1/lines"])
def test_a_path_no_route_takes_is_dev_s_404_naming_every_route(path, app, dev, adapter, lambda_context, monkeypatch):
    create_order = handlers(app, monkeypatch)["create_order"]  # what `$default` goes to
    got = answer(create_order(api_event(adapter, "$default", "GET", path), lambda_context))
    assert got == dev_answer(dev, "GET", path)
    assert got == (404, {"error": f"Nothing serves GET {path}", "routes": ROUTES}, None)


def test_the_declared_route_is_served(app, adapter, lambda_context, monkeypatch) -> None:
    found = handlers(app, monkeypatch)
    create = found["create_order"](api_event(adapter, "POST /orders", "POST", "/orders"), lambda_context)
    get = found["get_order"](api_event(adapter, "GET /orders/{order_id}", "GET", "/orders/7"), lambda_context)
    assert (create["statusCode"], json.loads(create["body"])) == (200, {"created": True})
    assert (get["statusCode"], json.loads(get["body"])) == (200, {"id": "7"})


def test_a_head_through_the_get_s_head_route_is_served_as_dev_serves_it(app, dev, adapter, lambda_context, monkeypatch):
    """Deploy routes `HEAD /path` to a `GET /path` function with the GET's authorization (`desired.head_key`):
    the GET's handler answers, as in dev, on a Function URL, on Cloud Functions and on Azure."""
    get_order = handlers(app, monkeypatch)["get_order"]
    got = get_order(api_event(adapter, "HEAD /orders/{order_id}", "HEAD", "/orders/7"), lambda_context)
    served = dev.handle(Request("HEAD", "/orders/7"))
    assert (got["statusCode"], served.status) == (200, 200)
    assert got["headers"]["content-type"] == served.headers.get("content-type") == "application/json"


@pytest.mark.parametrize(
    ("route_key", "method", "path", "expected"),
    [
        # A declared method and path that API Gateway matched to no route of its own (its matching and
        # portable-fn's differ, e.g. on a trailing slash): what the API serves there is nothing.
        ("$default", "POST", "/orders/", 404),
        ("$default", "GET", "/orders", 404),  # list_orders' route, which needs IAM: never through $default
        ("ANY /orders", "HEAD", "/orders", 405),  # a HEAD comes through the GET's own `HEAD /orders` route
    ],
)
def test_what_a_refusal_route_brings_never_reaches_a_handler(
    route_key, method, path, expected, app, adapter, lambda_context, monkeypatch
) -> None:
    """The refusal routes carry no authorization: serving through them would skip the declared route's."""
    create_order = handlers(app, monkeypatch)["create_order"]
    response = create_order(api_event(adapter, route_key, method, path), lambda_context)
    assert response["statusCode"] == expected and "created" not in response["body"]


def test_a_cors_preflight_through_any_is_answered_under_the_app_s_policy(
    app, dev, adapter, lambda_context, monkeypatch
) -> None:
    """API Gateway answers preflights itself only where no route takes OPTIONS; `ANY /orders` does."""
    monkeypatch.setenv("PORTABLE_FN_CORS", json.dumps(CORS))  # what deploy sets from [tool.portable-fn.cors]
    asked = {"origin": "https://shop.example", "access-control-request-method": "POST"}
    create_order = handlers(app, monkeypatch)["create_order"]
    response = create_order(api_event(adapter, "ANY /orders", "OPTIONS", "/orders", asked), lambda_context)
    assert response["statusCode"] == 204
    assert response["headers"]["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in response["headers"]["access-control-allow-methods"]


def test_behind_a_function_url_a_function_refuses_as_an_app_of_its_own_route(
    app, adapter, lambda_context, monkeypatch
) -> None:
    """Each function has a URL of its own: another function's methods and routes are not on it."""
    create_order = handlers(app, monkeypatch, front=None)["create_order"]
    wrong_method = answer(create_order(api_event(adapter, "$default", "DELETE", "/orders"), lambda_context))
    elsewhere = answer(create_order(api_event(adapter, "$default", "GET", "/my/path"), lambda_context))
    served = create_order(api_event(adapter, "$default", "POST", "/orders"), lambda_context)
    assert wrong_method == (405, {"error": "DELETE is not allowed on /orders", "allowed": ["POST"]}, "POST")
    assert elsewhere == (404, {"error": "Nothing serves GET /my/path", "routes": ["POST /orders"]}, None)
    assert served["statusCode"] == 200
