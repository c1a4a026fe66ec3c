"""`AzureExecutor`: applies a plan to Azure, one step at a time, through the appliers.

The shared `Executor` runs the steps in order and turns a failure into a `DeployError` naming the step
(the resource's kind and name), Azure's error code and message, and that rerunning `deploy` converges.
"""

from __future__ import annotations

from typing import Any

from portable_fn.deploy import Executor
from portable_fn.deploy.executor import ExecutionReport, Progress, quiet
from portable_fn.deploy.planner import CREATE, DELETE, Plan, Step

from .appliers import (
    Applier,
    AppSettingsApplier,
    BlobContainers,
    Context,
    FunctionApps,
    FunctionPlans,
    PackageBlobs,
    Releases,
    ResourceGroups,
    RoleAssignments,
    StorageAccounts,
    StorageQueues,
)
from .client import explain
from .grid import EventGridTopics, EventSubscriptions, SystemTopics
from .resources import (
    AppSettings,
    BlobContainer,
    EventGridTopic,
    EventSubscription,
    FunctionApp,
    FunctionPlan,
    PackageBlob,
    Release,
    ResourceGroup,
    RoleAssignment,
    StorageAccount,
    StorageQueue,
    SystemTopic,
)


class AzureExecutor(Executor):
    """Applies plans to one app and stage on Azure."""

    provider = "azure"

    def explain(self, exc: BaseException) -> str | None:
        return explain(exc)

    def __init__(self, app: str, stage: str, ctx: Context, resource_group: str, account: str, site: str) -> None:
        super().__init__(app, stage)
        self.ctx = ctx
        self._appliers: dict[type, Applier[Any]] = {
            ResourceGroup: ResourceGroups(ctx), StorageAccount: StorageAccounts(ctx),
            BlobContainer: BlobContainers(ctx), StorageQueue: StorageQueues(ctx),
            PackageBlob: PackageBlobs(ctx, resource_group, account), FunctionPlan: FunctionPlans(ctx, site),
            FunctionApp: FunctionApps(ctx), AppSettings: AppSettingsApplier(ctx, account),
            Release: Releases(ctx, account),
            EventGridTopic: EventGridTopics(ctx), SystemTopic: SystemTopics(ctx),
            EventSubscription: EventSubscriptions(ctx, site),
            RoleAssignment: RoleAssignments(ctx, resource_group, site),
        }

    def execute(self, plan: Plan, progress: Progress = quiet) -> ExecutionReport:
        self.ctx.progress = progress  # long-running operations report through the same sink
        return super().execute(plan, progress)

    def apply(self, step: Step) -> None:
        applier = self._appliers[type(step.resource)]
        if step.action == CREATE:
            applier.create(step.resource)
        elif step.action == DELETE:
            applier.delete(step.resource)
        else:
            assert step.previous is not None
            applier.update(step.resource, step.previous, step.changes)
