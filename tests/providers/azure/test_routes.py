"""An http function answers only what it declared, with the 405 `portable-fn dev` gives: the generated
routes let the undeclared methods through to one function of the route, whose shim refuses them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from portable_fn_azure.provider import AzureProvider

from portable_fn.app import App, load_app
from portable_fn.runtime.http import Request
from portable_fn.runtime.routes import Route, Router, not_routed

ROUTES = Path(__file__).resolve().parent / "apps" / "routes"


class HostContext(func.Context):
    invocation_id = property(lambda self: "inv")
    function_name = property(lambda self: "f")
    function_directory = property(lambda self: "/home/site/wwwroot")
    trace_context = property(lambda self: None)
    retry_context = property(lambda self: None)
    thread_local_storage = property(lambda self: None)


@pytest.fixture
def app() -> App:
    return load_app(ROUTES)


@pytest.fixture
def indexed_routes(app: App, indexed: Callable[[App], dict[str, Any]]) -> dict[str, Any]:
    return indexed(app)


def _methods(fn: Any) -> list[str] | None:
    binding = next(b for b in json.loads(fn.get_function_json())["bindings"] if b["type"] == "httpTrigger")
    methods = binding.get("methods")
    return None if methods is None else [m.upper() for m in methods]


def _dev_answer(app: App, method: str, path: str) -> tuple[int, dict[str, str], Any]:
    """What `portable-fn dev` answers for a request no route serves (the same `not_routed`)."""
    router = Router(Route(s.trigger.method, s.trigger.path, s) for s in app.functions)
    response = not_routed(router, Request(method, path))
    return response.status, dict(response.headers.items()), json.loads(response.body)


def test_the_host_delivers_each_function_its_methods_and_the_undeclared_ones_to_one(
    indexed_routes: dict[str, Any],
) -> None:
    assert _methods(indexed_routes["create_order"]) == ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    assert _methods(indexed_routes["list_orders"]) == ["GET"]
    assert _methods(indexed_routes["get_order"]) is None  # alone on its route: every method, the shim refuses
    assert _methods(indexed_routes["files"]) is None


@pytest.mark.parametrize(
    "name, method, url",
    [
        ("get_order", "DELETE", "https://routes.azurewebsites.net/orders/7"),
        ("get_order", "HEAD", "https://routes.azurewebsites.net/orders/7"),
        ("create_order", "PUT", "https://routes.azurewebsites.net/orders"),
    ],
)
def test_an_undeclared_method_gets_the_405_of_dev(
    app: App, indexed_routes: dict[str, Any], name: str, method: str, url: str
) -> None:
    answer = indexed_routes[name].get_user_function()(func.HttpRequest(method, url, body=b""), HostContext())
    path = url.split(".net", 1)[1]
    status, headers, body = _dev_answer(app, method, path)
    assert (answer.status_code, answer.headers["allow"], json.loads(answer.get_body())) == (
        status,
        headers["allow"],
        body,
    )
    assert status == 405 and body["allowed"]


def test_a_declared_method_runs_and_sees_the_route_path(indexed_routes: dict[str, Any]) -> None:
    answer = indexed_routes["get_order"].get_user_function()(
        func.HttpRequest(
            "GET", "https://routes.azurewebsites.net/orders/7?x=1", body=b"", route_params={"order_id": "7"}
        ),
        HostContext(),
    )
    assert answer.status_code == 200 and json.loads(answer.get_body()) == {"id": "7", "path": "/orders/7"}


def test_invoke_answers_405_and_404_as_dev(app: App) -> None:
    provider = AzureProvider()
    refused = provider.invoke(app, app.function("get_order"), {"method": "DELETE", "path": "/orders/7"})
    assert (refused["status"], refused["headers"]["allow"]) == (405, "GET")
    assert json.loads(refused["body"]) == _dev_answer(app, "DELETE", "/orders/7")[2]
    elsewhere = provider.invoke(app, app.function("get_order"), {"method": "GET", "path": "/nope"})
    assert elsewhere["status"] == 404 and json.loads(elsewhere["body"]) == _dev_answer(app, "GET", "/nope")[2]
    served = provider.invoke(app, app.function("get_order"), {"method": "GET", "path": "/orders/9"})
    assert served["status"] == 200 and json.loads(served["body"]) == {"id": "9", "path": "/orders/9"}
