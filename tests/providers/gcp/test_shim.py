"""The generated main.py under the real functions-framework, over HTTP: requests and responses, Pub/Sub
messages (plain, carrying a CloudEvent, scheduler ticks), Cloud Storage views, and every outcome."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.shim import entry_point, generate_main

from portable_fn.runtime import CloudEvent, spec_of, to_binary, to_structured

TOPIC = "//pubsub.googleapis.com/projects/p/topics/orders"


def message_published(data: bytes, attributes: dict[str, str] | None = None, **extra: Any) -> CloudEvent:
    """The messagePublished event Eventarc sends for one Pub/Sub message."""
    message: dict[str, Any] = {"data": base64.b64encode(data).decode(), "messageId": "m-1",
                               "publishTime": "2024-05-01T03:00:00.5Z"}
    if attributes:
        message["attributes"] = attributes
    return CloudEvent(id="m-1", source=TOPIC, type="google.cloud.pubsub.topic.v1.messagePublished",
                      time="2024-05-01T03:00:00.5Z", datacontenttype="application/json",
                      data={"message": message, "subscription": "projects/p/subscriptions/s", **extra})


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
    assert body == {"method": "PUT", "path": "/items/i-7", "path_params": {"item_id": "i-7"},
                    "query": [["tag", "a"], ["tag", "b"], ["empty", ""], ["q", "café"]],
                    "cookies": {"session": "abc", "theme": "dark"}, "x_multi": ["one"], "body": "hello"}
    assert answer.headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert answer.headers["x-probe"] == "yes" and answer.headers["content-type"] == "application/json"


def test_a_crashing_http_function_answers_500(served: Any, send_to: Any) -> None:
    reply = send_to(served.url("crashing-http") + "/boom", method="GET")
    assert reply.status == 500 and reply.json() == {"error": "internal error", "function": "crashing-http"}


# -- Pub/Sub -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload, attributes, data, content_type", [
    (b'{"id": "o-1"}', None, {"id": "o-1"}, "application/json"),
    (b"plain text", None, b"plain text", None),
    ("héllo".encode(), {"content-type": "text/plain; charset=utf-8"}, "héllo", "text/plain; charset=utf-8"),
])
def test_a_message_becomes_its_own_cloudevent(payload, attributes, data, content_type, served, send_to,
                                              seen) -> None:
    assert post(send_to, served.url("record"), message_published(payload, attributes, deliveryAttempt=3)).status == 200
    got = seen()
    expected = CloudEvent(id="m-1", source=TOPIC, type="google.cloud.pubsub.topic.v1.messagePublished",
                          time="2024-05-01T03:00:00.5Z", datacontenttype=content_type, data=data)
    assert got["event"] == expected.to_dict()
    assert got["attempt"] == 3 and got["message"]["delivery_count"] == 3
    assert got["message"]["attributes"] == (attributes or {})


def test_a_message_holding_a_structured_cloudevent_delivers_exactly_that_event(served, send_to, seen) -> None:
    carried = CloudEvent(id="evt-1", source="//aws/sqs/orders", type="com.example.order.created",
                         time="2024-05-01T10:00:00.123456Z", subject="orders/o1", data={"id": "o1"},
                         datacontenttype="application/json", extensions={"traceparent": "00-abc-def-01"})
    assert post(send_to, served.url("record"), message_published(carried.to_json().encode())).status == 200
    assert seen()["event"] == carried.to_dict()


def test_a_message_with_cloudevent_attributes_delivers_exactly_that_event(served, send_to, seen) -> None:
    carried = CloudEvent(id="evt-2", source="//azure/queues/orders", type="com.example.order.created",
                         data={"id": "o2"}, datacontenttype="application/json", extensions={"tenant": "acme"})
    headers, body = to_binary(carried)
    assert post(send_to, served.url("record"), message_published(body, headers)).status == 200
    got = seen()
    assert got["event"] == carried.to_dict() and got["message"]["id"] == "m-1"


def test_a_cloud_scheduler_tick_reads_as_a_schedule_tick(served, send_to, seen) -> None:
    tick = json.dumps({"schedule": "rate(5 minutes)", "name": "probe-dev-tick"}).encode()
    assert post(send_to, served.url("tick"), message_published(tick)).status == 200
    assert seen() == {"tick": {"scheduled_time": "2024-05-01T03:00:00.5Z", "schedule": "rate(5 minutes)",
                               "name": "probe-dev-tick"}, "id": "m-1", "source": TOPIC}


@pytest.mark.parametrize("action, status", [("retry", 500), ("crash", 500), ("dead", 200), ("ack", 200)])
def test_outcomes_become_statuses(action, status, served, send_to, seen, caplog) -> None:
    payload = json.dumps({"do": action}).encode()
    reply = post(send_to, served.url("record"), message_published(payload))
    assert reply.status == status
    assert seen()["event"]["data"] == {"do": action}  # the handler ran in every case
    if action == "dead":
        assert "dead-lettered: asked to dead-letter" in caplog.text
    if action == "retry":
        assert b"asked to retry" in reply.body


def test_a_message_that_cannot_be_decoded_is_a_400_with_the_reason(served, send_to, seen) -> None:
    event = message_published(b"")
    event.data["message"]["data"] = "not base64!"
    reply = post(send_to, served.url("record"), event)
    assert reply.status == 400 and b"message.data is not valid base64" in reply.body
    assert seen() is None


def test_data_that_fails_the_annotation_is_a_400_with_the_reason(served, send_to) -> None:
    reply = post(send_to, served.url("typed"), message_published(b"[1, 2]"))
    assert reply.status == 400 and b"The event data must be dict, got list" in reply.body


def test_a_body_that_is_no_event_is_refused_by_the_framework(served, send_to, seen) -> None:
    reply = send_to(served.url("record"), b'{"hello": 1}', {"content-type": "application/json"})
    assert reply.status == 400 and seen() is None


# -- Cloud Storage -----------------------------------------------------------------------------------

def storage_event(name: str, kind: str = "finalized") -> CloudEvent:
    return CloudEvent(id="s-1", source="//storage.googleapis.com/projects/_/buckets/some-bucket",
                      type=f"google.cloud.storage.object.v1.{kind}", subject=f"objects/{name}",
                      time="2024-05-01T03:00:00Z", datacontenttype="application/json",
                      data={"bucket": "some-bucket", "name": name, "size": "352", "etag": "CNHZ",
                            "contentType": "text/plain"})


def test_a_storage_event_reads_as_a_storage_object(served, send_to, seen) -> None:
    headers, body = to_structured(storage_event("folder/Test.cs"))
    assert send_to(served.url("uploaded"), body, headers).status == 200
    assert seen() == {"type": "google.cloud.storage.object.v1.finalized", "object": {
        "bucket": "some-bucket", "key": "folder/Test.cs", "size": 352, "etag": "CNHZ",
        "content_type": "text/plain", "event": "created", "time": "2024-05-01T03:00:00Z"}}


# -- main.py and the functions-framework command ------------------------------------------------------

def test_main_py_has_one_entry_point_per_function(probe_app, main_py: Path) -> None:
    source = main_py.read_text(encoding="utf-8")
    assert source == generate_main(probe_app)
    assert "record = entry_point(_m0.record.__portable_fn__)" in source
    assert "globals()['crashing-http'] = entry_point(_m0.crashing.__portable_fn__)" in source
    assert "functions_framework" not in source and "flask" not in source


def test_an_event_function_called_with_the_http_signature_still_reads_cloudevents(probe_app, seen) -> None:
    handle = entry_point(spec_of(probe_app.function("record").handler))

    class FlaskRequest:  # what the http signature passes: headers and the raw body
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


def test_the_functions_framework_command_serves_main_py(probe_app, main_py: Path, tmp_path: Path, send_to) -> None:
    port, out = _free_port(), tmp_path / "seen.json"
    env = {**os.environ, "GCP_PROBE_OUT": str(out),
           "PYTHONPATH": os.pathsep.join([str(probe_app.source_dir), os.environ.get("PYTHONPATH", "")])}
    command = [str(Path(sys.executable).with_name("functions-framework")), "--target", "record",
               "--source", str(main_py), "--port", str(port), "--host", "127.0.0.1"]
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


def test_a_failed_event_leaves_no_reference_cycle(probe_app: Any, seen: Any) -> None:
    """A failure's traceback holds the entry point's frame; the entry point must not keep the Result
    (which holds the exception) when it answers, or every failed event waits for the garbage collector."""
    import gc

    from cloudevents.http import CloudEvent as SdkEvent

    spec = next(s for s in probe_app.functions if s.name == "record")
    handle = entry_point(spec)
    event = message_published(json.dumps({"do": "crash"}).encode())
    native = SdkEvent(event.attributes(), event.data)
    handle(SdkEvent(event.attributes(), message_published(b"{}").data))  # warm: first calls may cache
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            try:
                handle(native)
            except Exception:  # the 500 the framework answers
                pass
        assert gc.collect() == 0
    finally:
        gc.enable()
