"""The deploy pipeline every provider shares: models -> plan -> execute.

1. `models`: resources as frozen dataclasses with no I/O, and the remote state read from a cloud.
2. `planner.make_plan`: a pure function of (desired resources, remote state) -> `Plan` of steps, each
   naming the steps it waits for.
3. `executor`: `Executor` applies a plan through a provider's map of appliers (the only code that
   mutates a cloud); `DryRunExecutor` only reports it, which is all `portable-fn plan` does.
4. `appliers`: the `Applier` base (create / update / delete of one resource type) and `ApplyContext`.
5. `deployer`: the `Deployer` base a provider fills in (naming, desired, remote, appliers, client, outputs).
6. `pipeline`: the flow the CLI runs, reading like a table of contents.
"""

from __future__ import annotations

from .appliers import Applier, ApplyContext
from .deployer import Deployer
from .executor import DryRunExecutor, ExecutionReport, Executor, Settling, Waits, while_settling
from .models import Artifact, DeployTarget, RemoteState, Resource
from .planner import CREATE, DELETE, UPDATE, Plan, Step, make_plan

__all__ = [
    "CREATE",
    "DELETE",
    "UPDATE",
    "Applier",
    "ApplyContext",
    "Artifact",
    "DeployTarget",
    "Deployer",
    "DryRunExecutor",
    "ExecutionReport",
    "Executor",
    "Plan",
    "RemoteState",
    "Resource",
    "Settling",
    "Step",
    "Waits",
    "make_plan",
    "while_settling",
]
