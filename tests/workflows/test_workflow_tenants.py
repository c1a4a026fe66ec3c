"""A workflow instance serves a tenant (`start_workflow(..., tenant=)`): its runner's messages carry `tenantid`,
so every step, the steps after an awaited event sent from outside the tenant, and the compensations of a
cancelled instance all store into that tenant's keys (`t/<tenant>/...`), never the unscoped ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from portable_fn.runtime import workflow
from portable_fn.runtime.state import stored_key
from portable_fn.runtime.workflow import WorkflowError, start_workflow
from portable_fn.workflows import WorkflowDriver

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
    assert driver.send_event(flow.APPROVAL, match="o-1", data={"by": "ops"}) == 1  # sent by no tenant's call
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
