"""The workflow engine, driven in one process (`WorkflowDriver`): the contract workflow of tests/apps/flow
end to end, its compensation path, crashes at every write, and each rule of `runtime/workflow.py`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from portable_fn import CloudEvent, DeadLetter, Request, emit, function, http, queue, topic
from portable_fn.runtime.function import top_level_name
from portable_fn.runtime.pipeline import call_http
from portable_fn.runtime.resources import UndeclaredResourceError
from portable_fn.runtime.state import Record
from portable_fn.runtime.state_sqlite import SqliteBackend
from portable_fn.runtime.workflow import (
    EventTimeout,
    StepFailed,
    Workflow,
    WorkflowError,
    cancel,
    list_instances,
    retry,
    send_event,
    start_workflow,
    workflow,
)
from portable_fn.workflows import WorkflowDriver

from ..workflow_contract import check_compensated, check_completed, expected_result, expected_shape

ORDER = {"id": "o-1", "qty": 3}
FLOW_SHAPE = expected_shape("o-1")
FLOW_RESULT = expected_result("o-1")


def shape(instance: dict[str, Any]) -> list[tuple[str, str]]:
    return [(entry["kind"], entry["name"]) for entry in instance["history"]]


def effects(driver: WorkflowDriver) -> dict[str, Any]:
    """The ledger's side effects by step key (the `runs#` counters left out)."""
    rows = driver._backend("ledger", None).scan("", 10_000)
    return {r.key: json.loads(r.value) for r in rows if not r.key.startswith("runs#")}


def run_flow(driver: WorkflowDriver, flow: Any, order: dict[str, Any] = ORDER) -> str:
    """Start the contract workflow, run it to the awaited event, send it, run it to its end."""
    instance_id = driver.start(flow.order_flow, order)
    driver.run(for_s=60)
    send_event(flow.APPROVAL, match=order["id"], data={"by": "webhook"})
    driver.run()
    return instance_id


def test_the_contract_workflow_completes_with_its_history_and_each_effect_once(flow: Any) -> None:
    with WorkflowDriver() as driver:
        instance_id = driver.start(flow.order_flow, ORDER)
        driver.run(for_s=60)
        waiting = driver.instance(instance_id)
        assert waiting["status"] == "waiting" and waiting["waiting"]["for"] == "event"
        assert send_event(flow.APPROVAL, match="o-1", data={"by": "webhook"}) == 1
        driver.run()
        check_completed(driver.instance(instance_id), effects(driver))


def test_a_step_that_fails_undoes_the_finished_steps_in_reverse(flow: Any) -> None:
    with WorkflowDriver() as driver:
        instance_id = run_flow(driver, flow, {**ORDER, "fail_at": "ship"})
        failed = driver.instance(instance_id)
        check_compensated(failed)
        assert "refused order o-1" in failed["error"]
        assert {v["step"] for v in effects(driver).values()} >= {"void", "release"}
        assert "notify" not in {v["step"] for v in effects(driver).values()}


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the runtime catches it)."""


class CrashingBackend:
    """A store whose `crash_at`-th write (counted over every store) kills the process, before or after
    it is applied."""

    writes = 0
    crash_at = -1
    after = False

    def __init__(self, inner: SqliteBackend) -> None:
        self.inner = inner

    def _tick(self) -> None:
        CrashingBackend.writes += 1
        if CrashingBackend.writes == CrashingBackend.crash_at:
            raise Crash()

    def read(self, key: str) -> Record | None:
        return self.inner.read(key)

    def scan(self, prefix: str, limit: int = 100) -> list[Record]:
        return self.inner.scan(prefix, limit)

    def write(self, record: Record) -> None:
        return self._mutate(lambda: self.inner.write(record))

    def create(self, record: Record, now: float) -> bool:
        return self._mutate(lambda: self.inner.create(record, now))  # type: ignore[no-any-return]

    def replace(self, record: Record, version: str) -> bool:
        return self._mutate(lambda: self.inner.replace(record, version))  # type: ignore[no-any-return]

    def delete(self, key: str, version: str | None = None) -> bool:
        return self._mutate(lambda: self.inner.delete(key, version))  # type: ignore[no-any-return]

    def _mutate(self, apply: Any) -> Any:
        if not CrashingBackend.after:
            self._tick()
        result = apply()
        if CrashingBackend.after:
            self._tick()
        return result


class CrashingDriver(WorkflowDriver):
    def _backend(self, name: str, locator: str | None) -> Any:
        return CrashingBackend(super()._backend(name, locator))


def run_through_crashes(driver: WorkflowDriver, flow: Any) -> tuple[str, int]:
    crashes = 0
    instance_id = driver.start(flow.order_flow, ORDER, id="flow-1")
    for for_s in (60, None):
        while True:
            try:
                driver.run() if for_s is None else driver.run(for_s=for_s)
                break
            except Crash:
                crashes += 1
        if for_s == 60:
            while True:
                try:
                    send_event(flow.APPROVAL, match="o-1", data={"by": "webhook"})
                    break
                except Crash:
                    crashes += 1
    return instance_id, crashes


def test_a_crash_at_any_write_loses_nothing_and_applies_each_effect_once(flow: Any) -> None:
    """The process dies at every store write of a clean run in turn (before and after the write lands):
    the message is delivered again, every instance completes with the same result and history, and every
    step's side effect is applied exactly once."""
    CrashingBackend.writes, CrashingBackend.crash_at = 0, -1
    with CrashingDriver() as clean:
        run_through_crashes(clean, flow)
    total = CrashingBackend.writes
    assert total > 30
    for after in (False, True):
        for crash_at in range(1, total + 1):
            CrashingBackend.writes, CrashingBackend.crash_at, CrashingBackend.after = 0, crash_at, after
            with CrashingDriver() as driver:
                try:
                    instance_id, crashes = run_through_crashes(driver, flow)
                except Crash:  # the start itself died: the client starts it again, with the same id
                    instance_id, crashes = run_through_crashes(driver, flow)
                    crashes += 1
                done = driver.instance(instance_id)
                where = f"crash at write {crash_at} ({'after' if after else 'before'} it lands)"
                assert done["status"] == "completed", (where, done.get("error"))
                assert done["result"] == FLOW_RESULT, where
                assert shape(done) == FLOW_SHAPE, where
                steps = sorted(v["step"] for v in effects(driver).values())
                assert len(steps) == 10 == len(set(steps)), (where, steps)
                assert crashes == 1, where
    CrashingBackend.crash_at = -1


def step_a() -> str:
    return "a"


def step_b() -> str:
    return "b"


def step_c() -> str:
    return "c"


@workflow()
def changing(wf: Workflow) -> list[str]:
    first = wf.step(step_a)
    wf.sleep(10)
    return [first, wf.step(step_b)]


def test_changed_code_under_a_running_instance_is_reported_with_the_step_and_can_be_retried() -> None:
    original = changing.fn

    def changed(wf: Workflow) -> list[str]:
        first = wf.step(step_a)
        return [first, wf.step(step_c)]  # the sleep is gone: position 1 now asks for a step

    with WorkflowDriver() as driver:
        instance_id = driver.start(changing)
        driver.run(for_s=0)
        changing.fn = changed
        try:
            driver.run()
            diverged = driver.instance(instance_id)
            assert diverged["status"] == "diverged"
            assert "diverged at step 1" in diverged["error"]
            assert "sleep 'sleep'" in diverged["error"] and "step 'step_c'" in diverged["error"]
            retry(instance_id)
            driver.run()
            done = driver.instance(instance_id)
            assert done["status"] == "completed" and done["result"] == ["a", "c"]
        finally:
            changing.fn = original


FLAKY: dict[str, int] = {}


def flaky() -> str:
    FLAKY["calls"] = FLAKY.get("calls", 0) + 1
    if FLAKY["calls"] < 3:
        raise ConnectionError("the service is down")
    return "ok"


@workflow()
def retrying(wf: Workflow) -> str:
    return wf.step(flaky)


def test_a_failing_step_is_retried_after_durable_waits_by_its_policy() -> None:
    FLAKY.clear()
    with WorkflowDriver() as driver:
        instance_id = driver.start(retrying)
        driver.run(for_s=0)
        waiting = driver.instance(instance_id)
        assert waiting["status"] == "waiting" and waiting["waiting"]["for"] == "retry"
        assert "ConnectionError" in waiting["waiting"]["error"]
        [(due, _)] = driver.pending()
        assert due > driver.clock  # a delayed message, not a process waiting
        driver.run()
        done = driver.instance(instance_id)
        assert done["status"] == "completed" and done["history"][0]["attempts"] == 3


@workflow()
def patient(wf: Workflow, order_id: str) -> Any:
    try:
        return wf.wait_for_event("paid", match=order_id, timeout=60)
    except EventTimeout:
        return "gave up"


def test_an_event_sent_before_the_wait_is_kept_and_a_missing_one_times_out() -> None:
    with WorkflowDriver() as driver:
        assert send_event("paid", match="early", data={"amount": 1}) == 0  # nobody waits yet
        early = driver.start(patient, "early")
        late = driver.start(patient, "late")
        driver.run()
        assert driver.instance(early)["result"] == {"amount": 1}
        assert driver.instance(late)["result"] == "gave up"


def test_cancel_undoes_the_finished_steps(flow: Any) -> None:
    with WorkflowDriver() as driver:
        instance_id = driver.start(flow.order_flow, ORDER)
        driver.run(for_s=60)
        cancel(instance_id, "customer changed their mind")
        assert cancel(instance_id)["cancel_reason"] == "customer changed their mind"  # a second cancel keeps it
        driver.run(for_s=0)
        done = driver.instance(instance_id)
        assert done["status"] == "cancelled" and done["cancel_reason"] == "customer changed their mind"
        assert shape(done)[-2:] == [
            ("compensation", "void (undoing authorize)"),
            ("compensation", "release (undoing reserve)"),
        ]
        with pytest.raises(WorkflowError, match="cancelled already"):
            cancel(instance_id)
        assert send_event(flow.APPROVAL, match=ORDER["id"], data={"by": "webhook"}) == 0  # it waits no more


def big() -> str:
    return "x" * 300_000


@workflow()
def bloated(wf: Workflow) -> str:
    return wf.step(big)


def test_a_history_over_the_record_limit_fails_the_instance_saying_what_to_do() -> None:
    with WorkflowDriver() as driver:
        instance_id = driver.start(bloated)
        driver.run()
        failed = driver.instance(instance_id)
        assert failed["status"] == "failed"
        assert "262144" in failed["error"] and "smaller step results" in failed["error"]


def test_a_wait_longer_than_the_queue_allows_goes_in_hops() -> None:
    class ShortDelays(WorkflowDriver):
        max_delay_s = 3600.0

    @workflow(name="sleepy")
    def sleepy(wf: Workflow) -> str:
        wf.sleep(3 * 3600 + 5)
        return "awake"

    with ShortDelays() as driver:
        started = driver.clock
        instance_id = driver.start(sleepy)
        delivered = driver.run()
        assert driver.instance(instance_id)["result"] == "awake"
        assert delivered == 5  # start, then hops at 1 h, 2 h, 3 h, and the last 5 s
        assert driver.clock >= started + 3 * 3600 + 4


def test_duplicate_messages_do_not_advance_an_instance_twice(flow: Any) -> None:
    with WorkflowDriver() as driver:
        instance_id = driver.start(flow.order_flow, ORDER)
        for _ in range(3):  # the start message, delivered three times (at-least-once queues)
            driver.start(flow.order_flow, ORDER, id=instance_id)
        driver.run(for_s=60)
        send_event(flow.APPROVAL, match="o-1", data={"by": "webhook"})
        send_event(flow.APPROVAL, match="o-1", data={"by": "webhook"})
        driver.run()
        done = driver.instance(instance_id)
        assert shape(done) == FLOW_SHAPE and done["result"] == FLOW_RESULT
        assert len(effects(driver)) == 10


@dataclass
class Order:
    id: str
    qty: int


def total_of(order: Order) -> int:
    return order.qty * 2


@workflow(trigger=http("POST", "/typed"))
def typed(wf: Workflow, order: Order) -> dict[str, Any]:
    return {"id": order.id, "total": wf.step(total_of, order)}


def test_the_http_starter_answers_202_once_per_idempotency_key_and_400_for_a_bad_body() -> None:
    spec = typed.spec
    assert spec is not None
    with WorkflowDriver() as driver:
        body = json.dumps({"id": "t-1", "qty": 4}).encode()
        headers = {"content-type": "application/json", "idempotency-key": "k-1"}
        first = call_http(spec, Request("POST", "/typed", headers=headers, body=body))
        again = call_http(spec, Request("POST", "/typed", headers=headers, body=body))
        assert first.status == again.status == 202
        assert json.loads(first.body)["id"] == json.loads(again.body)["id"]
        bad = call_http(spec, Request("POST", "/typed", headers={"content-type": "application/json"}, body=b"[1]"))
        assert bad.status == 400 and "Order" in json.loads(bad.body)["error"]
        driver.run()
        instance = driver.instance(json.loads(first.body)["id"])
        assert instance["result"] == {"id": "t-1", "total": 8}
        assert [i["id"] for i in list_instances(workflow="typed")] == [instance["id"]]


@function(trigger=queue("undeclared-starts"))
def starts_without_declaring(event: CloudEvent) -> None:
    start_workflow(typed, {"id": "x", "qty": 1})


def test_starting_a_workflow_undeclared_names_the_fix() -> None:
    from portable_fn.runtime.pipeline import call_event

    spec = starts_without_declaring.__portable_fn__  # type: ignore[attr-defined]
    with WorkflowDriver():
        result = call_event(spec, CloudEvent(id="1", source="/t", type="t", data={}))
    assert isinstance(result.error, UndeclaredResourceError)
    assert "uses=[typed]" in str(result.error)


def test_an_app_loads_the_starter_and_the_runner_on_its_own_queue(flow_app: Any) -> None:
    names = [s.name for s in flow_app.functions]
    assert names == ["order_flow", "order_flow-run", "approve"]
    runner = flow_app.function("order_flow-run")
    assert runner.trigger.name == "pfn-wf-order-flow"
    assert {(u.resource.kind, u.resource.name) for u in runner.options.uses} >= {
        ("state", "ledger"),
        ("state", "pfn-workflows"),
        ("queue", "pfn-wf-order-flow"),
    }
    assert top_level_name(runner, "Generating", "host") == "order_flow.runner"
    assert top_level_name(flow_app.function("order_flow"), "Generating", "host") == "order_flow"


wf_events = topic("wf-events")
NOTIFY_RUNS: list[int] = []


def notify_step(order_id: str) -> str:
    emit(wf_events, {"order": order_id}, type="shop.order.shipped", subject=order_id)
    NOTIFY_RUNS.append(1)
    if len(NOTIFY_RUNS) == 1:
        raise Crash()  # the runner dies after publishing, before the step is checkpointed
    return "notified"


@workflow(uses=[wf_events.publish()])
def notifying(wf: Workflow, order_id: str) -> str:
    return wf.step(notify_step, order_id)


def test_an_event_emitted_in_a_step_is_published_at_once_with_an_id_its_rerun_repeats() -> None:
    NOTIFY_RUNS.clear()
    with WorkflowDriver() as driver:
        instance_id = driver.start(notifying, "o-5")
        with pytest.raises(Crash):
            driver.run()
        driver.run()
        assert driver.instance(instance_id)["result"] == "notified"
    assert len(NOTIFY_RUNS) == 2
    first, again = [event for channel, event, _ in driver.sent if channel.name == "wf-events"]
    assert first.id == again.id and first.subject == "o-5" and first.data == {"order": "o-5"}


SQUARES: dict[int, int] = {}


def square(n: int) -> int:
    SQUARES[n] = SQUARES.get(n, 0) + 1
    if n == 3 and SQUARES[n] < 2:
        raise ConnectionError("flaky branch")  # retried by the runner's queue, then succeeds
    if n < 0:
        raise DeadLetter(f"no square of {n}")
    return n * n


@workflow()
def fan_out(wf: Workflow, numbers: list[int]) -> Any:
    try:
        return wf.map(square, numbers)
    except StepFailed as failed:
        return f"failed: {failed.reason}"


def test_map_runs_each_item_as_its_own_invocation_and_joins_in_order() -> None:
    SQUARES.clear()
    with WorkflowDriver() as driver:
        good = driver.start(fan_out, [1, 2, 3, 4])
        bad = driver.start(fan_out, [5, -1])
        deliveries_before = driver.deliveries
        driver.run()
        assert driver.instance(good)["result"] == [1, 4, 9, 16]
        assert driver.instance(bad)["result"] == "failed: DeadLetter: no square of -1"
        assert SQUARES[3] == 2  # the flaky branch ran twice, the others once
        assert all(SQUARES[n] == 1 for n in (1, 2, 4, 5))
        # each branch was its own delivery: 2 starts + 6 branches + 1 retry + the joins
        assert driver.deliveries - deliveries_before >= 2 + 6 + 1 + 2
        [entry] = [e for e in driver.instance(good)["history"] if e["kind"] == "parallel"]
        assert entry["name"] == "map:square" and entry["count"] == 4


@workflow()
def impatient(wf: Workflow, order_id: str) -> Any:
    first = wf.step(step_a)
    return [first, wf.wait_for_event("paid", match=order_id, timeout=60)]


def test_retry_waits_again_for_an_event_that_timed_out_and_continues_an_instance_whose_message_was_lost(
    flow: Any,
) -> None:
    with WorkflowDriver() as driver:
        timed_out = driver.start(impatient, "late-1")
        driver.run()  # the event never comes: EventTimeout fails it
        assert "EventTimeout" in driver.instance(timed_out)["error"]
        retry(timed_out)
        driver.run(for_s=30)
        assert driver.instance(timed_out)["waiting"]["for"] == "event"  # waiting again, with a new timeout
        send_event("paid", match="late-1", data={"amount": 3})
        driver.run()
        assert driver.instance(timed_out)["result"] == ["a", {"amount": 3}]
        with pytest.raises(WorkflowError, match="only failed, diverged or unfinished ones retry"):
            retry(timed_out)

        lost = driver.start(flow.order_flow, {**ORDER, "id": "o-2"})
        assert driver.take() is not None  # its first message went to a dead-letter queue
        assert driver.instance(lost)["history"] == []
        retry(lost)
        driver.run(for_s=60)
        assert driver.instance(lost)["waiting"]["for"] == "event"

        undone = driver.start(flow.order_flow, {**ORDER, "id": "o-3", "fail_at": "capture"})
        driver.run()
        with pytest.raises(WorkflowError, match="were undone"):
            retry(undone)
