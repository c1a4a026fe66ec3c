"""The deploy pipeline every provider shares: models -> plan -> execute.

1. `models`: resources as frozen dataclasses with no I/O, and the remote state read from a cloud.
2. `planner.make_plan`: a pure function of (desired resources, remote state) -> `Plan` of steps.
3. `executor`: `Executor` applies a plan (the only code that mutates a cloud); `DryRunExecutor`
   only reports it, which is all `portable-fn plan` does.
4. `pipeline`: the flow the CLI runs, reading like a table of contents.
"""

from __future__ import annotations

from .executor import DryRunExecutor, ExecutionReport, Executor
from .models import Artifact, RemoteState, Resource
from .planner import CREATE, DELETE, UPDATE, Plan, Step, make_plan

__all__ = [
    "CREATE", "DELETE", "UPDATE", "Artifact", "DryRunExecutor", "ExecutionReport", "Executor", "Plan",
    "RemoteState", "Resource", "Step", "make_plan",
]
