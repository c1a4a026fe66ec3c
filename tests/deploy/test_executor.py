"""Executors: progress, failures that say where and what next, dry runs that change nothing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from portable_fn.deploy import DryRunExecutor, Executor, RemoteState, Resource, Step, make_plan
from portable_fn.runtime.errors import DeployError


@dataclass(frozen=True)
class Thing(Resource):
    kind = "thing"


class FlakyExecutor(Executor):
    provider = "testcloud"

    def __init__(self, fail_on: str | None) -> None:
        super().__init__("shop", "dev")
        self.fail_on = fail_on
        self.applied: list[str] = []

    def apply(self, step: Step) -> None:
        if step.resource.name == self.fail_on:
            raise RuntimeError("AccessDenied: not allowed")
        self.applied.append(step.resource.name)


def test_a_failed_step_names_the_step_the_cause_and_the_next_step() -> None:
    plan = make_plan([Thing("a"), Thing("b"), Thing("c")], RemoteState())
    executor = FlakyExecutor(fail_on="b")
    with pytest.raises(DeployError) as info:
        executor.execute(plan)
    message = str(info.value)
    assert "step 2 of 3, '+ create thing b'" in message
    assert "RuntimeError: AccessDenied: not allowed" in message
    assert "run `portable-fn deploy` again" in message
    assert executor.applied == ["a"]


def test_a_failure_the_provider_explains_is_said_in_its_words() -> None:
    class Explaining(FlakyExecutor):
        def explain(self, exc: BaseException) -> str | None:
            return "the credentials have expired; sign in again" if "AccessDenied" in str(exc) else None

    with pytest.raises(DeployError) as info:
        Explaining(fail_on="b").execute(make_plan([Thing("a"), Thing("b")], RemoteState()))
    message = str(info.value)
    assert "'+ create thing b', failed: the credentials have expired; sign in again." in message
    assert "RuntimeError" not in message and "run `portable-fn deploy` again" in message


def test_progress_reports_each_step() -> None:
    seen: list[str] = []
    FlakyExecutor(None).execute(make_plan([Thing("a")], RemoteState()), seen.append)
    assert seen == ["[1/1] + create thing a"]


def test_dry_run_reports_every_step_and_applies_nothing() -> None:
    plan = make_plan([Thing("a")], RemoteState([Thing("old")]))
    report = DryRunExecutor("shop", "dev").execute(plan)
    assert report.dry_run and [s.action for s in report.applied] == ["create", "delete"]
