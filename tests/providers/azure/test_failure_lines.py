"""An Azure event that was not acknowledged is one log line, as on AWS and GCP: written by the shim once it
knows what becomes of the event, with the call's facts (function, invocation and event id, trace, attempt),
at ERROR with the traceback when the handler crashed, at WARNING for its own Retry or DeadLetter or data
that could not be read. Through the generated function_app.py, as the host indexes it, with real
`azure.functions` objects; the lines are the JSON the deployed function writes."""

from __future__ import annotations

import gc
import inspect
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import azure.functions as func
import pytest
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.queue import QueueMessage
from azure.functions.servicebus import ServiceBusMessage
from azure.functions.timer import TimerRequest
from portable_fn_azure.names import dead_letter_queue
from portable_fn_azure.shim import DeliveryFailed

from portable_fn.app import App, load_app
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.dead_letters import dead_letter_info
from portable_fn.runtime.pipeline import Call, Middleware, remove, use

from ... import json_lines
from .host_objects import Captured, HostContext

FAILING = Path(__file__).resolve().parent / "apps" / "failing"
EXAMPLES = (
    Path(__file__).resolve().parents[2]
    / "data"
    / "azure"
    / "azure-rest-api-specs"
    / "specification"
    / "eventgrid"
    / "data-plane"
    / "Microsoft.Storage"
    / "stable"
    / "2018-01-01"
    / "examples"
)
HOST = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CRASH = "RuntimeError: boom"
# the facts every line has, compared exactly (time, span id and the traceback's text vary)
KEYS = ("level", "logger", "message", "function", "invocation_id", "event_id", "trace_id", "operation_Id", "attempt")


class Host(HostContext):
    """The worker's Context: the invocation id, the host's W3C trace context and its retry count."""

    def __init__(self, name: str, retry_count: int = 0) -> None:
        super().__init__(name)
        self._trace = SimpleNamespace(trace_parent=HOST, trace_state="", attributes={})
        self._retry = SimpleNamespace(retry_count=retry_count, max_retry_count=2)

    invocation_id = property(lambda self: f"inv-{self._name}")
    trace_context = property(lambda self: self._trace)
    retry_context = property(lambda self: self._retry)


def written(name: str = "portable_fn") -> AbstractContextManager[list[dict[str, Any]]]:
    """The JSON lines logger `name` writes, as on azure (`tests/json_lines.py`)."""
    return json_lines.written(name, "azure")


@pytest.fixture
def indexed_failing(indexed: Callable[[App], dict[str, Any]]) -> Callable[[App], dict[str, Callable[..., Any]]]:
    def index(app: App) -> dict[str, Callable[..., Any]]:
        import failing

        failing.KEPT.clear()
        failing.TICK.clear()
        return {name: fn.get_user_function() for name, fn in indexed(app).items()}

    return index


@pytest.fixture
def functions(indexed_failing: Callable[[App], dict[str, Callable[..., Any]]]) -> dict[str, Callable[..., Any]]:
    return indexed_failing(load_app(FAILING))  # puts the app's directory on sys.path


def deliver(entry: Callable[..., Any], *args: Any, retry_count: int = 0) -> tuple[list[dict[str, Any]], str | None]:
    """The lines one invocation writes, and what it raised to the host (None when it returned); a function
    with a dead-letter binding (`dead`) and no `Out` given gets one (`DEAD`, what it set)."""
    name = entry.__name__
    if len(args) == 1 and "dead" in inspect.signature(entry).parameters:
        DEAD.value = None
        args = (*args, DEAD)
    with written() as lines:
        try:
            entry(*args, Host(name, retry_count))
        except DeliveryFailed as failed:
            return lines, str(failed)
    return lines, None


DEAD = Captured()


def line(lines: list[dict[str, Any]], crashed: bool) -> dict[str, Any]:
    """The one line, its facts; its traceback down to the handler when it crashed, none otherwise."""
    (only,) = lines
    if crashed:
        assert only["exception"].startswith("Traceback (most recent call last):")
        assert only["exception"].rstrip().endswith("RuntimeError: boom") and "in _act" in only["exception"]
    else:
        assert "exception" not in only
    return {key: only.get(key) for key in KEYS}


def facts(level: str, message: str, function: str, event_id: str | None, attempt: int) -> dict[str, Any]:
    return {
        "level": level,
        "logger": "portable_fn.azure",
        "message": message,
        "function": function,
        "invocation_id": f"inv-{function}",
        "event_id": event_id,
        "trace_id": TRACE,
        "operation_Id": TRACE,
        "attempt": attempt,
    }


def grid_event(body: dict[str, Any]) -> Any:
    """The object the worker hands an `eventGridTrigger` function (either schema), made by the library."""
    return EventGridEventInConverter.decode(Datum(json.dumps(body), "json"), trigger_metadata={})


# -- Storage Queue: retried by the queue, or moved to the poison queue by the shim ----------------------


@pytest.mark.parametrize(
    "ask, dequeue_count, level, fate, reason",
    [
        ("crash", 1, "ERROR", "retry (attempt 1 of 3)", CRASH),
        ("retry", 2, "WARNING", "retry (attempt 2 of 3)", "stock arrives tomorrow"),
        ("dead", 1, "WARNING", "dead_letter (moved to orders-poison)", "no such order"),
        ("crash", 3, "ERROR", "retry (moved to orders-poison)", CRASH),  # the last attempt
        ("retry", 3, "WARNING", "retry (moved to orders-poison)", "stock arrives tomorrow"),
    ],
)
def test_a_queue_message_that_fails_is_one_line_saying_what_becomes_of_it(
    functions: dict[str, Any], ask: str, dequeue_count: int, level: str, fate: str, reason: str
) -> None:
    poison = Captured()
    message = QueueMessage(id="m-1", body=json.dumps({"ask": ask}).encode(), dequeue_count=dequeue_count)
    lines, raised = deliver(functions["take"], message, poison)
    assert line(lines, crashed=level == "ERROR") == facts(
        level, f"function take: queue event m-1 -> {fate}: {reason}", "take", "m-1", dequeue_count
    )
    if "poison" in fate:  # dead-lettered now: the invocation succeeds
        assert raised is None
        assert dead_letter_info(CloudEvent.from_json(poison.value)) == {
            "reason": reason,
            "function": "take",
            "attempt": dequeue_count,
        }
    else:  # raised, so that the queue makes it visible again
        assert poison.value is None
        assert raised == f"Function 'take' did not acknowledge queue message m-1: retry ({reason})"


def test_a_queue_message_without_a_cloudevent_is_one_warning_naming_it(functions: dict[str, Any]) -> None:
    poison = Captured()
    body = b'{"specversion": "1.0", "id": "x", "type": "t"}'
    lines, raised = deliver(functions["take"], QueueMessage(id="m-2", body=body, dequeue_count=1), poison)
    reason = (
        "CloudEvent attribute 'source' is missing; every CloudEvent needs 'id', 'source', 'type' and 'specversion'."
    )
    # the call has no event, so no event id among its facts: the line names the message, as its dead letter
    assert line(lines, crashed=False) == facts(
        "WARNING", f"function take: queue event m-2 -> dead_letter (moved to orders-poison): {reason}", "take", None, 1
    )
    assert raised is None and json.loads(poison.value)["id"] == "m-2"


# -- Service Bus, Event Grid (both schemas), blob, timer: raised for the transport's redelivery ---------


@pytest.mark.parametrize(
    "ask, delivery_count, level, reason",
    [
        ("crash", 2, "ERROR", CRASH),  # raised: Service Bus delivers it again
        ("dead", 2, "WARNING", "no such order"),  # the function's own dead-letter queue, now
        ("crash", 3, "ERROR", CRASH),  # the last attempt: dead-lettered too
    ],
)
def test_a_service_bus_message_that_fails_is_one_line_saying_what_becomes_of_it(
    indexed_failing: Callable[[App], dict[str, Any]], ask: str, delivery_count: int, level: str, reason: str
) -> None:
    app = load_app(FAILING)
    app.config = app.config.model_copy(update={"azure": {**app.config.azure, "queue_transport": "service_bus"}})
    receive = indexed_failing(app)["take"]
    message = ServiceBusMessage(
        body=json.dumps({"ask": ask}).encode(),
        message_id="sb-1",
        delivery_count=delivery_count,
        application_properties={},
        user_properties={},
    )
    dead = Captured()
    lines, raised = deliver(receive, message, dead)
    outcome = "retry" if ask == "crash" else "dead_letter"
    kept = ask == "dead" or delivery_count == 3
    fate = f"moved to {dead_letter_queue('take')}" if kept else f"attempt {delivery_count} of 3"
    assert line(lines, crashed=ask == "crash") == facts(
        level, f"function take: Service Bus event sb-1 -> {outcome} ({fate}): {reason}", "take", "sb-1", delivery_count
    )
    if kept:  # written to the dead-letter queue: the invocation succeeds, the host completes the message
        assert raised is None
        info = dead_letter_info(CloudEvent.from_json(dead.value))
        assert info == {"reason": reason, "function": "take", "attempt": delivery_count}
    else:
        assert dead.value is None
        assert raised == f"Function 'take' did not acknowledge Service Bus message sb-1: {outcome} ({reason})"


def test_an_event_grid_event_that_crashes_is_one_error_line(functions: dict[str, Any]) -> None:
    event = {
        "id": "e-1",
        "topic": "/t",
        "subject": "s",
        "eventType": "t.x",
        "eventTime": "2024-05-01T10:00:00Z",
        "data": {"ask": "crash"},
        "dataVersion": "1",
    }
    lines, raised = deliver(functions["on_news"], grid_event(event), retry_count=1)
    message = f"function on_news: Event Grid event e-1 -> retry (raised for redelivery): {CRASH}"
    assert line(lines, crashed=True) == facts("ERROR", message, "on_news", "e-1", 2)
    assert raised == f"Function 'on_news' did not acknowledge Event Grid event e-1: retry ({CRASH})"


CLOUD_EVENT = {
    "specversion": "1.0",
    "id": "c-1",
    "source": "/s",
    "type": "t",
    "time": "2024-05-01T10:00:00Z",
    "data": {"ask": "retry"},
}


def test_a_cloudevents_schema_event_that_asks_for_a_retry_is_one_warning(functions: dict[str, Any]) -> None:
    lines, raised = deliver(functions["on_news"], grid_event(CLOUD_EVENT))
    message = "function on_news: Event Grid event c-1 -> retry (raised for redelivery): stock arrives tomorrow"
    assert line(lines, crashed=False) == facts("WARNING", message, "on_news", "c-1", 1)
    assert raised is not None


def test_a_cloudevents_schema_event_that_cannot_be_read_is_one_warning(functions: dict[str, Any]) -> None:
    lines, raised = deliver(functions["on_news"], grid_event({**CLOUD_EVENT, "type": ""}))
    (only,) = lines
    assert (only["level"], only["logger"], only["function"], only["attempt"]) == (
        "WARNING",
        "portable_fn.azure",
        "on_news",
        1,
    )
    moved = f"(moved to {dead_letter_queue('on_news')}): "
    assert only["message"].startswith("function on_news: Event Grid event c-1 -> dead_letter " + moved)
    assert "'type'" in only["message"] and "exception" not in only
    assert raised is None  # written to the function's dead-letter queue: never delivered again
    letter = CloudEvent.from_json(DEAD.value)
    assert letter.type == "dev.portable-fn.undecodable" and json.loads(letter.data)["data"]["ask"] == "retry"
    assert dead_letter_info(letter) == {"reason": only["message"].split(moved)[1], "function": "on_news", "attempt": 1}


def test_a_blob_that_crashes_its_function_is_one_error_line(functions: dict[str, Any]) -> None:
    blob = func.blob.InputStream(
        data=b"x",
        name="uploads/crash.txt",
        uri="https://acct.blob.core.windows.net/uploads/crash.txt",
        length=1,
        blob_properties={"ContentType": "text/plain", "ETag": "0x1"},
    )
    lines, raised = deliver(functions["on_upload"], blob)
    message = f"function on_upload: blob event 0x1 -> retry (raised for redelivery): {CRASH}"
    assert line(lines, crashed=True) == facts("ERROR", message, "on_upload", "0x1", 1)
    assert raised is not None


def test_a_deleted_blob_event_that_is_dead_lettered_is_one_warning(functions: dict[str, Any]) -> None:
    deleted = json.loads((EXAMPLES / "blob_deleted.json").read_text(encoding="utf-8"))
    ours = {
        **deleted,
        "subject": "/blobServices/default/containers/uploads/blobs/dead.txt",
        "data": {**deleted["data"], "url": "https://acct.blob.core.windows.net/uploads/dead.txt"},
    }
    lines, raised = deliver(functions["on_gone"], grid_event(ours))
    event_id = deleted["id"]
    moved = f"moved to {dead_letter_queue('on_gone')}"
    message = f"function on_gone: Event Grid event {event_id} -> dead_letter ({moved}): no such order"
    assert line(lines, crashed=False) == facts("WARNING", message, "on_gone", event_id, 1)
    assert raised is None and dead_letter_info(CloudEvent.from_json(DEAD.value))["reason"] == "no such order"


def test_a_timer_firing_that_crashes_is_one_error_line_with_the_hosts_attempt(functions: dict[str, Any]) -> None:
    import failing

    failing.TICK.append("crash")
    lines, raised = deliver(functions["tick"], TimerRequest(past_due=False), retry_count=1)
    (only,) = lines
    event_id = only["event_id"]
    assert event_id.startswith("tick:") and event_id.endswith(":00Z")
    message = f"function tick: timer event {event_id} -> retry (attempt 2 of 3): {CRASH}"  # max_retry_count 2
    assert line(lines, crashed=True) == facts("ERROR", message, "tick", event_id, 2)
    assert raised == f"Function 'tick' did not acknowledge timer event {event_id}: retry ({CRASH})"


class Broken(Middleware):
    """A middleware that cannot run (its store is down): the event is retried."""

    def before(self, call: Call) -> None:
        raise RuntimeError("store down")


def test_an_event_a_middleware_failed_is_one_error_line_with_the_middlewares_traceback(
    functions: dict[str, Any],
) -> None:
    broken = use(Broken())
    try:
        message = QueueMessage(id="m-1", body=b"{}", dequeue_count=1)
        lines, raised = deliver(functions["take"], message, Captured())
    finally:
        remove(broken)
    (only,) = lines
    reason = "middleware failed: RuntimeError: store down"
    assert {key: only.get(key) for key in KEYS} == facts(
        "ERROR", f"function take: queue event m-1 -> retry (attempt 1 of 3): {reason}", "take", "m-1", 1
    )
    assert only["exception"].rstrip().endswith("RuntimeError: store down") and "in before" in only["exception"]
    assert raised == f"Function 'take' did not acknowledge queue message m-1: retry ({reason})"


# -- what is not an event's line --------------------------------------------------------------------------


def test_an_acknowledged_event_writes_no_line(functions: dict[str, Any]) -> None:
    lines, raised = deliver(functions["take"], QueueMessage(id="m-3", body=b"{}", dequeue_count=1), Captured())
    assert (lines, raised) == ([], None)


def test_a_request_is_unchanged_its_crash_one_error_line_where_it_becomes_a_500(functions: dict[str, Any]) -> None:
    take = functions["take_request"]
    with written() as lines:
        crashed = take(func.HttpRequest("POST", "https://x/take", body=b'{"ask": "crash"}'), Host("take_request"))
        retried = take(func.HttpRequest("POST", "https://x/take", body=b'{"ask": "retry"}'), Host("take_request"))
    assert (crashed.status_code, retried.status_code) == (500, 503)
    (only,) = lines
    assert (only["level"], only["logger"], only["message"], only["trace_id"]) == (
        "ERROR",
        "portable_fn",
        "function take_request raised RuntimeError",
        TRACE,
    )
    assert only["exception"].rstrip().endswith("RuntimeError: boom")


# -- the frames go with the line ------------------------------------------------------------------------


@pytest.mark.parametrize("dequeue_count", [1, 3], ids=["raised", "poisoned"])
def test_once_the_line_is_written_the_crashed_frames_are_freed_without_the_garbage_collector(
    functions: dict[str, Any], dequeue_count: int
) -> None:
    import failing

    gc.collect()
    gc.disable()
    try:
        message = QueueMessage(id="m-1", body=b'{"ask": "crash"}', dequeue_count=dequeue_count)
        lines, _ = deliver(functions["take"], message, Captured())
        assert [entry["level"] for entry in lines] == ["ERROR"]
        assert [ref() for ref in failing.KEPT] == [None]  # only the handler's frame held it
    finally:
        gc.enable()
