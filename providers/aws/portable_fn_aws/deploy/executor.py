"""`AwsExecutor`: applies a plan to AWS, one step at a time, through the appliers.

The shared `Executor` runs the steps in order and turns a failure into a `DeployError` naming the step
(the resource's kind and name), the AWS error code and message, and that rerunning `deploy` converges.
"""

from __future__ import annotations

from typing import Any

from portable_fn.deploy import Executor
from portable_fn.deploy.planner import CREATE, DELETE, Step

from .appliers import APPLIERS, Applier, Context
from .client import explain


class AwsExecutor(Executor):
    """Applies plans to one app and stage on AWS."""

    provider = "aws"

    def explain(self, exc: BaseException) -> str | None:
        return explain(exc)

    def __init__(self, app: str, stage: str, ctx: Context) -> None:
        super().__init__(app, stage)
        self.ctx = ctx
        self._appliers: dict[type, Applier[Any]] = {kind: make(ctx) for kind, make in APPLIERS.items()}

    def apply(self, step: Step) -> None:
        applier = self._appliers[type(step.resource)]
        if step.action == CREATE:
            applier.create(step.resource)
        elif step.action == DELETE:
            applier.delete(step.resource)
        else:
            assert step.previous is not None
            applier.update(step.resource, step.previous, step.changes)
