"""`GcpExecutor`: applies a plan to Google Cloud, one step at a time, through the appliers.

The shared `Executor` runs the steps in order and turns a failure into a `DeployError` naming the step
(the resource's kind and name), Google's error and that rerunning `deploy` converges. The progress sink
is handed to the client too, so waiting for a long-running operation is reported under its step.
"""

from __future__ import annotations

from typing import Any

from portable_fn.deploy import ExecutionReport, Executor
from portable_fn.deploy.executor import Progress, quiet
from portable_fn.deploy.planner import CREATE, DELETE, Plan, Step

from .appliers import APPLIERS, Applier, Context
from .client import explain


class GcpExecutor(Executor):
    """Applies plans to one app and stage on Google Cloud."""

    provider = "gcp"

    def explain(self, exc: BaseException) -> str | None:
        return explain(exc)

    def __init__(self, app: str, stage: str, ctx: Context) -> None:
        super().__init__(app, stage)
        self.ctx = ctx
        self._appliers: dict[type, Applier[Any]] = {kind: make(ctx) for kind, make in APPLIERS.items()}

    def execute(self, plan: Plan, progress: Progress = quiet) -> ExecutionReport:
        self.ctx.gcp.progress = progress
        try:
            return super().execute(plan, progress)
        finally:
            self.ctx.gcp.progress = quiet

    def apply(self, step: Step) -> None:
        applier = self._appliers[type(step.resource)]
        if step.action == CREATE:
            applier.create(step.resource)
        elif step.action == DELETE:
            applier.delete(step.resource)
        else:
            assert step.previous is not None
            applier.update(step.resource, step.previous, step.changes)
