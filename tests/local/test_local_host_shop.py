"""samples/shop served by the local dev host, end to end over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from portable_fn.local.journal import Journal

ORDER = {"id": "o-1", "customer": "ada", "lines": [{"sku": "widget", "quantity": 2}]}


def test_an_order_is_created_and_read_back(shop: Any, shop_records: Callable[..., Any]) -> None:
    created = shop.client.request("POST", "/orders", json_body=ORDER)
    assert (created.status, created.json()) == (201, {"id": "o-1", "lines": 1})
    assert shop_records("orders") == [ORDER]
    found = shop.client.request("GET", "/orders/o-1")
    assert (found.status, found.json()) == (200, ORDER)
    assert shop.client.request("GET", "/orders/nope").status == 404


def test_an_invalid_order_is_a_400_naming_the_problem(shop: Any, shop_records: Callable[..., Any]) -> None:
    reply = shop.client.request("POST", "/orders", json_body={"id": "o-2", "customer": "ada", "lines": []})
    assert reply.status == 400
    assert "lines" in reply.json()["error"]
    assert shop_records("orders") == []


@pytest.mark.parametrize(
    ("order", "field"),
    [
        ({"id": "o-3", "customer": "a" * 1_500_000, "lines": [{"sku": "book", "quantity": 1}]}, "customer"),
        ({"id": "o-3", "customer": "ada", "lines": [{"sku": "b", "quantity": 1}] * 101}, "lines"),
        ({"id": "o-3", "customer": "ada", "lines": [{"sku": "s" * 101, "quantity": 1}]}, "sku"),
    ],
)
def test_an_order_too_big_for_its_workflow_is_a_400(
    shop: Any, shop_records: Callable[..., Any], order: dict[str, Any], field: str
) -> None:
    # A 1.5 MB customer passed the model and failed start_workflow (its input must fit one state record): a 500.
    reply = shop.client.request("POST", "/orders", json_body=order)
    assert reply.status == 400 and field in reply.json()["error"]
    assert shop_records("orders") == []


def test_what_no_order_or_instance_can_be_is_a_4xx_naming_the_rule(shop: Any) -> None:
    # Each was a 500: an id too long for the state store to key, and a cancel body that is no JSON object.
    long_id = "x" * 600
    for method, path, body, status, words in [
        ("GET", f"/_local/workflows/{long_id}", None, 400, "No workflow instance can have this id"),
        ("POST", f"/_local/workflows/{long_id}/retry", None, 400, "No workflow instance can have this id"),
        ("POST", "/_local/workflows/w-1/cancel", "why", 400, "JSON object"),
        ("POST", "/_local/workflows/w-1/cancel", {"reason": 5}, 400, "JSON object"),
        ("POST", f"/payments/{long_id}/confirm", {}, 404, "longer than 200 characters"),
        ("GET", "/_local/workflows?status=bogus", None, 400, "is not a status; use one of running"),  # was 200 []
    ]:
        reply = shop.client.request(method, path, json_body=body)
        assert (reply.status, words in reply.json()["error"]) == (status, True), (path, reply.json())


def test_a_head_on_a_control_get_is_served_as_on_the_apps_own_get_routes(shop: Any) -> None:
    for path in ("/_local/openapi.json", "/_local/workflows", "/_local/dead-letters"):
        assert shop.client.request("HEAD", path).status == 200, path  # was a 405 Allow: GET


def test_unknown_routes_are_404_listing_the_routes_and_wrong_methods_405(shop: Any) -> None:
    missing = shop.client.request("GET", "/carts")
    assert missing.status == 404
    assert missing.json()["routes"] == ["POST /orders", "GET /orders/{order_id}", "POST /payments/{order_id}/confirm"]
    wrong = shop.client.request("DELETE", "/orders/o-1")
    assert (wrong.status, wrong.json()["allowed"], wrong.headers["allow"]) == (405, ["GET"], "GET")


def test_a_queued_order_reaches_fulfil_as_a_validated_cloudevent(
    shop: Any, shop_records: Callable[..., Any], wait_for: Callable[..., Any]
) -> None:
    reply = shop.client.request("POST", "/_local/queues/orders", json_body=ORDER)
    assert reply.status == 202
    [event_id] = reply.json()["ids"]
    [record] = wait_for(lambda: shop_records("fulfilled"), what="fulfil to run")
    assert record == {"id": "o-1", "event_id": event_id, "attempt": 1}
    wait_for(lambda: any(f"fulfil [queue] {event_id} -> ack" in line for line in shop.logs), what="the log line")


def test_a_recalled_sku_is_dead_lettered_at_once(
    shop: Any, wait_for: Callable[..., Any], shop_records: Callable[..., Any]
) -> None:
    recalled = {**ORDER, "lines": [{"sku": "recalled-widget", "quantity": 1}]}
    [event_id] = shop.client.request("POST", "/_local/queues/orders", json_body=recalled).json()["ids"]
    [letter] = wait_for(lambda: shop.client.request("GET", "/_local/dead-letters").json(), what="a dead letter")
    assert (letter["function"], letter["attempts"], letter["event"]["id"]) == ("fulfil", 1, event_id)
    assert letter["reason"] == "order o-1 contains a recalled SKU"
    assert letter["event"]["data"] == recalled
    with Journal(shop.host.state_dir / "journal.sqlite3") as on_disk:  # a second reader of the file
        assert [letter["event"]["id"] for letter in on_disk.dead_letters()] == [event_id]
    assert shop_records("fulfilled") == []


def test_an_upload_under_the_prefix_triggers_on_upload(
    shop: Any, wait_for: Callable[..., Any], shop_records: Callable[..., Any]
) -> None:
    bucket = shop.host.state_dir / "buckets" / "uploads"
    assert bucket.is_dir()
    (bucket / "elsewhere.txt").write_text("not under in/")
    (bucket / "in").mkdir()
    (bucket / "in" / "invoice.pdf").write_bytes(b"%PDF-1.7")
    wait_for(lambda: shop_records("uploads"), what="on_upload to run")
    assert shop_records("uploads") == [{"bucket": "uploads", "key": "in/invoice.pdf", "size": 8}]


def test_the_sweep_fires_on_demand(shop: Any, wait_for: Callable[..., Any], shop_records: Callable[..., Any]) -> None:
    reply = shop.client.request("POST", "/_local/schedules/sweep/fire")
    assert reply.status == 202
    [record] = wait_for(lambda: shop_records("sweeps"), what="the sweep")
    assert record["at"].endswith("Z")
    assert shop.client.request("POST", "/_local/schedules/create_order/fire").status == 404


def test_a_topic_message_reaches_notify(
    shop: Any, wait_for: Callable[..., Any], shop_records: Callable[..., Any]
) -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "n-1",
        "ce-source": "/shop",
        "ce-type": "order.created",
        "content-type": "application/json",
    }
    assert shop.client.request("POST", "/_local/topics/order-events", "{}", headers).status == 202
    assert wait_for(lambda: shop_records("notifications")) == [
        {"type": "order.created", "id": "n-1", "source": "/shop"}
    ]


def test_functions_are_listed_with_their_endpoints(shop: Any) -> None:
    listed = {f["name"]: f for f in shop.client.request("GET", "/_local/functions").json()}
    assert set(listed) == {f.name for f in shop.app.functions}
    assert listed["create_order"]["endpoint"] == shop.host.url + "/orders"
    assert listed["fulfil"] == {
        "name": "fulfil",
        "trigger": "queue",
        "details": {"name": "orders", "batch_size": 10, "fifo": False},
        "endpoint": shop.host.url + "/_local/queues/orders",
    }
    assert Path(listed["on_upload"]["endpoint"]) == shop.host.state_dir / "buckets" / "uploads" / "in"


def test_the_banner_says_how_to_trigger_every_function(shop: Any) -> None:
    banner = shop.logs[0]
    assert shop.host.url in banner
    for spec in shop.app.functions:
        assert spec.name in banner
    assert f"POST {shop.host.url}/orders" in banner
    curl = "curl -X POST -H 'content-type: application/json' -d '{...}'"
    assert f"{curl} {shop.host.url}/_local/queues/orders" in banner
    assert str(shop.host.state_dir / "buckets" / "uploads" / "in") in banner


def test_what_a_caller_sends_cannot_forge_a_line_of_the_dev_log(shop: Any, wait_for: Callable[..., Any]) -> None:
    forged = "04:00:00.000 create_order [http] POST /orders -> 201 (1.0 ms)"
    assert shop.client.request("GET", "/orders/x%0A" + forged.replace(" ", "%20").replace("/", "%2F")).status == 404
    recalled = {**ORDER, "id": "o-9\n" + forged, "lines": [{"sku": "recalled-widget", "quantity": 1}]}
    shop.client.request("POST", "/_local/queues/orders", json_body=recalled)
    wait_for(lambda: any("dead-lettered event" in line for line in shop.logs), what="the dead-letter line")
    assert not [part for line in shop.logs for part in line.splitlines() if part.startswith("04:00:00.000")]
    assert any("-> 404: order x\\n04:00:00.000 create_order" in line for line in shop.logs)
    assert any("contains a recalled SKU" in line and "o-9\\n04:00" in line for line in shop.logs)
