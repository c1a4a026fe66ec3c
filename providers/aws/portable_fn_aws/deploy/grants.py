"""What an app's roles may do on AWS, as `Grant`s: one per statement and resource of each IAM role's inline
policy (`policies`). Pure: read from the desired resources, no AWS call.

A function's role is found through the function that runs with it (its `PORTABLE_FN_FUNCTION`); the roles
no function runs with (the scheduler's, the delay role Scheduler sends delayed messages with) are the app's
as a whole (`function` None).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from portable_fn.deploy import Resource
from portable_fn.deploy.grants import Grant

from .resources import Function, Role


def grants(desired: Sequence[Resource]) -> list[Grant]:
    """Every statement of every role in `desired`, one `Grant` per resource it names."""
    functions = [r for r in desired if isinstance(r, Function)]
    out: list[Grant] = []
    for role in (r for r in desired if isinstance(r, Role)):
        arn, function = role_arn(role, functions), function_of(role, functions)
        for statement in json.loads(role.policy).get("Statement", []):
            actions = tuple(sorted(_listed(statement["Action"])))
            out += [Grant(function, arn, actions, resource) for resource in sorted(_listed(statement["Resource"]))]
    return out


def function_of(role: Role, functions: Sequence[Function]) -> str | None:
    """The app's function that runs with `role` (its name in the app), or None for the app's own roles."""
    for function in functions:
        if function.role_arn.endswith(f":role{role.path}{role.name}"):
            return dict(function.env).get("PORTABLE_FN_FUNCTION")
    return None


def role_arn(role: Role, functions: Sequence[Function]) -> str:
    """The role's ARN, in the partition and account of the app's functions (every app has one)."""
    partition, account = ("aws", "")
    if functions:
        parts = functions[0].arn.split(":")
        partition, account = parts[1], parts[4]
    return f"arn:{partition}:iam::{account}:role{role.path}{role.name}"


def _listed(value: str | list[str]) -> list[str]:
    """A statement's Action or Resource as a list (IAM allows a single string)."""
    return [value] if isinstance(value, str) else list(value)
