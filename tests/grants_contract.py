"""What every cloud's grants must be (`Provider.grants`): no wildcard action, every resource named, and each
grant traced back to what the app declares. Imported by the per-cloud grant tests (relatively, e.g.
`from ....grants_contract import untraced`), which build the allowed table from the app's declarations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from portable_fn.deploy.grants import Grant

# (function or None for the app as a whole, resource) -> the actions (or the role) that may be granted on it,
# and why: the declared use, the function's own trigger, or its logging.
Allowed = Mapping[tuple[str | None, str], tuple[frozenset[str], str]]


def untraced(
    grants: Iterable[Grant],
    allowed: Allowed,
    patterns: Mapping[str, str] | None = None,
    wildcard_roles: Mapping[str, str] | None = None,
) -> list[str]:
    """One line per grant that breaks the contract, naming it: a wildcard action (unless its role is listed in
    `wildcard_roles` with its reason), an unnamed resource (`*`, or a pattern not listed in `patterns` with its
    reason), or a grant no declaration explains."""
    problems = []
    for grant in grants:
        if grant.wildcard_actions() and grant.role not in (wildcard_roles or {}):
            problems.append(f"wildcard action {grant.wildcard_actions()}: {grant.describe()}")
        if grant.resource in ("", "*") or ("*" in grant.resource and grant.resource not in (patterns or {})):
            problems.append(f"unnamed resource: {grant.describe()}")
        entry = allowed.get((grant.function, grant.resource))
        granted = {grant.role} if grant.role else set(grant.actions)
        if entry is None or not granted <= entry[0]:
            problems.append(f"not declared: {grant.describe()}")
    return problems


def unused(grants: Iterable[Grant], allowed: Allowed) -> list[str]:
    """The declarations no grant honours (a use the app declares that its functions would be refused)."""
    found = {(g.function, g.resource) for g in grants}
    return [
        f"{fn or '(app)'}: {resource} ({why})"
        for (fn, resource), (_, why) in allowed.items()
        if (fn, resource) not in found
    ]
