"""`to_request` reads the native request lazily; what a handler sees must be what `Request(...)` holds."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest
from portable_fn_azure.http_adapter import to_http_response, to_request

from portable_fn.runtime.http import Request, Response

URL = "https://app.azurewebsites.net/items/7/a%20b?tag=a&tag=b&empty=#frag"
HEADERS = {"Content-Type": "application/json", "X-Trace": "t", "Cookie": "s=1; t=2"}


def _native(url: str = URL, params: dict[str, str] | None = None) -> func.HttpRequest:
    return func.HttpRequest(
        "post", url, headers=HEADERS, params=params, route_params={"item_id": "7"}, body=b'{"n": 1}'
    )


def _eager(native: func.HttpRequest) -> Request:
    """The Request built in one go from the same facts."""
    path, _, query = native.url.split("://", 1)[1].partition("/")[2].partition("?")
    return Request(
        native.method,
        "/" + path.partition("#")[0],
        headers=dict(native.headers),
        query=query.partition("#")[0] or native.params or None,
        body=native.get_body(),
        path_params=native.route_params,
        raw=native,
    )


@pytest.mark.parametrize("url, params", [(URL, None), ("https://x/items", {"only": "params"}), ("https://x", None)])
def test_every_field_reads_as_the_eager_request_would(url: str, params: dict[str, str] | None) -> None:
    native = _native(url, params)
    lazy, eager = to_request(native), _eager(native)
    assert isinstance(lazy, Request)
    assert (lazy.method, lazy.path, lazy.path_params, lazy.body, lazy.raw) == (
        eager.method,
        eager.path,
        eager.path_params,
        eager.body,
        eager.raw,
    )
    assert lazy.headers.multi_items() == eager.headers.multi_items() and lazy.headers["x-trace"] == "t"
    assert lazy.query.multi_items() == eager.query.multi_items()
    assert lazy.cookies == {"s": "1", "t": "2"} and lazy.json() == {"n": 1}
    assert repr(lazy) == repr(eager)


def test_fields_read_once_and_can_be_replaced() -> None:
    request = to_request(_native())
    assert request.headers is request.headers and request.query is request.query
    assert request.with_path_params({"item_id": "8"}).path_params == {"item_id": "8"}
    request.path = "/elsewhere"
    assert request.path == "/elsewhere"


def test_a_request_without_a_url_is_refused_at_once() -> None:
    native = _native()
    native._HttpRequest__url = None  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        to_request(native)


@pytest.mark.parametrize(
    "response, mimetype, charset, extra",
    [
        (Response.json({"a": 1}), "application/json", "utf-8", []),
        (Response.text("hi"), "text/plain", "utf-8", []),
        (Response(b"x", headers={"Content-Type": "text/csv"}), "text/csv", "utf-8", [("Content-Type", "text/csv")]),
        (
            Response(b"x", headers=[("set-cookie", "a=1"), ("set-cookie", "b=2")]),
            "text/plain",
            "utf-8",
            [("set-cookie", "a=1"), ("set-cookie", "b=2")],
        ),
    ],
)
def test_the_response_keeps_its_type_and_every_header(
    response: Response, mimetype: str, charset: str, extra: list[tuple[str, str]]
) -> None:
    made = to_http_response(response, func.HttpResponse)
    assert (made.status_code, made.get_body(), made.mimetype, made.charset) == (
        response.status,
        response.body,
        mimetype,
        charset,
    )
    assert [(k, v) for k, v in made.headers.items()] == extra


def test_a_body_that_is_a_number_is_refused_not_allocated() -> None:
    """A native request whose body is a number (not bytes) is malformed: `bytes(n)` would allocate n bytes."""

    class Odd:
        method, url, headers = "POST", "https://x/a", {}

        def get_body(self) -> Any:
            return 10**12

    with pytest.raises(TypeError, match="body is a int"):
        to_request(Odd())
