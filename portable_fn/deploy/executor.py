"""Executors: the one place a plan turns into cloud calls, and its display-only twin.

A provider's executor subclasses `Executor` and implements `apply(step)`. The base class runs steps in
order, reports progress, and turns a failure into a `DeployError` that says which step failed, what the
cloud said, and that rerunning converges (every step is written to be safe to repeat).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..runtime.errors import DeployError, PortableFnError
from .planner import Plan, Step

Progress = Callable[[str], None]


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
