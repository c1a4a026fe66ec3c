"""portable_fn.testing: what users call in their own suites behaves exactly as deployed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from portable_fn import Request
from portable_fn.runtime.errors import DeclarationError
from portable_fn.testing import (
    WorkflowDriver,
    invoke,
    invoke_batch,
    local_state,
    make_event,
    make_request,
    match_route,
)


@pytest.fixture
def shop(shop_copy, monkeypatch):
    from portable_fn.app import load_app

    app = load_app(shop_copy)
    return {spec.name: spec.handler for spec in app.functions}


def order(order_id: str, sku: str = "book") -> dict:
    return {"id": order_id, "customer": "ada", "lines": [{"sku": sku, "quantity": 1}]}


def test_http_round_trip_with_path_parameters_matched_from_the_route(shop) -> None:
    with WorkflowDriver() as driver:  # create_order starts the order's workflow: the driver is its queue
        assert invoke(shop["create_order"], make_request("POST", "/orders", json=order("o-9"))).status == 201
        assert driver.instance("o-9")["status"] == "running"
    response = invoke(shop["get_order"], make_request("GET", "/orders/o-9"))
    assert response.status == 200
    assert b'"id":"o-9"' in response.body
    assert invoke(shop["get_order"], make_request("GET", "/orders/none")).status == 404


def test_a_body_that_fails_the_users_model_is_a_400_naming_the_field(shop) -> None:
    response = invoke(shop["create_order"], make_request("POST", "/orders", json={"id": "x"}))
    assert response.status == 400
    assert b"customer" in response.body and b"lines" in response.body


def test_event_outcomes(shop) -> None:
    assert invoke(shop["fulfil"], make_event(order("o-1"))).outcome == "ack"
    recalled = invoke(shop["fulfil"], make_event(order("o-2", sku="recalled-widget")))
    assert recalled.outcome == "dead_letter" and "recalled SKU" in recalled.reason
    invalid = invoke(shop["fulfil"], make_event({"id": "o-3"}))
    assert invalid.outcome == "dead_letter" and "not a valid Order" in invalid.reason


def test_batches_report_one_outcome_per_record(shop) -> None:
    results = invoke_batch(shop["fulfil"], [make_event(order("a")), make_event({"bad": 1}), make_event(order("c"))])
    assert [r.outcome for r in results] == ["ack", "dead_letter", "ack"]


def test_make_event_defaults_and_extensions() -> None:
    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    event = make_event({"k": 1}, type="com.example.x", traceparent=trace)
    assert event.type == "com.example.x" and event.datacontenttype == "application/json"
    assert event.extensions == {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    assert event.time is not None and event.time.endswith("Z")


def test_make_request_with_query_and_headers() -> None:
    request = make_request("get", "/s", query="q=a&q=b", headers={"X-Trace": "1"})
    assert isinstance(request, Request) and request.method == "GET"
    assert request.query.getall("q") == ["a", "b"] and request.headers["x-trace"] == "1"


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("/orders/{id}", "/orders/7", {"id": "7"}),
        ("/orders/{id}", "/orders/7/lines", None),
        ("/files/{rest+}", "/files/a/b.txt", {"rest": "a/b.txt"}),
        ("/a.b", "/aXb", None),
    ],
)
def test_match_route(template: str, path: str, expected: dict | None) -> None:
    assert match_route(template, path) == expected


def test_invoking_an_undecorated_function_is_a_clear_error() -> None:
    with pytest.raises(DeclarationError, match="not decorated with @function"):
        invoke(lambda e: None, make_event())


# -- local_state: fresh SQLite for the states a test touches -----------------------------------------


@pytest.fixture
def stateful(monkeypatch: pytest.MonkeyPatch) -> Any:
    """tests/local/apps/stateful's module, imported afresh (new State objects)."""
    import sys
    from pathlib import Path

    from portable_fn.app import load_app

    monkeypatch.delitem(sys.modules, "local_stateful", raising=False)
    app = load_app(Path(__file__).resolve().parent / "local" / "apps" / "stateful")
    return sys.modules[app.functions[0].handler.__module__]


def count(stateful: Any, name: str) -> Any:
    return json.loads(invoke(stateful.count, make_request("POST", f"/count/{name}")).body)["count"]


def test_local_state_keeps_each_state_in_a_file_of_the_directory(stateful: Any, tmp_path: Path) -> None:
    with local_state(tmp_path):
        assert [count(stateful, "apples") for _ in range(2)] == [1, 2]
        assert stateful.counters.get("apples") == 2  # a test reads the state directly, outside a call
    with sqlite3.connect(tmp_path / "counters.sqlite3") as db:
        assert db.execute("SELECT key, value FROM items").fetchall() == [("apples", "2")]


def test_each_block_starts_empty_even_for_a_state_opened_before(stateful: Any) -> None:
    with local_state():
        assert count(stateful, "pears") == 1
    with local_state():
        assert count(stateful, "pears") == 1
        assert stateful.counters.get("pears") == 1


def test_the_stores_in_use_before_come_back_after_the_block(stateful: Any, tmp_path: Path) -> None:
    with local_state(tmp_path / "outer"):
        count(stateful, "plums")
        with local_state():
            assert stateful.counters.get("plums") is None
        assert stateful.counters.get("plums") == 1


def test_portable_fns_own_stores_are_fresh_too(stateful: Any, tmp_path: Path) -> None:
    event = make_event({"n": 1}, id="evt-1")
    with local_state(tmp_path):
        assert [invoke(stateful.tally, event).outcome for _ in range(2)] == ["ack", "ack"]
        assert stateful.counters.get("tally") == 1  # the duplicate was answered from the idempotency store
        assert (tmp_path / "pfn-idempotency.sqlite3").is_file()
    with local_state():
        assert stateful.counters.get("tally") is None
        invoke(stateful.tally, event)
        assert stateful.counters.get("tally") == 1  # a new block: the same event is new again, and ran


def test_an_undeclared_state_fails_the_call_as_deployed(stateful: Any) -> None:
    with local_state():
        response = invoke(stateful.peek, make_request("GET", "/peek/key"))
        assert response.status == 500
        read_only = invoke(stateful.read_count, make_request("GET", "/count/figs"))
        assert json.loads(read_only.body) == {"count": 0}


# -- emitted -------------------------------------------------------------------------------------


@pytest.fixture
def emitter() -> Any:
    """tests/apps/emitter's module, loaded as the app loader loads it."""
    import importlib

    from portable_fn.app import load_app

    load_app(Path(__file__).with_name("apps") / "emitter")  # puts the app's directory on sys.path
    return importlib.import_module("emitter")


def test_emitted_captures_what_a_succeeded_call_publishes(emitter: Any) -> None:
    from portable_fn.runtime.channels import Channel
    from portable_fn.testing import Sent, emitted

    with emitted() as sent:
        invoke(emitter.fulfil, make_event({"id": "o-1"}))
    [paid] = sent.to(emitter.ORDER_EVENTS)
    assert (paid.type, paid.data, paid.extensions["pfnhops"]) == ("shop.order.paid", {"id": "o-1"}, 1)
    assert sent == [Sent(Channel("topic", "order-events"), paid, 0.0)]


def test_emitted_captures_nothing_from_a_failing_call_and_once_per_success(emitter: Any) -> None:
    from portable_fn.testing import emitted

    order = make_event({"id": "o-2"})
    with emitted() as sent:
        assert invoke(emitter.fulfil, make_event({"id": "o-3", "broken": True})).outcome == "retry"
        assert sent == []
        invoke(emitter.fulfil, order)
        invoke(emitter.fulfil, order)  # a duplicate delivery: runs again, publishes nothing new
    assert [e.data["id"] for e in sent.to(emitter.ORDER_EVENTS)] == ["o-2"]


def test_emitted_captures_a_delayed_send_with_its_delay(emitter: Any) -> None:
    from portable_fn.testing import emitted

    with emitted() as sent:
        invoke(emitter.remind, make_event({"user": "ada"}))
    [(channel, event, delay_s)] = sent
    assert (channel.kind, channel.name, event.type, delay_s) == ("queue", "reminders", "shop.reminder", 86400.0)


def test_emitted_restores_the_publisher_it_replaced() -> None:
    from portable_fn.runtime import channels
    from portable_fn.testing import emitted

    before = channels._publisher
    with emitted():
        assert channels._publisher is not before
    assert channels._publisher is before


def test_a_handler_s_answer_that_is_not_json_is_shown_not_blamed_on_the_event() -> None:
    """`portable-fn invoke` said "the event could not be delivered" (exit 1) for a handler that acknowledged
    and returned 10**5000, or answered 200 with a JSON content type and a body that is not JSON."""
    from portable_fn.runtime.http import Response
    from portable_fn.runtime.outcomes import ACK, Result
    from portable_fn.testing import _jsonable_result, response_to_dict

    broken = response_to_dict(Response(b"{not json", 200, content_type="application/json"))
    assert (broken["status"], broken["body"]) == (200, "{not json")
    cycle: list[object] = []
    cycle.append(cycle)
    for value in (10**5000, float("nan"), {1, 2}, cycle):
        shown = _jsonable_result(Result(ACK, value))["value"]
        assert isinstance(shown, str) and shown, value.__class__
