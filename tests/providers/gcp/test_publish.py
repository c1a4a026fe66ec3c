"""The Pub/Sub publisher: what a function sends reaches the receiving function as the identical CloudEvent.

Sent now: published on gcloud's Pub/Sub emulator with the official client, pulled back, and pushed to the
generated main.py under the real functions-framework the way Eventarc delivers a message (a binary-mode
messagePublished CloudEvent wrapping it). Sent later (a queue, delay_s > 0): a Cloud Tasks task, held to
cloudtasks.v2's Discovery document by the fake in tasks_api.py, whose HTTP request, made as Cloud Tasks
makes it when it is due (its url, its body), publishes the event on the emulator.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from portable_fn_gcp.publish import (
    DELAY_ACCOUNT_ENV,
    DELAY_QUEUE_ENV,
    MAX_DELAY_S,
    GcpPublisher,
    open_publisher,
    publish_url,
)

from portable_fn.runtime import CloudEvent
from portable_fn.runtime.channels import Channel, PublishError, locator_env, publisher, use_publisher

from .tasks_api import CloudTasksApi

PROJECT = "portable-fn-test"
ACCOUNT = "shop-runtime@portable-fn-test.iam.gserviceaccount.com"
QUEUE_PATH = f"projects/{PROJECT}/locations/europe-west1/queues/shop-dev-pfn-delays"
NOW = float(int(time.time()))  # Cloud Tasks takes tasks due up to 30 days from its own clock
ORDER_EVENTS, ORDERS = Channel("topic", "order-events"), Channel("queue", "orders")


def sent_event(number: int = 1) -> CloudEvent[Any]:
    """An event with everything a receiver must get back: subject, JSON data, the trace and hop extensions."""
    return CloudEvent(
        id=f"evt-{number}",
        source="/apps/shop/functions/fulfil",
        type="shop.order.paid",
        subject=f"orders/o-{number}",
        time="2026-12-06T10:00:00.123456Z",
        datacontenttype="application/json",
        data={"order": f"o-{number}", "total": 12.5, "lines": [{"sku": "é-1", "qty": 2}]},
        extensions={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "pfnhops": 2},
    )


@pytest.fixture
def channels(pubsub_emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Topic `order-events` and queue `orders` as deploy makes them (each a Pub/Sub topic, named to the function
    in its locator), each with a pull subscription standing for Eventarc's; yields `pull(kind)`."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    from google.cloud import pubsub_v1

    admin, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    suffix = uuid.uuid4().hex[:8]
    made: dict[str, tuple[str, str]] = {}
    for kind, name in (("topic", "order-events"), ("queue", "orders")):
        path = admin.topic_path(PROJECT, f"shop-dev-{name}-{suffix}")
        subscription = subscriber.subscription_path(PROJECT, f"eventarc-{name}-{suffix}")
        admin.create_topic(name=path)
        subscriber.create_subscription(name=subscription, topic=path)
        monkeypatch.setenv(locator_env(kind, name), path)
        made[kind] = (path, subscription)

    def pull(kind: str, wanted: int = 1) -> list[Any]:
        found: list[Any] = []
        for _ in range(20):  # the emulator may hand out a few at a time
            answer = subscriber.pull(subscription=made[kind][1], max_messages=10, timeout=10)
            if answer.received_messages:
                ids = [m.ack_id for m in answer.received_messages]
                subscriber.acknowledge(subscription=made[kind][1], ack_ids=ids)
            found += [m.message for m in answer.received_messages]
            if len(found) >= wanted:
                break
        return found

    pull.topics = {kind: path for kind, (path, _) in made.items()}  # type: ignore[attr-defined]
    yield pull
    for path, subscription in made.values():
        subscriber.delete_subscription(subscription=subscription)
        admin.delete_topic(topic=path)
    subscriber.close()


@pytest.fixture(scope="module")
def tasks_server() -> Iterator[CloudTasksApi]:
    with CloudTasksApi() as server:
        yield server


@pytest.fixture
def tasks(tasks_server: CloudTasksApi, monkeypatch: pytest.MonkeyPatch) -> CloudTasksApi:
    """The Cloud Tasks fake, emptied, with the app's delay queue made and named to the function as deploy does."""
    tasks_server.reset()
    tasks_server.queues[QUEUE_PATH] = {"name": QUEUE_PATH, "state": "RUNNING"}
    monkeypatch.setenv(DELAY_QUEUE_ENV, QUEUE_PATH)
    monkeypatch.setenv(DELAY_ACCOUNT_ENV, ACCOUNT)
    return tasks_server


def tasks_client(server: CloudTasksApi) -> Any:
    from google.cloud import tasks_v2

    options = ClientOptions(api_endpoint=server.url)
    return tasks_v2.CloudTasksClient(credentials=AnonymousCredentials(), transport="rest", client_options=options)


def eventarc_push(message: Any, topic_path: str) -> CloudEvent[Any]:
    """The messagePublished CloudEvent Eventarc delivers for a pulled Pub/Sub message."""
    published = message.publish_time.isoformat().replace("+00:00", "Z")
    return CloudEvent(
        id=message.message_id,
        source=f"//pubsub.googleapis.com/{topic_path}",
        type="google.cloud.pubsub.topic.v1.messagePublished",
        time=published,
        datacontenttype="application/json",
        data={
            "message": {
                "data": base64.b64encode(message.data).decode(),
                "attributes": dict(message.attributes),
                "messageId": message.message_id,
                "publishTime": published,
            },
            "subscription": f"projects/{PROJECT}/subscriptions/eventarc",
        },
    )


def delivered(served: Any, send_to: Any, seen: Any, message: Any, topic_path: str) -> dict[str, Any]:
    """What the probe function `record` got when the message was pushed to it as Eventarc pushes it."""
    from portable_fn.runtime import to_binary

    headers, body = to_binary(eventarc_push(message, topic_path))
    reply = send_to(served.url("record"), body, headers)
    assert reply.status == 200, reply.body
    return dict(seen()["event"])


def test_a_published_event_reaches_the_receiving_function_identical(
    channels: Any, served: Any, send_to: Any, seen: Any
) -> None:
    events = [sent_event(1), sent_event(2)]
    GcpPublisher().publish(ORDER_EVENTS, events)
    messages = sorted(channels("topic", wanted=2), key=lambda m: json.loads(m.data)["id"])
    assert len(messages) == 2
    assert dict(messages[0].attributes) == {"content-type": "application/cloudevents+json; charset=utf-8"}
    for event, message in zip(events, messages):
        assert delivered(served, send_to, seen, message, channels.topics["topic"]) == event.to_dict()


def test_a_queue_sent_now_is_published_at_once(channels: Any) -> None:
    GcpPublisher().publish(ORDERS, [sent_event()])
    [message] = channels("queue")
    assert CloudEvent.from_json(message.data) == sent_event()


def test_a_deployed_function_opens_this_publisher_by_its_provider(
    channels: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "gcp")
    previous = use_publisher(None)
    try:
        assert isinstance(publisher(), GcpPublisher)
        publisher().publish(ORDER_EVENTS, [sent_event()])
    finally:
        use_publisher(previous)
    [message] = channels("topic")
    assert CloudEvent.from_json(message.data).to_dict() == sent_event().to_dict()


def test_a_failed_publish_names_the_channel_and_the_fix(pubsub_emulator: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    monkeypatch.setenv(locator_env("topic", "order-events"), f"projects/{PROJECT}/topics/never-made")
    with pytest.raises(PublishError, match=r"topic\('order-events'\).*never-made.*roles/pubsub.publisher"):
        GcpPublisher().publish(ORDER_EVENTS, [sent_event()])


def test_an_unprovisioned_channel_says_to_declare_it_and_deploy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(locator_env("topic", "order-events"), raising=False)
    with pytest.raises(PublishError, match=r"uses=\[order_events.publish\(\)\]"):
        open_publisher().publish(ORDER_EVENTS, [sent_event()])
    monkeypatch.setenv(locator_env("topic", "order-events"), "arn:aws:sns:eu-west-1:1:order-events")
    with pytest.raises(PublishError, match=r"not a Pub/Sub topic \(projects/P/topics/T\)"):
        open_publisher().publish(ORDER_EVENTS, [sent_event()])


# -- later: Cloud Tasks ------------------------------------------------------------------------------------


def test_a_delayed_send_is_a_cloud_task_that_publishes_the_event_when_due(
    channels: Any, tasks: CloudTasksApi, served: Any, send_to: Any, seen: Any
) -> None:
    publisher = GcpPublisher(tasks=tasks_client(tasks), clock=lambda: NOW)
    publisher.publish(ORDERS, [sent_event(1), sent_event(2)], delay_s=3600.5)
    assert tasks.answer_problems == []
    assert [method for method, _ in tasks.requests] == ["cloudtasks.projects.locations.queues.tasks.create"] * 2
    for made in tasks.tasks:
        assert made["parent"] == QUEUE_PATH
        assert datetime.fromisoformat(made["scheduleTime"].replace("Z", "+00:00")).timestamp() == NOW + 3600.5
        http = made["httpRequest"]
        assert http["httpMethod"] == "POST" and http["oauthToken"] == {"serviceAccountEmail": ACCOUNT}
        assert http["url"] == publish_url(channels.topics["queue"])
        assert http["headers"] == {"Content-Type": "application/json"}
    # what Cloud Tasks does when a task is due: POST its body to its url (here the emulator's)
    assert tasks.dispatch(until=datetime.fromtimestamp(NOW + 3600, timezone.utc)) == 0
    assert tasks.dispatch(until=datetime.fromtimestamp(NOW + 3601, timezone.utc)) == 2 and tasks.tasks == []
    messages = sorted(channels("queue", wanted=2), key=lambda m: json.loads(m.data)["id"])
    for number, message in enumerate(messages, 1):
        assert delivered(served, send_to, seen, message, channels.topics["queue"]) == sent_event(number).to_dict()


def test_a_delayed_task_targets_pubsub_itself_outside_the_emulator(
    tasks: CloudTasksApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    path = f"projects/{PROJECT}/topics/shop-dev-orders"
    monkeypatch.setenv(locator_env("queue", "orders"), path)
    GcpPublisher(tasks=tasks_client(tasks), clock=lambda: NOW).publish(ORDERS, [sent_event()], delay_s=60)
    [made] = tasks.tasks
    assert made["httpRequest"]["url"] == f"https://pubsub.googleapis.com/v1/{path}:publish"
    assert json.loads(made["httpRequest"]["body"]) == {
        "messages": [
            {
                "data": base64.b64encode(sent_event().to_json().encode()).decode(),
                "attributes": {"content-type": "application/cloudevents+json; charset=utf-8"},
            }
        ]
    }


def test_delays_are_for_queues_and_at_most_what_cloud_tasks_schedules(
    tasks: CloudTasksApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(locator_env("topic", "order-events"), f"projects/{PROJECT}/topics/t")
    monkeypatch.setenv(locator_env("queue", "orders"), f"projects/{PROJECT}/topics/q")
    sender = GcpPublisher(tasks=tasks_client(tasks))
    assert sender.max_delay_s == MAX_DELAY_S == 30 * 24 * 3600
    with pytest.raises(PublishError, match="a topic delivers at once and takes no delay"):
        sender.publish(ORDER_EVENTS, [sent_event()], delay_s=5)
    with pytest.raises(PublishError, match="past the 2592000 s"):
        sender.publish(ORDERS, [sent_event()], delay_s=MAX_DELAY_S + 1)
    sender.publish(ORDERS, [sent_event()], delay_s=MAX_DELAY_S - 60)  # the fake refuses past 30 days
    assert len(tasks.tasks) == 1 and tasks.answer_problems == []


def test_the_fake_refuses_a_task_past_thirty_days_as_cloud_tasks_does(
    tasks: CloudTasksApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: a publisher that let 31 days through is refused by the fake."""
    monkeypatch.setenv(locator_env("queue", "orders"), f"projects/{PROJECT}/topics/q")
    sender = GcpPublisher(tasks=tasks_client(tasks))
    sender.max_delay_s = 40 * 24 * 3600.0
    with pytest.raises(PublishError, match="more than 30 days in the future"):
        sender.publish(ORDERS, [sent_event()], delay_s=31 * 24 * 3600)


def test_a_delayed_send_without_its_queue_says_how_to_fix_it(
    tasks: CloudTasksApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(locator_env("queue", "orders"), f"projects/{PROJECT}/topics/q")
    monkeypatch.delenv(DELAY_QUEUE_ENV)
    with pytest.raises(PublishError, match=r"PORTABLE_FN_DELAY_QUEUE is unset.*uses=\[orders.send\(\)\]"):
        GcpPublisher(tasks=tasks_client(tasks)).publish(ORDERS, [sent_event()], delay_s=10)
    monkeypatch.setenv(DELAY_QUEUE_ENV, f"{QUEUE_PATH}-gone")
    with pytest.raises(PublishError, match=r"roles/cloudtasks.enqueuer.*roles/iam.serviceAccountUser"):
        GcpPublisher(tasks=tasks_client(tasks)).publish(ORDERS, [sent_event()], delay_s=10)


def test_without_a_named_account_the_task_carries_the_functions_own(
    tasks: CloudTasksApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No service_account set: the metadata server (GCE_METADATA_HOST, as google-auth reads it) names it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Metadata(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later

        def do_GET(self) -> None:
            ok = self.headers.get("Metadata-Flavor") == "Google" and self.path.endswith("/default/email")
            body = b"123-compute@developer.gserviceaccount.com" if ok else b"no"
            self.send_response(200 if ok else 403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Metadata)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        monkeypatch.setenv("GCE_METADATA_HOST", f"127.0.0.1:{server.server_address[1]}")
        monkeypatch.delenv(DELAY_ACCOUNT_ENV)
        monkeypatch.setenv(locator_env("queue", "orders"), f"projects/{PROJECT}/topics/q")
        GcpPublisher(tasks=tasks_client(tasks)).publish(ORDERS, [sent_event()], delay_s=10)
    finally:
        server.shutdown()
        server.server_close()
    [made] = tasks.tasks
    assert made["httpRequest"]["oauthToken"] == {"serviceAccountEmail": "123-compute@developer.gserviceaccount.com"}


# -- emit, end to end ----------------------------------------------------------------------------------------

SENDER = Path(__file__).with_name("apps") / "sender"


def test_an_event_emitted_by_a_served_function_reaches_its_receiver_identical(
    channels: Any, firestore_emulator: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The sender app's generated main.py under the real functions-framework: `forward` gets a message (Eventarc's
    push, carrying a traceparent), emits to `order-events` once it succeeded (the outbox ledger in Firestore), the
    publisher puts it on the emulator's topic; pushed to `receive`, the handler gets exactly the message's event,
    with the trace continued and one hop counted."""
    import functions_framework
    from portable_fn_gcp.shim import generate_main

    from portable_fn.app import load_app
    from portable_fn.runtime import to_binary
    from portable_fn.runtime.emit import OUTBOX
    from portable_fn.runtime.state import locator_env as state_env

    app = load_app(SENDER)
    main = tmp_path / "main.py"
    main.write_text(generate_main(app), encoding="utf-8")
    received = tmp_path / "received.jsonl"
    monkeypatch.setenv("RECEIVED", str(received))
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "gcp")
    monkeypatch.setenv("PORTABLE_FN_APP", "sender")  # as deploy sets them
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    outbox = f"projects/{PROJECT}/databases/(default)/documents/outbox-{uuid.uuid4().hex}"
    monkeypatch.setenv(state_env("pfn-outbox"), outbox)
    for name in ("FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE"):  # create_app sets them: restored after
        monkeypatch.setenv(name, "")
    incoming = CloudEvent(
        id="in-1",
        source="/checkout",
        type="shop.order.placed",
        data={"order": "o-1"},
        extensions={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    )
    pushed = type("Pushed", (), {})()  # the message Eventarc pushes for what the checkout published
    pushed.data, pushed.attributes, pushed.message_id = incoming.to_json().encode(), {}, "m-in-1"
    pushed.publish_time = datetime.fromisoformat("2026-12-06T10:00:00+00:00")
    previous, OUTBOX.backend = use_publisher(None), None
    try:
        headers, body = to_binary(eventarc_push(pushed, f"projects/{PROJECT}/topics/sender-dev-inbox"))
        answer = (
            functions_framework.create_app("forward", str(main)).test_client().post("/", data=body, headers=headers)
        )
        assert answer.status_code == 200, answer.data
        [message] = channels("topic")
        headers, body = to_binary(eventarc_push(message, channels.topics["topic"]))
        answer = (
            functions_framework.create_app("receive", str(main)).test_client().post("/", data=body, headers=headers)
        )
        assert answer.status_code == 200, answer.data
    finally:
        use_publisher(previous)
        OUTBOX.backend = None
    [got] = [json.loads(line) for line in received.read_text(encoding="utf-8").splitlines()]
    assert got == CloudEvent.from_json(message.data).to_dict()
    assert (got["type"], got["source"], got["subject"]) == ("shop.order.paid", "/apps/sender/functions/forward", "o-1")
    assert got["data"] == {"order": "o-1", "paid": True} and got["pfnhops"] == 1
    assert got["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"  # the checkout's trace, continued


def test_nothing_to_send_sends_nothing(tasks: CloudTasksApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(locator_env("queue", "orders"), f"projects/{PROJECT}/topics/q")
    monkeypatch.delenv(DELAY_QUEUE_ENV)
    GcpPublisher(tasks=tasks_client(tasks)).publish(ORDERS, [], delay_s=10)
    assert tasks.requests == []
