"""An HTTP function behind functions-framework answers every path as `portable-fn dev` does: the paths the
framework's http signature keeps for itself (`/robots.txt`, `/favicon.ico`) reach the function's route, and
leading slashes are one (`//orders` is `/orders`, to the route and to the handler).

Each request is sent to the generated main.py under the real functions-framework (its flask app in process,
and its own command, gunicorn, in a process of its own) and to the dev host, and the answers compared.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.shim import generate_main

from portable_fn.app import load_app

from .framework import framework_app

PYPROJECT = """\
[project]
name = "gcp-routing-{name}"
version = "0.1.0"
requires-python = ">=3.10"

[tool.portable-fn]
app = "routing-{name}"
modules = ["gcp_routing_{name}"]
"""

HEADER = "from portable_fn import CloudEvent, Request, Response, function, http, queue, schedule, topic\n\n"
# One app per function, each deployed alone (an instance serves one function, dev the whole app).
FUNCTIONS = {
    "orders": """
@function(trigger=http("POST", "/orders"))
def orders(request: Request) -> Response:
    return Response.json({"path": request.path, "method": request.method})
""",
    "icon": """
@function(trigger=http("GET", "/favicon.ico"))
def icon(request: Request) -> Response:
    return Response(b"\\x00\\x00\\x01\\x00icon", 200, {"content-type": "image/x-icon"})
""",
    "robots": """
@function(trigger=http("GET", "/robots.txt"))
def robots(request: Request) -> Response:
    return Response(b"User-agent: *\\nDisallow: /\\n", 200, {"content-type": "text/plain"})
""",
    "work": """
@function(trigger=topic("work"), dead_letter=False)
def work(event: CloudEvent) -> None:
    pass
""",
    "jobs": """
@function(trigger=queue("jobs"), dead_letter=False)
def jobs(event: CloudEvent) -> None:
    pass
""",
    "tick": """
@function(trigger=schedule("rate(5 minutes)"), dead_letter=False)
def tick(event: CloudEvent) -> None:
    pass
""",
}
ICON = b"\x00\x00\x01\x00icon"


class Answer:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]

    def shown(self) -> tuple[int, Any, list[str], list[str]]:
        """What must be the same on both hosts: status, body (JSON read as JSON), Content-Type and Allow."""
        kind = self.header("content-type")
        body = json.loads(self.body) if kind == ["application/json"] else self.body
        return self.status, body, kind, self.header("allow")


def request(port: int, method: str, target: str, body: bytes = b"") -> Answer:
    """`method target` sent as is (http.client keeps `//orders` in the request line; urllib would not)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, target, body=body or None)
        answer = connection.getresponse()
        return Answer(answer.status, list(answer.headers.items()), answer.read())
    finally:
        connection.close()


class Deployed:
    """One function's app: its generated main.py, and dev's host serving it (started on first use)."""

    def __init__(self, name: str, root: Path) -> None:
        root.mkdir()
        (root / "pyproject.toml").write_text(PYPROJECT.format(name=name), encoding="utf-8")
        (root / f"gcp_routing_{name}.py").write_text(HEADER + FUNCTIONS[name], encoding="utf-8")
        self.name, self.root = name, root
        self.app = load_app(root)
        self.main = root / "main.py"
        self.main.write_text(generate_main(self.app), encoding="utf-8")
        self._dev: Any = None
        self._client: Any = None

    @property
    def dev_port(self) -> int:
        if self._dev is None:
            from portable_fn.local.host import LocalHost

            self._dev = LocalHost(self.app, port=0, state_dir=self.root / "state", log=lambda line: None)
            self._dev.__enter__()
        return int(self._dev.port)

    @property
    def client(self) -> Any:
        """flask's test client on functions-framework's app for the function, as its command builds it (an
        exception no handler answers propagates instead of becoming a 500)."""
        if self._client is None:
            app = framework_app(self.name, self.main)
            app.config["PROPAGATE_EXCEPTIONS"] = True
            self._client = app.test_client()
        return self._client

    def close(self) -> None:
        if self._dev is not None:
            self._dev.__exit__(None, None, None)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """`deployed(name)`: the Deployed function `name` of FUNCTIONS, built once per module."""
    root = tmp_path_factory.mktemp("gcp-routing")
    built: dict[str, Deployed] = {}

    def get(name: str) -> Deployed:
        if name not in built:
            built[name] = Deployed(name, root / name)
        return built[name]

    yield get
    for one in built.values():
        one.close()


def framework_request(client: Any, method: str, target: str, body: bytes = b"") -> Answer:
    """`method target` through functions-framework's whole WSGI path, its environ as gunicorn (what Cloud
    Functions runs) makes it: PATH_INFO and RAW_URI keep the path as sent, leading slashes too (flask's test
    client would read `//orders` as a URL naming the host `orders`)."""
    path, _, query = target.partition("?")
    environ = {"PATH_INFO": path, "RAW_URI": target, "QUERY_STRING": query}
    reply = client.open("/", method=method, data=body, environ_overrides=environ)
    return Answer(reply.status_code, list(reply.headers.items()), reply.get_data())


# (target, method, path): the function deployed, and a request to its URL
SAME_AS_DEV = [
    ("icon", "GET", "/favicon.ico"),  # declared: the framework's own 404 page answered it
    ("robots", "GET", "/robots.txt"),
    ("icon", "POST", "/favicon.ico"),  # 405 with Allow: GET
    ("icon", "GET", "/robots.txt"),  # undeclared: our JSON 404, not the framework's HTML one
    ("orders", "GET", "/favicon.ico"),
    ("orders", "POST", "/robots.txt"),
    ("icon", "GET", "/favicon.ico?v=2"),
    ("orders", "POST", "//orders"),  # leading slashes are one, as in dev: the handler sees /orders
    ("orders", "POST", "///orders?x=1"),
    ("orders", "GET", "//orders"),  # 405 "GET is not allowed on /orders"
    ("icon", "GET", "//favicon.ico"),
    ("orders", "POST", "/orders//"),  # doubled slashes elsewhere: kept, routed as dev routes them
    ("orders", "POST", "//orders//x"),
    ("orders", "POST", "//"),
]


@pytest.mark.parametrize("target, method, path", SAME_AS_DEV)
def test_every_path_is_answered_as_dev_answers_it(target, method, path, deployed) -> None:
    function, body = deployed(target), b"{}" if method == "POST" else b""
    gcp = framework_request(function.client, method, path, body)
    local = request(function.dev_port, method, path, body)
    assert gcp.shown() == local.shown()
    assert gcp.status in (200, 404, 405)


def test_a_declared_favicon_is_served_by_the_function(deployed) -> None:
    answer = framework_request(deployed("icon").client, "GET", "/favicon.ico")
    assert (answer.status, answer.body, answer.header("content-type")) == (200, ICON, ["image/x-icon"])


def test_the_handler_sees_one_leading_slash(deployed) -> None:
    answer = framework_request(deployed("orders").client, "POST", "//orders", b"{}")
    assert (answer.status, json.loads(answer.body)) == (200, {"path": "/orders", "method": "POST"})


@pytest.mark.parametrize("path", ["/favicon.ico", "/robots.txt"])
def test_an_event_function_answers_those_paths_itself(path, deployed) -> None:
    """Eventarc posts to `/`, but whatever reaches an event function's URL is the shim's to answer: a GET
    is its JSON 405, never the framework's HTML 404."""
    answer = framework_request(deployed("work").client, "GET", path)
    assert (answer.status, answer.header("allow"), answer.header("content-type")) == (
        405,
        ["POST"],
        ["application/json"],
    )


def test_the_hook_is_put_on_the_framework_app_once(deployed) -> None:
    """main.py builds one entry point per function: the app gets one hook, not one per function."""
    app = deployed("orders").client.application
    hooks = app.before_request_funcs.get(None, [])
    assert len([hook for hook in hooks if getattr(hook, "__module__", "") == "portable_fn_gcp.flask_http"]) == 1


def test_a_request_the_framework_routing_would_redirect_reaches_the_function(deployed) -> None:
    """werkzeug answers a 308 itself for what its URL map redirects (merge_slashes, strict slashes, a
    `redirect_to` rule): whatever the map's version does, such a request is the function's to answer. None of
    the http signature's own rules redirects today (werkzeug strips leading slashes before matching and
    `/<path:path>` takes every other path), so a redirecting rule stands in for one."""
    from werkzeug.routing import Rule

    app = framework_app("orders", deployed("orders").main)
    app.url_map.add(Rule("/orders", redirect_to="/elsewhere"))
    reply = app.test_client().post("/orders", data=b"{}")
    assert (reply.status_code, reply.get_json()) == (200, {"path": "/orders", "method": "POST"})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _until_up(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.slow  # the functions-framework command (gunicorn, as Cloud Functions runs it) in its own process
@pytest.mark.parametrize("target", ["orders", "icon", "robots"])
def test_the_functions_framework_command_answers_as_dev_does(target, deployed) -> None:
    function, port = deployed(target), _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(function.app.source_dir), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        str(Path(sys.executable).with_name("functions-framework")),
        *("--target", target, "--source", str(function.main), "--port", str(port), "--host", "127.0.0.1"),
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _until_up(port)
        for wanted, method, path in SAME_AS_DEV:
            if wanted != target:
                continue
            body = b"{}" if method == "POST" else b""
            local = request(function.dev_port, method, path, body)
            assert request(port, method, path, body).shown() == local.shown(), (method, path)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize(
    ("target", "event_type", "said"),
    [
        ("jobs", "google.cloud.storage.object.v1.finalized", "(queue) is deployed for"),
        ("jobs", "google.cloud.firestore.document.v1.written", "(queue) is deployed for"),
        ("tick", "com.example.order.created", "(schedule) is deployed for"),
    ],
)
def test_an_event_no_trigger_of_the_kind_is_wired_to_is_refused_never_acknowledged(
    deployed, target: str, event_type: str, said: str
) -> None:
    """A queue or schedule function ran its handler for a storage or Firestore event and answered 200 (the event
    was gone); a topic function takes what Eventarc routes to it, as a bus rule feeds one on AWS."""
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "e-1",
        "ce-source": "//storage.googleapis.com/projects/_/buckets/b",
        "ce-type": event_type,
        "content-type": "application/json",
    }
    reply = deployed(target).client.post("/", data=b'{"bucket": "b", "name": "x"}', headers=headers)
    assert reply.status_code == 400 and said in reply.get_json()["error"]
