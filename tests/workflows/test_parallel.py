"""`wf.parallel((fn, *args), ...)`: different functions fanned out as separate invocations and joined in
the order given (`wf.map` is the one-function case, tested in test_engine.py)."""

from __future__ import annotations

from typing import Any

from portable_fn.runtime.workflow import Workflow, workflow
from portable_fn.workflows import WorkflowDriver

RUNS: dict[str, int] = {}


def double(n: int) -> int:
    RUNS["double"] = RUNS.get("double", 0) + 1
    return n * 2


def greet(name: str, punctuation: str) -> str:
    RUNS["greet"] = RUNS.get("greet", 0) + 1
    return f"hi {name}{punctuation}"


@workflow()
def both(wf: Workflow, n: int) -> list[Any]:
    return wf.parallel((double, n), (greet, "ada", "!"))


@workflow()
def misused(wf: Workflow) -> list[Any]:
    return wf.parallel(double)  # type: ignore[arg-type]  # a function, not a (function, *args) tuple


def test_different_functions_run_each_once_as_their_own_invocation_and_join_in_order() -> None:
    RUNS.clear()
    with WorkflowDriver() as driver:
        instance_id = driver.start(both, 21)
        before = driver.deliveries
        driver.run()
        done = driver.instance(instance_id)
        deliveries = driver.deliveries - before
    assert done["status"] == "completed", done.get("error")
    assert done["result"] == [42, "hi ada!"]
    assert RUNS == {"double": 1, "greet": 1}
    assert deliveries >= 1 + 2 + 1  # the start, one per branch, the join
    [entry] = [e for e in done["history"] if e["kind"] == "parallel"]
    assert entry["name"] == "parallel:double,greet" and entry["count"] == 2


def test_a_call_that_is_not_a_function_with_its_arguments_fails_the_instance_saying_how() -> None:
    with WorkflowDriver() as driver:
        instance_id = driver.start(misused)
        driver.run()
        done = driver.instance(instance_id)
    assert done["status"] == "failed"
    assert "give (function, *args) tuples" in done["error"]
