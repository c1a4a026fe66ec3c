"""The generated main.py under the real functions-framework, over HTTP: requests and responses, Pub/Sub
messages (plain, carrying a CloudEvent, scheduler ticks), Cloud Storage views, and every outcome."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.events import MESSAGE_TYPE, TEXT
from portable_fn_gcp.shim import entry_point, generate_main

from portable_fn.runtime import CloudEvent, spec_of, to_binary, to_structured

TOPIC = "//pubsub.googleapis.com/projects/p/topics/orders"
SUBSCRIPTION = "projects/p/subscriptions/s"


def message_published(data: bytes, attributes: dict[str, str] | None = None, **extra: Any) -> CloudEvent:
    """The messagePublished event Eventarc sends for one Pub/Sub message."""
    message: dict[str, Any] = {
        "data": base64.b64encode(data).decode(),
        "messageId": "m-1",
        "publishTime": "2024-05-01T03:00:00.5Z",
    }
    if attributes:
        message["attributes"] = attributes
    return CloudEvent(
        id="m-1",
        source=TOPIC,
        type="google.cloud.pubsub.topic.v1.messagePublished",
        time="2024-05-01T03:00:00.5Z",
        datacontenttype="application/json",
        data={"message": message, "subscription": SUBSCRIPTION, **extra},
    )


def post(send_to: Any, url: str, event: CloudEvent) -> Any:
    headers, body = to_binary(event)
    return send_to(url, body, headers)


# -- HTTP functions ----------------------------------------------------------------------------------


def test_an_http_function_gets_the_whole_request_and_answers_with_its_response(served: Any) -> None:
    host, port = served.url("echo").removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("PUT", "/items/i-7?tag=a&tag=b&empty=&q=caf%C3%A9")
    for name, value in [("x-multi", "one"), ("cookie", "session=abc; theme=dark"), ("content-length", "5")]:
        connection.putheader(name, value)
    connection.endheaders(b"hello")
    answer = connection.getresponse()
    body = json.loads(answer.read())
    assert answer.status == 201
    assert body == {
        "method": "PUT",
        "path": "/items/i-7",
        "path_params": {"item_id": "i-7"},
        "query": [["tag", "a"], ["tag", "b"], ["empty", ""], ["q", "café"]],
        "cookies": {"session": "abc", "theme": "dark"},
        "x_multi": ["one"],
        "body": "hello",
    }
    assert answer.headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert answer.headers["x-probe"] == "yes" and answer.headers["content-type"] == "application/json"


def test_the_request_path_is_the_one_the_client_sent_still_percent_encoded(served: Any) -> None:
    """As on every cloud and the dev host: the path is not decoded (an encoded `/` stays inside its
    segment), the path parameters are."""
    host, port = served.url("echo").removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", "/items/a%2Fb%20c%C3%A9")
    body = json.loads(connection.getresponse().read())
    assert (body["path"], body["path_params"]) == ("/items/a%2Fb%20c%C3%A9", {"item_id": "a/b cé"})


def test_a_crashing_http_function_answers_500(served: Any, send_to: Any) -> None:
    reply = send_to(served.url("crashing-http") + "/boom", method="GET")
    assert reply.status == 500 and reply.json() == {"error": "internal error", "function": "crashing-http"}


# -- Pub/Sub -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload, attributes, data, content_type",
    [
        (b'{"id": "o-1"}', None, {"id": "o-1"}, "application/json"),
        ("plain text, héllo\n".encode(), None, "plain text, héllo\n", TEXT),  # text is a str, as on SQS
        (b"\x00\x01bin", None, b"\x00\x01bin", "application/octet-stream"),  # undeclared_data, as on every cloud
        (b"\xff\xfe", None, b"\xff\xfe", "application/octet-stream"),
        ("héllo".encode(), {"content-type": "text/plain; charset=utf-8"}, "héllo", "text/plain; charset=utf-8"),
        # an empty content-type declares nothing: read as SQS reads it (it gave bytes, and datacontenttype "")
        (b"abc", {"content-type": ""}, "abc", TEXT),
    ],
)
def test_a_message_becomes_its_own_cloudevent(payload, attributes, data, content_type, served, send_to, seen) -> None:
    assert post(send_to, served.url("record"), message_published(payload, attributes, deliveryAttempt=3)).status == 200
    got = seen()
    expected = CloudEvent(
        id="m-1",
        source=TOPIC,
        type=MESSAGE_TYPE,
        time="2024-05-01T03:00:00.5Z",
        datacontenttype=content_type,
        data=data,
    )
    assert got["event"] == expected.to_dict()
    assert got["attempt"] == 3 and got["message"]["delivery_count"] == 3
    assert got["message"]["attributes"] == {}  # a `content-type` attribute is the data's media type, not the handler's
    assert got["message"]["subscription"] == SUBSCRIPTION


def test_the_message_attributes_the_sender_set_reach_the_context(served, send_to, seen) -> None:
    attributes = {"origin": "checkout", "content-type": "application/json"}
    assert post(send_to, served.url("record"), message_published(b'{"id": "o-1"}', attributes)).status == 200
    assert seen()["message"]["attributes"] == {"origin": "checkout"}


def test_the_ordering_key_is_the_partitionkey_and_the_subscription_is_kept(served, send_to, seen) -> None:
    event = message_published(b'{"id": "o-1"}')
    event.data["message"]["orderingKey"] = "customer-7"
    assert post(send_to, served.url("record"), event).status == 200
    got = seen()
    assert got["event"]["partitionkey"] == "customer-7" and got["event"]["type"] == MESSAGE_TYPE
    assert got["message"]["subscription"] == SUBSCRIPTION


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("attributes", {"count": 3}, "message.attributes must map strings to strings; attribute 'count' is int"),
        ("attributes", {"content-type": 1}, "attribute 'content-type' is int"),
        ("attributes", ["a"], "message.attributes must be an object of strings, got list"),
        ("attributes", {"content-type": "text/plain; charset=nope"}, "cannot be read as text"),
        ("messageId", 7, "message.messageId must be a string, got int"),
        ("publishTime", {"t": 1}, "message.publishTime must be a string, got dict"),
        ("orderingKey", True, "message.orderingKey must be a string, got bool"),
        ("data", 10**12, "message.data must be a base64 string, got int"),
    ],
)
def test_a_message_field_of_the_wrong_type_is_a_400_naming_it(field, value, words, served, send_to, seen) -> None:
    event = message_published(b'{"id": "o-1"}')
    event.data["message"][field] = value
    reply = post(send_to, served.url("record"), event)
    assert reply.status == 400 and reply.header("content-type") == ["application/json"]
    assert words in reply.json()["error"] and seen() is None


def test_a_message_holding_a_structured_cloudevent_delivers_exactly_that_event(served, send_to, seen) -> None:
    carried = CloudEvent(
        id="evt-1",
        source="//aws/sqs/orders",
        type="com.example.order.created",
        time="2024-05-01T10:00:00.123456Z",
        subject="orders/o1",
        data={"id": "o1"},
        datacontenttype="application/json",
        extensions={"traceparent": "00-abc-def-01"},
    )
    assert post(send_to, served.url("record"), message_published(carried.to_json().encode())).status == 200
    assert seen()["event"] == carried.to_dict()


def test_a_message_with_cloudevent_attributes_delivers_exactly_that_event(served, send_to, seen) -> None:
    carried = CloudEvent(
        id="evt-2",
        source="//azure/queues/orders",
        type="com.example.order.created",
        data={"id": "o2"},
        datacontenttype="application/json",
        extensions={"tenant": "acme"},
    )
    headers, body = to_binary(carried)
    assert post(send_to, served.url("record"), message_published(body, headers)).status == 200
    got = seen()
    assert got["event"] == carried.to_dict() and got["message"]["id"] == "m-1"


def test_a_cloud_scheduler_tick_reads_as_the_tick_that_was_due(served, send_to, seen) -> None:
    """What the job deploy makes publishes, half a second after the tick was due: the tick says when it was
    due, the schedule declared and the portable function's name (not the job's), as on every cloud; the
    Pub/Sub message that carried it is no message of the handler's."""
    tick = json.dumps({"name": "probe-dev-tick", "schedule": "rate(5 minutes)"}).encode()
    assert post(send_to, served.url("tick"), message_published(tick, deliveryAttempt=2)).status == 200
    assert seen() == {
        "tick": {"scheduled_time": "2024-05-01T03:00:00Z", "schedule": "rate(5 minutes)", "name": "tick"},
        "id": "m-1",
        "source": TOPIC,
        "time": "2024-05-01T03:00:00Z",
        "attempt": 2,
        "message": None,
    }


@pytest.mark.parametrize("action, status", [("retry", 500), ("crash", 500), ("dead", 500), ("ack", 200)])
def test_outcomes_become_statuses(action, status, served, send_to, seen, caplog, monkeypatch) -> None:
    """`dead` with dead letters on and no dead-letter topic named: kept (500), never acknowledged."""
    monkeypatch.delenv("PORTABLE_FN_DEAD_LETTER_TOPIC", raising=False)
    payload = json.dumps({"do": action}).encode()
    reply = post(send_to, served.url("record"), message_published(payload))
    assert reply.status == status
    assert seen()["event"]["data"] == {"do": action}  # the handler ran in every case
    if action == "dead":
        assert b"PORTABLE_FN_DEAD_LETTER_TOPIC is not set" in reply.body and b"dead_letter=False" in reply.body
        assert "will be retried: asked to dead-letter; Function 'record' on gcp" in caplog.text
    if action == "retry":
        assert b"asked to retry" in reply.body


def test_a_crash_is_one_line_with_its_traceback_saying_it_will_be_retried(served, send_to, seen, caplog) -> None:
    payload = json.dumps({"do": "crash"}).encode()
    with caplog.at_level(logging.DEBUG, logger="portable_fn"):
        reply = post(send_to, served.url("record"), message_published(payload))
    assert reply.status == 500
    (line,) = [r for r in caplog.records if "m-1" in r.getMessage()]
    assert (line.levelname, line.name, line.funcName) == ("ERROR", "portable_fn.gcp", "_log")
    assert line.getMessage() == "function record: event m-1 will be retried: RuntimeError: boom"
    assert line.exc_info is not None and line.exc_info[2] is not None  # the traceback, held by the line


def test_with_dead_letters_off_a_dead_letter_is_acknowledged_and_logged(served, send_to, caplog) -> None:
    reply = post(send_to, served.url("unlettered"), message_published(b"{}"))
    assert reply.status == 200 and "event m-1 dead-lettered: no use for it" in caplog.text


def test_a_missing_dead_letter_topic_is_said_at_cold_start(probe_app, monkeypatch, caplog) -> None:
    monkeypatch.delenv("PORTABLE_FN_DEAD_LETTER_TOPIC", raising=False)
    entry_point(probe_app.function("record"))
    entry_point(probe_app.function("unlettered"))
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith("Function 'record' on gcp: dead letters are on but")


def test_another_functions_dead_letter_topic_is_not_asked_for_at_cold_start(probe_app, monkeypatch, caplog) -> None:
    """Every deployed function imports the whole main.py: the instance serving `echo` (deploy names it in
    PORTABLE_FN_FUNCTION, and gives an HTTP function no dead-letter topic) builds `record` too, and must
    not log that record's topic is missing."""
    monkeypatch.delenv("PORTABLE_FN_DEAD_LETTER_TOPIC", raising=False)
    monkeypatch.setenv("PORTABLE_FN_FUNCTION", "echo")
    entry_point(probe_app.function("record"))
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []
    monkeypatch.setenv("PORTABLE_FN_FUNCTION", "record")
    entry_point(probe_app.function("record"))
    assert [r.levelname for r in caplog.records] == ["ERROR"]


def test_a_message_that_cannot_be_decoded_is_a_400_with_the_reason(served, send_to, seen, caplog) -> None:
    event = message_published(b"")
    event.data["message"]["data"] = "not base64!"
    reply = post(send_to, served.url("record"), event)
    assert reply.status == 400 and reply.json() == {"error": "Pub/Sub event 'm-1': message.data is not valid base64."}
    assert seen() is None and "event m-1 dead-lettered: Pub/Sub event 'm-1'" in caplog.text


def test_data_that_fails_the_annotation_is_a_400_with_the_reason(served, send_to) -> None:
    reply = post(send_to, served.url("typed"), message_published(b"[1, 2]"))
    assert reply.status == 400 and b"The event data must be dict, got list" in reply.body


STRUCTURED = {"content-type": "application/cloudevents+json"}
BINARY = {"ce-specversion": "1.0", "ce-id": "b-1", "ce-source": "/s", "ce-type": "t"}


@pytest.mark.parametrize(
    "headers, body, words",
    [
        ({"content-type": "application/json"}, b'{"hello": 1}', "legacy event"),  # neither CloudEvent nor legacy
        (STRUCTURED, b'{"specversion": "1.0", "id": ', "JSON"),  # cut short
        (STRUCTURED, b"[1, 2]", "object"),
        (STRUCTURED, b'{"specversion": "1.0", "id": "x", "source": "/s", "type": "t", "time": "noon"}', "time"),
        ({**BINARY, "ce-time": "yesterday"}, b"", "time"),
        ({**BINARY, "ce-specversion": "0.3"}, b"", "specversion"),
        ({**BINARY, "content-type": "application/json"}, b"{nope", "JSON"),
    ],
)
def test_a_body_no_event_can_be_read_from_is_a_json_400_naming_why(headers, body, words, served, send_to, seen) -> None:
    """The shim reads every request itself (the http signature): under the cloudevent signature some of these
    were functions-framework's HTML 500 (redelivered by Pub/Sub), never reaching the shim."""
    reply = send_to(served.url("record"), body, headers)
    assert (reply.status, reply.header("content-type")) == (400, ["application/json"]), reply.body
    assert words in reply.json()["error"] and seen() is None


def test_an_invalid_cloudevent_is_a_400_never_read_as_a_legacy_event(served, send_to, seen, caplog) -> None:
    """A messagePublished event's data is what a bare push body holds: one bad `ce-*` value must not make the
    framework's converter deliver it as some other event (another id, the topic lost), acknowledged."""
    event = message_published(b"hi")
    headers, body = to_binary(event)
    reply = send_to(served.url("record"), body, {**headers, "ce-time": "yesterday"})
    assert reply.status == 400 and "'time'" in reply.json()["error"] and seen() is None
    assert "event m-1 dead-lettered" in caplog.text  # named by its ce-id


def test_a_storage_event_without_an_object_name_is_a_400_whatever_the_filter(served, send_to, seen) -> None:
    """It was acknowledged unread by a function with a prefix (no name to match: "filtered out")."""
    event = storage_event("folder/a.txt")
    for data in ({"bucket": "some-bucket", "name": 5}, {"bucket": "some-bucket"}):
        headers, body = to_structured(CloudEvent.from_dict({**event.to_dict(), "data": data}))
        reply = send_to(served.url("stored"), body, headers)
        assert reply.status == 400 and "storage" in reply.json()["error"]


def test_a_pubsub_push_body_reads_as_its_message(served, send_to, seen) -> None:
    """A subscription pushing straight to the function's URL sends `{"message", "subscription"}`: converted by
    functions-framework's own converter, as its cloudevent signature did."""
    push = {
        "message": {"data": "cHVzaGVk", "messageId": "p-1", "publishTime": "2024-05-01T03:00:00Z"},  # "pushed"
        "subscription": "projects/p/subscriptions/direct",
    }
    reply = send_to(served.url("record"), json.dumps(push).encode(), {"content-type": "application/json"})
    assert reply.status == 200, reply.body
    event = seen()["event"]
    assert (event["id"], event["type"], event["data"]) == ("p-1", MESSAGE_TYPE, "pushed")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_an_event_function_takes_post_only(method, served, send_to, seen) -> None:
    reply = send_to(served.url("record"), b"", {}, method)
    assert (reply.status, reply.header("allow")) == (405, ["POST"])
    assert reply.json() == {"error": f"an event function takes POST only, not {method}"} and seen() is None


# -- Cloud Storage -----------------------------------------------------------------------------------


def storage_event(name: str, kind: str = "finalized") -> CloudEvent:
    return CloudEvent(
        id="s-1",
        source="//storage.googleapis.com/projects/_/buckets/some-bucket",
        type=f"google.cloud.storage.object.v1.{kind}",
        subject=f"objects/{name}",
        time="2024-05-01T03:00:00Z",
        datacontenttype="application/json",
        data={"bucket": "some-bucket", "name": name, "size": "352", "etag": "CNHZ", "contentType": "text/plain"},
    )


def test_a_storage_event_reads_as_a_storage_object(served, send_to, seen) -> None:
    headers, body = to_structured(storage_event("folder/Test.cs"))
    assert send_to(served.url("uploaded"), body, headers).status == 200
    assert seen() == {
        "type": "google.cloud.storage.object.v1.finalized",
        "object": {
            "bucket": "some-bucket",
            "key": "folder/Test.cs",
            "size": 352,
            "etag": "CNHZ",
            "content_type": "text/plain",
            "event": "created",
            "time": "2024-05-01T03:00:00Z",
        },
    }


# -- main.py and the functions-framework command ------------------------------------------------------


def test_main_py_has_one_entry_point_per_function(probe_app, main_py: Path) -> None:
    source = main_py.read_text(encoding="utf-8")
    assert source == generate_main(probe_app)
    assert "record = entry_point(_m0.record.__portable_fn__)" in source
    assert "globals()['crashing-http'] = entry_point(_m0.crashing.__portable_fn__)" in source
    assert "functions_framework" not in source and "flask" not in source


def test_an_event_function_called_with_the_http_signature_still_reads_cloudevents(probe_app, seen) -> None:
    handle = entry_point(spec_of(probe_app.function("record").handler))

    class FlaskRequest:  # what the http signature passes: method, headers and the raw body
        method = "POST"

        def __init__(self, event: CloudEvent) -> None:
            self.headers, self._body = to_binary(event)

        def get_data(self) -> bytes:
            return self._body

    body, status, _ = handle(FlaskRequest(message_published(b'{"do": "retry"}')))
    assert (status, json.loads(body)) == (500, {"error": "asked to retry"})
    assert handle(FlaskRequest(message_published(b"{}")))[1] == 200 and seen()["event"]["data"] == {}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow  # the functions-framework server in a process of its own
def test_the_functions_framework_command_serves_main_py(probe_app, main_py: Path, tmp_path: Path, send_to) -> None:
    port, out = _free_port(), tmp_path / "seen.json"
    env = {
        **os.environ,
        "GCP_PROBE_OUT": str(out),
        "PYTHONPATH": os.pathsep.join([str(probe_app.source_dir), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        str(Path(sys.executable).with_name("functions-framework")),
        "--target",
        "record",
        "--source",
        str(main_py),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        reply = _retry_until_up(lambda: post(send_to, f"http://127.0.0.1:{port}", message_published(b'{"a": 1}')))
        assert reply.status == 200
        assert json.loads(out.read_text(encoding="utf-8"))["event"]["data"] == {"a": 1}
    finally:
        server.terminate()
        server.wait(timeout=30)


def _retry_until_up(call: Any) -> Any:
    deadline = time.monotonic() + 30
    while True:
        try:
            return call()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# -- ce-* headers behind functions-framework -----------------------------------------------------------


def post_raw(url: str, headers: list[tuple[str, bytes]], body: bytes) -> int:
    """POST with header values sent as the given bytes (http.client would encode a str as latin-1)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/")
    for name, value in [*headers, ("content-length", str(len(body)).encode())]:
        connection.putheader(name, value)
    connection.endheaders(body)
    return connection.getresponse().status


def test_percent_encoded_and_utf8_ce_headers_arrive_decoded(served, seen) -> None:
    """functions-framework's cloudevents 1.x keeps `ce-*` values as WSGI gives them: neither
    percent-decoded nor UTF-8 (latin-1 strings); the handler gets the attributes they encode."""
    headers = [
        ("ce-specversion", b"1.0"),
        ("ce-id", b"caf%C3%A9-1"),
        ("ce-type", b"com.example.thing"),
        ("ce-source", b"//shop/orders"),
        ("ce-subject", "objects/café 50%25 %22now%22".encode()),
        ("ce-tenant", "ünïcode & %C3%A9".encode()),
        ("content-type", b"application/json"),
    ]
    assert post_raw(served.url("record"), headers, b'{"a": 1}') == 200
    event = seen()["event"]
    assert (event["id"], event["subject"], event["tenant"]) == ("café-1", 'objects/café 50% "now"', "ünïcode & é")


def test_a_ce_header_that_is_not_percent_encoded_utf8_is_a_400(served, seen) -> None:
    headers = [("ce-specversion", b"1.0"), ("ce-id", b"bad-%FF"), ("ce-type", b"t"), ("ce-source", b"/s")]
    assert post_raw(served.url("record"), headers, b"") == 400 and seen() is None


def test_the_http_signature_path_decodes_ce_headers_too(probe_app, seen) -> None:
    handle = entry_point(spec_of(probe_app.function("record").handler))

    class FlaskRequest:  # the http signature: method, headers as WSGI strings (latin-1), the raw body
        method = "POST"

        def __init__(self) -> None:
            self.headers = {
                "ce-specversion": "1.0",
                "ce-id": "caf%C3%A9-2",
                "ce-type": "t",
                "ce-source": "/s",
                "ce-subject": "café".encode().decode("latin-1"),
            }

        def get_data(self) -> bytes:
            return b""

    assert handle(FlaskRequest())[1] == 200
    event = seen()["event"]
    assert (event["id"], event["subject"]) == ("café-2", "café")


# -- an HTTP function answers only what it declared ----------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/my/path"),
        ("POST", "/orders"),
        ("POST", "/orders/1/x"),
        ("GET", "/orders/o-1"),
        ("DELETE", "/orders/o-1"),
        ("POST", "/orders/o-1"),
        ("POST", "/orders/o%201"),
    ],
)
def test_an_http_function_answers_what_dev_answers(method, path, orders_app, served_orders, send_to, tmp_path) -> None:
    """`http("POST", "/orders/{order_id}")` behind functions-framework (which passes every method and
    path to the function) answers each request as `portable-fn dev` does: 404 / 405 with `Allow`, or the
    handler with its path parameters."""
    from portable_fn.local.host import LocalHost

    gcp = send_to(served_orders.url("orders") + path, b"{}" if method != "GET" else b"", method=method)
    with LocalHost(orders_app, port=0, state_dir=tmp_path, log=lambda line: None) as dev:
        local = send_to(f"http://127.0.0.1:{dev.port}{path}", b"{}" if method != "GET" else b"", method=method)
    assert (gcp.status, gcp.json(), gcp.header("allow")) == (local.status, local.json(), local.header("allow"))
    assert gcp.status in (200, 404, 405)
    if gcp.status == 405:
        assert gcp.header("allow") == ["POST"]
    if gcp.status == 200:
        assert gcp.json()["path_params"] == {"order_id": "o-1" if "o-1" in path else "o 1"}
