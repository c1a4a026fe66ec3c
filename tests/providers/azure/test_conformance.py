"""Conformance: Event Grid events become the CloudEvents Azure itself makes of them, and the generated
function_app.py is what the real `azure-functions` library indexes and invokes.

- Every Event Grid schema example of azure-rest-api-specs maps to the CloudEvents schema example with the
  same id (tests/data/azure), read as JSON and as the library's own EventGridEvent object.
- function_app.py of samples/shop and of a test app with every trigger kind, imported as the host imports
  it: `app.get_functions()` gives the bindings the host reads (checked per trigger kind), and every
  function is called through that index with real `azure.functions` objects.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest
from portable_fn_azure import events
from portable_fn_azure.events import event_grid_to_cloudevent

from portable_fn.runtime import CloudEvent, InvalidEventError, StorageObject
from portable_fn.runtime.dead_letters import dead_letter_info
from portable_fn.testing import emitted, local_state

DATA = Path(__file__).resolve().parents[2] / "data" / "azure"
EXAMPLES = (
    DATA
    / "azure-rest-api-specs"
    / "specification"
    / "eventgrid"
    / "data-plane"
    / "Microsoft.Storage"
    / "stable"
    / "2018-01-01"
    / "examples"
)
CLOUD_EVENTS = {json.loads(p.read_text())["id"]: p for p in sorted((EXAMPLES / "cloud-events-schema").glob("*.json"))}
EVENT_GRID = sorted([*EXAMPLES.glob("*.json"), *(EXAMPLES / "event-grid-schema").glob("*.json")])
# Upstream's top-level blob_created.json is an older copy of the same event without `accessTier`; its
# CloudEvents twin has it. Data passes through unchanged, so that one pair differs in data alone.
OLDER_DATA = {"examples/blob_created.json"}
LIBRARY = DATA / "azure-functions-python-library" / "tests" / "test_eventgrid.py.d"


class HostContext(func.Context):
    """The `azure.functions.Context` the host passes: the abstract properties filled in."""

    def __init__(self, function_name: str, retry_count: int = 0) -> None:
        self._name = function_name
        self._retry = type("RetryContext", (), {"retry_count": retry_count, "max_retry_count": 2})()

    invocation_id = property(lambda self: f"inv-{self._name}")
    function_name = property(lambda self: self._name)
    function_directory = property(lambda self: "/home/site/wwwroot")
    trace_context = property(lambda self: None)
    retry_context = property(lambda self: self._retry)
    thread_local_storage = property(lambda self: None)


class Captured(func.Out):  # type: ignore[type-arg]
    """An output binding's `Out`: remembers what the function set."""

    def __init__(self) -> None:
        self.value: Any = None

    def set(self, val: Any) -> None:
        self.value = val

    def get(self) -> Any:
        return self.value


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _library_event(body: dict[str, Any]) -> Any:
    """The object the Functions worker hands an `eventGridTrigger` function, made by the library itself."""
    return EventGridEventInConverter.decode(Datum(json.dumps(body), "json"), trigger_metadata={})


def _name(path: Path) -> str:
    return str(path.relative_to(EXAMPLES.parent)).replace("\\", "/")


def test_every_event_grid_example_has_its_cloudevents_twin() -> None:
    assert len(EVENT_GRID) == 6
    assert {_load(p)["id"] for p in EVENT_GRID} == set(CLOUD_EVENTS)


@pytest.mark.parametrize("path", EVENT_GRID, ids=_name)
def test_an_event_grid_schema_event_maps_as_azure_maps_it(path: Path) -> None:
    native = _load(path)
    expected = _load(CLOUD_EVENTS[native["id"]])
    got = event_grid_to_cloudevent(native).to_dict()
    if _name(path) in OLDER_DATA:
        assert got.pop("data") == native["data"]
        expected.pop("data")
    assert got == expected


@pytest.mark.parametrize("path", EVENT_GRID, ids=_name)
def test_the_library_object_maps_the_same_but_for_the_seventh_digit_it_drops(path: Path) -> None:
    native = _load(path)
    expected = event_grid_to_cloudevent(native).to_dict()
    got = event_grid_to_cloudevent(_library_event(native)).to_dict()
    assert got.pop("time")[:26] == expected.pop("time")[:26]  # the library parses into microseconds
    assert got == expected


@pytest.mark.parametrize("path", sorted(CLOUD_EVENTS.values()), ids=_name)
def test_cloudevents_schema_events_pass_through(path: Path) -> None:
    native = _load(path)
    assert event_grid_to_cloudevent(native).to_dict() == native
    got = event_grid_to_cloudevent(_library_event(native)).to_dict()
    assert got.pop("time")[:26] == native.pop("time")[:26]
    assert got == native


def test_the_library_fixtures_with_and_without_data() -> None:
    with_data = event_grid_to_cloudevent(_library_event(_load(LIBRARY / "eventgrid-schema-with-data.json")))
    assert (with_data.id, with_data.source, with_data.type, with_data.subject, with_data.time) == (
        "00010001-0001-0001-0001-000100010001",
        "/TestTopic/namespaces/test",
        "captureFileCreated",
        "eventhubs/test",
        "2017-07-14T23:10:27.768966Z",
    )
    assert with_data.data["fileUrl"] == "https://test.blob.core.windows.net/debugging/testblob.txt"
    without = event_grid_to_cloudevent(_load(LIBRARY / "eventgrid-schema-without-data.json"))
    assert without.data is None and without.time == "2017-07-14T23:10:27.7689666Z"


@pytest.mark.parametrize(
    "change",
    [{"eventType": ""}, {"eventType": None}, {"id": ""}, {"topic": None}, {"subject": 5}, {"eventTime": "not a time"}],
)
def test_a_library_event_grid_event_with_a_bad_attribute_is_refused_as_the_json_one_is(change: dict[str, Any]) -> None:
    body = {**_load(EVENT_GRID[0]), **change}
    try:
        native = _library_event(body)
    except ValueError:  # the library itself refuses to parse the time
        return
    with pytest.raises(InvalidEventError):
        event_grid_to_cloudevent(native)
    with pytest.raises((InvalidEventError, KeyError)):
        event_grid_to_cloudevent(body)


def test_a_library_cloudevent_keeps_its_dataschema_and_a_copy_of_its_extensions() -> None:
    body = {
        "specversion": "1.0",
        "id": "c-1",
        "source": "/s",
        "type": "t",
        "dataschema": "https://x/schema.json",
        "time": "2024-05-01T10:00:00Z",
        "traceparent": "00-abc-def-01",
        "data": {"n": 1},
    }
    native = _library_event(body)
    got = event_grid_to_cloudevent(native)
    assert got.to_dict() == body  # the time as it was sent
    plain = _library_event({k: v for k, v in body.items() if k != "dataschema"})
    event = event_grid_to_cloudevent(plain)
    assert event.extensions == {"traceparent": "00-abc-def-01"}
    assert event.extensions is not plain.extension_attrs
    with pytest.raises(InvalidEventError, match="'type'"):
        event_grid_to_cloudevent(_library_event({**body, "type": ""}))


@pytest.mark.parametrize("path", EVENT_GRID + sorted(CLOUD_EVENTS.values()), ids=_name)
def test_the_library_objects_read_from_their_fields_as_from_their_properties(path: Path) -> None:
    """The library's objects are read from their instance fields; the properties give the same event."""
    native = _library_event(_load(path))
    by_fields = event_grid_to_cloudevent(native)
    assert events._READERS[type(native)] in (events._event_grid_fields, events._cloudevent_fields)
    by_properties = (
        events._library_cloudevent if hasattr(native, "specversion") else events._library_event_grid_event
    )(native)
    assert by_fields.to_dict() == by_properties.to_dict()
    assert by_fields.time == by_properties.time and by_fields.data is native.get_json()


def test_an_object_without_the_library_fields_is_read_through_its_properties() -> None:
    class Delivered:  # what another azure.functions version could hand over: properties, other fields
        def __init__(self, **attrs: Any) -> None:
            self._attrs = attrs
            for name in attrs:
                setattr(Delivered, name, property(lambda self, n=name: self._attrs[n]))

        def get_json(self) -> Any:
            return {"n": 1}

    native = Delivered(id="e-1", topic="/t", subject="s", event_type="Made", event_time=None)
    event = event_grid_to_cloudevent(native)
    assert events._READERS[Delivered] is events._library_event_grid_event
    assert (event.id, event.source, event.type, event.subject, event.data) == ("e-1", "/t", "Made", "s", {"n": 1})


def test_an_event_grid_event_carrying_a_cloudevent_delivers_that_event() -> None:
    carried = CloudEvent(
        id="o-1",
        source="//aws/sqs/orders",
        type="com.example.order.created",
        time="2024-05-01T10:00:00Z",
        data={"id": "o-1"},
    )
    envelope = {
        "id": "eg-1",
        "topic": "/subscriptions/s/resourceGroups/g/providers/Microsoft.EventGrid/topics/t",
        "eventType": "com.example.order.created",
        "subject": "x",
        "eventTime": "2024-05-01T10:00:01Z",
        "data": carried.to_dict(),
        "dataVersion": "1",
    }
    assert event_grid_to_cloudevent(envelope) == carried
    assert event_grid_to_cloudevent(_library_event(envelope)) == carried


# -- the generated function_app.py, indexed by the real library ------------------------------------


def _bindings(fn: Any) -> dict[str, dict[str, Any]]:
    """The function's bindings as the host reads them (function.json), by binding name."""
    return {b["name"]: b for b in json.loads(fn.get_function_json())["bindings"]}


def test_the_shop_is_indexed_with_one_function_per_portable_function(shop_app: Any, indexed: Any) -> None:
    functions = indexed(shop_app)
    # and the catch-all answering dev's 404 for a path no function declares (`codegen.not_found_name`)
    assert sorted(functions) == sorted([*(spec.name for spec in shop_app.functions), "zz_not_found"])
    create = _bindings(functions["create_order"])
    assert create["req"] == {
        "direction": "IN",
        "type": "httpTrigger",
        "name": "req",
        "route": "orders",
        "authLevel": "ANONYMOUS",
    }  # every method: the shim answers 405 to the others
    assert create["$return"]["type"] == "http" and create["$return"]["direction"] == "OUT"
    assert _bindings(functions["get_order"])["req"]["route"] == "orders/{order_id}"
    fulfil = _bindings(functions["fulfil"])
    assert fulfil["msg"] == {
        "direction": "IN",
        "type": "queueTrigger",
        "name": "msg",
        "queueName": "orders",
        "connection": "AzureWebJobsStorage",
    }
    assert fulfil["poison"] == {
        "direction": "OUT",
        "type": "queue",
        "name": "poison",
        "queueName": "orders-poison",
        "connection": "AzureWebJobsStorage",
    }
    assert _bindings(functions["sweep"])["timer"]["schedule"] == "0 */5 * * * *"
    assert _bindings(functions["nightly_report"])["timer"]["schedule"] == "0 0 3 * * *"
    upload = _bindings(functions["on_upload"])["blob"]
    assert (upload["type"], upload["path"], upload["source"], upload["connection"]) == (
        "blobTrigger",
        "uploads/in/{name}",
        "EventGrid",
        "AzureWebJobsStorage",
    )
    assert _bindings(functions["notify"])["event"] == {"direction": "IN", "type": "eventGridTrigger", "name": "event"}


def test_every_trigger_kind_is_indexed(every_app: Any, indexed: Any) -> None:
    functions = indexed(every_app)
    assert sorted(functions) == sorted([*(spec.name for spec in every_app.functions), "zz_not_found"])
    add = _bindings(functions["add_item"])["req"]
    assert (add["route"], add.get("methods"), add["authLevel"]) == ("items", None, "FUNCTION")
    files = _bindings(functions["files"])["req"]
    assert files["route"] == "files/{*path}" and "methods" not in files and files["authLevel"] == "ANONYMOUS"
    slow = _bindings(functions["slow"])
    assert (slow["msg"]["queueName"], slow["poison"]["queueName"]) == ("slow-jobs", "slow-jobs-poison")
    assert _bindings(functions["every_quarter"])["timer"]["schedule"] == "0 */15 * * * *"
    assert _bindings(functions["weekdays"])["timer"]["schedule"] == "0 30 2 * * 1,2,3,4,5"
    assert functions["every_quarter"].get_settings_dict("retry_policy") is None  # retries=0
    assert _bindings(functions["on_photo"])["blob"]["path"] == "photos/raw/{name}.jpg"
    assert _bindings(functions["on_photo_deleted"])["event"]["type"] == "eventGridTrigger"
    assert functions["weekdays"].get_settings_dict("retry_policy") == {
        "setting_name": "retry_policy",
        "strategy": "fixed_delay",
        "max_retry_count": "2",
        "delay_interval": "00:00:10",
    }


# -- invoked through the index with real azure.functions objects -------------------------------------


def _call(functions: dict[str, Any], name: str, *args: Any, retry_count: int = 0) -> Any:
    """Call the function as the worker does, with a fresh `Out` for its dead-letter binding unless given."""
    if "dead" in _bindings(functions[name]) and len(args) == 1:
        args = (*args, Captured())
    return functions[name].get_user_function()(*args, HostContext(name, retry_count))


def test_shop_http_functions_answer_through_the_index(
    shop_app: Any, indexed: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shop.functions

    monkeypatch.setattr(shop.functions, "DATA_DIR", tmp_path)
    functions = indexed(shop_app)
    with local_state(tmp_path), emitted():  # an order starts a workflow: its store, and what it sends
        order = {"id": "o-1", "customer": "c", "lines": [{"sku": "w", "quantity": 2}]}
        created = _call(
            functions,
            "create_order",
            func.HttpRequest(
                "POST",
                "https://shop.azurewebsites.net/orders",
                headers={"Content-Type": "application/json"},
                body=json.dumps(order).encode(),
            ),
        )
        assert isinstance(created, func.HttpResponse) and created.status_code == 201
        assert json.loads(created.get_body()) == {"id": "o-1", "lines": 1} and created.mimetype == "application/json"
        found = _call(
            functions,
            "get_order",
            func.HttpRequest(
                "GET", "https://shop.azurewebsites.net/orders/o-1", body=b"", route_params={"order_id": "o-1"}
            ),
        )
        assert found.status_code == 200 and json.loads(found.get_body())["customer"] == "c"
        bad = _call(
            functions,
            "create_order",
            func.HttpRequest("POST", "https://shop.azurewebsites.net/orders", body=b'{"id": ""}'),
        )
        assert bad.status_code == 400 and "Invalid request body" in json.loads(bad.get_body())["error"]


def test_shop_event_functions_run_through_the_index(
    shop_app: Any, indexed: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shop.functions

    monkeypatch.setattr(shop.functions, "DATA_DIR", tmp_path)
    functions = indexed(shop_app)
    order = {"id": "o-2", "customer": "c", "lines": [{"sku": "w", "quantity": 1}]}
    poison = Captured()
    _call(
        functions,
        "fulfil",
        QueueMessage(
            id="m-1", body=json.dumps(order), dequeue_count=2, insertion_time=datetime(2024, 5, 1, tzinfo=timezone.utc)
        ),
        poison,
    )
    assert poison.value is None
    assert json.loads((tmp_path / "fulfilled.jsonl").read_text()) == {"id": "o-2", "event_id": "m-1", "attempt": 2}
    recalled = {**order, "lines": [{"sku": "recalled-widget", "quantity": 1}]}
    _call(functions, "fulfil", QueueMessage(id="m-2", body=json.dumps(recalled), dequeue_count=1), poison)
    letter = CloudEvent.from_json(poison.value)  # dead-lettered at once, and the invocation succeeded
    assert (letter.id, letter.data) == ("m-2", recalled)
    assert dead_letter_info(letter) == {
        "reason": letter.extensions["deadletterreason"],
        "function": "fulfil",
        "attempt": 1,
    }
    _call(functions, "sweep", TimerRequest(past_due=False))
    _call(functions, "nightly_report", TimerRequest(past_due=True))
    assert len((tmp_path / "sweeps.jsonl").read_text().splitlines()) == 1
    assert json.loads((tmp_path / "reports.jsonl").read_text())["orders"] == 0
    _call(
        functions,
        "on_upload",
        func.blob.InputStream(
            data=b"hello",
            name="uploads/in/a.txt",
            uri="https://acct.blob.core.windows.net/uploads/in/a.txt",
            length=5,
            blob_properties={
                "ContentType": "text/plain",
                "ETag": '"0x8D9"',
                "BlobType": "BlockBlob",
                "LastModified": "2024-05-01T10:00:00+00:00",
            },
        ),
    )
    assert json.loads((tmp_path / "uploads.jsonl").read_text()) == {"bucket": "uploads", "key": "in/a.txt", "size": 5}
    blob_event = _load(EXAMPLES / "event-grid-schema" / "blob_created.json")
    _call(functions, "notify", _library_event(blob_event))
    assert json.loads((tmp_path / "notifications.jsonl").read_text()) == {
        "type": "Microsoft.Storage.BlobCreated",
        "id": blob_event["id"],
        "source": blob_event["topic"],
    }


def test_every_http_kind_through_the_index(every_app: Any, indexed: Any, every_module: Any) -> None:
    functions = indexed(every_app)
    got = _call(
        functions,
        "get_item",
        func.HttpRequest(
            "GET",
            "https://every.azurewebsites.net/items/7?tag=a&tag=b",
            params={"tag": "b"},
            route_params={"item_id": "7"},
            headers={"X-Trace": "t"},
            body=b"",
        ),
    )
    assert json.loads(got.get_body()) == {"id": "7", "tags": ["a", "b"]}
    assert got.headers.get_all("set-cookie") == ["a=1", "b=2"]
    request = every_module.SEEN[0][1]
    assert (request.method, request.path, request.headers["x-trace"]) == ("GET", "/items/7", "t")
    added = _call(functions, "add_item", func.HttpRequest("POST", "https://x/items", body=b'{"name": "pen"}'))
    assert added.status_code == 201 and json.loads(added.get_body()) == {"added": "pen"}
    invalid = _call(functions, "add_item", func.HttpRequest("POST", "https://x/items", body=b"{not json"))
    assert invalid.status_code == 400 and "not valid JSON" in json.loads(invalid.get_body())["error"]
    served = _call(
        functions,
        "files",
        func.HttpRequest("DELETE", "https://x/files/a/b.txt", body=b"", route_params={"path": "a/b.txt"}),
    )
    assert served.get_body() == b"DELETE a/b.txt" and served.mimetype == "text/plain"
    event = _call(
        functions,
        "receive_event",
        func.HttpRequest(
            "POST",
            "https://x/events",
            body=b'{"total": 3}',
            headers={
                "ce-specversion": "1.0",
                "ce-id": "e1",
                "ce-source": "/s",
                "ce-type": "t",
                "content-type": "application/json",
            },
        ),
    )
    assert json.loads(event.get_body()) == {"id": "e1", "total": 3}
    not_an_event = _call(functions, "receive_event", func.HttpRequest("POST", "https://x/events", body=b"{}"))
    assert not_an_event.status_code == 400 and json.loads(not_an_event.get_body())["attribute"] == "specversion"


def test_queue_outcomes_through_the_index(every_app: Any, indexed: Any, every_module: Any) -> None:
    functions = indexed(every_app)
    poison = Captured()
    _call(functions, "work", QueueMessage(id="q1", body=b'{"n": 1}', dequeue_count=3), poison)
    event, attempt = every_module.SEEN[-1][1]
    assert (event.id, event.type, event.data, attempt, poison.value) == (
        "q1",
        "com.microsoft.azure.storage.queue.message",
        {"n": 1},
        3,
        None,
    )
    with pytest.raises(Exception, match="did not acknowledge queue message q2: retry"):
        _call(functions, "work", QueueMessage(id="q2", body=b'{"fail": "retry"}', dequeue_count=1), poison)
    assert poison.value is None
    _call(functions, "work", QueueMessage(id="q3", body=b'{"fail": "retry"}', dequeue_count=5), poison)
    last = CloudEvent.from_json(poison.value)  # the last of 5 attempts: its dead letter to the poison queue
    assert (last.id, last.data, dead_letter_info(last)) == (
        "q3",
        {"fail": "retry"},
        {"reason": "try again", "function": "work", "attempt": 5},
    )
    dead = Captured()
    _call(functions, "work", QueueMessage(id="q4", body=b'{"fail": "dead"}', dequeue_count=1), dead)
    assert dead_letter_info(CloudEvent.from_json(dead.value)) == {"reason": "never", "function": "work", "attempt": 1}
    undecodable = Captured()
    _call(functions, "work", QueueMessage(id="q5", body=b"not json", dequeue_count=1), undecodable)
    text = CloudEvent.from_json(undecodable.value)  # CloudEvent[dict] cannot hold text: dead-lettered, not retried
    assert (text.id, text.data, text.datacontenttype) == ("q5", "not json", "text/plain; charset=utf-8")
    assert "not valid JSON" in text.extensions["deadletterreason"]
    carried = CloudEvent(id="c1", source="//gcp/pubsub/x", type="com.example.t", data={"n": 2})
    _call(functions, "work", QueueMessage(id="q6", body=carried.to_json(), dequeue_count=1), Captured())
    assert every_module.SEEN[-1][1][0] == carried
    slow_poison = Captured()
    with pytest.raises(Exception, match="RuntimeError"):
        _call(functions, "slow", QueueMessage(id="s1", body=b"x", dequeue_count=1), slow_poison)
    _call(functions, "slow", QueueMessage(id="s1", body=b"x", dequeue_count=2), slow_poison)
    assert CloudEvent.from_json(slow_poison.value).data == "x"


def test_topic_schedule_and_storage_through_the_index(every_app: Any, indexed: Any, every_module: Any) -> None:
    functions = indexed(every_app)
    cloud = _load(CLOUD_EVENTS["beb21a5e-401e-002b-3749-928517060431"])
    _call(functions, "on_news", _library_event(cloud))
    event, ctx = every_module.SEEN[-1][1]
    assert (event.id, event.source, ctx.invocation_id, ctx.provider) == (
        cloud["id"],
        cloud["source"],
        "inv-on_news",
        "azure",
    )
    _call(functions, "every_quarter", TimerRequest(past_due=False))
    tick = every_module.SEEN[-1][1]
    assert tick.data.schedule == "rate(15 minutes)" and tick.data.name == "every_quarter"
    assert tick.data.scheduled_time.endswith(":00Z") and tick.id == f"every_quarter:{tick.data.scheduled_time}"
    _call(functions, "weekdays", TimerRequest(past_due=False), retry_count=1)
    photo = func.blob.InputStream(
        data=b"\xff\xd8",
        name="photos/raw/cat.jpg",
        uri="https://acct.blob.core.windows.net/photos/raw/cat.jpg",
        length=2,
        blob_properties={"ContentType": "image/jpeg", "ETag": "0x1"},
    )
    _call(functions, "on_photo", photo)
    stored = every_module.SEEN[-1][1]
    assert stored.data == StorageObject("photos", "raw/cat.jpg", 2, "0x1", "image/jpeg", "created")
    assert stored.source == "https://acct.blob.core.windows.net" and stored.id == "0x1"
    deleted = _load(EXAMPLES / "blob_deleted.json")
    elsewhere = {
        **deleted,
        "subject": "/blobServices/default/containers/photos/blobs/raw/x.png",
        "data": {**deleted["data"], "url": "https://acct.blob.core.windows.net/photos/raw/x.png"},
    }
    _call(functions, "on_photo_deleted", _library_event(elsewhere))
    assert every_module.SEEN[-1][1].data == StorageObject(
        "photos",
        "raw/x.png",
        17555,
        "0x8D96061B33FE1D2",
        deleted["data"]["contentType"],
        "deleted",
        "2021-08-16T02:58:18.503829Z",
    )
    count = len(every_module.SEEN)
    _call(functions, "on_photo_deleted", _library_event(deleted))  # another container: not this function's
    assert len(every_module.SEEN) == count
