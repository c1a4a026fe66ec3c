"""The planner: a pure function from (desired resources, remote state) to the steps that converge them.

Nothing here talks to a cloud, so every decision is tested with in-memory states. Creates and updates
follow the desired order (providers list dependencies first); deletes come last, in reverse order of
what was found, so dependents go before what they depend on. A resource that says why it is kept
(`Resource.kept_because`) is never deleted: the plan lists it as kept instead.
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
    """The ordered steps, plus what already matches and what is kept though no longer wanted."""

    steps: tuple[Step, ...]
    unchanged: tuple[Resource, ...] = field(default=())
    kept: tuple[Resource, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.steps

    def count(self, action: str) -> int:
        return sum(1 for s in self.steps if s.action == action)

    def summary(self) -> str:
        return (f"{self.count(CREATE)} to create, {self.count(UPDATE)} to update, "
                f"{self.count(DELETE)} to delete, {len(self.unchanged)} unchanged"
                + (f", {len(self.kept)} kept" if self.kept else ""))

    def kept_lines(self) -> list[str]:
        """One line per kept resource: what it is and why it stays."""
        return [f"= keep {r.kind} {r.name}: {r.kept_because()}" for r in self.kept]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"steps": [s.to_dict() for s in self.steps], "unchanged": len(self.unchanged),
                               "summary": self.summary()}
        if self.kept:
            out["kept"] = [{"kind": r.kind, "name": r.name, "reason": r.kept_because()} for r in self.kept]
        return out


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
    kept: list[Resource] = []
    for found in reversed(list(remote)):
        if found.key not in wanted:
            if found.kept_because() is None:
                steps.append(Step(DELETE, found, found))
            else:
                kept.append(found)
    return Plan(tuple(steps), tuple(unchanged), tuple(kept))
