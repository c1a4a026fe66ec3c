"""Route matching: templates, most specific first, greedy segments, ANY, 404 vs 405."""

from __future__ import annotations

import pytest

from portable_fn.runtime.http import Request
from portable_fn.runtime.routes import Route, Router, not_routed, not_served

ROUTER = Router(
    [
        Route("GET", "/items/{item_id}", "item"),
        Route("ANY", "/files/{path+}", "files"),
        Route("GET", "/items/special", "special"),
        Route("POST", "/items", "create"),
        Route("GET", "/files/{name}", "one file"),
        Route("GET", "/", "root"),
        Route("GET", "/a/{x}/c", "a-x-c"),
        Route("GET", "/a/b/{y}", "a-b-y"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "target", "params"),
    [
        ("GET", "/items/42", "item", {"item_id": "42"}),
        ("GET", "/items/special", "special", {}),
        ("GET", "/items/special/", "special", {}),
        ("POST", "/items", "create", {}),
        ("GET", "/files/report.pdf", "one file", {"name": "report.pdf"}),
        ("DELETE", "/files/report.pdf", "files", {"path": "report.pdf"}),
        ("GET", "/files/a/b/c.txt", "files", {"path": "a/b/c.txt"}),
        ("PATCH", "/files/a/b", "files", {"path": "a/b"}),
        ("GET", "/items/caf%C3%A9%20au%20lait", "item", {"item_id": "café au lait"}),
        ("GET", "/files/dir%2Fname/x", "files", {"path": "dir/name/x"}),
        ("GET", "/", "root", {}),
        ("GET", "/a/b/c", "a-b-y", {"y": "c"}),  # the literal comes first at the first differing segment
        ("GET", "/a/z/c", "a-x-c", {"x": "z"}),
    ],
)
def test_the_most_specific_route_wins(method: str, path: str, target: str, params: dict[str, str]) -> None:
    found = ROUTER.match(method, path)
    assert found is not None
    route, got = found
    assert (route.target, got) == (target, params)


@pytest.mark.parametrize("path", ["/items", "/items/1/2", "/files", "/nothing", "/a/b"])
def test_paths_that_fit_no_template_do_not_match(path: str) -> None:
    assert ROUTER.match("GET", path) is None


def test_a_greedy_parameter_needs_at_least_one_segment() -> None:
    assert ROUTER.match("GET", "/files/") is None


def test_allowed_methods_are_those_of_routes_fitting_the_path() -> None:
    assert ROUTER.match("DELETE", "/items/7") is None
    assert ROUTER.allowed_methods("/items/7") == ["GET"]
    assert ROUTER.allowed_methods("/items") == ["POST"]
    assert ROUTER.allowed_methods("/nowhere") == []


def test_describe_lists_routes_most_specific_first() -> None:
    described = ROUTER.describe()
    assert described.index("GET /items/special") < described.index("GET /items/{item_id}")
    assert described.index("GET /files/{name}") < described.index("ANY /files/{path+}")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("DELETE", "/orders", 405),  # as `not_routed`
        ("GET", "/nothing", 404),  # as `not_routed`
        ("POST", "/orders/", 404),  # a route takes it, but the cloud sent it to its catch-all: nothing serves it
    ],
)
def test_a_catch_all_answers_as_dev_except_for_what_a_route_takes(method: str, path: str, status: int) -> None:
    router = Router([Route("POST", "/orders"), Route("GET", "/orders")])
    answer = not_served(router, Request(method, path))
    assert answer.status == status
    if status != 404 or path == "/nothing":
        assert answer.body == not_routed(router, Request(method, path)).body
