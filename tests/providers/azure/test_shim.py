"""Handlers without a Context are called directly by the shim (no Result, no Context per invocation):
every outcome still follows the dispatch rules, through the generated function_app.py and real
`azure.functions` objects."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.queue import QueueMessage
from azure.functions.servicebus import ServiceBusMessage
from portable_fn_azure.shim import event_grid_entry

from portable_fn import StorageObject, function, storage
from portable_fn.app import App, load_app
from portable_fn.runtime import spec_of
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.dead_letters import dead_letter_info

from .host_objects import Captured, HostContext

OUTCOMES = Path(__file__).resolve().parent / "apps" / "outcomes"


@pytest.fixture
def functions(indexed: Callable[[App], dict[str, Any]]) -> dict[str, Any]:
    app = load_app(OUTCOMES)  # puts the app's directory on sys.path
    import outcomes

    outcomes.SEEN.clear()
    return {name: _with_context(fn.get_user_function()) for name, fn in indexed(app).items()}


def _with_context(function: Callable[..., Any]) -> Callable[..., Any]:
    return lambda *args: function(*args, HostContext())


@pytest.mark.parametrize("ask, status", [(None, 200), ("retry", 503), ("dead", 422), ("crash", 500)])
def test_http_outcomes(functions: dict[str, Any], ask: str | None, status: int) -> None:
    answer = functions["act"](func.HttpRequest("POST", "https://x/act", body=json.dumps({"ask": ask}).encode()))
    assert answer.status_code == status
    assert answer.status_code == 200 or json.loads(answer.get_body())["error"]


def test_http_bad_json_is_a_400(functions: dict[str, Any]) -> None:
    answer = functions["act"](func.HttpRequest("POST", "https://x/act", body=b"{nope"))
    assert answer.status_code == 400 and "not valid JSON" in json.loads(answer.get_body())["error"]


@pytest.mark.parametrize(
    "ask, dequeue_count, raised, poisoned",
    [
        (None, 1, False, False),
        ("retry", 1, True, False),
        ("retry", 3, False, True),
        ("dead", 1, False, True),
        ("crash", 1, True, False),
    ],
)
def test_queue_outcomes(
    functions: dict[str, Any], ask: str | None, dequeue_count: int, raised: bool, poisoned: bool
) -> None:
    import outcomes

    body = json.dumps({"ask": ask})
    poison = Captured()
    message = QueueMessage(id="m", body=body.encode(), dequeue_count=dequeue_count)
    if raised:
        with pytest.raises(Exception, match="did not acknowledge queue message m"):
            functions["act_on_message"](message, poison)
    else:
        functions["act_on_message"](message, poison)
    if poisoned:  # the dead letter: the message's CloudEvent with why, by whom, on which attempt
        letter = CloudEvent.from_json(poison.value)
        assert (letter.id, letter.data) == ("m", {"ask": ask})
        assert dead_letter_info(letter) == {
            "reason": "never" if ask == "dead" else "later",
            "function": "act_on_message",
            "attempt": dequeue_count,
        }
    else:
        assert poison.value is None
    delivered = ["m"] if ask is None else []
    assert delivered == outcomes.SEEN


@pytest.mark.parametrize("ask", [None, "retry", "dead", "crash"])
def test_event_grid_outcomes(functions: dict[str, Any], ask: str | None) -> None:
    import outcomes

    delivery = {
        "id": "e",
        "topic": "/t",
        "subject": "s",
        "eventType": "t.x",
        "eventTime": "2024-05-01T10:00:00Z",
        "data": {"ask": ask},
        "dataVersion": "1",
    }
    event = EventGridEventInConverter.decode(Datum(json.dumps(delivery), "json"), trigger_metadata={})
    dead = Captured()
    if ask in ("retry", "crash"):  # raised: Event Grid's retry policy delivers it again
        with pytest.raises(Exception, match="did not acknowledge Event Grid event e"):
            functions["act_on_event"](event, dead)
        assert dead.value is None
    else:  # acknowledged, or written to the function's dead-letter queue and so acknowledged too
        functions["act_on_event"](event, dead)
        assert (dead.value is not None) == (ask == "dead")
    seen = [] if ask else ["e"]
    assert seen == outcomes.SEEN


@pytest.mark.parametrize(
    "ask, delivery_count, raised, dead_lettered",
    [
        (None, 1, False, False),
        ("retry", 1, True, False),  # abandoned: Service Bus delivers it again
        ("retry", 3, False, True),  # the function's last attempt (retries=2)
        ("dead", 1, False, True),  # at once, with the handler's reason
        ("crash", 2, True, False),
        ("crash", 3, False, True),
    ],
)
@pytest.mark.parametrize("transport", ["queue_transport", "topic_transport"])
def test_service_bus_outcomes(
    indexed: Callable[[App], dict[str, Any]],
    transport: str,
    ask: str | None,
    delivery_count: int,
    raised: bool,
    dead_lettered: bool,
) -> None:
    """A Service Bus message follows the Storage Queue rule: its dead letter goes to the function's own
    Storage Queue through the output binding, and the invocation returns, so the host completes it."""
    app = load_app(OUTCOMES)
    app.config = app.config.model_copy(update={"azure": {**app.config.azure, transport: "service_bus"}})
    import outcomes

    outcomes.SEEN.clear()
    name = "act_on_message" if transport == "queue_transport" else "act_on_event"
    receive = _with_context(indexed(app)[name].get_user_function())
    message = ServiceBusMessage(
        body=json.dumps({"ask": ask}).encode(),
        message_id="sb",
        delivery_count=delivery_count,
        application_properties={},
        user_properties={},
    )
    dead = Captured()
    if raised:
        with pytest.raises(Exception, match="did not acknowledge Service Bus message sb"):
            receive(message, dead)
    else:
        receive(message, dead)
    if dead_lettered:
        letter = CloudEvent.from_json(dead.value)
        assert (letter.id, letter.data) == ("sb", {"ask": ask})
        assert dead_letter_info(letter) == {
            "reason": {"retry": "later", "dead": "never", "crash": "RuntimeError: boom"}[str(ask)],
            "function": name,
            "attempt": delivery_count,
        }
    else:
        assert dead.value is None
    delivered = ["sb"] if ask is None else []
    assert delivered == outcomes.SEEN


def test_a_dead_letter_read_from_the_poison_queue_is_that_event(functions: dict[str, Any]) -> None:
    """A function on `<queue>-poison` gets exactly the dead-lettered event, extensions included."""
    from portable_fn_azure.events import queue_message_to_cloudevent

    poison = Captured()
    functions["act_on_message"](QueueMessage(id="m", body=b'{"ask": "dead"}', dequeue_count=1), poison)
    letter = CloudEvent.from_json(poison.value)
    assert queue_message_to_cloudevent(QueueMessage(id="p", body=poison.value), "/queues/acts-poison") == letter


def test_a_message_without_a_cloudevent_is_dead_lettered_whole(functions: dict[str, Any]) -> None:
    """A message that cannot be decoded (here a CloudEvent without its source) is carried in an event of the
    project's own type, with its raw body and the reason."""
    poison = Captured()
    body = '{"specversion": "1.0", "id": "x", "type": "t"}'
    functions["act_on_message"](QueueMessage(id="m-9", body=body.encode(), dequeue_count=2), poison)
    letter = CloudEvent.from_json(poison.value)
    assert (letter.type, letter.id, letter.source, letter.data) == (
        "dev.portable-fn.undecodable",
        "m-9",
        "/queues/acts",
        body,
    )
    assert dead_letter_info(letter) == {
        "reason": letter.extensions["deadletterreason"],
        "function": "act_on_message",
        "attempt": 2,
    }
    assert "'source'" in letter.extensions["deadletterreason"]


@pytest.mark.parametrize("body", ['{"specversion": "1.0"}', '{"specversion": "1.0", "id": "x", "source": "/s"}'])
def test_a_message_holding_a_broken_cloudevent_is_dead_lettered_as_on_every_cloud(
    functions: dict[str, Any], body: str
) -> None:
    # Without both `id` and `type` it reached the handler as plain data; AWS and GCP refuse it.
    poison = Captured()
    functions["act_on_message"](QueueMessage(id="m-7", body=body.encode(), dequeue_count=1), poison)
    letter = CloudEvent.from_json(poison.value)
    assert (letter.type, letter.data) == ("dev.portable-fn.undecodable", body)


def test_a_message_nested_past_the_json_depth_is_dead_lettered_whole(functions: dict[str, Any]) -> None:
    # 990 levels were read, delivered, and then writing the dead letter raised RecursionError out of the entry.
    poison = Captured()
    body = '{"specversion": "1.0", "id": "x", "source": "/s", "type": "t", "data": ' + "[" * 990 + "]" * 990 + "}"
    functions["act_on_message"](QueueMessage(id="m-6", body=body.encode(), dequeue_count=1), poison)
    letter = CloudEvent.from_json(poison.value)  # past the depth it is not JSON: the message arrives as its text
    assert (letter.type, letter.data) == ("com.microsoft.azure.storage.queue.message", body)


def test_a_body_that_is_no_text_is_dead_lettered_as_bytes(functions: dict[str, Any]) -> None:
    poison = Captured()
    functions["act_on_message"](QueueMessage(id="m-8", body=b"\xff\xfe", dequeue_count=1), poison)
    letter = CloudEvent.from_json(poison.value)
    assert (letter.id, letter.data, letter.datacontenttype) == ("m-8", b"\xff\xfe", "application/octet-stream")


def test_an_event_grid_event_as_json_that_cannot_be_read_keeps_its_id() -> None:
    """What `portable-fn invoke` hands over is a dict: dead-lettered under a new uuid though its id was there."""
    from portable_fn_azure.shim import undecodable_event

    assert undecodable_event({"id": "d1", "eventTime": "nope", "data": {}}, "/grid").id == "d1"


@pytest.mark.parametrize(("prefix", "runs"), [("%41/", True), ("A/", False)])
def test_a_deleted_blob_is_filtered_by_the_key_its_handler_gets(prefix: str, runs: bool) -> None:
    """The blob `%41/report.txt` (its URL `%2541/...`): the filter decoded the subject as well, so the blob ran for
    a prefix `A/` and was dropped, unseen, by the function whose prefix `%41/` names it."""
    seen: list[str] = []

    @function(trigger=storage("uploads", on="deleted", prefix=prefix))
    def gone(event: CloudEvent[StorageObject]) -> None:
        seen.append(event.data.key)

    grid = {
        "topic": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/acct",
        "subject": "/blobServices/default/containers/uploads/blobs/%41/report.txt",
        "eventType": "Microsoft.Storage.BlobDeleted",
        "id": "e1",
        "eventTime": "2026-05-01T10:00:00Z",
        "dataVersion": "",
        "metadataVersion": "1",
        "data": {"api": "DeleteBlob", "url": "https://acct.blob.core.windows.net/uploads/%2541/report.txt"},
    }
    entry = event_grid_entry(spec_of(gone), "dlq", blobs=("uploads", prefix, ""))
    dead = Captured()
    entry(EventGridEventInConverter.decode(Datum(json.dumps(grid), "json"), trigger_metadata={}), dead, None)
    assert seen == (["%41/report.txt"] if runs else []) and dead.value is None
