"""The applier base every provider fills in: how one kind of resource is created, updated and deleted.

A provider writes one `Applier` subclass per resource type and maps each type to an instance (see
`executor.Appliers`); the one `Executor` dispatches each step of a plan to it. The appliers of one run
share an `ApplyContext` (the provider's client, tags, timings); never a handler's
`portable_fn.runtime.Context`. What a step must wait for is named in the plan (`Step.waits_for`), and the
executor hands the applier those waits (`Applier.waits`, used through `until_settled`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from .executor import Progress, Settling, Waits, quiet
from .models import Resource

R = TypeVar("R", bound=Resource)
T = TypeVar("T")


class ApplyContext:
    """What every applier of one run shares; a provider subclasses it with its client and settings.
    `progress` is the executor's sink while a plan runs (long-running operations report through it)."""

    def __init__(self) -> None:
        self.progress: Progress = quiet


C = TypeVar("C", bound=ApplyContext)


class Applier(Generic[R, C]):
    """Create, update, delete one type of resource. `create` and `update` may return False to say the
    cloud already had it: then nothing waits for the change (see `settles`).

    Every action is safe to repeat: a delete accepts "already gone" (`tolerate_missing`, with `missing`
    saying what "gone" looks like on this cloud), so rerunning `deploy` after a failure converges."""

    def __init__(self, ctx: C) -> None:
        self.ctx = ctx
        self.waits = Waits()  # what the step being applied waits for; the executor sets it per step

    def create(self, resource: R) -> bool | None:
        raise NotImplementedError

    def update(self, resource: R, previous: R, changes: tuple[str, ...]) -> bool | None:
        raise NotImplementedError(f"{resource.kind} {resource.name} cannot be updated in place")

    def delete(self, resource: R) -> None:
        raise NotImplementedError

    def settles(self) -> Settling | None:
        """What a create or update of this type takes a while to reach the rest of the cloud (a role
        granted, a package released), for the steps that wait for it; None: it takes effect at once."""
        return None

    def missing(self, exc: BaseException, *codes: str) -> bool:
        """Whether `exc` says the resource does not exist (`codes`: this call's own error codes for it)."""
        return False

    def tolerate_missing(self, call: Callable[[], T], *codes: str) -> T | None:
        """`call()`, a delete; a resource that is already gone (`missing`) is fine: None."""
        try:
            return call()
        except Exception as exc:
            if not self.missing(exc, *codes):
                raise
            return None

    def until_settled(self, call: Callable[[], T], what: str, again: Callable[[], T] | None = None) -> T:
        """`call()`, retried while refused for want of what this step waits for (see `Waits.retry`)."""
        return self.waits.retry(call, what=what, progress=self.ctx.progress, again=again)
