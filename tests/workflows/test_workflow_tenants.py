"""A workflow instance serves a tenant (`start_workflow(..., tenant=)`): its runner's messages carry `tenantid`,
so every step, the steps after an awaited event sent from outside the tenant, and the compensations of a
cancelled instance all store into that tenant's keys (`t/<tenant>/...`), never the unscoped ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from portable_fn.runtime import Request, call_http, spec_of, workflow
from portable_fn.runtime.state import stored_key
from portable_fn.runtime.workflow import WorkflowError, send_event, start_workflow
from portable_fn.workflows import WorkflowDriver

from .handlers_tenants import PAID, invoice, mark_paid, open_invoice, payment_webhook

ORDER = {"id": "o-1", "qty": 2}


@pytest.fixture
def driver(flow: Any) -> Iterator[WorkflowDriver]:
    with WorkflowDriver() as running:
        yield running


def effects(flow: Any, tenant: str | None) -> list[str]:
    """The steps whose effect the ledger holds under `tenant`'s keys (None: the unscoped ones), in the order
    of their step keys (`o-1#<operation>`, then a compensation's `o-1#undo-<operation>`)."""
    found = []
    for key in [f"o-1#{n}" for n in range(20)] + [f"o-1#undo-{n}" for n in range(20)]:  # steps, compensations
        record = flow.ledger.backend.read(stored_key(tenant, key) if tenant else key)
        if record is not None:
            found.append(json.loads(record.value)["step"])
    return found


def test_every_step_of_an_instance_started_for_a_tenant_is_that_tenants(flow: Any, driver: WorkflowDriver) -> None:
    assert start_workflow(flow.order_flow, ORDER, id="o-1", tenant="acme") == "o-1"
    driver.run(for_s=60)
    waiting = driver.instance("o-1")
    assert (waiting["status"], waiting["tenant"]) == ("waiting", "acme")
    assert driver.send_event(flow.APPROVAL, match="o-1", data={"by": "ops"}) == 0  # no tenant's: not acme's
    assert driver.send_event(flow.APPROVAL, match="o-1", data={"by": "ops"}, tenant="acme") == 1
    driver.run()
    assert driver.instance("o-1")["status"] == "completed"
    assert effects(flow, "acme") == [
        "validate",
        "price",
        "reserve",
        "authorize",
        "capture",
        "pack",
        "label",
        "ship",
        "notify",
        "receipt",
    ]
    assert effects(flow, None) == []


def test_a_cancelled_instance_is_compensated_as_its_tenant(flow: Any, driver: WorkflowDriver) -> None:
    driver.start(flow.order_flow, ORDER, id="o-1", tenant="acme")  # the driver starts it as start_workflow does
    driver.run(for_s=60)
    workflow.cancel("o-1", "customer cancelled")
    driver.run()
    assert driver.instance("o-1")["status"] == "cancelled"
    assert effects(flow, "acme") == ["validate", "price", "reserve", "authorize", "capture", "void", "release"]
    assert effects(flow, None) == []


def test_an_instance_without_a_tenant_stores_unscoped_and_a_bad_tenant_is_refused(
    flow: Any, driver: WorkflowDriver
) -> None:
    start_workflow(flow.order_flow, ORDER, id="o-1")
    driver.run(for_s=60)
    assert "tenant" not in driver.instance("o-1")
    assert effects(flow, None) == ["validate", "price", "reserve", "authorize", "capture"]
    with pytest.raises(WorkflowError) as refused:
        start_workflow(flow.order_flow, ORDER, id="o-2", tenant="acme corp")
    assert str(refused.value) == "start_workflow(order_flow): tenant 'acme corp' must be 1 to 64 of A-Z a-z 0-9 . _ -."


# -- events and operations reach an instance of the tenant they name -------------------------------------


def post(handler: Any, path: str, body: dict[str, Any], tenant: str | None = None, **params: str) -> Any:
    """`handler`'s JSON answer to a POST of `body` (as `tenant`, when given), with its status."""
    spec = spec_of(handler)
    assert spec is not None
    headers = {"X-Tenant-Id": tenant} if tenant else {}
    response = call_http(spec, Request("POST", path, headers=headers, body=json.dumps(body), path_params=params))
    return response.status, json.loads(response.body)


def paid(invoice_id: str, tenant: str, amount: int = 30) -> Any:
    """What the payment provider's webhook answers for a payment of `tenant`'s invoice."""
    return post(payment_webhook, "/webhooks/payments", {"invoice": invoice_id, "amount": amount, "tenant": tenant})


def status(driver: WorkflowDriver, instance_id: str) -> str:
    return str(driver.instance(instance_id)["status"])


def test_a_webhook_serving_no_tenant_wakes_the_instance_of_the_tenant_it_names(driver: WorkflowDriver) -> None:
    start_workflow(invoice, "inv-1", id="acme-inv-1", tenant="acme")
    start_workflow(invoice, "inv-1", id="globex-inv-1", tenant="globex")  # the same invoice number, another tenant
    driver.run(for_s=60)
    assert paid("inv-1", "globex") == (200, {"woken": 1})
    driver.run(for_s=60)
    assert (status(driver, "globex-inv-1"), status(driver, "acme-inv-1")) == ("completed", "waiting")
    assert driver.instance("globex-inv-1")["result"] == {"amount": 30}
    assert send_event(PAID, match="inv-1", data={"amount": 1}) == 0  # for no tenant: no tenant's instance
    driver.run(for_s=60)
    assert status(driver, "acme-inv-1") == "waiting"
    assert paid("inv-1", "acme", 45) == (200, {"woken": 1})
    driver.run(for_s=60)
    assert driver.instance("acme-inv-1")["result"] == {"amount": 45}


def test_an_event_sent_before_the_instance_waits_is_kept_for_that_tenants_instance_only(
    driver: WorkflowDriver,
) -> None:
    assert paid("inv-2", "acme", 12) == (200, {"woken": 0})
    start_workflow(invoice, "inv-2", id="globex-inv-2", tenant="globex")
    start_workflow(invoice, "inv-2", id="acme-inv-2", tenant="acme")
    driver.run(for_s=60)
    assert (status(driver, "acme-inv-2"), status(driver, "globex-inv-2")) == ("completed", "waiting")
    assert driver.instance("acme-inv-2")["result"] == {"amount": 12}


def test_a_call_serving_a_tenant_can_neither_signal_nor_start_another_tenants_instances(
    driver: WorkflowDriver,
) -> None:
    start_workflow(invoice, "inv-3", id="acme-inv-3", tenant="acme")
    driver.run(for_s=60)
    refused = (
        "send_event('billing.invoice.paid'): tenant='acme', but this call serves tenant 'globex', and a call "
        "serving one tenant cannot reach another's workflows. Leave tenant= out (or pass 'globex'), or do this "
        "from a function that serves no tenant (a webhook, a schedule) and names the tenant."
    )
    assert post(mark_paid, "/invoices/inv-3/paid", {"tenant": "acme"}, "globex", id="inv-3") == (
        403,
        {"error": refused},
    )
    assert post(mark_paid, "/invoices/inv-3/paid", {}, "globex", id="inv-3") == (200, {"woken": 0})  # its own
    assert post(mark_paid, "/invoices/inv-3/paid", {"tenant": "acme"}, "acme", id="inv-3") == (200, {"woken": 1})
    driver.run(for_s=60)
    assert status(driver, "acme-inv-3") == "completed"
    code, answer = post(open_invoice, "/invoices/inv-4", {"tenant": "acme"}, "globex", id="inv-4")
    assert (code, answer["error"].split(", and")[0]) == (
        403,
        "start_workflow(invoice): tenant='acme', but this call serves tenant 'globex'",
    )
    code, answer = post(open_invoice, "/invoices/inv-4", {}, "globex", id="inv-4")
    assert code == 201 and driver.instance(answer["id"])["tenant"] == "globex"
    with pytest.raises(WorkflowError) as bad:
        send_event(PAID, match="inv-3", tenant="acme corp")
    assert (
        str(bad.value) == "send_event('billing.invoice.paid'): tenant 'acme corp' must be 1 to 64 of A-Z a-z 0-9 . _ -."
    )


def test_retry_and_cancel_find_a_tenants_instance_by_its_id_and_it_waits_as_that_tenant(
    driver: WorkflowDriver,
) -> None:
    """No --tenant is needed on `portable-fn workflows retry|cancel`: an instance id names one instance."""
    start_workflow(invoice, "inv-5", id="acme-inv-5", tenant="acme")
    driver.run()  # no payment within the timeout: EventTimeout fails it
    assert status(driver, "acme-inv-5") == "failed"
    assert workflow.retry("acme-inv-5")["tenant"] == "acme"  # from no call, as the CLI does
    driver.run(for_s=60)
    assert status(driver, "acme-inv-5") == "waiting"
    assert paid("inv-5", "acme") == (200, {"woken": 1})
    driver.run(for_s=60)
    assert status(driver, "acme-inv-5") == "completed"
    start_workflow(invoice, "inv-6", id="acme-inv-6", tenant="acme")
    driver.run(for_s=60)
    workflow.cancel("acme-inv-6", "customer left")
    driver.run(for_s=60)
    assert status(driver, "acme-inv-6") == "cancelled"
    assert [e["name"] for e in driver.instance("acme-inv-6")["history"] if e["kind"] == "event"] == [f"{PAID}#inv-6"]
