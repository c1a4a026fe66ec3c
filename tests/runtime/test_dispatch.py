"""Dispatch: handlers get what their annotations ask for, and whatever happens becomes an outcome."""

from __future__ import annotations

import gc
import importlib
import importlib.util
import json
import logging
import re
import sys
import traceback
import weakref
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from portable_fn import (
    CloudEvent,
    Context,
    InvalidEventError,
    Request,
    ScheduleTick,
    StorageObject,
)
from portable_fn.runtime import (
    ACK,
    DEAD_LETTER,
    RETRY,
    DataValidationError,
    DeadLetter,
    FunctionSpec,
    Retry,
    call_batch,
    call_event,
    call_http,
    spec_of,
)
from portable_fn.runtime.dispatch import failure_of

HANDLERS = Path(__file__).with_name("handlers")
PACKAGE = "runtime_test_handlers"  # a name of its own, whatever else is on sys.path


def load_handlers(module: str) -> ModuleType:
    """Import tests/runtime/handlers/<module>.py as an app's module would be imported."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, HANDLERS / "__init__.py", submodule_search_locations=[str(HANDLERS)]
        )
        assert spec is not None and spec.loader is not None
        sys.modules[PACKAGE] = package = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(package)
    return importlib.import_module(f"{PACKAGE}.{module}")


events = load_handlers("events")
web = load_handlers("web")
models = load_handlers("models")


def spec(handler: Any) -> FunctionSpec:
    found = spec_of(handler)
    assert found is not None
    return found


def event(data: Any = None, id: str = "e1", type: str = "com.example.test", **attrs: Any) -> CloudEvent[Any]:
    return CloudEvent(id=id, source="/tests", type=type, data=data, **attrs)


# -- what the handler receives ----------------------------------------------------------------------


@pytest.mark.parametrize("data", [{"id": 7, "item": "pen"}, b'{"id": 7, "item": "pen"}', '{"id":7,"item":"pen"}'])
def test_pydantic_model_from_a_dict_bytes_or_text(data: Any) -> None:
    original = event(data)
    result = call_event(spec(events.take_order), original)
    assert result.outcome == ACK and result.ok and result.event_id == "e1"
    assert result.value == models.Order(id=7, item="pen", quantity=1)
    assert original.data == data  # the event the provider built is left as it was


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"id": "seven", "item": "pen"},
            r"^The event data is not a valid Order: id: Input should be a "
            r"valid integer",
        ),
        ({"id": 7}, r"^The event data is not a valid Order: item: Field required$"),
        (b"{not json", r"^The event data is not a valid Order: data: Invalid JSON"),
        ([1, 2], r"^The event data is not a valid Order: data: Input should be a valid dictionary"),
    ],
)
def test_invalid_pydantic_data_is_dead_lettered_with_the_reason(data: Any, message: str) -> None:
    result = call_event(spec(events.take_order), event(data))
    assert result.outcome == DEAD_LETTER
    assert result.reason is not None
    assert re.search(message, result.reason), result.reason
    assert isinstance(result.error, InvalidEventError)


def test_async_handler_with_context_by_annotation() -> None:
    ctx = Context(invocation_id="inv-1", function_name="take_order_async", provider="aws", attempt=2)
    for attempt in range(2):  # the thread's event loop is reused between calls
        result = call_event(spec(events.take_order_async), event({"id": attempt, "item": "pen"}), ctx)
        assert result.outcome == ACK
        order, got_ctx = result.value
        assert order.id == attempt and got_ctx is ctx


def test_context_by_name_and_unannotated_event() -> None:
    ctx = Context(function_name="unannotated")
    original = event(b"\x00raw")
    result = call_event(spec(events.unannotated), original, ctx)
    assert result.value == (original, ctx)


def test_context_is_made_up_when_the_provider_gives_none() -> None:
    tick, ctx = call_event(spec(events.sweep), event({"schedule": "cron(0 3 * * *)"})).value
    assert isinstance(ctx, Context) and ctx.function_name == "sweep" and ctx.attempt == 1
    assert isinstance(tick, ScheduleTick)


def test_a_handler_without_parameters() -> None:
    assert call_event(spec(events.no_parameters), event()).value == "ran"


def test_untyped_cloudevent_gets_the_data_as_it_came() -> None:
    for data in (b"\x00\x01", {"a": 1}, "text", None):
        assert call_event(spec(events.untyped), event(data)).value == data


def test_dataclass() -> None:
    result = call_event(spec(events.ship), event({"order_id": 1, "carrier": "ups", "unknown": True}))
    assert result.value == models.Shipment(order_id=1, carrier="ups")
    assert call_event(spec(events.ship), event(b'{"order_id": 2, "carrier": "dhl"}')).value.order_id == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"order_id": 1}, "The event data is not a valid Shipment: "),
        ([1], "The event data is not a valid Shipment: expected a JSON object, got list."),
        ("nope", "The event data is not valid JSON"),
    ],
)
def test_invalid_dataclass_data_is_dead_lettered(data: Any, message: str) -> None:
    result = call_event(spec(events.ship), event(data))
    assert result.outcome == DEAD_LETTER and result.reason is not None
    assert result.reason.startswith(message), result.reason


@pytest.mark.parametrize(
    ("handler", "data", "expected"),
    [
        ("as_dict", {"a": 1}, {"a": 1}),
        ("as_dict", b'{"a": 1}', {"a": 1}),
        ("as_dict", '{"a": 1}', {"a": 1}),
        ("as_str", "héllo", "héllo"),
        ("as_bytes", b"\x00\xff", b"\x00\xff"),
        ("as_bytes", "é", "é".encode()),
    ],
)
def test_plain_types(handler: str, data: Any, expected: Any) -> None:
    result = call_event(spec(getattr(events, handler)), event(data))
    assert result.outcome == ACK and result.value == expected and type(result.value) is type(expected)


@pytest.mark.parametrize(
    ("handler", "data", "reason"),
    [
        ("as_dict", [1, 2], "The event data must be dict, got list."),
        ("as_dict", b"not json", "The event data is not valid JSON"),
        ("as_str", {"a": 1}, "The event data must be str, got dict."),
        ("as_bytes", 5, "The event data must be bytes, got int."),
    ],
)
def test_plain_types_that_do_not_fit(handler: str, data: Any, reason: str) -> None:
    result = call_event(spec(getattr(events, handler)), event(data))
    assert result.outcome == DEAD_LETTER and result.reason is not None
    assert result.reason.startswith(reason), result.reason


def test_storage_object_view() -> None:
    result = call_event(
        spec(events.on_upload),
        event({"bucket": "uploads", "key": "in/a.png", "size": 3}, time="2024-01-01T00:00:00Z"),
    )
    assert result.value == StorageObject("uploads", "in/a.png", 3, time="2024-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("just text", "has no storage object data"),
        ({"what": "ever"}, "is not a storage event this version knows"),
        ({"s3": {"object": {"key": "a"}}}, "has malformed storage data"),  # no bucket
    ],
)
def test_storage_data_that_is_not_a_storage_object_is_dead_lettered(data: Any, reason: str) -> None:
    result = call_event(spec(events.on_upload), event(data))
    assert result.outcome == DEAD_LETTER and reason in (result.reason or "")


def test_schedule_tick_view() -> None:
    tick, _ = call_event(
        spec(events.sweep),
        event({"schedule": "cron(0 3 * * *)", "name": "sweep"}, time="2024-01-01T03:00:00Z"),
    ).value
    assert (tick.scheduled_time, tick.schedule, tick.name) == ("2024-01-01T03:00:00Z", "cron(0 3 * * *)", "sweep")
    bare, _ = call_event(spec(events.sweep), event(None, time="2024-01-01T03:00:00Z", subject="s")).value
    assert (bare.scheduled_time, bare.schedule, bare.name) == ("2024-01-01T03:00:00Z", None, "s")


# -- outcomes ---------------------------------------------------------------------------------------


def test_outcomes_of_one_event() -> None:
    decide = spec(events.decide)
    ok = call_event(decide, event({"action": "ok"}, id="a"))
    assert (ok.outcome, ok.value, ok.reason) == (ACK, "done a", None)

    retry = call_event(decide, event({"action": "retry"}, id="b"))
    assert (retry.outcome, retry.reason, retry.event_id) == (RETRY, "stock not there yet", "b")
    assert isinstance(retry.error, Retry) and retry.error.delay_s == 30

    dead = call_event(decide, event({"action": "dead"}, id="c"))
    assert (dead.outcome, dead.reason) == (DEAD_LETTER, "order was cancelled")
    assert isinstance(dead.error, DeadLetter)

    crash = call_event(decide, event({"action": "crash"}, id="d"))
    assert (crash.outcome, crash.reason) == (RETRY, "KeyError: 'sku'")
    assert isinstance(crash.error, KeyError)


def test_result_to_dict() -> None:
    decide = spec(events.decide)
    assert call_event(decide, event({"action": "ok"}, id="a")).to_dict() == {
        "outcome": "ack",
        "id": "a",
        "value": "done a",
    }
    assert call_event(decide, event({"action": "dead"}, id="c")).to_dict() == {
        "outcome": "dead_letter",
        "id": "c",
        "reason": "order was cancelled",
    }


def test_a_record_that_could_not_be_decoded_is_dead_lettered() -> None:
    problem = InvalidEventError("Record 2 is not valid JSON.")
    result = call_event(spec(events.decide), problem)
    assert (result.outcome, result.reason, result.error, result.event_id) == (
        DEAD_LETTER,
        "Record 2 is not valid JSON.",
        problem,
        None,
    )


def test_batch_gives_one_outcome_per_record_and_one_bad_record_stops_nothing() -> None:
    records: list[Any] = [
        event({"action": "ok"}, id="1"),
        event({"action": "crash"}, id="2"),
        InvalidEventError("record 3 is not JSON"),
        event({"action": "dead"}, id="4"),
        event(["not", "a", "dict"], id="5"),
        event({"action": "retry"}, id="6"),
        event({"action": "ok"}, id="7"),
    ]
    results = call_batch(spec(events.decide), records)
    assert [(r.outcome, r.event_id) for r in results] == [
        (ACK, "1"),
        (RETRY, "2"),
        (DEAD_LETTER, None),
        (DEAD_LETTER, "4"),
        (DEAD_LETTER, "5"),
        (RETRY, "6"),
        (ACK, "7"),
    ]
    assert results[-1].value == "done 7"


def test_ordered_batch_stops_at_the_first_failure_and_retries_the_rest() -> None:
    records: list[Any] = [
        event({"action": "ok"}, id="1"),
        event({"action": "retry"}, id="2"),
        event({"action": "ok"}, id="3"),
        InvalidEventError("record 4 is not JSON"),
    ]
    results = call_batch(spec(events.decide), records, ordered=True)
    assert [(r.outcome, r.event_id) for r in results] == [(ACK, "1"), (RETRY, "2"), (RETRY, "3"), (RETRY, None)]
    assert results[1].reason == "stock not there yet"
    assert results[2].value is None  # never called
    assert results[2].reason == "not attempted: an earlier message in this ordered batch failed"


def test_ordered_batch_where_a_record_is_dead_lettered() -> None:
    records = [event({"action": "dead"}, id="1"), event({"action": "ok"}, id="2")]
    results = call_batch(spec(events.decide), records, ordered=True)
    assert [r.outcome for r in results] == [DEAD_LETTER, RETRY]


def test_ordered_batch_without_failures_and_an_empty_batch() -> None:
    records = [event({"action": "ok"}, id=str(i)) for i in range(3)]
    assert [r.value for r in call_batch(spec(events.decide), records, ordered=True)] == ["done 0", "done 1", "done 2"]
    assert call_batch(spec(events.decide), []) == []


def test_batch_passes_the_context_to_every_record() -> None:
    ctx = Context(function_name="take_order_async")
    records = [event({"id": i, "item": "x"}, id=str(i)) for i in range(2)]
    assert [r.value[1] for r in call_batch(spec(events.take_order_async), records, ctx)] == [ctx, ctx]


# -- HTTP -------------------------------------------------------------------------------------------


def body_of(response: Any) -> Any:
    return json.loads(response.body)


def test_http_handler_returning_a_response() -> None:
    response = call_http(spec(web.create_order), Request("POST", "/orders", body=b'{"id": 5, "item": "cup"}'))
    assert response.status == 201
    assert response.headers["location"] == "/orders/5"
    assert body_of(response) == {"id": 5, "item": "cup", "quantity": 1}


def test_http_handler_returning_a_dict() -> None:
    request = Request("GET", "/search", query="tag=a&tag=b", headers={"Cookie": "user=ann"})
    response = call_http(spec(web.search), request)
    assert (response.status, response.headers["content-type"]) == (200, "application/json")
    assert body_of(response) == {"tags": ["a", "b"], "user": "ann"}


def test_http_handler_returning_none_is_204() -> None:
    response = call_http(spec(web.delete_order), Request("DELETE", "/orders/1"))
    assert (response.status, response.body) == (204, b"")


def test_async_http_handler_with_a_default_context() -> None:
    response = call_http(spec(web.hello), Request("GET", "/hello"))
    assert (response.status, response.body) == (200, b"hello from hello")


def test_malformed_json_body_is_400_with_the_reason() -> None:
    response = call_http(spec(web.echo_json), Request("POST", "/echo", body=b"{oops"))
    assert response.status == 400
    assert body_of(response)["error"].startswith("The request body is not valid JSON")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "Invalid request body: it is empty; send a JSON document with content-type: application/json."),
        (
            b"id=1&item=pen",
            "Invalid request body: it is not JSON (expected value at line 1 column 1); send a JSON document with "
            "content-type: application/json.",
        ),
        (b'{"id": 1}', "Invalid request body: item: Field required"),
    ],
)
def test_a_body_the_handler_validates_is_refused_saying_what_to_send(body: bytes, error: str) -> None:
    response = call_http(spec(web.create_validated_order), Request("POST", "/orders/validated", body=body))
    assert (response.status, body_of(response)["error"]) == (400, error)


def test_binary_mode_cloudevent_request() -> None:
    request = Request(
        "POST",
        "/events",
        body=b'{"id": 9, "item": "pen"}',
        headers={
            "ce-specversion": "1.0",
            "ce-id": "evt-1",
            "ce-source": "/shop",
            "ce-type": "order.created",
            "Content-Type": "application/json",
        },
    )
    response = call_http(spec(web.receive_event), request)
    assert response.status == 200
    assert body_of(response) == {"id": "evt-1", "source": "/shop", "order": 9}


def test_structured_mode_cloudevent_request() -> None:
    body = json.dumps(
        {
            "specversion": "1.0",
            "id": "evt-2",
            "source": "/shop",
            "type": "order.created",
            "data": {"id": 3, "item": "cup"},
        }
    )
    request = Request(
        "POST", "/events", body=body, headers={"content-type": "application/cloudevents+json; charset=utf-8"}
    )
    assert body_of(call_http(spec(web.receive_event), request)) == {"id": "evt-2", "source": "/shop", "order": 3}


@pytest.mark.parametrize(
    ("headers", "body", "attribute"),
    [
        ({"ce-specversion": "1.0", "ce-source": "/shop", "ce-type": "t"}, b"{}", "id"),
        ({"ce-specversion": "0.3", "ce-id": "1", "ce-source": "/shop", "ce-type": "t"}, b"{}", "specversion"),
        ({"content-type": "application/json"}, b'{"id": 1, "item": "x"}', "specversion"),
        (
            {"content-type": "application/cloudevents+json"},
            b'{"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "time": "yesterday"}',
            "time",
        ),
    ],
)
def test_malformed_cloudevent_request_is_400_naming_the_attribute(
    headers: dict[str, str], body: bytes, attribute: str
) -> None:
    response = call_http(spec(web.receive_event), Request("POST", "/events", headers=headers, body=body))
    assert response.status == 400
    payload = body_of(response)
    assert payload["attribute"] == attribute
    assert attribute in payload["error"]


def test_cloudevent_request_with_invalid_data_is_400() -> None:
    request = Request(
        "POST",
        "/events",
        body=b'{"id": "x"}',
        headers={
            "ce-specversion": "1.0",
            "ce-id": "1",
            "ce-source": "/s",
            "ce-type": "t",
            "content-type": "application/json",
        },
    )
    response = call_http(spec(web.receive_event), request)
    assert response.status == 400
    assert body_of(response)["error"].startswith("The event data is not a valid Order: id:")


def test_crash_is_500_and_does_not_leak_the_exception(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="portable_fn"):
        response = call_http(spec(web.boom), Request("GET", "/boom"))
    assert response.status == 500
    assert body_of(response) == {"error": "internal error", "function": "boom"}
    assert b"hunter2" not in response.body and b"RuntimeError" not in response.body
    assert "function boom raised RuntimeError" in caplog.text  # the operator still sees it
    assert caplog.records[-1].exc_info is not None


def test_retry_and_dead_letter_over_http() -> None:
    busy = call_http(spec(web.busy), Request("GET", "/busy"))
    assert (busy.status, body_of(busy)) == (503, {"error": "warehouse is busy"})
    gone = call_http(spec(web.gone), Request("GET", "/gone"))
    assert (gone.status, body_of(gone)) == (422, {"error": "order was cancelled"})


def test_batch_with_one_context_per_record() -> None:
    contexts = [Context(function_name="take_order_async", attempt=n) for n in (1, 3)]
    records = [event({"id": i, "item": "x"}, id=str(i)) for i in range(2)]
    results = call_batch(spec(events.take_order_async), records, contexts)
    assert [r.value[1].attempt for r in results] == [1, 3]


def test_an_optional_context_annotation_still_gets_the_context() -> None:
    spec = spec_of(load_handlers("events").optional_context)
    assert spec is not None
    result = call_event(spec, CloudEvent(id="1", source="//t", type="t"), Context(function_name="optional_context"))
    assert result.outcome == ACK and result.value == "optional_context"


# -- call_batch through the pipeline, failure_of ---------------------------------------------------------

batch = load_handlers("batch")


@pytest.fixture()
def called() -> list[str]:
    batch.CALLED.clear()
    return batch.CALLED


def records_for(*data: Any) -> list[Any]:
    """One CloudEvent per item, ids "0", "1", ...; an exception stands for a record that was not decoded."""
    return [d if isinstance(d, Exception) else event(d, id=str(i)) for i, d in enumerate(data)]


def outcomes(results: list[Any]) -> list[tuple[Any, ...]]:
    return [(r.outcome, r.reason, r.event_id, r.value) for r in results]


def test_call_batch_gives_one_result_per_record(called: list[str]) -> None:
    undecodable = InvalidEventError("record 2 is not JSON")
    records = records_for({"n": 0}, {"fail": True}, undecodable, {"n": 3})
    results = call_batch(spec(batch.record), records)
    assert outcomes(results) == [
        (ACK, None, "0", {"n": 0}),
        (RETRY, "Fails: record 1 failed", "1", None),
        (DEAD_LETTER, "record 2 is not JSON", None, None),
        (ACK, None, "3", {"n": 3}),
    ]
    assert isinstance(results[1].error, batch.Fails) and results[2].error is undecodable
    assert called == ["0", "1", "3"]  # the undecodable record never reaches the handler


def test_call_batch_ordered_stops_at_the_first_failure(called: list[str]) -> None:
    records = records_for({"n": 0}, {"fail": True}, {"n": 2}, InvalidEventError("not JSON"), {"n": 4})
    results = call_batch(spec(batch.record), records, ordered=True)
    assert called == ["0", "1"]  # nothing after the failure is attempted
    not_attempted = "not attempted: an earlier message in this ordered batch failed"
    assert outcomes(results) == [
        (ACK, None, "0", {"n": 0}),
        (RETRY, "Fails: record 1 failed", "1", None),
        (RETRY, not_attempted, "2", None),
        (RETRY, not_attempted, None, None),
        (RETRY, not_attempted, "4", None),
    ]


def test_call_batch_ordered_stops_at_an_undecodable_record_too(called: list[str]) -> None:
    records = records_for({"n": 0}, InvalidEventError("not JSON"), {"n": 2})
    results = call_batch(spec(batch.record), records, ordered=True)
    assert called == ["0"]
    assert [r.outcome for r in results] == [ACK, DEAD_LETTER, RETRY]


def test_call_batch_without_failures_ordered_or_not(called: list[str]) -> None:
    for ordered in (False, True):
        assert [r.value for r in call_batch(spec(batch.record), records_for(1, "two", [3]), ordered=ordered)] == [
            1,
            "two",
            [3],
        ]
    assert call_batch(spec(batch.record), []) == []


def test_call_batch_hands_cloudevent_dict_data_on_as_it_is_and_converts_the_rest(called: list[str]) -> None:
    exact, text, wrong = event({"a": 1}, id="0"), event('{"a": 2}', id="1"), event([3], id="2")
    results = call_batch(spec(batch.typed_record), [exact, text, wrong])
    assert results[0].value is exact  # data already a dict: the very event, no copy
    assert results[1].value.data == {"a": 2} and results[1].value.id == "1"  # JSON text: converted
    assert (results[2].outcome, results[2].reason) == (DEAD_LETTER, "The event data must be dict, got list.")
    assert called == ["0", "1"]


def test_call_batch_passes_one_context_or_one_per_record(called: list[str]) -> None:
    records = records_for(0, 1)
    one = Context(invocation_id="batch")
    assert [r.value for r in call_batch(spec(batch.record_with_context), records, one)] == ["batch", "batch"]
    each = [Context(invocation_id="a"), Context(invocation_id="b")]
    assert [r.value for r in call_batch(spec(batch.record_with_context), records, each)] == ["a", "b"]


def test_a_failure_keeps_its_traceback_down_to_the_handler() -> None:
    results = call_batch(spec(batch.record), records_for({"fail": True}))
    frames = traceback.extract_tb(results[0].error.__traceback__)  # type: ignore[union-attr]
    assert frames[-1].name == "record" and frames[-1].filename.endswith("batch.py")


def test_a_failed_batch_is_freed_by_the_garbage_collector_it_needs_no_more() -> None:
    """A failure's traceback holds the frames that were running; the batch's data is freed once the
    Results are dropped (at once, or at the collector's next pass for a cycle through a frame)."""

    class Data(dict):  # type: ignore[type-arg]  # a dict that can be weakly referenced
        pass

    data = Data(fail=True)
    alive = weakref.ref(data)
    results = call_batch(spec(batch.record), records_for(data))
    assert results[0].outcome == RETRY
    del data, results
    gc.collect()
    assert alive() is None


@pytest.mark.parametrize(
    ("exc", "outcome", "reason"),
    [
        (Retry("stock not there yet", delay_s=5), RETRY, "stock not there yet"),
        (DeadLetter("order was cancelled"), DEAD_LETTER, "order was cancelled"),
        (InvalidEventError("data is not an order"), DEAD_LETTER, "data is not an order"),
        (
            DataValidationError("The event data must be dict, got list."),
            DEAD_LETTER,
            "The event data must be dict, got list.",
        ),
        (KeyError("sku"), RETRY, "KeyError: 'sku'"),
        (ValueError("no stock"), RETRY, "ValueError: no stock"),
        (batch.Fails(), RETRY, "Fails: "),
    ],
)
def test_failure_of(exc: Exception, outcome: str, reason: str) -> None:
    result = failure_of(exc, "msg-1")
    assert (result.outcome, result.reason, result.event_id, result.value) == (outcome, reason, "msg-1", None)
    assert result.error is exc
    assert not result.ok


def test_failure_of_reads_a_retry_or_dead_letter_subclass_by_what_it_is() -> None:
    class OutOfStock(Retry):
        pass

    class Cancelled(DeadLetter):
        pass

    assert (failure_of(OutOfStock("later"), "1").outcome, failure_of(OutOfStock("later"), "1").reason) == (
        RETRY,
        "later",
    )
    assert (failure_of(Cancelled("gone"), "1").outcome, failure_of(Cancelled("gone"), "1").reason) == (
        DEAD_LETTER,
        "gone",
    )
