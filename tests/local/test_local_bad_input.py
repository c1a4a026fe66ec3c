"""Bad input to `portable-fn dev` gets a JSON 4xx that names the problem: never a 5xx, never a dropped
connection, never a path of this machine.

Requests go out over raw sockets (http.client cannot send broken framing). The client sends its bytes
and then half-closes, so a body shorter than announced ends at once instead of waiting for the host's
read timeout (one test lets it stall on purpose, with a short timeout).
"""

from __future__ import annotations

import json
import select
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portable_fn.app import load_app
from portable_fn.local.host import LocalHost
from portable_fn.local.limits import BODY_LIMITS, MiB

from .conftest import LOCAL_APPS

APP = LOCAL_APPS / "strict"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(host: LocalHost, data: bytes, *, half_close: bool = True) -> Answer:
    """Send raw bytes, read the whole answer; fail when the host closes without one."""
    with socket.create_connection(("127.0.0.1", host.port), timeout=30) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the host answered before reading everything: the answer is still there to read
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    head, sep, body = bytes(received).partition(b"\r\n\r\n")
    assert sep, f"the host closed the connection without an answer (got {bytes(received)[:200]!r})"
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return Answer(int(status_line.split()[1]), headers, body)


def request(
    method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"", length: bool = True
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: dev"]
    if length and body:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def refused(answer: Answer, host: LocalHost, status: int, *words: str) -> dict[str, Any]:
    """The answer is a JSON refusal with this status, naming `words`, holding no path of this machine."""
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert isinstance(body, dict) and isinstance(body["error"], str), body
    for word in words:
        assert word in body["error"], (word, body)
    assert_no_machine_path(answer.body, host)
    return body  # type: ignore[no-any-return]


def assert_no_machine_path(body: bytes, host: LocalHost) -> None:
    text = body.decode("utf-8", "replace")
    for path in (host.state_dir, host.app.root, Path(sys.prefix), Path.home()):
        assert str(path) not in text, (path, text)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHost]:
    logs: list[str] = []
    dev = LocalHost(
        load_app(APP),
        port=0,
        state_dir=tmp_path_factory.mktemp("strict-state"),
        log=logs.append,
        retry_backoff_s=0.02,
        read_timeout_s=5.0,
    )
    dev.logs = logs  # type: ignore[attr-defined]
    with dev:
        yield dev


# -- what the issue found ------------------------------------------------------------------------------

DEEP = b"[" * 20_000 + b"]" * 20_000  # 40 KB: under every message limit, far past any parser


@pytest.mark.parametrize("path", ["/orders", "/_local/queues/orders", "/_local/topics/news"])
def test_deeply_nested_json_is_a_400(host: LocalHost, path: str) -> None:
    answer = send(host, request("POST", path, {"Content-Type": "application/json"}, DEEP))
    refused(answer, host, 400, "too deeply")


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("a%00b.txt", ["control character", "NUL"]),
        ("line%0Abreak", ["control character"]),
        ("x" * 300, ["255 bytes"]),
        ("/".join(["d" * 200] * 6), ["1,024"]),
        ("../escape", ["not allowed"]),
        ("in/dir/", ["not allowed"]),  # the trailing '/' was dropped: kept as "in/dir"
        ("a%C2%85b", ["control character"]),  # C1 controls (U+0080-U+009F), which Azure refuses, were kept
        ("c%FF", ["not UTF-8"]),  # read as U+FFFD: "c%FF" and "c%FE" were one key
    ],
)
def test_object_keys_a_cloud_or_a_folder_refuses_are_a_400_naming_the_rule(
    host: LocalHost, key: str, words: list[str]
) -> None:
    answer = send(host, request("PUT", f"/_local/buckets/uploads/{key}", body=b"hi"))
    refused(answer, host, 400, *words)


@pytest.mark.parametrize("size", [217, 230, 255])
def test_a_key_part_up_to_the_file_name_limit_is_kept(host: LocalHost, size: int) -> None:
    # Its temporary file took the key's name plus 40 bytes: past 255 bytes, a 500 (OSError) and nothing kept.
    key = "in/" + "k" * size
    assert send(host, request("PUT", f"/_local/buckets/uploads/{key}", body=b"hi")).status == 201
    assert (host.state_dir / "buckets" / "uploads" / key).read_bytes() == b"hi"


def test_a_refused_put_leaves_no_temporary_file(host: LocalHost) -> None:
    # A 409 (a key that is the folder of another) left `.<uuid>.part` holding the body, one per refused PUT.
    assert send(host, request("PUT", "/_local/buckets/uploads/keep/f/b", body=b"inner")).status == 201
    refused(send(host, request("PUT", "/_local/buckets/uploads/keep/f", body=b"outer")), host, 409, "folder")
    folder = host.state_dir / "buckets" / "uploads" / "keep"
    assert sorted(p.name for p in folder.iterdir()) == ["f"] and not list(folder.rglob("*.part"))


@pytest.mark.parametrize("path", ["/_local/queues/orders", "/_local/topics/news"])
@pytest.mark.parametrize(
    ("headers", "body", "words"),
    [
        ({"Content-Type": "application/json"}, b'"\\ud800"', ["\\ud800", "half of a UTF-16 surrogate pair"]),
        ({"Content-Type": "application/json"}, b'{"id": "o-\\udc00"}', ["\\udc00", "surrogate"]),
        (
            {"Content-Type": "application/cloudevents+json"},
            b'{"specversion": "1.0", "id": "\\ud800", "source": "/p", "type": "t"}',
            ["\\ud800"],
        ),
        ({"Content-Type": "application/json"}, b'{"quantity": NaN}', ["NaN, Infinity"]),
        ({"Content-Type": "application/json"}, b'{"quantity": -Infinity}', ["NaN, Infinity"]),
        ({}, b'{"quantity": 1e400}', ["past 1.8e308"]),
        ({"Content-Type": "application/json"}, b"", ["is empty"]),
    ],
)
def test_a_message_no_json_reader_or_utf_8_can_take_back_is_a_400(
    host: LocalHost, path: str, headers: dict[str, str], body: bytes, words: list[str]
) -> None:
    # A lone surrogate answered 500 (the host could not write the message down); NaN, Infinity and 1e400 were
    # accepted and listed later as bare NaN / Infinity, which no JSON reader takes; an empty body was accepted.
    refused(send(host, request("POST", path, headers, body)), host, 400, *words)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\r\n\r\n", ["an empty line"]),  # closed with no answer
        (b"GET /orders\r\n\r\n", ["'GET /orders'", "HTTP/1.1"]),  # HTTP/0.9: an answer without a status line
        (b"GET HTTP/1.1\r\n\r\n", ["'GET HTTP/1.1'"]),
        (b"GET /env HTTP/1.1\r\n\r\n", ["exactly one Host header", "has 0"]),
        (b"GET /env HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ["exactly one Host header", "has 2"]),
    ],
)
def test_a_request_line_or_host_the_http_rules_refuse_is_a_400(host: LocalHost, data: bytes, words: list[str]) -> None:
    refused(send(host, data), host, 400, *words)


def test_a_raw_utf_8_path_arrives_as_sent_and_a_control_character_or_other_bytes_are_a_400(host: LocalHost) -> None:
    answer = send(host, b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: dev\r\n\r\n")  # curl --path-as-is sends it raw
    assert answer.status == 404 and answer.json()["error"] == "Nothing serves GET /caf\u00e9"  # was /cafÃ©
    refused(send(host, b"GET /a\x01b HTTP/1.1\r\nHost: dev\r\n\r\n"), host, 400, "control character", "%01")
    refused(send(host, b"GET /a\xffb HTTP/1.1\r\nHost: dev\r\n\r\n"), host, 400, "not UTF-8")


def test_expect_100_continue_is_answered_before_the_body_and_another_expectation_is_a_417(host: LocalHost) -> None:
    # curl sends Expect: 100-continue before a body over 1 MB and waited a second for an answer that never came.
    headers = {"Content-Type": "application/json", "Expect": "100-continue"}
    with socket.create_connection(("127.0.0.1", host.port), timeout=30) as sock:
        sock.sendall(request("POST", "/_local/queues/orders", headers, b"{}").removesuffix(b"{}"))
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            interim += sock.recv(1)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"  # before the body is sent
        sock.sendall(b"{}")
        assert sock.recv(65536).startswith(b"HTTP/1.0 202 ")
    answer = send(host, request("POST", "/_local/queues/orders", {"Expect": "200-ok"}, b"{}"))
    refused(answer, host, 417, "200-ok")


def test_a_body_over_the_limit_is_refused_before_it_is_asked_for(host: LocalHost) -> None:
    """A 100 Continue invited a 7 MB body the host then refused with a 413."""
    headers = {"Content-Length": "7000000", "Content-Type": "application/json", "Expect": "100-continue"}
    answer = send(host, request("POST", "/orders", headers, length=False), half_close=False)
    refused(answer, host, 413, "larger than")
    assert b"100 Continue" not in answer.body


def test_a_method_that_is_no_token_is_a_400_and_reaches_the_log_escaped(host: LocalHost) -> None:
    refused(send(host, b"\x1b[31mRED\x1b[0m /orders HTTP/1.1\r\nHost: dev\r\n\r\n"), host, 400, "not an HTTP method")
    assert "\x1b" not in "".join(host.logs)  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [b"a\x00b", b"a\x1bb", b"a\x7fb"])
def test_a_header_value_with_a_control_character_is_a_400(host: LocalHost, value: bytes) -> None:
    data = b"GET /env HTTP/1.1\r\nHost: dev\r\nX-A: " + value + b"\r\n\r\n"
    refused(send(host, data), host, 400, "Request header 'X-A'", "control character")


def test_an_empty_line_before_the_request_line_is_skipped(host: LocalHost) -> None:
    assert send(host, b"\r\n" + request("GET", "/env")).status == 200  # RFC 9112 2.2; the connection was closed


def test_headers_that_stop_arriving_are_a_408(tmp_path: Path) -> None:
    dev = LocalHost(load_app(APP), port=0, state_dir=tmp_path, log=lambda line: None, read_timeout_s=0.5)
    with dev:
        answer = send(dev, b"GET /env HTTP/1.1\r\nHost: dev\r\n", half_close=False)  # and then nothing
    refused(answer, dev, 408, "did not arrive")


BINARY = {"ce-specversion": "1.0", "ce-id": "e-1", "ce-source": "/shop", "ce-type": "order.created"}


@pytest.mark.parametrize(
    ("headers", "body", "words"),
    [
        # a header: refused as any request header holding a control character, naming it
        ({**BINARY, "ce-type": "order\x01created"}, b"{}", ["'ce-type'", "control character"]),
        ({**BINARY, "ce-subject": "line\x7fend"}, b"{}", ["'ce-subject'", "control character"]),
        (
            {"Content-Type": "application/cloudevents+json"},
            b'{"specversion": "1.0", "id": "e-1", "source": "/s", "type": "a\\u0000b"}',
            ["'type'", "control character"],
        ),
        (
            {"Content-Type": "application/cloudevents+json"},
            b'{"specversion": "1.0", "id": "e-1", "source": "/s", "type": "t", "big": 1099511627776}',
            ["'big'", "CloudEvents Integer"],
        ),
        ({"ce-id": "e-1", "ce-source": "/shop", "ce-type": "t"}, b"{}", ["no ce-specversion", "ce-id"]),
    ],
)
def test_a_cloudevent_whose_attributes_are_not_cloudevents_types_is_a_400(
    host: LocalHost, headers: dict[str, str], body: bytes, words: list[str]
) -> None:
    # Each was accepted (202): control characters, a 40-bit Integer, and ce-* headers without ce-specversion
    # (delivered as a plain message, its attributes dropped and a new id given).
    refused(send(host, request("POST", "/_local/queues/orders", headers, body)), host, 400, *words)


@pytest.mark.parametrize(
    ("media_type", "said"),
    [("application/json\x1f", "control character"), ("json", "not a media type"), (";", "not a media type")],
)
def test_a_content_type_that_is_no_media_type_is_a_400(host: LocalHost, media_type: str, said: str) -> None:
    # Each became the event's datacontenttype (a control character too), where binary mode refused it.
    answer = send(host, request("POST", "/_local/queues/orders", {"Content-Type": media_type}, b"{}"))
    refused(answer, host, 400, said)


def test_what_a_refusal_says_names_the_header_the_event_and_the_number(host: LocalHost) -> None:
    twice = request("POST", "/_local/queues/orders", BINARY, b"{}").replace(
        b"ce-id: e-1\r\n", b"ce-id: a\r\nce-id: b\r\n"
    )
    refused(send(host, twice), host, 400, "header 'ce-id' is sent more than once")  # one value was kept, silently
    batch = b'[{"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}, {"specversion": "1.0"}]'
    answer = send(
        host, request("POST", "/_local/queues/orders", {"Content-Type": "application/cloudevents-batch+json"}, batch)
    )
    refused(answer, host, 400, "Event 1 of the batch of 2", "'id' is missing")  # which event was not said
    digits = b'{"n": ' + b"1" * 4301 + b"}"
    answer = send(host, request("POST", "/_local/queues/orders", {"Content-Type": "application/json"}, digits))
    assert "set_int_max_str_digits" not in refused(answer, host, 400, "more than 4,300 digits")["error"]


def test_a_binary_cloudevent_counts_its_attributes_toward_the_message_limit(host: LocalHost) -> None:
    limit = host.limits.queue.size
    body = b"x" * (limit - 1000)
    answer = send(host, request("POST", "/_local/queues/orders", {**BINARY, "ce-big": "y" * 2000}, body))
    assert refused(answer, host, 413, "ce-* attributes", f"{limit:,} bytes")["limit"] == limit
    fits = send(host, request("POST", "/_local/queues/orders", {**BINARY, "ce-big": "y" * 100}, body))
    assert fits.status == 202


@pytest.mark.parametrize("media_type", ["multipart/form-data; boundary=x", "multipart/related; boundary=q"])
def test_a_multipart_request_reaches_the_function(host: LocalHost, media_type: str) -> None:
    # The header check took the parser's notes on a multipart type (no boundary in the headers) for a bad line.
    body = b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n'
    answer = send(host, request("POST", "/_local/queues/orders", {"Content-Type": media_type}, body))
    assert answer.status == 202, answer


@pytest.mark.parametrize("bad", ["NoColonHere", "Name With Spaces", '{"json": 1}'])
def test_a_header_line_that_is_not_name_value_is_a_400(host: LocalHost, bad: str) -> None:
    # The standard library's parser took it for the end of the headers: Content-Type and Content-Length after
    # it were dropped, and the message was accepted (202) with no data and then dead-lettered.
    body = b'{"id": "o-1"}'
    data = (
        f"POST /_local/queues/orders HTTP/1.1\r\nHost: dev\r\n{bad}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    refused(send(host, data), host, 400, "Malformed header")


@pytest.mark.parametrize(
    ("value", "status", "words"),
    [
        ("abc", 400, ["'abc' is not a number"]),
        ("-5", 400, ["'-5' is not a number"]),
        ("1e3", 400, ["not a number"]),
        ("5, 6", 400, ["send one number"]),
        ("99999999999999999999999999", 413, ["at most"]),
        (str(7 * MiB), 413, ["6,291,456 bytes", "Lambda"]),
    ],
)
def test_a_bad_or_huge_content_length_is_answered(host: LocalHost, value: str, status: int, words: list[str]) -> None:
    answer = send(host, request("POST", "/orders", {"Content-Length": value}, b"{}", length=False))
    body = refused(answer, host, status, *words)
    if status == 413:
        assert body["limit"] == 6 * MiB and body["cloud"] == "aws"


def test_a_body_that_fits_but_whose_lambda_event_would_not_is_a_413(host: LocalHost) -> None:
    """Lambda counts its event, not the body: a binary body travels in base64 (4/3 of its bytes), beside the
    headers. 5 MiB of octets is a 6.67 MiB event; the same bytes as text, or 4 MiB of octets, fit."""
    octets = {"Content-Type": "application/octet-stream"}
    body = refused(send(host, request("POST", "/orders", octets, b"x" * (5 * MiB))), host, 413, "base64", "Lambda")
    assert (body["limit"], body["cloud"]) == (6 * MiB, "aws")
    assert send(host, request("POST", "/orders", octets, b"x" * (4 * MiB))).status != 413
    assert send(host, request("POST", "/orders", {"Content-Type": "text/plain"}, b"x" * (5 * MiB))).status != 413
    headers = {"Content-Type": "text/plain", **{f"X-Pad-{i}": "p" * 8000 for i in range(20)}}  # 160 KB of headers
    refused(send(host, request("POST", "/orders", headers, b"x" * (6 * MiB - 100 * 1024))), host, 413, "of headers")


def test_two_content_lengths_that_differ_are_a_400(host: LocalHost) -> None:
    data = request("POST", "/orders", {"Content-Length": "2", "content-length": "3"}, b"{}", length=False)
    refused(send(host, data), host, 400, "Content-Length")


def test_a_body_shorter_than_its_content_length_is_a_400(host: LocalHost) -> None:
    data = request("POST", "/orders", {"Content-Length": "100"}, b'{"a": 1}', length=False)
    refused(send(host, data), host, 400, "ended after 8 of the 100 bytes")


def test_a_stalled_body_is_answered_after_the_read_timeout(tmp_path: Path) -> None:
    with LocalHost(load_app(APP), port=0, state_dir=tmp_path, log=lambda line: None, read_timeout_s=0.2) as dev:
        data = request("POST", "/orders", {"Content-Length": "100"}, b'{"a": 1}', length=False)
        refused(send(dev, data, half_close=False), dev, 400, "ended after 8 of the 100 bytes")


@pytest.mark.parametrize("where", ["request line", "header line", "body"])
def test_a_request_trickling_in_is_answered_408_at_its_deadline(tmp_path: Path, where: str) -> None:
    """Each byte comes well within the read timeout, so only the whole request's deadline ends it, also within
    one line that never ends (a request line or a header line thousands of bytes long)."""
    body = b"{" + b" " * 4000 + b"}"
    pad = {"X-Pad": "a" * 4000} if where == "header line" else {}
    target = "/orders" + ("?" + "a" * 4000 if where == "request line" else "")
    data = request("POST", target, {"Content-Type": "application/json", **pad}, body)
    head = data.index(b"\r\n\r\n") + 4
    sent_at_once = 20 if where == "request line" else head + 10 if where == "body" else data.index(b"X-Pad") + 10
    with (
        LocalHost(
            load_app(APP), port=0, state_dir=tmp_path, log=lambda line: None, read_timeout_s=30, request_timeout_s=0.5
        ) as dev,
        socket.create_connection(("127.0.0.1", dev.port), timeout=30) as sock,
    ):
        sock.sendall(data[:sent_at_once])
        for i in range(sent_at_once, len(data)):  # ~200 s if the host never answered
            if select.select([sock], [], [], 0.05)[0]:
                break  # the answer came
            sock.sendall(data[i : i + 1])
        else:
            pytest.fail("the host read the whole trickled request")
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.0 408 ") or received.startswith(b"HTTP/1.1 408 "), bytes(received[:200])
    assert b"did not arrive whole within 0.5 s" in received


@pytest.mark.parametrize(
    ("chunks", "words"),
    [
        (b"zz\r\nhello\r\n0\r\n\r\n", ["'zz' is not a hexadecimal"]),
        (b"\r\nhello\r\n0\r\n\r\n", ["'' is not a hexadecimal"]),
        (b"3\r\nhello\r\n0\r\n\r\n", ["more bytes than its size"]),
        (b"5\r\nhello\r\n", ["cut short"]),
        (b"a\r\nhello", ["ended after 5 of the 10 bytes"]),
        (b"-1\r\nx\r\n0\r\n\r\n", ["not a hexadecimal"]),
        (b"ffffffffffffffffffff\r\n", ["not a hexadecimal"]),
    ],
)
def test_broken_chunked_encoding_is_a_400(host: LocalHost, chunks: bytes, words: list[str]) -> None:
    data = request("POST", "/orders", {"Transfer-Encoding": "chunked"}) + chunks
    refused(send(host, data), host, 400, *words)


def test_good_chunked_encoding_is_read(host: LocalHost) -> None:
    data = request("POST", "/orders", {"Transfer-Encoding": "chunked", "Content-Type": "application/json"})
    answer = send(host, data + b'4;ext=1\r\n{"a"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n')
    assert (answer.status, answer.json()) == (201, {"got": {"a": 1}})


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({"Transfer-Encoding": "gzip"}, ["'gzip' is not supported"]),
        ({"Transfer-Encoding": "gzip, chunked"}, ["'gzip, chunked' is not supported"]),
        ({"Transfer-Encoding": "chunked", "Content-Length": "5"}, ["both Transfer-Encoding and Content-Length"]),
    ],
)
def test_unsupported_or_ambiguous_transfer_encoding_is_a_400(
    host: LocalHost, headers: dict[str, str], words: list[str]
) -> None:
    refused(send(host, request("POST", "/orders", headers) + b"5\r\nhello\r\n0\r\n\r\n"), host, 400, *words)


def test_chunks_adding_up_past_the_limit_are_a_413(host: LocalHost) -> None:
    chunk = b"%x\r\n" % (40 * 1024) + b"x" * (40 * 1024) + b"\r\n"
    data = request("POST", "/_local/queues/orders", {"Transfer-Encoding": "chunked"}) + chunk * 2
    body = refused(send(host, data), host, 413, "queue message")
    assert body["limit"] == 48 * 1024


# -- limits follow the target clouds ----------------------------------------------------------------


def test_the_strictest_clouds_limits_apply_when_the_app_names_no_cloud(host: LocalHost) -> None:
    assert host.limits.clouds == ("aws", "gcp", "azure")
    message = b'"' + b"x" * (100 * 1024) + b'"'  # fine on SQS and Pub/Sub, too big for Queue Storage
    body = refused(
        send(host, request("POST", "/_local/queues/orders", body=message)),
        host,
        413,
        "49,152 bytes",
        "Azure Queue Storage's 64 KiB message, which holds it in base64",
    )
    assert (body["limit"], body["cloud"]) == (48 * 1024, "azure")
    topic = refused(
        send(host, request("POST", "/_local/topics/news", body=b"x" * (300 * 1024))), host, 413, "262,144 bytes", "SNS"
    )
    assert topic["limit"] == BODY_LIMITS["topic"]["aws"].size


def test_one_provider_s_limits_apply_with_providers(tmp_path: Path) -> None:
    with LocalHost(load_app(APP), port=0, state_dir=tmp_path, log=lambda line: None, providers=["aws"]) as dev:
        ok = send(dev, request("POST", "/_local/queues/orders", body=b'"' + b"x" * (100 * 1024) + b'"'))
        assert ok.status == 202, ok
        body = refused(
            send(dev, request("POST", "/_local/queues/orders", body=b"x" * (300 * 1024))), dev, 413, "Amazon SQS"
        )
        assert body["limit"] == 256 * 1024


def test_clouds_the_app_configures_set_the_limits(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "local_strict.py").write_text((APP / "local_strict.py").read_text())
    (app_dir / "pyproject.toml").write_text(
        (APP / "pyproject.toml").read_text() + '\n[tool.portable-fn.gcp]\nregion = "europe-west1"\n'
    )
    dev = LocalHost(load_app(app_dir), port=0, state_dir=tmp_path / "state")
    assert dev.limits.clouds == ("gcp",)
    assert (dev.limits.http.size, dev.limits.queue.size) == (32 * MiB, 10_000_000)


# -- methods, request lines, headers -------------------------------------------------------------------


def test_an_unknown_method_is_a_json_405_on_a_route_and_404_elsewhere(host: LocalHost) -> None:
    answer = send(host, request("BREW", "/orders"))
    refused(answer, host, 405, "BREW is not allowed")
    assert answer.headers["allow"] == "POST"
    refused(send(host, request("BREW", "/nowhere")), host, 404, "Nothing serves BREW")


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /orders HTTP/1.1\r\n" + b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n",
        b"GET /orders HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n",
        b"G" * 70_000 + b" / HTTP/1.1\r\n\r\n",
    ],
)
def test_requests_the_standard_library_refuses_get_json(host: LocalHost, data: bytes) -> None:
    answer = send(host, data)
    assert 400 <= answer.status < 500, answer
    refused(answer, host, answer.status)


# -- CloudEvents attributes ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/_local/queues/orders", "/events"])
@pytest.mark.parametrize(
    ("header", "value", "attribute"),
    [
        ("ce-source", "not%20a%20uri", "source"),
        ("ce-source", "%3Cangle%3E", "source"),
        ("ce-dataschema", "relative/schema.json", "dataschema"),
    ],
)
def test_cloudevent_uri_attributes_are_checked(
    host: LocalHost, path: str, header: str, value: str, attribute: str
) -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "1",
        "ce-type": "t",
        "ce-source": "/s",
        "Content-Type": "application/json",
        header: value,
    }
    body = refused(send(host, request("POST", path, headers, b"{}")), host, 400, "URI")
    assert attribute in body["error"]


def test_a_structured_cloudevent_with_a_bad_source_is_a_400(host: LocalHost) -> None:
    event = json.dumps({"specversion": "1.0", "id": "1", "type": "t", "source": "a b"}).encode()
    answer = send(host, request("POST", "/_local/topics/news", {"Content-Type": "application/cloudevents+json"}, event))
    refused(answer, host, 400, "'source' must be a URI-reference")


# -- the dev log says why -------------------------------------------------------------------------------


def test_every_refusal_is_logged_with_its_reason(host: LocalHost) -> None:
    send(host, request("POST", "/orders", {"Content-Length": "abc"}, length=False))
    send(host, request("POST", "/orders", {"Content-Type": "application/json"}, b"{"))
    send(host, request("BREW", "/nowhere"))
    logs: list[str] = host.logs  # type: ignore[attr-defined]
    assert any("POST /orders -> 400: Content-Length 'abc' is not a number" in line for line in logs), logs
    assert any("orders [http] POST /orders -> 400: The request body is not valid JSON" in line for line in logs), logs
    assert any("BREW /nowhere -> 404: Nothing serves BREW /nowhere" in line for line in logs), logs


# -- whatever arrives --------------------------------------------------------------------------------------

METHODS = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW"]),
    st.from_regex(r"[A-Z]{1,8}", fullmatch=True),
)
PATHS = st.sampled_from(
    [
        "/orders",
        "/events",
        "/env",
        "/nowhere",
        "/_local/queues/orders",
        "/_local/topics/news",
        "/_local/buckets/uploads/a.txt",
        "/_local/functions",
        "/_local/queues/missing",
        "/_local/schedules/x/fire",
        "/_local/nothing",
    ]
)
HEADER_NAMES = st.sampled_from(
    [
        "Content-Length",
        "Transfer-Encoding",
        "Content-Type",
        "ce-specversion",
        "ce-source",
        "ce-id",
        "ce-type",
        "ce-dataschema",
        "X-Other",
    ]
)
HEADER_VALUES = st.one_of(
    st.sampled_from(
        [
            "0",
            "5",
            "-1",
            "abc",
            "99999999999999999999",
            "chunked",
            "gzip",
            "application/json",
            "application/cloudevents+json",
            "application/cloudevents-batch+json",
            "1.0",
            "%zz",
            "text/plain; charset=nope",
            "",
        ]
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
)
BODIES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"{}",
            b"[]",
            b"{",
            DEEP,
            b"5\r\nhello\r\n0\r\n\r\n",
            b'{"specversion":"1.0","id":"1","type":"t","source":"a b"}',
            b"\x00\xff",
        ]
    ),
)


@pytest.mark.slow  # 120 generated requests to the dev host
@settings(max_examples=120)
@given(method=METHODS, path=PATHS, headers=st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=5), body=BODIES)
def test_any_request_gets_a_well_formed_answer_below_500(
    host: LocalHost, method: str, path: str, headers: list[tuple[str, str]], body: bytes
) -> None:
    lines = [f"{method} {path} HTTP/1.1", "Host: dev"] + [f"{k}: {v}" for k, v in headers]
    answer = send(host, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    assert answer.status < 500, answer
    if method == "HEAD":
        return
    if answer.status >= 400:
        refused(answer, host, answer.status)  # JSON, with no path of this machine
    elif answer.headers.get("content-type") == "application/json":
        json.loads(answer.body)


# -- what the second round of probes found -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["/home%0D%0ASet-Cookie:%20session=attacker", "/a%0Ab", "/a%00b", "5%20%E2%82%AC"])
def test_a_header_value_that_cannot_be_one_line_is_the_handler_s_500_not_sent(host: LocalHost, value: str) -> None:
    """Response refuses a header value with CR, LF, another control character or a character past U+00FF,
    on every cloud: copied from the input, it split the answer (an injected Set-Cookie and body) or, with
    a euro sign, ended the connection without an answer."""
    answer = send(host, request("GET", f"/reflect?next={value}"))
    assert answer.status == 500 and "set-cookie" not in answer.headers and "location" not in answer.headers
    assert answer.json()["function"] == "reflect"
    assert "GET /reflect -> 500" in host.logs[-1]  # type: ignore[attr-defined]  # its traceback says why


def test_a_1xx_is_no_final_answer_and_a_204_goes_without_a_body(host: LocalHost) -> None:
    assert send(host, request("GET", "/reflect?status=100")).status == 500  # was sent as a final 100 with a body
    answer = send(host, request("GET", "/reflect?status=204"))
    assert (answer.status, answer.body, "content-length" in answer.headers) == (204, b"", False)


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        (b"X-A: 1\rX-B: 2\r\n", "bare CR"),  # read as two headers
        (b"Content-Type: application/json\r\n  ; charset=utf-8\r\n", "obs-fold"),  # a value holding CR LF
    ],
    ids=["bare CR", "obs-fold"],
)
def test_a_folded_header_or_a_bare_cr_is_a_400(host: LocalHost, lines: bytes, words: str) -> None:
    data = b"POST /orders HTTP/1.1\r\nHost: dev\r\n" + lines + b"Content-Length: 2\r\n\r\n{}"
    refused(send(host, data), host, 400, words)


def test_an_absolute_url_target_is_served_as_its_path(host: LocalHost) -> None:
    """What a client behind a proxy setting sends (RFC 9112 3.2.2: servers accept it)."""
    data = b"GET http://dev/env-plain?x=1 HTTP/1.1\r\nHost: dev\r\n\r\n"
    assert send(host, data).status == 200


@pytest.mark.parametrize("target", ["*", "example.com:443", "env"])
def test_a_target_that_is_no_path_is_a_400(host: LocalHost, target: str) -> None:
    data = f"OPTIONS {target} HTTP/1.1\r\nHost: dev\r\n\r\n".encode()
    refused(send(host, data), host, 400, "is not a path")


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "65,536 bytes"),
        (b"GET /env HTTP/1.1\r\nHost: dev\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n", 431, "65,536 bytes"),
        (b"GET /env HTTP/1.1\r\nHost: dev\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n", 431, "100"),
        (b"GET /env HTTP/3\r\nHost: dev\r\n\r\n", 400, "send HTTP/1.1"),
    ],
    ids=["long request line", "long header line", "101 headers", "HTTP/3"],
)
def test_what_the_standard_library_refuses_names_the_limit_and_the_fix(
    host: LocalHost, data: bytes, status: int, words: str
) -> None:
    refused(send(host, data), host, status, words)


def test_a_request_line_that_stops_arriving_is_a_408(tmp_path: Path) -> None:
    with LocalHost(load_app(APP), port=0, state_dir=tmp_path, log=lambda line: None, read_timeout_s=0.2) as dev:
        refused(send(dev, b"GET /env HT", half_close=False), dev, 408, "request line did not arrive")


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/_local/queues/orders", b"Content-Type: text/plain\r\nContent-Type: application/cloudevents+json\r\n"),
        ("/events", b"ce-specversion: 1.0\r\nce-id: x\r\nce-id: y\r\nce-source: /s\r\nce-type: t\r\n"),
    ],
    ids=["content-type on a queue", "ce-id to an HTTP function"],
)
def test_a_content_type_or_ce_header_sent_twice_is_a_400(host: LocalHost, path: str, headers: bytes) -> None:
    """dev read the first of them, a cloud's front may read the last or join both: which one was meant?"""
    data = f"POST {path} HTTP/1.1\r\nHost: dev\r\n".encode() + headers + b"Content-Length: 2\r\n\r\n{}"
    refused(send(host, data), host, 400, "more than once")


def test_a_target_with_a_fragment_is_a_400(host: LocalHost) -> None:
    refused(send(host, request("GET", "/env#top")), host, 400, "fragment")
