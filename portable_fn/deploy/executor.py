"""Executors: the one place a plan turns into cloud calls, and its display-only twin.

A provider's executor subclasses `Executor` and implements `apply(step)`. The base class runs steps in
order, reports progress, and turns a failure into a `DeployError` that says which step failed, what the
cloud said, and that rerunning converges (every step is written to be safe to repeat). `while_settling`
retries, for a while, a step the cloud refuses until it has applied what an earlier step changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..runtime.errors import DeployError, PortableFnError
from .planner import Plan, Step

Progress = Callable[[str], None]
T = TypeVar("T")


def quiet(message: str) -> None:
    """A progress sink that drops messages."""


@dataclass
class ExecutionReport:
    """What an executor did: the steps applied, in order."""

    applied: list[Step] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"applied": [s.to_dict() for s in self.applied], "dry_run": self.dry_run}


class Executor:
    """Applies a plan step by step. Subclasses implement `apply`; `provider`/`app` name the target."""

    provider = "provider"

    def __init__(self, app: str, stage: str) -> None:
        self.app = app
        self.stage = stage

    def apply(self, step: Step) -> None:
        raise NotImplementedError

    def explain(self, exc: BaseException) -> str | None:
        """The provider's reading of a cloud error (see `Provider.explain`); None by default."""
        return None

    def execute(self, plan: Plan, progress: Progress = quiet) -> ExecutionReport:
        report = ExecutionReport()
        total = len(plan.steps)
        for number, step in enumerate(plan.steps, start=1):
            progress(f"[{number}/{total}] {step.describe()}")
            try:
                self.apply(step)
            except PortableFnError:
                raise
            except Exception as exc:
                raise DeployError(
                    f"Deploying {self.app!r} (stage {self.stage!r}) to {self.provider}: step {number} of "
                    f"{total}, '{step.describe()}', failed: {self.explain(exc) or f'{type(exc).__name__}: {exc}'}. "
                    "Steps before it "
                    "were applied and later ones were not; fix the cause and run `portable-fn deploy` "
                    "again to converge (`portable-fn plan` shows what remains)."
                ) from exc
            report.applied.append(step)
        return report


class DryRunExecutor(Executor):
    """Reports every step and changes nothing: what `portable-fn plan` runs."""

    def apply(self, step: Step) -> None:
        pass

    def execute(self, plan: Plan, progress: Progress = quiet) -> ExecutionReport:
        for step in plan.steps:
            progress(step.describe())
        return ExecutionReport(applied=list(plan.steps), dry_run=True)


def while_settling(call: Callable[[], T], *, since: float | None, refusals: tuple[str, ...], wait_s: float,
                   every_s: float, progress: Progress, what: str, waiting_for: str, why: str, setting: str,
                   again: Callable[[], T] | None = None) -> T:
    """`call()`, for a step that depends on something this run changed at `since` (a role granted, a
    package released) which the cloud applies only after a while. A failure holding one of `refusals` is
    retried (by `again`, else `call`) every `every_s` until `wait_s` after `since`, saying so through
    `progress`; then it fails saying what was refused, `why`, and that a rerun or a larger `setting`
    helps. Any other failure, or any when this run changed nothing (`since` None), is raised at once."""
    attempt = call
    while True:
        try:
            return attempt()
        except Exception as exc:
            if since is None or not any(refusal in str(exc) for refusal in refusals):
                raise
            waited = time.monotonic() - since
            if waited >= wait_s:
                raise RuntimeError(
                    f"{what} was still refused {waited:.0f} s later, waiting for {waiting_for} ({exc}). {why}; "
                    "run `portable-fn deploy` again in a few minutes (it does only what is left), or raise "
                    f"`{setting}`.") from exc
            progress(f"    waiting for {waiting_for}: {what} refused, {waited:.0f} s on")
            time.sleep(every_s)
            attempt = again or call
