"""JSON served on 127.0.0.1 for tests that need a server to call: `serving(Handler)` runs a handler class
while a block runs, `send_json` answers a request with a JSON body, and `JwksServer` is an OpenID issuer
(its discovery document and JWKS) for the tests that verify tokens. Tests import it relatively
(`from ..json_server import JwksServer`): they run with --import-mode=importlib."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DISCOVERY_PATH = "/.well-known/openid-configuration"


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    """Answer the handler's request with `status` and `body` as JSON."""
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class Quiet(BaseHTTPRequestHandler):
    """A request handler that logs nothing to the test's output."""

    # Every test server here sets TCP_NODELAY (the standard library's switch). `BaseHTTPRequestHandler` sends
    # the headers and the body in two writes; with Nagle's algorithm on, the body waits for the client to
    # acknowledge the headers, and a client on a kept-alive connection delays that acknowledgement by up to
    # 40 ms (Linux's delayed ACK). That was ~30 ms of every request to the fake ARM: a deploy's 244
    # requests took 6.4 s of waiting, and test_arm_deploy.py 504 s of the suite.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` served on 127.0.0.1 while the block runs; its base URL (`http://127.0.0.1:PORT`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class JwksServer:
    """An issuer on 127.0.0.1 (`url` + "/"): its discovery document names it and its JWKS at `jwks_path`;
    `jwks` is what that path serves (a test swaps it to rotate keys), `hits` each path asked for. A context
    manager; `close` stops it."""

    def __init__(self, jwks_path: str = "/keys") -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.jwks_path = jwks_path
        self.hits: list[str] = []
        owner = self

        class Handler(Quiet):
            def do_GET(self) -> None:
                owner.hits.append(self.path)
                if self.path == DISCOVERY_PATH:
                    send_json(self, 200, {"issuer": owner.url + "/", "jwks_uri": owner.url + owner.jwks_path})
                elif self.path == owner.jwks_path:
                    send_json(self, 200, owner.jwks)
                else:
                    self.send_error(404)

        self._serving = serving(Handler)
        self.url = self._serving.__enter__()

    def __enter__(self) -> JwksServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._serving.__exit__(None, None, None)
