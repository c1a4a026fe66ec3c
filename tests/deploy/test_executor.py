"""Executors: progress, failures that say where and what next, dry runs that change nothing; one executor
dispatching to a map of appliers, and steps that wait for what other steps changed."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import pytest

from portable_fn.deploy import (
    Applier,
    ApplyContext,
    DryRunExecutor,
    Executor,
    RemoteState,
    Resource,
    Settling,
    Step,
    make_plan,
)
from portable_fn.deploy.executor import quiet
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


# -- one executor driven by a map of appliers ------------------------------------------------------
@dataclass(frozen=True)
class Grant(Resource):
    """A change that takes a while to reach the rest of the (test) cloud."""

    kind = "grant"
    role: str = "reader"


@dataclass(frozen=True)
class Release(Resource):
    """What is refused until the grants this run made have settled."""

    kind = "release"
    waits_for_kinds = frozenset({"grant"})
    package: str = ""


class FakeCloud:
    """A cloud that refuses a release until `settle_after` seconds after the last grant, on `clock`."""

    def __init__(self, settle_after: float) -> None:
        self.settle_after = settle_after
        self.granted_at: float | None = None
        self.calls: list[str] = []

    def release(self, name: str, now: float) -> None:
        self.calls.append(f"release {name}")
        if self.granted_at is not None and now - self.granted_at < self.settle_after:
            raise RuntimeError("AuthorizationPermissionMismatch: the grant is not there yet")


class FakeContext(ApplyContext):
    def __init__(self, cloud: FakeCloud) -> None:
        super().__init__()
        self.cloud = cloud


class Grants(Applier[Grant, FakeContext]):
    def create(self, resource: Grant) -> bool | None:
        self.ctx.cloud.calls.append(f"grant {resource.name}")
        self.ctx.cloud.granted_at = time.monotonic()
        return None

    def update(self, resource: Grant, previous: Grant, changes: tuple[str, ...]) -> bool | None:
        self.ctx.cloud.calls.append(f"grant {resource.name} (already there)")
        return False  # the cloud had it: nothing to wait for

    def delete(self, resource: Grant) -> None:
        self.tolerate_missing(lambda: self.gone(resource))

    def gone(self, resource: Grant) -> None:
        self.ctx.cloud.calls.append(f"revoke {resource.name}")
        raise LookupError("NotFound")

    def missing(self, exc: BaseException, *codes: str) -> bool:
        return isinstance(exc, LookupError)

    def settles(self) -> Settling:
        return Settling(
            ("AuthorizationPermissionMismatch",),
            wait_s=30,
            every_s=0.01,
            waiting_for="the new grants to take effect",
            why="grants take a while",
            setting="grant_wait_s",
        )


class Releases(Applier[Release, FakeContext]):
    def create(self, resource: Release) -> bool | None:
        self.until_settled(
            lambda: self.ctx.cloud.release(resource.name, time.monotonic()), f"releasing {resource.name}"
        )
        return None

    def delete(self, resource: Release) -> None:
        self.ctx.cloud.calls.append(f"unrelease {resource.name}")


def executor_for(cloud: FakeCloud) -> Executor:
    ctx = FakeContext(cloud)
    return Executor("shop", "dev", {Grant: Grants(ctx), Release: Releases(ctx)}, provider="testcloud")


def test_each_step_goes_to_the_applier_of_its_resource_type() -> None:
    cloud = FakeCloud(settle_after=0)
    remote = RemoteState([Grant("g", role="writer"), Release("old")])
    plan = make_plan([Grant("g"), Release("r", package="v2")], remote)
    executor_for(cloud).execute(plan)
    assert cloud.calls == ["grant g (already there)", "release r", "unrelease old"]


def test_a_delete_of_what_is_already_gone_is_fine() -> None:
    cloud = FakeCloud(settle_after=0)
    executor_for(cloud).execute(make_plan([], RemoteState([Grant("g")])))
    assert cloud.calls == ["revoke g"]


def test_the_plan_names_what_a_step_waits_for() -> None:
    plan = make_plan([Release("r"), Grant("a"), Grant("b")], RemoteState())
    release = plan.steps[0]
    assert release.waits_for == ("grant a", "grant b")
    assert release.to_dict()["waits_for"] == ["grant a", "grant b"]
    assert [s.label for s in plan.in_dependency_order()] == ["grant a", "grant b", "release r"]


def test_a_step_waits_for_the_grant_it_names_whatever_order_the_plan_lists_them_in() -> None:
    """The release comes first in the plan: the executor grants first, then retries the refused release
    until the grant has settled, saying what it waits for."""
    cloud = FakeCloud(settle_after=0.05)
    plan = make_plan([Release("r"), Grant("a")], RemoteState())
    assert [s.resource.kind for s in plan.steps] == ["release", "grant"]
    messages: list[str] = []
    report = executor_for(cloud).execute(plan, messages.append)
    assert [s.label for s in report.applied] == ["grant a", "release r"]
    assert cloud.calls[0] == "grant a" and cloud.calls[-1] == "release r" and len(cloud.calls) > 2
    assert any("waiting for the new grants to take effect: releasing r refused" in m for m in messages)


def test_a_refusal_when_this_run_changed_nothing_it_waits_for_fails_at_once() -> None:
    """The grant was already there (the applier said so): the refusal is not the cloud catching up."""
    cloud = FakeCloud(settle_after=3600)
    cloud.granted_at = time.monotonic()
    plan = make_plan([Grant("a"), Release("r")], RemoteState([Grant("a", role="writer")]))
    with pytest.raises(DeployError, match="step 2 of 2, '\\+ create release r'.*AuthorizationPermissionMismatch"):
        executor_for(cloud).execute(plan)
    assert cloud.calls == ["grant a (already there)", "release r"]


def test_a_wait_that_never_ends_says_what_to_raise() -> None:
    cloud = FakeCloud(settle_after=3600)
    ctx = FakeContext(cloud)
    grants = Grants(ctx)

    class Impatient(Grants):
        def settles(self) -> Settling:
            return replace(grants.settles(), wait_s=0.03)

    executor = Executor("shop", "dev", {Grant: Impatient(ctx), Release: Releases(ctx)}, provider="testcloud")
    with pytest.raises(DeployError) as info:
        executor.execute(make_plan([Grant("a"), Release("r")], RemoteState()))
    message = str(info.value)
    assert "releasing r was still refused" in message and "raise `grant_wait_s`" in message


def test_steps_that_wait_for_each_other_are_refused() -> None:
    @dataclass(frozen=True)
    class Chicken(Resource):
        kind = "chicken"
        waits_for_kinds = frozenset({"egg"})

    @dataclass(frozen=True)
    class Egg(Resource):
        kind = "egg"
        waits_for_kinds = frozenset({"chicken"})

    with pytest.raises(ValueError, match="wait for each other: chicken c -> egg e -> chicken c"):
        make_plan([Chicken("c"), Egg("e")], RemoteState()).in_dependency_order()


def test_the_appliers_report_through_the_executors_sink_while_it_runs() -> None:
    ctx = FakeContext(FakeCloud(settle_after=0))
    seen: list[str] = []

    class Chatty(Grants):
        def create(self, resource: Grant) -> bool | None:
            self.ctx.progress(f"granting {resource.name}")
            return super().create(resource)

    Executor("shop", "dev", {Grant: Chatty(ctx)}).execute(make_plan([Grant("a")], RemoteState()), seen.append)
    assert seen == ["[1/1] + create grant a", "granting a"]
    assert ctx.progress is quiet
