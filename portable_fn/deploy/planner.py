"""The planner: a pure function from (desired resources, remote state) to the steps that converge them.

Nothing here talks to a cloud, so every decision is tested with in-memory states. Creates and updates
follow the desired order (providers list dependencies first); deletes come last, in reverse order of
what was found, so dependents go before what they depend on. A resource that says why it is kept
(`Resource.kept_because`) is never deleted: the plan lists it as kept instead; nor is a store that holds
data (`Resource.holds_data`), unless the plan is made with `delete_data=True` (`remove --delete-data`).

A create or update that must wait for a change another step makes (a role granted before the package
that needs it is released) names that step in `Step.waits_for` (from `Resource.waits_for_kinds`); the
executor applies the steps waited for first and hands their settling times to the waiting step, so the
order of `steps` is a preference, not what correctness rests on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .models import RemoteState, Resource

CREATE, UPDATE, DELETE = "create", "update", "delete"
_SIGN = {CREATE: "+", UPDATE: "~", DELETE: "-"}


@dataclass(frozen=True)
class Step:
    """One change: create, update (with the fields that differ) or delete a resource; `waits_for` holds
    the labels of the steps of the same plan whose change this one waits for."""

    action: str
    resource: Resource
    previous: Resource | None = None
    changes: tuple[str, ...] = ()
    waits_for: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """What `waits_for` names this step by: its resource's kind and name."""
        return f"{self.resource.kind} {self.resource.name}"

    def describe(self) -> str:
        text = f"{_SIGN[self.action]} {self.action} {self.resource.kind} {self.resource.name}"
        return text + (f" ({', '.join(self.changes)})" if self.changes else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "kind": self.resource.kind, "name": self.resource.name}
        if self.changes:
            out["changes"] = list(self.changes)
        if self.waits_for:
            out["waits_for"] = list(self.waits_for)
        return out


@dataclass(frozen=True)
class Plan:
    """The ordered steps, plus what already matches and what is kept though no longer wanted."""

    steps: tuple[Step, ...]
    unchanged: tuple[Resource, ...] = field(default=())
    kept: tuple[Resource, ...] = field(default=())
    delete_data: bool = False

    @property
    def empty(self) -> bool:
        return not self.steps

    def count(self, action: str) -> int:
        return sum(1 for s in self.steps if s.action == action)

    def summary(self) -> str:
        return (
            f"{self.count(CREATE)} to create, {self.count(UPDATE)} to update, "
            f"{self.count(DELETE)} to delete, {len(self.unchanged)} unchanged"
            + (f", {len(self.kept)} kept" if self.kept else "")
        )

    def in_dependency_order(self) -> tuple[Step, ...]:
        """The steps in plan order, except that a step comes after every step it waits for."""
        by_label = {step.label: step for step in self.steps}
        ordered: dict[str, Step] = {}

        def place(step: Step, seen: tuple[str, ...]) -> None:
            if step.label in ordered:
                return
            if step.label in seen:
                raise ValueError(f"the plan's steps wait for each other: {' -> '.join((*seen, step.label))}")
            for label in step.waits_for:
                if label in by_label:
                    place(by_label[label], (*seen, step.label))
            ordered[step.label] = step

        for step in self.steps:
            place(step, ())
        return tuple(ordered.values())

    def kept_lines(self) -> list[str]:
        """One line per kept resource: what it is and why it stays."""
        return [f"= keep {r.kind} {r.name}: {r.reason_kept(self.delete_data)}" for r in self.kept]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "steps": [s.to_dict() for s in self.steps],
            "unchanged": len(self.unchanged),
            "summary": self.summary(),
        }
        if self.kept:
            out["kept"] = [
                {"kind": r.kind, "name": r.name, "reason": r.reason_kept(self.delete_data)} for r in self.kept
            ]
        return out


def make_plan(desired: Sequence[Resource], remote: RemoteState, delete_data: bool = False) -> Plan:
    """The steps that make `remote` equal to `desired` (an empty plan when they already match); a store
    holding data that is no longer wanted is kept unless `delete_data`."""
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
            if found.reason_kept(delete_data) is None:
                steps.append(Step(DELETE, found, found))
            else:
                kept.append(found)
    return Plan(with_waits(steps), tuple(unchanged), tuple(kept), delete_data)


def with_waits(steps: Sequence[Step]) -> tuple[Step, ...]:
    """`steps`, each create or update naming the creates and updates it waits for (`waits_for_kinds`)."""
    changing = [s for s in steps if s.action != DELETE]
    out = []
    for step in steps:
        kinds = step.resource.waits_for_kinds
        waited = tuple(s.label for s in changing if s.resource.kind in kinds and s is not step)
        out.append(replace(step, waits_for=waited) if waited and step.action != DELETE else step)
    return tuple(out)
