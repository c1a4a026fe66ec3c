"""When Lambda stops taking each Python runtime, so `plan` and `deploy` say so before AWS refuses.

Lambda deprecates a runtime when its language or its operating system loses long-term support, then blocks
creating functions on it, then updating them. The dates are those of cfn-lint's `LmbdRuntimeLifecycle.json`
(cfn-lint 1.58.0, read 2026-12-06; 1.51 still held earlier dates that AWS has since moved), which tracks
AWS's runtime table (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Lifecycle:
    deprecated: date
    create_blocked: date
    update_blocked: date


LIFECYCLE = {
    "3.10": Lifecycle(date(2026, 10, 31), date(2027, 2, 1), date(2027, 3, 3)),
    "3.11": Lifecycle(date(2027, 6, 30), date(2027, 7, 31), date(2027, 8, 31)),
}
SUCCESSOR = "3.12"


def runtime_note(python: str, today: date) -> str | None:
    """What `plan` says about the app's Python on Lambda today, or None while Lambda takes it as it is."""
    lifecycle = LIFECYCLE.get(python)
    if lifecycle is None or today < lifecycle.deprecated:
        return None
    fix = f'set python = "{SUCCESSOR}" (or later) under [tool.portable-fn]'
    if today >= lifecycle.update_blocked:
        return (
            f"Lambda deprecated python{python} on {lifecycle.deprecated} and refuses to create or update functions "
            f"on it since {lifecycle.update_blocked}: a deploy to AWS fails; {fix}."
        )
    if today >= lifecycle.create_blocked:
        return (
            f"Lambda refuses new python{python} functions since {lifecycle.create_blocked} and updates from "
            f"{lifecycle.update_blocked}: {fix}."
        )
    blocked = lifecycle.create_blocked
    return f"Lambda deprecated python{python} on {lifecycle.deprecated} (no new functions from {blocked}): {fix}."
