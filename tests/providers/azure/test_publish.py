"""The Azure publisher, end to end: a CloudEvent sent to a Storage Queue on Azurite and read back is, through
the generated function_app.py's queue function and a real `func.QueueMessage`, the very event the handler
gets; a delayed send stays invisible for the delay (Azurite's own next-visible time says so, no sleeping);
a topic's batch reaches a local HTTPS Event Grid endpoint that holds it to the published PublishCloudEventEvents
operation and the CloudEvents JSON schema and checks the Entra token (or the topic key), and what it
received, delivered through the real Event Grid trigger path, is again the identical event. Service Bus
has no offline server: its messages are checked as built, and read back through the shim."""

from __future__ import annotations

import base64
import functools
import http.server
import importlib.util
import json
import ssl
import sys
import threading
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
from azure.core.credentials import AccessToken
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.queue import QueueMessage
from azure.functions.servicebus import ServiceBusMessage
from azure.storage.queue import QueueClient, QueueServiceClient
from portable_fn_azure.events import service_bus_to_cloudevent
from portable_fn_azure.publish import GRID_SCOPE, MAX_DELAY_S, AzurePublisher, bus_messages, open_publisher

from portable_fn.app import App, load_app
from portable_fn.runtime.channels import CONTENT_TYPE, Channel, PublishError, encode, locator_env
from portable_fn.runtime.cloudevent import CloudEvent

from .host_objects import Captured, HostContext, with_dead_letters

HERE = Path(__file__).resolve().parent
SENDER = HERE / "apps" / "sender"
CLOUDEVENTS_SCHEMA = json.loads(
    (HERE.parents[1] / "data/cloudevents/cloudevents-spec/cloudevents/formats/cloudevents.json").read_text()
)
ORDERS, ORDER_EVENTS = Channel("queue", "orders"), Channel("topic", "order-events")
TOKEN, KEY = "entra-token-for-event-grid", "dG9waWMta2V5"
EVENT = CloudEvent(
    id="evt-7",
    source="/shop/orders",
    type="shop.order.paid",
    subject="orders/7",
    time="2026-05-01T10:00:00.123Z",
    data={"id": 7, "total": 12.5, "lines": [{"sku": "a", "n": 2}]},
    extensions={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "pfnhops": 2},
)


@pytest.fixture
def functions(indexed: Callable[[App], dict[str, Any]]) -> dict[str, Callable[..., Any]]:
    """The sender app's functions as the host calls them (generated function_app.py, a host Context)."""
    app = load_app(SENDER)
    import sender

    sender.SEEN.clear()
    return {
        name: functools.partial(lambda f, *args: f(*with_dead_letters(f, args), HostContext()), fn.get_user_function())
        for name, fn in indexed(app).items()
    }


def seen() -> list[CloudEvent[Any]]:
    import sender

    return list(sender.SEEN)


def same(got: CloudEvent[Any], sent: CloudEvent[Any]) -> None:
    """Every attribute, the data and every extension, as the JSON format writes them."""
    assert json.loads(got.to_json()) == json.loads(sent.to_json())
    assert (got.id, got.source, got.type, got.subject, got.data) == (
        sent.id,
        sent.source,
        sent.type,
        sent.subject,
        sent.data,
    )
    assert dict(got.extensions) == dict(sent.extensions)


# -- Storage Queue, on Azurite ---------------------------------------------------------------------------
@pytest.fixture
def queue(azurite: str) -> Iterator[QueueClient]:
    name = f"orders{uuid.uuid4().hex[:12]}"
    client = QueueServiceClient.from_connection_string(azurite).create_queue(name)
    try:
        yield client
    finally:
        client.delete_queue()


def queue_env(azurite: str, queue: QueueClient) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": azurite,
        locator_env("queue", "orders"): f"storage-queue:AzureWebJobsStorage/{queue.queue_name}",
    }


def as_host_delivers(message: Any) -> QueueMessage:
    """A message received from the queue as the Functions host hands it to the worker: its base64 body
    decoded (the queue trigger's default `messageEncoding`)."""
    return QueueMessage(
        id=message.id,
        body=base64.b64decode(message.content, validate=True),
        dequeue_count=message.dequeue_count,
        insertion_time=message.inserted_on,
        expiration_time=message.expires_on,
        pop_receipt=message.pop_receipt,
        time_next_visible=message.next_visible_on,
    )


def test_a_queued_event_reaches_the_queue_function_identical(
    azurite: str, queue: QueueClient, functions: dict[str, Any]
) -> None:
    AzurePublisher(queue_env(azurite, queue)).publish(ORDERS, [EVENT])
    received = list(queue.receive_messages(visibility_timeout=30))
    assert len(received) == 1
    assert json.loads(base64.b64decode(received[0].content)) == json.loads(EVENT.to_json())

    poison = Captured()
    functions["take"](as_host_delivers(received[0]), poison)
    assert poison.value is None  # acknowledged, nothing dead-lettered
    assert len(seen()) == 1
    same(seen()[0], EVENT)


def test_every_event_of_a_batch_is_sent(azurite: str, queue: QueueClient) -> None:
    events = [CloudEvent(id=f"e{i}", source="/s", type="t", data={"i": i}) for i in range(5)]
    AzurePublisher(queue_env(azurite, queue)).publish(ORDERS, events)
    got = [json.loads(base64.b64decode(m.content))["id"] for m in queue.receive_messages(max_messages=32)]
    assert sorted(got) == [e.id for e in events]


def test_a_delayed_send_is_invisible_for_the_delay(azurite: str, queue: QueueClient) -> None:
    """Azurite's answer to Put Message says when the message becomes visible: `delay_s` after it was
    inserted, and it lives 7 days from then; until then no receive sees it, though the queue holds it."""
    answers: list[str] = []

    def keep(response: Any) -> None:
        if response.http_request.method == "POST":
            answers.append(response.http_response.text())

    publisher = AzurePublisher(queue_env(azurite, queue), client_options={"raw_response_hook": keep})
    publisher.publish(ORDERS, [EVENT], delay_s=3599.2)
    (answer,) = answers
    put = ElementTree.fromstring(answer).find("QueueMessage")
    assert put is not None
    moment = {field: parse_http_date(put.findtext(field) or "") for field in ("InsertionTime", "TimeNextVisible")}
    expires = parse_http_date(put.findtext("ExpirationTime") or "")
    assert (moment["TimeNextVisible"] - moment["InsertionTime"]).total_seconds() == 3600  # rounded up, never early
    assert (expires - moment["TimeNextVisible"]).total_seconds() == 7 * 24 * 3600
    assert list(queue.receive_messages()) == [] and list(queue.peek_messages()) == []
    assert queue.get_queue_properties().approximate_message_count == 1


def test_a_delay_up_to_seven_days_is_taken_and_a_longer_one_refused(azurite: str, queue: QueueClient) -> None:
    publisher = AzurePublisher(queue_env(azurite, queue))
    assert publisher.max_delay_s == MAX_DELAY_S == 7 * 24 * 3600
    publisher.publish(ORDERS, [EVENT], delay_s=MAX_DELAY_S)  # Azurite holds it to the service's limit too
    with pytest.raises(PublishError, match=r"queue\('orders'\).*in hops of at most max_delay_s"):
        publisher.publish(ORDERS, [EVENT], delay_s=MAX_DELAY_S + 1)


def parse_http_date(text: str) -> datetime:
    return datetime.strptime(text, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=timezone.utc)


def test_without_its_locator_or_connection_the_error_names_the_fix(azurite: str, queue: QueueClient) -> None:
    with pytest.raises(PublishError, match=r"PORTABLE_FN_QUEUE_ORDERS is unset.*uses=\[orders.send\(\)\]"):
        AzurePublisher({"AzureWebJobsStorage": azurite}).publish(ORDERS, [EVENT])
    unset = {locator_env("queue", "orders"): f"storage-queue:MyStorage/{queue.queue_name}"}
    with pytest.raises(PublishError, match="'MyStorage'.*MyStorage__accountName"):
        AzurePublisher(unset).publish(ORDERS, [EVENT])
    with pytest.raises(PublishError, match="names no transport"):
        AzurePublisher({locator_env("queue", "orders"): "carrier-pigeon:x"}).publish(ORDERS, [EVENT])


def test_the_identity_form_of_the_connection_reaches_the_queue_with_the_managed_identity(queue: QueueClient) -> None:
    """`AzureWebJobsStorage__accountName` (what deploy sets with `storage_auth = "identity"`): the queue's
    URL on that account, with the credential of the app's identity."""
    made: list[str | None] = []
    publisher = AzurePublisher(
        {
            "AzureWebJobsStorage__accountName": "shopacct",
            locator_env("queue", "orders"): "storage-queue:AzureWebJobsStorage/orders",
        },
        credential=lambda client_id: made.append(client_id) or StaticToken(),
    )
    client = publisher.queue_client(ORDERS, "AzureWebJobsStorage", "orders")
    assert client.url == "https://shopacct.queue.core.windows.net/orders" and made == [None]


# -- Event Grid, a local HTTPS topic endpoint ---------------------------------------------------------------
# Event Grid's data plane, azure-rest-api-specs specification/eventgrid/data-plane/Microsoft.EventGrid/stable/
# 2018-01-01/EventGrid.json: PublishCloudEventEvents is POST /api/events (api-version required), consuming
# application/cloudevents-batch+json; charset=utf-8, a body of CloudEventEvent, which requires these members
# and types those it lists.
CLOUD_EVENT_REQUIRED = ("type", "specversion", "source", "id")
CLOUD_EVENT_STRINGS = ("id", "source", "type", "time", "specversion", "dataschema", "datacontenttype", "subject")


class StaticToken:
    """A TokenCredential answering one token, keeping the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(TOKEN, int(time.time()) + 3600)


class GridTopic:
    """A custom topic's endpoint on 127.0.0.1 over HTTPS: answers 401 without the bearer token or key, 400
    (with why) to a request PublishCloudEventEvents or the CloudEvents schema refuses, else 200 and keeps
    the batch."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.answer: int | None = None  # an answer to give instead (403: the identity lacks the role)
        topic = self

        class Handler(http.server.BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, why = topic.check(self.path, self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(why)))
                self.end_headers()
                self.wfile.write(why.encode())

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.endpoint = f"https://127.0.0.1:{self.server.server_address[1]}/api/events"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def check(self, path: str, headers: Any, body: bytes) -> tuple[int, str]:
        if headers.get("Authorization") != f"Bearer {TOKEN}" and headers.get("aeg-sas-key") != KEY:
            return 401, "Unauthorized"
        if self.answer:
            return self.answer, "refused"
        url = urlsplit(path)
        if url.path != "/api/events" or parse_qs(url.query).get("api-version") != ["2018-01-01"]:
            return 404, f"no operation at {path}"
        if headers.get("Content-Type") != "application/cloudevents-batch+json; charset=utf-8":
            return 400, f"PublishCloudEventEvents does not consume {headers.get('Content-Type')}"
        batch = json.loads(body)
        if not isinstance(batch, list) or not batch:
            return 400, "the body must be an array of CloudEventEvent"
        for event in batch:
            missing = [m for m in CLOUD_EVENT_REQUIRED if m not in event]
            wrong = [m for m in CLOUD_EVENT_STRINGS if m in event and not isinstance(event[m], str)]
            if missing or wrong:
                return 400, f"CloudEventEvent: missing {missing}, not strings {wrong}"
            try:
                jsonschema.validate(event, CLOUDEVENTS_SCHEMA)
            except jsonschema.ValidationError as exc:
                return 400, f"not a CloudEvent: {exc.message}"
        self.batches.append(batch)
        return 200, ""

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _self_signed() -> Callable[[Path], tuple[Path, Path]]:
    """deploy/conftest.py's certificate maker (test directories are not packages here)."""
    path = HERE / "deploy" / "conftest.py"
    spec = importlib.util.spec_from_file_location("portable_fn_tests_azure_deploy_conftest", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module.self_signed  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _self_signed()(tmp_path_factory.mktemp("grid-tls"))


@pytest.fixture
def grid(tls: tuple[Path, Path]) -> Iterator[GridTopic]:
    topic = GridTopic(*tls)
    try:
        yield topic
    finally:
        topic.stop()


def grid_publisher(grid: GridTopic, tls: tuple[Path, Path], credential: StaticToken, **env: str) -> AzurePublisher:
    trusting = ssl.create_default_context(cafile=str(tls[0]))
    return AzurePublisher(
        {locator_env("topic", "order-events"): f"event-grid:{grid.endpoint}", **env},
        credential=lambda client_id: credential,
        urlopen=functools.partial(urllib.request.urlopen, context=trusting),
    )


def delivered_by_event_grid(event: dict[str, Any]) -> Any:
    """What the worker hands an `event_grid_trigger` function for one CloudEvents 1.0 delivery."""
    return EventGridEventInConverter.decode(Datum(json.dumps(event), "json"), trigger_metadata={})


def test_a_published_event_reaches_the_topic_function_identical(
    grid: GridTopic, tls: tuple[Path, Path], functions: dict[str, Any]
) -> None:
    credential = StaticToken()
    second = CloudEvent(id="evt-8", source="/shop/orders", type="shop.order.shipped", data="a text")
    grid_publisher(grid, tls, credential).publish(ORDER_EVENTS, [EVENT, second])
    assert credential.scopes == [(GRID_SCOPE,)]
    (batch,) = grid.batches
    assert batch == [json.loads(EVENT.to_json()), json.loads(second.to_json())]

    for event in batch:
        functions["notify"](delivered_by_event_grid(event))
    same(seen()[0], EVENT)
    same(seen()[1], second)


def test_a_topic_key_is_sent_as_the_key_header_instead_of_a_token(grid: GridTopic, tls: tuple[Path, Path]) -> None:
    credential = StaticToken()
    grid_publisher(grid, tls, credential, PORTABLE_FN_TOPIC_ORDER_EVENTS_KEY=KEY).publish(ORDER_EVENTS, [EVENT])
    assert len(grid.batches) == 1 and credential.scopes == []


def test_a_topic_takes_no_delay_and_a_refusal_names_the_channel_and_the_role(
    grid: GridTopic, tls: tuple[Path, Path]
) -> None:
    publisher = grid_publisher(grid, tls, StaticToken())
    with pytest.raises(PublishError, match=r"topic\('order-events'\): a topic takes no delay"):
        publisher.publish(ORDER_EVENTS, [EVENT], delay_s=5)
    grid.answer = 403
    with pytest.raises(PublishError, match=r"topic\('order-events'\): Event Grid answered 403.*EventGrid Data Sender"):
        publisher.publish(ORDER_EVENTS, [EVENT])
    assert grid.batches == []


# -- Service Bus: no offline server, the messages as built ----------------------------------------------------
def test_service_bus_messages_carry_the_event_and_its_delay() -> None:
    before = datetime.now(timezone.utc)
    (message,) = bus_messages([EVENT], delay_s=90)
    after = datetime.now(timezone.utc)
    assert b"".join(message.body) == encode(EVENT) and message.content_type == CONTENT_TYPE
    assert message.message_id == EVENT.id
    assert before + timedelta(seconds=90) <= message.scheduled_enqueue_time_utc <= after + timedelta(seconds=90)
    (now,) = bus_messages([EVENT])
    assert now.scheduled_enqueue_time_utc is None

    received = ServiceBusMessage(
        body=b"".join(message.body),
        content_type=message.content_type,
        message_id=message.message_id,
        application_properties={},
        user_properties={},
    )
    same(service_bus_to_cloudevent(received, "sb://shop.servicebus.windows.net/orders"), EVENT)


def test_service_bus_without_a_connection_names_the_setting() -> None:
    env = {locator_env("queue", "orders"): "service-bus:ServiceBusConnection/orders"}
    with pytest.raises(PublishError, match="'ServiceBusConnection'.*ServiceBusConnection__fullyQualifiedNamespace"):
        AzurePublisher(env).publish(ORDERS, [EVENT])


def test_the_provider_opens_this_publisher(monkeypatch: pytest.MonkeyPatch) -> None:
    from portable_fn.runtime import channels

    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "azure")
    previous = channels.use_publisher(None)
    try:
        assert isinstance(channels.publisher(), AzurePublisher)
    finally:
        channels.use_publisher(previous)
    assert isinstance(open_publisher(), AzurePublisher)


# -- what ships -----------------------------------------------------------------------------------------------
def test_an_app_that_sends_ships_the_publisher_and_the_sdks_of_its_transports() -> None:
    from portable_fn_azure.codegen import function_app_source
    from portable_fn_azure.packaging import requirement_lines, shim_files

    app = load_app(SENDER)
    lines = requirement_lines(app)
    assert {"azure-storage-queue>=12.9", "azure-identity>=1.15"} <= set(lines)
    assert not any(line.startswith("azure-servicebus") for line in lines)
    shipped = {name for name, _ in shim_files(function_app_source(app), publish=True)}
    assert "portable_fn_azure/publish.py" in shipped
    assert "portable_fn_azure/publish.py" not in {n for n, _ in shim_files(function_app_source(app))}

    bus = {**app.config.azure, "queue_transport": "service_bus", "topic_transport": "service_bus"}
    lines = requirement_lines(_with_azure(app, bus))
    assert "azure-servicebus>=7.11" in lines and not any(line.startswith("azure-storage-queue") for line in lines)


def _with_azure(app: App, settings: dict[str, Any]) -> App:
    app.config = app.config.model_copy(update={"azure": settings})
    return app


# -- sizes and empty sends --------------------------------------------------------------------------------
def test_an_event_too_large_for_a_queue_message_is_refused_before_any_is_sent(azurite: str, queue: QueueClient) -> None:
    small = CloudEvent(id="small", source="/s", type="t", data="x")
    large = CloudEvent(id="large", source="/s", type="t", data="x" * (48 * 1024))  # over 64 KiB in base64
    with pytest.raises(PublishError, match=r"queue\('orders'\): event 'large' is \d+ bytes in base64, over the 64 KiB"):
        AzurePublisher(queue_env(azurite, queue)).publish(ORDERS, [small, large])
    assert queue.get_queue_properties().approximate_message_count == 0
    AzurePublisher(queue_env(azurite, queue)).publish(ORDERS, [])
    assert queue.get_queue_properties().approximate_message_count == 0


def test_event_grid_takes_the_events_in_posts_of_up_to_one_megabyte(grid: GridTopic, tls: tuple[Path, Path]) -> None:
    events = [CloudEvent(id=f"e{i}", source="/s", type="t", data="x" * (300 * 1024)) for i in range(7)]
    publisher = grid_publisher(grid, tls, StaticToken())
    publisher.publish(ORDER_EVENTS, events)
    assert [e["id"] for batch in grid.batches for e in batch] == [e.id for e in events]
    assert len(grid.batches) == 3 and all(len(json.dumps(b)) <= 1024 * 1024 for b in grid.batches)
    publisher.publish(ORDER_EVENTS, [])
    assert len(grid.batches) == 3  # nothing sent for no events
    huge = CloudEvent(id="huge", source="/s", type="t", data="x" * (1024 * 1024))
    with pytest.raises(PublishError, match="event 'huge' is .* over the 1 MB an Event Grid publish takes"):
        publisher.publish(ORDER_EVENTS, [huge])


@pytest.mark.slow  # imports in a fresh interpreter
def test_the_publisher_imports_its_sdks_only_when_it_sends() -> None:
    import subprocess

    probe = (
        "import json, sys\nimport portable_fn_azure.publish\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('azure.', 'urllib3', 'requests')))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
