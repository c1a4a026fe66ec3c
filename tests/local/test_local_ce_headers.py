"""CloudEvent attributes sent to `portable-fn dev` as `ce-*` headers reach the handler as the sender wrote
them, on every path that reads them (an HTTP function taking a CloudEvent, a message POSTed to a queue):
percent-encoded UTF-8 is decoded, and raw UTF-8 in a header value is read as UTF-8. The standard library's
server reads header values as latin-1, which made 'café' arrive as 'cafÃ©'.

Requests go out as raw bytes (http.client would refuse a non-ASCII header value given as text).
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from portable_fn.app import load_app
from portable_fn.local.host import LocalHost

from .conftest import LOCAL_APPS

APP = LOCAL_APPS / "headers"
CE = [(b"ce-specversion", b"1.0"), (b"ce-type", b"com.example.thing"), (b"ce-source", b"/shop/orders")]
SENT = {  # header value as sent -> the attribute the handler must see
    "raw UTF-8": ("objects/café €.txt".encode(), "ünïcode".encode(), "objects/café €.txt", "ünïcode"),
    "percent-encoded": (b"objects/caf%C3%A9%20%E2%82%AC.txt", b"%C3%BCn%C3%AFcode", "objects/café €.txt", "ünïcode"),
}


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHost]:
    dev = LocalHost(load_app(APP), port=0, state_dir=tmp_path_factory.mktemp("headers-state"), log=lambda line: None)
    with dev:
        yield dev


def post(host: LocalHost, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, Any]:
    """POST `{}` with these header lines, as bytes; the status and the JSON answer."""
    head = [f"POST {path} HTTP/1.1".encode(), b"Host: dev", b"Content-Type: application/json", b"Content-Length: 2"]
    head += [name + b": " + value for name, value in headers]
    with socket.create_connection(("127.0.0.1", host.port), timeout=30) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n{}")
        sock.shutdown(socket.SHUT_WR)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    status_line, _, rest = bytes(received).partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


@pytest.mark.parametrize("how", SENT)
def test_an_http_function_gets_the_attributes_the_headers_hold(host: LocalHost, how: str) -> None:
    subject, tenant, want_subject, want_tenant = SENT[how]
    status, body = post(host, "/events", [*CE, (b"ce-id", b"e-1"), (b"ce-subject", subject), (b"ce-tenant", tenant)])
    assert (status, body) == (200, {"id": "e-1", "subject": want_subject, "tenant": want_tenant})


@pytest.mark.parametrize("how", SENT)
def test_a_queued_message_keeps_the_attributes_the_headers_hold(host: LocalHost, how: str) -> None:
    subject, tenant, want_subject, want_tenant = SENT[how]
    event_id = f"q-{how.replace(' ', '-')}"
    headers = [*CE, (b"ce-id", event_id.encode()), (b"ce-subject", subject), (b"ce-tenant", tenant)]
    assert post(host, "/_local/queues/events", headers) == (202, {"ids": [event_id]})
    queued = sys.modules["local_headers"].QUEUED
    deadline = time.monotonic() + 60  # bounds a hang only: the worker delivers at once
    while not any(seen["id"] == event_id for seen in queued) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert {"id": event_id, "subject": want_subject, "tenant": want_tenant} in queued
