"""`wf.now()`, `wf.uuid()` and `wf.random()`: recorded once per instance, so every replay of the workflow
function gets the same values, and a step that uses one gets the same value on every run of that step, a
run after the process died in the middle of it included (a value given to a payment API as its
idempotency key must not change between the two runs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from portable_fn.runtime.workflow import Workflow, workflow
from portable_fn.workflows import WorkflowDriver

CHARGES: list[str] = []  # the token each run of `charge` was given
SEEN: list[tuple[str, str, float]] = []  # what each replay of `recording` read, in order
DIE_IN_CHARGE: list[bool] = []  # one entry: the next run of `charge` dies in its middle


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the runtime catches it)."""


def charge(token: str) -> str:
    CHARGES.append(token)
    if DIE_IN_CHARGE:
        DIE_IN_CHARGE.pop()
        raise Crash("killed in the middle of charge")
    return f"charged-{token}"


@workflow()
def recording(wf: Workflow) -> dict[str, Any]:
    moment, token, draw = wf.now(), wf.uuid(), wf.random()
    SEEN.append((moment.isoformat(), token, draw))
    wf.sleep(30)  # the instance is replayed from the start after the sleep
    receipt = wf.step(charge, token)
    return {"at": moment.isoformat(), "token": token, "draw": draw, "receipt": receipt}


@workflow()
def keyed(wf: Workflow) -> str:
    return wf.step(charge, wf.uuid())


@pytest.fixture(autouse=True)
def _clean() -> None:
    CHARGES.clear()
    SEEN.clear()
    DIE_IN_CHARGE.clear()


def test_every_replay_gets_the_values_the_first_run_recorded() -> None:
    with WorkflowDriver() as driver:
        instance_id = driver.start(recording)
        driver.run()
        done = driver.instance(instance_id)
    assert done["status"] == "completed", done.get("error")
    assert len(SEEN) >= 2 and len(set(SEEN)) == 1  # replayed after the sleep with the same three values
    moment, token, draw = SEEN[0]
    assert done["result"] == {"at": moment, "token": token, "draw": draw, "receipt": f"charged-{token}"}
    assert datetime.fromisoformat(moment).tzinfo is not None and 0 <= draw < 1
    assert [e["name"] for e in done["history"] if e["kind"] == "value"] == ["now", "uuid", "random"]


def test_a_step_rerun_after_a_crash_in_its_middle_gets_the_value_its_first_run_got() -> None:
    DIE_IN_CHARGE.append(True)
    with WorkflowDriver() as driver:
        instance_id = driver.start(keyed)
        with pytest.raises(Crash):
            driver.run()
        driver.run()  # the runner's message is delivered again
        done = driver.instance(instance_id)
    assert done["status"] == "completed", done.get("error")
    assert len(CHARGES) == 2 and CHARGES[0] == CHARGES[1], CHARGES
    assert done["result"] == f"charged-{CHARGES[0]}"


def test_each_instance_records_values_of_its_own() -> None:
    with WorkflowDriver() as driver:
        first, second = driver.start(keyed), driver.start(keyed)
        driver.run()
        results = {driver.instance(i)["result"] for i in (first, second)}
    assert len(results) == 2
