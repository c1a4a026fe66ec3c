"""The workflow every provider runs the same: ten steps, two sleeps, one awaited event, one compensation
path (an order whose `fail_at` names a step fails there; the finished steps with a compensation are undone
in reverse). The step refuses until a `fixed#<order id>` record in the ledger says what refused it was
fixed: an instance that failed before any step with a compensation finished then runs on with
`portable-fn workflows retry`.

Every step records its side effect in the `ledger` state under its `step_key()` (create: only once per
key), and counts its runs under `runs#<key>`, so a test can tell "ran twice" from "applied twice". With
`FLOW_HOLD_DIR` set, a step whose `hold-<step>` file exists there writes `at-<step>` and waits until the
hold file is gone: a test kills the process in the middle of that step.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from portable_fn import DeadLetter, Request, Response, function, http, state
from portable_fn.runtime.workflow import Workflow, send_event, step_key, workflow

ledger = state("ledger")
APPROVAL = "flow.approved"
FIRST_SLEEP_S = 2
SECOND_SLEEP_S = 1
APPROVAL_TIMEOUT_S = 600


def _effect(name: str, order: dict, value: object) -> object:
    """Apply a step's side effect once per step key (a retried or repeated step applies nothing more)."""
    key = step_key()
    runs = ledger.item("runs#" + key)
    ledger.put("runs#" + key, (runs.value if runs else 0) + 1)
    _hold(name)
    if order.get("fail_at") == name and ledger.get("fixed#" + order["id"]) is None:
        raise DeadLetter(f"{name} refused order {order['id']}")
    if ledger.get(key) is None:
        ledger.create(key, {"step": name, "order": order["id"], "value": value})
    return value


def _hold(name: str) -> None:
    folder = os.environ.get("FLOW_HOLD_DIR")
    if folder and (Path(folder) / f"hold-{name}").exists():
        (Path(folder) / f"at-{name}").touch()
        while (Path(folder) / f"hold-{name}").exists():
            time.sleep(0.05)


def validate(order: dict) -> dict:
    return _effect("validate", order, {"valid": True})


def price(order: dict) -> int:
    return _effect("price", order, order["qty"] * 7)


def reserve(order: dict) -> str:
    return _effect("reserve", order, f"stock-{order['id']}")


def release(order: dict) -> None:
    _effect("release", order, "released")


def authorize(order: dict) -> str:
    return _effect("authorize", order, f"auth-{order['id']}")


def void(order: dict) -> None:
    _effect("void", order, "voided")


def capture(order: dict) -> str:
    return _effect("capture", order, "captured")


def pack(order: dict) -> str:
    return _effect("pack", order, "packed")


def label(order: dict) -> str:
    return _effect("label", order, f"label-{order['id']}")


def ship(order: dict) -> str:
    return _effect("ship", order, "shipped")


def notify(order: dict) -> str:
    return _effect("notify", order, "notified")


def receipt(order: dict) -> str:
    return _effect("receipt", order, f"receipt-{order['id']}")


@workflow(trigger=http("POST", "/flows"), uses=[ledger.write()])
def order_flow(wf: Workflow, order: dict) -> dict:
    wf.step(validate, order)
    total = wf.step(price, order)
    stock = wf.step(reserve, order, compensate=release)
    auth = wf.step(authorize, order, compensate=void)
    wf.sleep(FIRST_SLEEP_S)
    wf.step(capture, order)
    approval = wf.wait_for_event(APPROVAL, match=order["id"], timeout=APPROVAL_TIMEOUT_S)
    wf.step(pack, order)
    wf.sleep(SECOND_SLEEP_S)
    tracking = wf.step(label, order)
    wf.step(ship, order)
    wf.step(notify, order)
    done = wf.step(receipt, order)
    return {"total": total, "stock": stock, "auth": auth, "approval": approval, "label": tracking, "receipt": done}


@function(trigger=http("POST", "/approvals/{order_id}"), uses=[order_flow])
def approve(request: Request) -> Response:
    """What a payment provider's webhook would do: deliver the awaited event."""
    woken = send_event(APPROVAL, match=request.path_params["order_id"], data={"by": "webhook"})
    return Response.json({"woken": woken})
