"""samples/shop places orders through its `place_order` workflow: in one process with `WorkflowDriver` (a
paid order, a declined card, a confirmation that never comes, too little stock), with POST /orders and
the payment webhook served through the pipeline; end to end under `portable-fn dev`; and an order made
with `portable-fn invoke`, placed by the next `portable-fn dev`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app
from portable_fn.runtime.http import Request
from portable_fn.runtime.pipeline import call_http
from portable_fn.workflows import WorkflowDriver

from ..local.conftest import Client, DevProcess, dev_process  # noqa: F401 - the dev host fixture, shared

ORDER = {"id": "o-1", "customer": "ada", "lines": [{"sku": "widget", "quantity": 2}]}
PAID_SHAPE = [
    ("step", "reserve_stock"),
    ("step", "charge_card"),
    ("event", "shop.payment.confirmed#o-1"),
    ("step", "ship"),
    ("step", "notify_customer"),
]


@pytest.fixture
def shop_app(shop_copy: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    """samples/shop (a private copy), imported afresh."""
    for name in [n for n in sys.modules if n == "shop" or n.startswith("shop.")]:
        monkeypatch.delitem(sys.modules, name)
    return load_app(shop_copy)


@pytest.fixture
def shop(shop_app: App) -> Any:
    """The shop's functions module: its workflow, steps and states."""
    return sys.modules["shop.functions"]


@pytest.fixture
def driver(shop: Any) -> Iterator[WorkflowDriver]:
    """The workflows' queue and clock in this process; every state in memory."""
    with WorkflowDriver() as running:
        yield running


def post(app: App, name: str, path: str, body: Any = None, **params: str) -> Any:
    """Serve a request to the function `name` through the pipeline; (status, JSON body)."""
    spec = next(spec for spec in app.functions if spec.name == name)
    data = b"" if body is None else json.dumps(body).encode()
    request = Request("POST", path, headers={"content-type": "application/json"}, body=data, path_params=params)
    response = call_http(spec, request)
    return response.status, json.loads(response.body)


def inventory(shop: Any) -> dict[str, Any]:
    return shop.stock.get("inventory")  # type: ignore[no-any-return]


def shape(instance: dict[str, Any]) -> list[tuple[str, str]]:
    return [(entry["kind"], entry["name"]) for entry in instance["history"]]


def test_a_paid_order_is_reserved_charged_confirmed_shipped_and_notified(
    shop_app: App, shop: Any, driver: WorkflowDriver
) -> None:
    assert post(shop_app, "create_order", "/orders", ORDER) == (201, {"id": "o-1", "lines": 1})
    driver.run(for_s=60)  # a minute passes: not the hour the confirmation may take
    waiting = driver.instance("o-1")
    assert (waiting["status"], waiting["waiting"]["for"]) == ("waiting", "event")
    assert inventory(shop) == {"available": {"book": 20, "gadget": 25, "widget": 98}, "held": {"o-1": {"widget": 2}}}
    payment = shop.payments.get("o-1")
    assert (payment.idempotency_key, payment.status) == ("o-1#1", "charged")  # the charge step's step_key()

    confirmed = post(shop_app, "confirm_payment", "/payments/o-1/confirm", order_id="o-1")
    assert confirmed == (202, {"order_id": "o-1", "woken": 1})
    driver.run()
    done = driver.instance("o-1")
    assert done["status"] == "completed", done.get("error")
    assert done["result"] == {"order_id": "o-1", "payment_id": payment.id, "tracking": "TRK-o-1"}
    assert shape(done) == PAID_SHAPE
    assert inventory(shop) == {"available": {"book": 20, "gadget": 25, "widget": 98}, "held": {}}
    [(channel, event, delay)] = driver.sent  # notify_customer published at once, to the topic `notify` reads
    assert (channel.kind, channel.name, delay) == ("topic", "order-events", 0.0)
    assert (event.type, event.subject, event.data) == (
        "shop.order.shipped",
        "o-1",
        {"order_id": "o-1", "tracking": "TRK-o-1"},
    )
    assert done["history"][-1]["result"] == event.id


def test_the_same_order_posted_twice_is_placed_once(shop_app: App, shop: Any, driver: WorkflowDriver) -> None:
    for _ in range(2):
        assert post(shop_app, "create_order", "/orders", ORDER)[0] == 201
        driver.run(for_s=60)
    assert inventory(shop)["available"]["widget"] == 98
    assert shape(driver.instance("o-1")) == PAID_SHAPE[:3]


def test_an_order_id_too_long_to_name_its_workflow_is_refused_with_400_before_anything_is_kept(
    shop_app: App, shop: Any, driver: WorkflowDriver
) -> None:
    """The id names the order's workflow instance, which takes 1 to 200 characters: a longer one is the
    client's mistake, said as such, not a 500 after the order was written down."""
    status, body = post(shop_app, "create_order", "/orders", {**ORDER, "id": "o" * 201})
    assert status == 400 and "id: String should have at most 200 characters" in body["error"]
    assert not (shop.DATA_DIR / "orders.jsonl").exists()


def test_a_declined_card_releases_the_stock_and_fails_the_order_with_the_reason(
    shop: Any, driver: WorkflowDriver
) -> None:
    driver.start(shop.place_order, {**ORDER, "customer": "declined"}, id="o-1")
    driver.run()
    failed = driver.instance("o-1")
    assert failed["status"] == "failed"
    assert failed["error"] == (
        "step 'charge_card' failed: DeadLetter: the card of customer 'declined' was declined for order o-1"
    )
    assert shape(failed) == [
        ("step", "reserve_stock"),
        ("step", "charge_card"),
        ("compensation", "release_stock (undoing reserve_stock)"),
    ]
    assert failed["history"][1]["attempts"] == 1  # a decline is not retried
    assert inventory(shop) == {"available": {"book": 20, "gadget": 25, "widget": 100}, "held": {}}
    assert shop.payments.get("o-1") is None
    assert driver.pending() == [] and driver.sent == []


def test_a_confirmation_that_never_comes_refunds_releases_and_fails_the_order(
    shop: Any, driver: WorkflowDriver
) -> None:
    started = driver.clock
    driver.start(shop.place_order, ORDER, id="o-1")
    driver.run()  # the clock jumps to the timeout, an hour on
    failed = driver.instance("o-1")
    assert driver.clock - started >= 3600
    assert failed["status"] == "failed"
    assert failed["error"] == "EventTimeout: no 'shop.payment.confirmed' event matching 'o-1' came before the timeout"
    assert shape(failed)[3:] == [
        ("compensation", "refund_card (undoing charge_card)"),
        ("compensation", "release_stock (undoing reserve_stock)"),
    ]
    assert shop.payments.get("o-1").status == "refunded"
    assert inventory(shop)["available"]["widget"] == 100
    assert driver.send_event("shop.payment.confirmed", match="o-1") == 0  # too late: nobody waits for it


def test_an_order_for_more_than_the_shelf_holds_fails_at_once_with_nothing_to_undo(
    shop: Any, driver: WorkflowDriver
) -> None:
    order = {**ORDER, "lines": [{"sku": "book", "quantity": 15}, {"sku": "book", "quantity": 10}]}
    driver.start(shop.place_order, order, id="o-1")
    driver.run()
    failed = driver.instance("o-1")
    assert (failed["status"], shape(failed)) == ("failed", [("step", "reserve_stock")])
    assert failed["error"] == "step 'reserve_stock' failed: DeadLetter: order o-1: not enough stock of book"
    assert inventory(shop)["available"]["book"] == 20


# -- under `portable-fn dev` ------------------------------------------------------------------------


def test_an_order_is_placed_under_portable_fn_dev_once_its_payment_is_confirmed(
    dev_process: Callable[..., DevProcess],  # noqa: F811 - the fixture imported above
    shop_copy: Path,
    wait_for: Callable[..., Any],
    tmp_path: Path,
) -> None:
    host = dev_process(shop_copy)
    client = Client(host.url(wait_for))

    def instance() -> dict[str, Any]:
        reply = client.request("GET", "/_local/workflows/o-1")
        return reply.json() if reply.status == 200 else {}  # type: ignore[no-any-return]

    created = client.request("POST", "/orders", json_body=ORDER)
    assert (created.status, created.json()) == (201, {"id": "o-1", "lines": 1})
    waiting = wait_for(lambda: instance().get("status") == "waiting" and instance(), what="the order to wait")
    assert waiting["waiting"]["for"] == "event"
    assert shape(waiting) == PAID_SHAPE[:3]

    confirmed = client.request("POST", "/payments/o-1/confirm")
    assert (confirmed.status, confirmed.json()) == (202, {"order_id": "o-1", "woken": 1})
    done = wait_for(lambda: instance().get("status") in ("completed", "failed") and instance(), what="the order")
    assert done["status"] == "completed", done.get("error")
    assert shape(done) == PAID_SHAPE
    assert done["result"]["tracking"] == "TRK-o-1"

    notifications = tmp_path / "shop-data" / "notifications.jsonl"
    [note] = wait_for(lambda: notifications.exists() and notifications.read_text().splitlines(), what="notify")
    assert json.loads(note)["type"] == "shop.order.shipped"  # the topic function got the step's event
    listed = client.request("GET", "/_local/workflows").json()
    assert [(i["id"], i["workflow"], i["status"]) for i in listed] == [("o-1", "place_order", "completed")]


def test_an_order_invoked_with_portable_fn_invoke_is_placed_by_the_next_portable_fn_dev(
    dev_process: Callable[..., DevProcess],  # noqa: F811 - the fixture imported above
    shop_copy: Path,
    wait_for: Callable[..., Any],
    tmp_path: Path,
) -> None:
    request = tmp_path / "order.json"
    headers = {"content-type": "application/json"}
    request.write_text(json.dumps({"method": "POST", "path": "/orders", "headers": headers, "body": ORDER}))
    invoked = subprocess.run(
        ["portable-fn", "invoke", "create_order", str(shop_copy), "--event", str(request)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout)["status"] == 201

    host = dev_process(shop_copy, state_dir=shop_copy / ".portable-fn" / "local")  # where invoke left it
    client = Client(host.url(wait_for))

    def status() -> str:
        reply = client.request("GET", "/_local/workflows/o-1")
        return reply.json()["status"] if reply.status == 200 else ""  # type: ignore[no-any-return]

    wait_for(lambda: status() == "waiting", what="the invoked order to wait for its payment")
    assert client.request("POST", "/payments/o-1/confirm").json()["woken"] == 1
    wait_for(lambda: status() == "completed", what="the order to complete")
