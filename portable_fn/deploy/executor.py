"""Executors: the one place a plan turns into cloud calls, and its display-only twin.

`Executor` is driven by a provider's map of appliers (resource type -> `Applier`): it runs the steps
(those a step waits for first), dispatches each to its applier's create / update / delete, reports
progress, and turns a failure into a `DeployError` that says which step failed, what the cloud said (in
the provider's words when its `explain` can tell) and that rerunning converges (every step is written
to be safe to repeat).

Some changes take a while to reach the rest of a cloud (a role granted, a package released). A step
that depends on one names it in the plan (`Step.waits_for`); the applier of the step waited for says
how long it takes (`Applier.settles`: a `Settling`), and the executor hands the waiting step's applier
what this run changed and when (`Waits`), so its `until_settled` retries a refusal for a while.
`while_settling` is the same retry for one change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..runtime.errors import DeployError, PortableFnError
from .planner import CREATE, DELETE, Plan, Step

if TYPE_CHECKING:
    from .appliers import Applier

Progress = Callable[[str], None]
Explain = Callable[[BaseException], "str | None"]
Refusals = tuple[str, ...] | Callable[[BaseException], bool]
Appliers = Mapping[type, "Applier[Any, Any]"]
T = TypeVar("T")


def quiet(message: str) -> None:
    """A progress sink that drops messages."""


@dataclass
class ExecutionReport:
    """What an executor did: the steps applied, in order."""

    applied: list[Step] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"applied": [s.to_dict() for s in self.applied], "dry_run": self.dry_run}


@dataclass(frozen=True)
class Settling:
    """What a change takes a while to reach the rest of the cloud, for the steps that wait for it: the
    `refusals` meaning "not yet" (substrings of the error, or a test of it), retried every `every_s` up to
    `wait_s` after the change; `waiting_for`, `why` and `setting` (what raises `wait_s`) are said to the user."""

    refusals: Refusals
    wait_s: float
    every_s: float
    waiting_for: str
    why: str
    setting: str

    def refuses(self, exc: BaseException) -> bool:
        if callable(self.refusals):
            return self.refusals(exc)
        return any(refusal in str(exc) for refusal in self.refusals)


@dataclass(frozen=True)
class Waits:
    """The changes this run made that a step waits for: each `Settling` with when it was applied."""

    pending: tuple[tuple[Settling, float], ...] = ()

    def retry(self, call: Callable[[], T], *, what: str, progress: Progress, again: Callable[[], T] | None = None) -> T:
        """`call()`; a failure that one of the pending changes explains is retried (by `again`, else `call`)
        every `every_s` until `wait_s` after that change, saying so through `progress`; then it fails saying
        what was refused, why, and that a rerun or a larger setting helps. Any other failure is raised."""
        attempt = call
        while True:
            try:
                return attempt()
            except Exception as exc:
                settling, since = self._explaining(exc)
                if settling is None:
                    raise
                waited = time.monotonic() - since
                if waited >= settling.wait_s:
                    raise RuntimeError(
                        f"{what} was still refused {waited:.0f} s later, waiting for {settling.waiting_for} ({exc}). "
                        f"{settling.why}; run `portable-fn deploy` again in a few minutes (it does only what is "
                        f"left), or raise `{settling.setting}`."
                    ) from exc
                progress(f"    waiting for {settling.waiting_for}: {what} refused, {waited:.0f} s on")
                time.sleep(settling.every_s)
                attempt = again or call

    def _explaining(self, exc: BaseException) -> tuple[Settling | None, float]:
        for settling, since in self.pending:
            if settling.refuses(exc):
                return settling, since
        return None, 0.0


def while_settling(
    call: Callable[[], T],
    *,
    since: float | None,
    refusals: Refusals,
    wait_s: float,
    every_s: float,
    progress: Progress,
    what: str,
    waiting_for: str,
    why: str,
    setting: str,
    again: Callable[[], T] | None = None,
) -> T:
    """`call()`, for a step that depends on one thing this run changed at `since` (None: nothing changed,
    so any failure is raised at once); see `Waits.retry`."""
    settling = Settling(refusals, wait_s, every_s, waiting_for, why, setting)
    waits = Waits(() if since is None else ((settling, since),))
    return waits.retry(call, what=what, progress=progress, again=again)


_DOING = {"deploy": "Deploying", "remove": "Removing"}
_ON = {"deploy": "to", "remove": "from"}


class Executor:
    """Applies a plan step by step through `appliers` (resource type -> applier). `provider`/`app` name the
    target in messages; `explain` is the provider's reading of a cloud error (see `Provider.explain`)."""

    provider = "provider"

    def __init__(
        self,
        app: str,
        stage: str,
        appliers: Appliers | None = None,
        *,
        provider: str | None = None,
        explain: Explain | None = None,
    ) -> None:
        self.app = app
        self.stage = stage
        self.appliers: Appliers = appliers or {}
        if provider is not None:
            self.provider = provider
        self._explain = explain
        self._settled: dict[str, tuple[Settling, float]] = {}

    def apply(self, step: Step) -> None:
        """Dispatch `step` to the applier of its resource's type, with what it waits for."""
        applier = self.appliers[type(step.resource)]
        applier.waits = self.waits(step)
        if step.action == DELETE:
            applier.delete(step.resource)
            return
        if step.action == CREATE:
            changed = applier.create(step.resource)
        else:
            assert step.previous is not None
            changed = applier.update(step.resource, step.previous, step.changes)
        settling = applier.settles()
        if settling is not None and changed is not False:
            self._settled[step.label] = (settling, time.monotonic())

    def waits(self, step: Step) -> Waits:
        """What `step` waits for that this run changed: each settling with its latest change."""
        latest: dict[Settling, float] = {}
        for label in step.waits_for:
            if label in self._settled:
                settling, since = self._settled[label]
                latest[settling] = max(since, latest.get(settling, since))
        return Waits(tuple(latest.items()))

    def explain(self, exc: BaseException) -> str | None:
        """The provider's reading of a cloud error (see `Provider.explain`); None by default."""
        return self._explain(exc) if self._explain is not None else None

    def execute(self, plan: Plan, progress: Progress = quiet, verb: str = "deploy") -> ExecutionReport:
        """Apply the plan's steps (those a step waits for first); a failure names the step and says to run
        `portable-fn <verb>` again, which converges."""
        report = ExecutionReport()
        self._settled.clear()  # what this run changed: a plan run earlier on this executor waits for nothing
        steps = plan.in_dependency_order()
        total = len(steps)
        contexts = self._contexts()
        for ctx in contexts:
            ctx.progress = progress  # long-running operations report through the same sink
        try:
            for number, step in enumerate(steps, start=1):
                progress(f"[{number}/{total}] {step.describe()}")
                self._apply(step, number, total, verb)
                report.applied.append(step)
        finally:
            for ctx in contexts:
                ctx.progress = quiet
        return report

    def _apply(self, step: Step, number: int, total: int, verb: str) -> None:
        try:
            self.apply(step)
        except PortableFnError:
            raise
        except Exception as exc:
            raise DeployError(
                f"{_DOING[verb]} {self.app!r} (stage {self.stage!r}) {_ON[verb]} {self.provider}: step {number} "
                f"of {total}, '{step.describe()}', failed: {self.explain(exc) or f'{type(exc).__name__}: {exc}'}. "
                f"Steps before it were applied and later ones were not; fix the cause and run `portable-fn "
                f"{verb}` again to converge (`portable-fn plan` shows what remains)."
            ) from exc

    def _contexts(self) -> list[Any]:
        """The appliers' shared contexts, each once."""
        unique: dict[int, Any] = {}
        for applier in self.appliers.values():
            unique.setdefault(id(applier.ctx), applier.ctx)
        return list(unique.values())


class DryRunExecutor(Executor):
    """Reports every step and changes nothing: what `portable-fn plan` runs."""

    def apply(self, step: Step) -> None:
        pass

    def execute(self, plan: Plan, progress: Progress = quiet, verb: str = "deploy") -> ExecutionReport:
        for step in plan.steps:
            progress(step.describe())
        return ExecutionReport(applied=list(plan.steps), dry_run=True)
