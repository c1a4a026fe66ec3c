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
    assert _methods(indexed_routes["create_order"]) == ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    assert _methods(indexed_routes["list_orders"]) == ["GET", "HEAD"]  # a HEAD is the GET route's, as in dev
    assert _methods(indexed_routes["get_order"]) is None  # alone on its route: every method, the shim refuses
    assert _methods(indexed_routes["files"]) is None


@pytest.mark.parametrize(
    "name, method, url",
    [
        ("get_order", "DELETE", "https://routes.azurewebsites.net/orders/7"),
        ("get_order", "POST", "https://routes.azurewebsites.net/orders/7"),
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


def test_a_path_the_host_matched_ignoring_case_gets_the_404_of_dev(app: App, indexed_routes: dict[str, Any]) -> None:
    """The host matches `orders/{order_id}` ignoring case and handed `/ORDERS/7` to the function, which served it
    (the handler saw `/ORDERS/7`); dev, AWS and Cloud Run answer 404."""
    request = func.HttpRequest(
        "GET", "https://routes.azurewebsites.net/ORDERS/7", body=b"", route_params={"order_id": "7"}
    )
    answer = indexed_routes["get_order"].get_user_function()(request, HostContext())
    status, _, body = _dev_answer(app, "GET", "/ORDERS/7")
    assert (answer.status_code, json.loads(answer.get_body())) == (status, body) and status == 404


@pytest.mark.parametrize(
    "name, url, params",
    [
        ("get_order", "https://routes.azurewebsites.net/orders/7", {"order_id": "7"}),  # alone on its route
        ("list_orders", "https://routes.azurewebsites.net/orders", {}),  # sharing it with a POST
    ],
)
def test_a_head_is_served_by_the_get_route_as_in_dev(
    indexed_routes: dict[str, Any], name: str, url: str, params: dict[str, str]
) -> None:
    # dev, Cloud Run and a Function URL serve HEAD through the GET route; Azure answered 405 `Allow: GET`
    request = func.HttpRequest("HEAD", url, body=b"", route_params=params)
    answer = indexed_routes[name].get_user_function()(request, HostContext())
    assert answer.status_code == 200


def test_invoke_answers_405_and_404_as_dev(app: App) -> None:
    provider = AzureProvider()
    refused = provider.invoke(app, app.function("get_order"), {"method": "DELETE", "path": "/orders/7"})
    assert (refused["status"], refused["headers"]["allow"]) == (405, "GET")
    assert json.loads(refused["body"]) == _dev_answer(app, "DELETE", "/orders/7")[2]
    elsewhere = provider.invoke(app, app.function("get_order"), {"method": "GET", "path": "/nope"})
    assert elsewhere["status"] == 404 and json.loads(elsewhere["body"]) == _dev_answer(app, "GET", "/nope")[2]
    served = provider.invoke(app, app.function("get_order"), {"method": "GET", "path": "/orders/9"})
    assert served["status"] == 200 and json.loads(served["body"]) == {"id": "9", "path": "/orders/9"}


# -- a path no function declares: the generated catch-all answers dev's 404 -----------------------------------


def _http_binding(fn: Any) -> dict[str, Any]:
    return next(b for b in json.loads(fn.get_function_json())["bindings"] if b["type"] == "httpTrigger")


def test_the_generated_app_indexes_a_catch_all_after_every_http_function(indexed_routes: dict[str, Any]) -> None:
    """The host tries routes in the order of its functions' names (ordinal, case ignored) and takes the first
    that matches (`codegen.not_found_name`): `{*path}` must be the last http function."""
    binding = _http_binding(indexed_routes["zz_not_found"])
    assert (binding["route"], binding.get("methods"), binding["authLevel"]) == ("{*path}", None, "ANONYMOUS")
    http = [name for name, fn in indexed_routes.items() if any(b.type == "httpTrigger" for b in fn.get_bindings())]
    assert sorted(http, key=str.upper)[-1] == "zz_not_found"


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("POST", "/"), ("DELETE", "/orders/7/lines")])
def test_a_path_no_function_declares_gets_the_404_of_dev(
    app: App, indexed_routes: dict[str, Any], method: str, path: str
) -> None:
    request = func.HttpRequest(method, f"https://routes.azurewebsites.net{path}", body=b"", route_params={"path": path})
    answer = indexed_routes["zz_not_found"].get_user_function()(request, HostContext())
    status, _, body = _dev_answer(app, method, path)
    assert (answer.status_code, json.loads(answer.get_body())) == (status, body) == (404, body)
    assert answer.mimetype == "application/json" and body["routes"]


def test_a_request_a_route_takes_that_reaches_the_catch_all_is_a_404(indexed_routes: dict[str, Any]) -> None:
    """Only when the host's matching and portable-fn's differ: nothing the catch-all gets reaches a handler."""
    request = func.HttpRequest("POST", "https://routes.azurewebsites.net/orders", body=b"")
    answer = indexed_routes["zz_not_found"].get_user_function()(request, HostContext())
    assert answer.status_code == 404 and "created" not in answer.get_body().decode()


def test_the_catch_all_sorts_after_a_function_named_past_it(app: App, tmp_path: Path, indexed: Any) -> None:
    source = (ROUTES / "routes.py").read_text().replace("def files(", "def zz_z_files(")
    (tmp_path / "pyproject.toml").write_text((ROUTES / "pyproject.toml").read_text().replace('"routes"', '"zrout"'))
    (tmp_path / "zrout.py").write_text(source)
    renamed = load_app(tmp_path)
    names = sorted(indexed(renamed), key=str.upper)
    assert names[-2:] == ["zz_z_files", "zz_z_files_not_found"]


def test_invoke_answers_a_path_no_function_declares_as_the_catch_all_does(
    app: App, indexed_routes: dict[str, Any]
) -> None:
    invoked = AzureProvider().invoke(app, app.function("create_order"), {"method": "GET", "path": "/nope"})
    request = func.HttpRequest("GET", "https://routes.azurewebsites.net/nope", body=b"")
    hosted = indexed_routes["zz_not_found"].get_user_function()(request, HostContext())
    assert (invoked["status"], json.loads(invoked["body"])) == (hosted.status_code, json.loads(hosted.get_body()))
    assert invoked["headers"]["content-type"].startswith("application/json")
