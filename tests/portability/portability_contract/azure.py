"""Azure Functions as the Python worker drives it: the app's generated function_app.py, indexed by the real
`azure-functions` library, each function called with the objects the worker builds from what the host sends
(the library's own converters where the host sends a Datum).

What reaches which function follows what `portable-fn deploy` creates on Azure (deploy/desired.py):

| logical event  | native delivery                                                                          |
|----------------|------------------------------------------------------------------------------------------|
| queue          | the Storage Queue trigger: one QueueMessage per message (dequeue count = the attempt,    |
|                | insertion time in whole seconds, as the queue records it); a dead letter is what the     |
|                | shim writes to the `<queue>-poison` output binding                                       |
| topic          | a custom Event Grid topic taking CloudEvents 1.0, delivered in that schema to the        |
|                | function's Event Grid trigger: the publisher POSTs the message as a CloudEvent; a dead   |
|                | letter is what the shim writes to the function's dead-letter queue output binding        |
| storage        | created: the blob trigger with the Event Grid source (an InputStream with the blob's     |
|                | properties); deleted: the system topic's BlobDeleted event (Event Grid schema) to the    |
|                | function's Event Grid trigger; each with the dead-letter queue output binding            |
| schedule       | the timer trigger's TimerRequest, its schedule status naming the due occurrence (`Next`), |
|                | with the dead-letter queue output binding                                                |
| http           | the host's route table (host.json `routePrefix`, each function's route and methods); a   |
|                | path no route matches is answered 404 by the host, no function runs                      |

Other paths (compared as `azure:<path>`), through the function_app.py generated for the same app:

| path        | logical event | native delivery                                                                 |
|-------------|---------------|---------------------------------------------------------------------------------|
| service-bus | queue         | `queue_transport = "service_bus"`: the Service Bus queue trigger, one           |
|             |               | ServiceBusMessage per message as the worker's converter builds it from the      |
|             |               | host's trigger metadata (content type, application properties, delivery count,  |
|             |               | enqueued time in milliseconds); raising abandons the message; a dead letter is  |
|             |               | what the shim writes to the function's dead-letter queue output binding         |
| service-bus | topic         | `topic_transport = "service_bus"`: the function's subscription of the Service   |
|             |               | Bus topic, the same ServiceBusMessage                                           |
| event-grid  | storage       | created: the storage account's BlobCreated event (Event Grid schema), which     |
|             |               | feeds the blob trigger, delivered itself to the entry function_app.py gives a   |
|             |               | storage function bound to an Event Grid subscription (`deleted` functions have  |
|             |               | it): one upload, named alike by either trigger                                  |
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import azure.functions as func
import pytest
from azure.functions.blob import BlobConverter
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.queue import QueueMessageInConverter
from azure.functions.servicebus import ServiceBusMessageInConverter
from azure.functions.timer import TimerRequestConverter
from portable_fn_azure.codegen import function_app_source as generate_function_app
from portable_fn_azure.codegen import host_json_source as host_json
from portable_fn_azure.codegen import host_timeout_s, physical_container, physical_queue
from portable_fn_azure.names import dead_letter_queue
from portable_fn_azure.shim import event_grid_entry

from portable_fn.app import App
from portable_fn.runtime import CloudEvent
from portable_fn.runtime.dead_letters import dead_letter_info

from .delivery import CannotCarry, Delivery
from .events import SENT, HttpCall, LogicalEvent, Message, ObjectChange, QueueDelivery, Tick, TopicDelivery

SITE = "contract-probe"
HOST = f"https://{SITE}.azurewebsites.net"
ACCOUNT = "contractprobe"
BLOBS = f"https://{ACCOUNT}.blob.core.windows.net"
SUBSCRIPTION = "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/contract-probe"
STORAGE_ACCOUNT = f"{SUBSCRIPTION}/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}"
ETAG = "0x8DE8A3C5F3B2E10"  # what Azure Storage gives an upload (no MD5)
NAMESPACE = f"{SITE}.servicebus.windows.net"
SERVICE_BUS = {"queue_transport": "service_bus", "topic_transport": "service_bus"}
BLOB_EVENTS = {"created": "Microsoft.Storage.BlobCreated", "deleted": "Microsoft.Storage.BlobDeleted"}


@contextlib.contextmanager
def open_runner(app: App, seen: list[dict[str, Any]], tmp: pytest.TempPathFactory) -> Iterator[AzureRunner]:
    directory = tmp.mktemp("azure-function-app")
    (directory / "host.json").write_text(host_json(app), encoding="utf-8")
    # The same app with its queues and topics on Service Bus, connected by identity as its app settings say.
    on_service_bus = App(
        app.root, app.config.model_copy(update={"azure": {**app.config.azure, **SERVICE_BUS}}), app.functions
    )
    with pytest.MonkeyPatch.context() as env:  # read when function_app.py makes each entry
        env.setenv("ServiceBusConnection__fullyQualifiedNamespace", NAMESPACE)
        service_bus = _import_function_app(on_service_bus, tmp.mktemp("azure-function-app-service-bus"))
    yield AzureRunner(app, _import_function_app(app, directory), directory, seen, service_bus)


def _import_function_app(app: App, directory: Path) -> Any:
    """The generated function_app.py, imported as the worker imports it."""
    path = directory / "function_app.py"
    path.write_text(generate_function_app(app), encoding="utf-8")
    name = f"function_app_contract_{abs(hash(directory))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class HostContext(func.Context):
    """The `azure.functions.Context` the worker passes: an invocation id, the function, no retry yet."""

    def __init__(self, function: str, invocation: int) -> None:
        self._function, self._invocation = function, invocation

    invocation_id = property(lambda self: f"00000000-0000-4000-8000-{self._invocation:012d}")
    function_name = property(lambda self: self._function)
    function_directory = property(lambda self: "/home/site/wwwroot")
    trace_context = property(lambda self: None)
    retry_context = property(lambda self: None)
    thread_local_storage = property(lambda self: None)


class PoisonQueue(func.Out):  # type: ignore[type-arg]
    """The `<queue>-poison` output binding (a Service Bus function's: its `pfdl-` queue): what the function
    set, written to the queue when it returns."""

    def __init__(self) -> None:
        self.value: Any = None

    def set(self, val: Any) -> None:
        self.value = val

    def get(self) -> Any:
        return self.value


class AzureRunner:
    name = "azure"

    def __init__(self, app: App, module: Any, directory: Path, seen: list[dict[str, Any]], service_bus: Any) -> None:
        self.app = app
        self.functions = {fn.get_function_name(): fn for fn in module.app.get_functions()}
        self.on_service_bus = {fn.get_function_name(): fn for fn in service_bus.app.get_functions()}
        host = json.loads((directory / "host.json").read_text(encoding="utf-8"))
        self.route_prefix = "/" + host["extensions"]["http"]["routePrefix"].strip("/")
        self.seen = seen
        self.invocations = 0

    def paths(self, event: LogicalEvent) -> tuple[str, ...]:
        if isinstance(event, (QueueDelivery, TopicDelivery)):
            return ("service-bus",)
        if isinstance(event, ObjectChange) and event.change == "created":
            return ("event-grid",)
        return ()

    def deliver(self, event: LogicalEvent, path: str = "") -> Delivery:
        self.seen.clear()
        if path == "service-bus" and isinstance(event, (QueueDelivery, TopicDelivery)):
            return self._service_bus(event)
        if path == "event-grid" and isinstance(event, ObjectChange):
            return self._blob_created_by_event_grid(event)
        if isinstance(event, QueueDelivery):
            return self._queue(event)
        if isinstance(event, TopicDelivery):
            return self._topic(event)
        if isinstance(event, ObjectChange):
            return self._object(event)
        if isinstance(event, Tick):
            return self._tick(event)
        return self._http(event)

    # -- triggers -------------------------------------------------------------------------------

    def _queue(self, event: QueueDelivery) -> Delivery:
        """One invocation per message (a Storage Queue trigger runs each message on its own)."""
        name = self._bound("queueTrigger", lambda b: b["queueName"] == physical_queue(event.queue))
        outcomes, letters = [], []
        for message in event.messages:
            poison = PoisonQueue()
            outcome = self._run(name, _queue_message(message), poison)
            if poison.value is not None:  # written to <queue>-poison: never delivered again
                letter = CloudEvent.from_json(poison.value)
                letters.append({"id": letter.id, "data": letter.data, **dead_letter_info(letter)})
                outcome = "dead-letter"
            outcomes.append(outcome)
        return Delivery(seen=list(self.seen), outcomes=outcomes, letters=letters)

    def _service_bus(self, event: QueueDelivery | TopicDelivery) -> Delivery:
        """One invocation per message (cardinality one) of the queue's function, or of each function's
        subscription of the topic. Returning completes the message; raising abandons it, so Service Bus
        delivers it again; a dead letter is what the shim writes to the function's dead-letter queue output
        binding (the message is then completed: never delivered again)."""
        if isinstance(event, QueueDelivery):
            entity, kind, messages = physical_queue(event.queue), "queueName", event.messages
        else:
            entity, kind, messages = physical_queue(event.topic), "topicName", (event.message,)
        names = [
            name for name, fn in self.on_service_bus.items() if fn.get_trigger().get_dict_repr().get(kind) == entity
        ]
        outcomes, letters = [], []
        for message in messages:
            for name in names:
                dead = PoisonQueue()
                outcome = self._run(name, _service_bus_message(message), dead, functions=self.on_service_bus)
                if dead.value is not None:
                    letter = CloudEvent.from_json(dead.value)
                    letters.append({"id": letter.id, "data": letter.data, **dead_letter_info(letter)})
                    outcome = "dead-letter"
                outcomes.append(outcome)
        return Delivery(seen=list(self.seen), outcomes=outcomes, letters=letters)

    def _blob_created_by_event_grid(self, event: ObjectChange) -> Delivery:
        """The upload's BlobCreated event, given to the entry of a storage function bound to Event Grid."""
        for spec in self.app.functions:
            trigger = spec.trigger
            if trigger.kind == "storage" and trigger.bucket == event.bucket and trigger.on == event.change:
                blobs = (physical_container(trigger.bucket), trigger.prefix, trigger.suffix)
                dead = dead_letter_queue(spec.name)
                entry = event_grid_entry(spec, dead, host_timeout_s(self.app, "Y1"), blobs=blobs)
                entry(_event_grid(_blob_event(event)), PoisonQueue(), self._context(spec.name))
        return Delivery(seen=list(self.seen))

    def _topic(self, event: TopicDelivery) -> Delivery:
        """The Event Grid subscription of each function of the topic, in the CloudEvents 1.0 schema."""
        delivered = _event_grid(_published(event.message, event.topic))
        names = [
            spec.name
            for spec in self.app.functions
            if spec.trigger.kind == "topic" and spec.trigger.name == event.topic
        ]
        outcomes, letters = [], []
        for name in names:
            dead = PoisonQueue()
            outcome = self._run(name, delivered, dead)
            if dead.value is not None:  # written to the function's dead-letter queue: never delivered again
                letter = CloudEvent.from_json(dead.value)
                letters.append({"id": letter.id, "data": letter.data, **dead_letter_info(letter)})
                outcome = "dead-letter"
            outcomes.append(outcome)
        return Delivery(seen=list(self.seen), outcomes=outcomes, letters=letters)

    def _object(self, event: ObjectChange) -> Delivery:
        for spec in self.app.functions:
            trigger = spec.trigger
            if trigger.kind != "storage" or trigger.bucket != event.bucket or trigger.on != event.change:
                continue
            if event.change == "created":  # the blob trigger, reached through the blobs extension's webhook
                self._run(spec.name, _blob(event), PoisonQueue())
            else:  # the system topic's subscription, in the Event Grid schema
                self._run(spec.name, _event_grid(_blob_event(event)), PoisonQueue())
        return Delivery(seen=list(self.seen))

    def _tick(self, tick: Tick) -> Delivery:
        """The host's TimerInfo: ScheduleStatus.Next is the occurrence being fired, Last the one before."""
        due = _time(tick.time)
        # the previous firing of "rate(5 minutes)", run a moment after it was due
        last = (due - timedelta(minutes=5) + timedelta(microseconds=1643)).isoformat()
        status = {"Last": last, "Next": due.isoformat(), "LastUpdated": last}
        info = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": status, "IsPastDue": False}
        timer = TimerRequestConverter.decode(Datum(json.dumps(info), "json"), trigger_metadata={})
        self._run(tick.function, timer, PoisonQueue())
        return Delivery(seen=list(self.seen))

    def _http(self, call: HttpCall) -> Delivery:
        """The host matches the route (each route's segments, `{name}` filled with the decoded segment); a path
        no declared route matches goes to the generated catch-all (`codegen.not_found_name`), which answers
        dev's 404."""
        path = call.path
        if not path.startswith(self.route_prefix):
            return Delivery(status=404, json="")
        matched = self._route(path[len(self.route_prefix) :].strip("/"), call.method)
        if matched is None:
            return Delivery(status=404, json="")
        name, params = matched
        url = HOST + path + ("?" + call.query if call.query else "")
        headers = {
            **dict(call.headers),
            "host": f"{SITE}.azurewebsites.net",
            "x-functions-key": "key",
            "content-length": str(len(call.body)),
        }
        request = func.HttpRequest(
            call.method, url, headers=headers, params=dict(parse_qsl(call.query)), route_params=params, body=call.body
        )
        answer = self.functions[name].get_user_function()(request, self._context(name))
        body = answer.get_body()
        try:
            shown: Any = json.loads(body)
        except ValueError:
            shown = body.decode("utf-8", "replace")
        return Delivery(
            seen=list(self.seen),
            status=answer.status_code,
            json=shown,
            set_cookies=answer.headers.get_all("set-cookie") or [],
        )

    # -- the host -------------------------------------------------------------------------------

    def _bound(self, kind: str, matches: Any) -> str:
        for name, fn in self.functions.items():
            trigger = fn.get_trigger().get_dict_repr()
            if trigger["type"] == kind and matches(trigger):
                return name
        raise CannotCarry(f"no function of the app has a {kind} for this event")

    def _route(self, path: str, method: str) -> tuple[str, dict[str, str]] | None:
        """The first function whose route and methods take the request, trying them as the host does: in the
        order of their names, case ignored (`codegen.not_found_name` cites the host's source)."""
        segments = path.split("/")
        for name, fn in sorted(self.functions.items(), key=lambda item: item[0].upper()):
            trigger = fn.get_trigger().get_dict_repr()
            if trigger["type"] != "httpTrigger":
                continue
            methods = [str(getattr(m, "value", m)).upper() for m in trigger.get("methods") or ()]
            params = _match(trigger["route"].split("/"), segments)
            if params is not None and (not methods or method in methods):
                return name, params
        return None

    def _run(self, name: str, native: Any, *outputs: Any, functions: dict[str, Any] | None = None) -> str:
        """Call the function as the worker does: returning acknowledges, raising has the host redeliver."""
        try:
            (functions or self.functions)[name].get_user_function()(native, *outputs, self._context(name))
        except Exception:
            return "retry"
        return "ack"

    def _context(self, name: str) -> HostContext:
        self.invocations += 1
        return HostContext(name, self.invocations)


def _match(route: list[str], segments: list[str]) -> dict[str, str] | None:
    """The route parameters when the path's segments fit the route template, else None."""
    params: dict[str, str] = {}
    for i, part in enumerate(route):
        if part.startswith("{*"):
            params[part[2:-1]] = unquote("/".join(segments[i:]))
            return params
        if i >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = unquote(segments[i])
        elif part.lower() != segments[i].lower():
            return None
    return params if len(route) == len(segments) else None


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _queue_message(message: Message) -> Any:
    """What the worker builds from the Storage Queue trigger: the body, and the queue's own metadata. Azure
    Storage records the insertion time in whole seconds (RFC 1123), and a message has no attributes."""
    inserted = _time(SENT).replace(microsecond=0)
    try:
        body = Datum(message.body.decode("utf-8"), "string")
    except UnicodeDecodeError:
        body = Datum(message.body, "bytes")
    metadata = {
        "Id": Datum(message.id, "string"),
        "DequeueCount": Datum(message.attempt, "int"),
        "InsertionTime": Datum(json.dumps(inserted.isoformat()), "json"),
        "ExpirationTime": Datum(json.dumps((inserted + timedelta(days=7)).isoformat()), "json"),
        "NextVisibleTime": Datum(json.dumps((inserted + timedelta(minutes=10)).isoformat()), "json"),
        "PopReceipt": Datum("AgAAAAMAAAAAAAAA", "string"),
    }
    return QueueMessageInConverter.decode(body, trigger_metadata=metadata)


def _service_bus_message(message: Message) -> Any:
    """What the worker builds from the Service Bus trigger (cardinality one): the body, and the host's
    trigger metadata of the message: its id, the content type the sender set, application properties (the
    message's attributes), the delivery count (the attempt), the enqueued time to the millisecond."""
    sent = _time(SENT)
    try:
        body = Datum(message.body.decode("utf-8"), "string")
    except UnicodeDecodeError:
        body = Datum(message.body, "bytes")
    properties = json.dumps(dict(message.attributes))
    metadata = {
        "MessageId": Datum(message.id, "string"),
        "DeliveryCount": Datum(message.attempt, "int"),
        "EnqueuedTimeUtc": Datum(sent.isoformat(), "string"),
        "ExpiresAtUtc": Datum((sent + timedelta(days=14)).isoformat(), "string"),
        "LockedUntil": Datum((sent + timedelta(minutes=1)).isoformat(), "string"),
        "LockToken": Datum("87931fd2-39f4-415a-9fdc-adfdcbed3148", "string"),
        "SequenceNumber": Datum(3, "int"),
        "ApplicationProperties": Datum(properties, "json"),
        "UserProperties": Datum(properties, "json"),
    }
    if message.content_type:
        metadata["ContentType"] = Datum(message.content_type, "string")
    return ServiceBusMessageInConverter.decode(body, trigger_metadata=metadata)


def _published(message: Message, topic: str) -> dict[str, Any]:
    """What Event Grid delivers for a message POSTed to the topic: a structured CloudEvent as it was sent, or
    the message sent in binary mode (ce-id, ce-source, ce-type, ce-time; Content-Type the sender's)."""
    if message.content_type == "application/cloudevents+json":
        return dict(json.loads(message.body))
    source = f"{SUBSCRIPTION}/providers/Microsoft.EventGrid/topics/{topic}"
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": message.id,
        "source": source,
        "type": "com.example.message",
        "time": SENT,
    }
    if message.content_type:
        event["datacontenttype"] = message.content_type
    if message.content_type and "json" in message.content_type:
        event["data"] = json.loads(message.body)
    else:
        try:
            event["data"] = message.body.decode("utf-8")
        except UnicodeDecodeError:
            raise CannotCarry(
                "Event Grid carries a CloudEvent's data as JSON: bytes that are no text would "
                "need data_base64, which the Event Grid trigger does not decode"
            ) from None
    return event


def _event_grid(delivered: dict[str, Any]) -> Any:
    """The worker's object for an Event Grid trigger: the library's converter, given the JSON the host sent."""
    return EventGridEventInConverter.decode(Datum(json.dumps(delivered), "json"), trigger_metadata={})


def _blob_url(change: ObjectChange) -> str:
    """The blob's URL as Azure Storage writes it: the name percent-encoded per segment ("+" too)."""
    return f"{BLOBS}/{physical_container(change.bucket)}/{quote(change.key, safe='/')}"


def _blob(change: ObjectChange) -> Any:
    """The blob trigger's InputStream: the blob (container/name), its URI and its properties as the host
    serialises them (Last-Modified in whole seconds, the ETag quoted)."""
    modified = _time(change.time).replace(microsecond=0)
    properties = {
        "LastModified": modified.isoformat(),
        "CreatedOn": modified.isoformat(),
        "ContentLength": change.size,
        "ContentType": change.content_type,
        "ETag": f'"{ETAG}"',
        "BlobType": "Block",
        "AccessTier": "Hot",
        "LeaseState": "Available",
    }
    metadata = {
        "BlobTrigger": Datum(f"{physical_container(change.bucket)}/{change.key}", "string"),
        "Uri": Datum(_blob_url(change), "string"),
        "Properties": Datum(json.dumps(properties), "json"),
        "Metadata": Datum("{}", "json"),
    }
    return BlobConverter.decode(Datum(change.body, "bytes"), trigger_metadata=metadata)


def _blob_event(change: ObjectChange) -> dict[str, Any]:
    """The storage account's BlobCreated / BlobDeleted event in the Event Grid schema (as in
    tests/data/azure/.../examples/blob_deleted.json): the subject holds the name as is, the url encoded."""
    container = physical_container(change.bucket)
    api = "PutBlob" if change.change == "created" else "DeleteBlob"
    moment = change.time.replace("Z", "0000Z") if "." in change.time else change.time
    return {
        "topic": STORAGE_ACCOUNT,
        "subject": f"/blobServices/default/containers/{container}/blobs/{change.key}",
        "eventType": BLOB_EVENTS[change.change],
        "id": "3626e710-c01e-005c-794a-92005606d96d",
        "data": {
            "api": api,
            "requestId": "3626e710-c01e-005c-794a-920056000000",
            "eTag": ETAG,
            "contentType": change.content_type,
            "contentLength": change.size,
            "blobType": "BlockBlob",
            "url": _blob_url(change),
            "sequencer": "0000000000000000000000000000B00D0000000005b29696",
            "storageDiagnostics": {"batchId": "24045172-a006-0065-004a-9240f2000000"},
        },
        "dataVersion": "",
        "metadataVersion": "1",
        "eventTime": moment,
    }
