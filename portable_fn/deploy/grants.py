"""Grants as data: who may do what to which resource, read out of the resources a provider wants.

Each provider already builds the access its functions need as resources of its own kind (an IAM role's
inline policy on AWS, IAM bindings on Google Cloud, role assignments on Azure). `Provider.grants(desired)`
turns them into `Grant`s, one per principal, resource and role or statement, so the same checks (the
policy rule "no wildcard grants", the tests that trace every grant back to what the app declares) read
every cloud the same way. Plain values, no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Grant:
    """One thing one principal may do: `actions` on exactly `resource`.

    `function` is the app's function the grant is for (None: the app or stage as a whole, say a role
    all its functions share or the scheduler's); `actions` are IAM actions (AWS), the permissions of the
    role (GCP), or the role's actions and dataActions (Azure); `role` the role granted when the grant is
    a role binding (GCP, Azure). `platform` says why the platform itself needs the grant when no declaration
    asks for it (Azure: the Functions host's own storage), so the checks that trace each grant to what the app
    declares can set it apart; empty for every grant a declaration explains."""

    function: str | None
    principal: str
    actions: tuple[str, ...]
    resource: str
    role: str | None = None
    platform: str = ""

    def wildcard_actions(self) -> tuple[str, ...]:
        """The actions that name a pattern rather than one action (`*`, `sqs:*`, `Microsoft.Storage/*/read`)."""
        return tuple(action for action in self.actions if "*" in action)

    def describe(self) -> str:
        """One line naming it: "orders-dev-fulfil: dynamodb:GetItem on arn:aws:dynamodb:...:table/t"."""
        what = self.role or ", ".join(self.actions)
        why = f" (for the platform: {self.platform})" if self.platform else ""
        return f"{self.function or '(app)'} as {self.principal}: {what} on {self.resource}{why}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def wildcard_grants(grants: Iterable[Grant]) -> list[Grant]:
    """The grants that give a wildcard action or name no resource (`*`): what "no wildcard grants" refuses."""
    return [g for g in grants if g.wildcard_actions() or g.resource in ("", "*")]


@dataclass(frozen=True)
class GrantChanges:
    """The grants a plan leaves in place, adds and takes away: `Provider.grants` of what exists against what
    the plan deploys, compared grant by grant (function, principal, actions, resource, role)."""

    kept: tuple[Grant, ...]
    added: tuple[Grant, ...]
    removed: tuple[Grant, ...]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    def lines(self) -> list[str]:
        """The grants per function, each marked: `+` granted by this plan, `-` taken away, `=` unchanged."""
        marked = [("+", g) for g in self.added] + [("-", g) for g in self.removed] + [("=", g) for g in self.kept]
        if not marked:
            return []
        marked.sort(key=lambda item: (item[1].function or "", item[1].resource, item[0]))
        summary = f"{len(self.added)} to grant, {len(self.removed)} to take away, {len(self.kept)} unchanged"
        return [f"Grants ({summary}):", *(f"  {sign} {grant.describe()}" for sign, grant in marked)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": [g.to_dict() for g in self.added],
            "removed": [g.to_dict() for g in self.removed],
            "kept": [g.to_dict() for g in self.kept],
        }


def grant_changes(before: Iterable[Grant], after: Iterable[Grant]) -> GrantChanges:
    """What changes from the grants `before` (what exists) to `after` (what the plan deploys), in their order."""
    old, new = list(dict.fromkeys(before)), list(dict.fromkeys(after))
    old_set, new_set = set(old), set(new)
    return GrantChanges(
        kept=tuple(g for g in new if g in old_set),
        added=tuple(g for g in new if g not in old_set),
        removed=tuple(g for g in old if g not in new_set),
    )
