"""The planner: a pure function from (desired resources, remote state) to the steps that converge them.

Nothing here talks to a cloud, so every decision is tested with in-memory states. Creates and updates
follow the desired order (providers list dependencies first); deletes come last, in reverse order of
what was found, so dependents go before what they depend on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .models import RemoteState, Resource

CREATE, UPDATE, DELETE = "create", "update", "delete"
_SIGN = {CREATE: "+", UPDATE: "~", DELETE: "-"}


@dataclass(frozen=True)
class Step:
    """One change: create, update (with the fields that differ) or delete a resource."""

    action: str
    resource: Resource
    previous: Resource | None = None
    changes: tuple[str, ...] = ()

    def describe(self) -> str:
        text = f"{_SIGN[self.action]} {self.action} {self.resource.kind} {self.resource.name}"
        return text + (f" ({', '.join(self.changes)})" if self.changes else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "kind": self.resource.kind, "name": self.resource.name}
        if self.changes:
            out["changes"] = list(self.changes)
        return out


@dataclass(frozen=True)
class Plan:
    """The ordered steps, plus what already matches."""

    steps: tuple[Step, ...]
    unchanged: tuple[Resource, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.steps

    def count(self, action: str) -> int:
        return sum(1 for s in self.steps if s.action == action)

    def summary(self) -> str:
        return (f"{self.count(CREATE)} to create, {self.count(UPDATE)} to update, "
                f"{self.count(DELETE)} to delete, {len(self.unchanged)} unchanged")

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [s.to_dict() for s in self.steps], "unchanged": len(self.unchanged),
                "summary": self.summary()}


def make_plan(desired: Sequence[Resource], remote: RemoteState) -> Plan:
    """The steps that make `remote` equal to `desired` (an empty plan when they already match)."""
    steps: list[Step] = []
    unchanged: list[Resource] = []
    wanted = set()
    for resource in desired:
        wanted.add(resource.key)
        found = remote.get(resource.key)
        if found is None:
            steps.append(Step(CREATE, resource))
        elif changes := resource.changed_fields(found):
            steps.append(Step(UPDATE, resource, found, changes))
        else:
            unchanged.append(found)
    for found in reversed(list(remote)):
        if found.key not in wanted:
            steps.append(Step(DELETE, found, found))
    return Plan(tuple(steps), tuple(unchanged))
