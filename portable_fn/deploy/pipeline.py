"""The flows behind `package`, `plan`, `deploy`, `remove` and `info`, provider-neutral.

Each reads like a table of contents; the provider supplies the parts (see `portable_fn.provider`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..cost import plan_change
from ..runtime.errors import DeployError, PortableFnError
from .diff import step_dict
from .executor import DryRunExecutor, ExecutionReport, Progress, quiet
from .models import Artifact, DeployTarget, RemoteState, Resource
from .planner import Plan, make_plan

if TYPE_CHECKING:
    from ..app import App
    from ..audit import AuditRecord
    from ..cost import CostChange
    from ..policy import PolicyReport
    from ..provider import Provider
    from .grants import GrantChanges

T = TypeVar("T")
Confirm = Callable[[Plan], None]


@dataclass
class Outcome:
    """What a pipeline run produced, printable as text or JSON."""

    artifact: Artifact | None = None
    plan: Plan | None = None
    report: ExecutionReport | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the provider adjusts (a clamped retry policy)
    target: DeployTarget | None = None  # where the plan acts and as whom, when the provider says
    policy: PolicyReport | None = None  # the team's rules over what the plan deploys
    audit: AuditRecord | None = None  # the record of this deploy or remove, where it was written
    cost: CostChange | None = None  # the monthly cost before and after the plan, for the declared traffic
    grants: GrantChanges | None = None  # who may do what on which resource, before and after the plan

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.target is not None:
            out["target"] = self.target.to_dict()
        if self.artifact is not None:
            out["artifact"] = self.artifact.to_dict()
        if self.plan is not None:
            out["plan"] = {**self.plan.to_dict(), "steps": [step_dict(s) for s in self.plan.steps]}
        if self.cost is not None:
            out["cost"] = self.cost.to_dict()
        if self.grants is not None:
            out["grants"] = self.grants.to_dict()
        if self.policy is not None:
            out["policy"] = self.policy.to_dict()
        if self.audit is not None:
            out["audit"] = {
                "location": self.audit.location,
                "digest": self.audit.digest,
                "notes": list(self.audit.notes),
            }
        if self.report is not None:
            out["applied"] = len(self.report.applied)
        if self.outputs:
            out["outputs"] = self.outputs
        if self.notes:
            out["notes"] = self.notes
        return out


def build_dir(app: App, provider: Provider, stage: str) -> Path:
    return app.root / ".portable-fn" / "build" / provider.name / stage


def package(provider: Provider, app: App, stage: str, progress: Progress = quiet) -> Outcome:
    """Check the app against the provider and build its artifact."""
    provider.check(app)
    progress(f"Packaging {app.name!r} for {provider.name} (stage {stage})")
    artifact = provider.package(app, stage, build_dir(app, provider, stage), progress)
    progress(f"Built {artifact.path} ({artifact.size} bytes, sha256 {artifact.sha256[:12]})")
    return Outcome(artifact=artifact)


def plan(provider: Provider, app: App, stage: str, progress: Progress = quiet) -> Outcome:
    """What `deploy` would change; changes nothing."""
    provider.check(app)
    target = _target(provider, app, stage)  # a missing setting or credential is said before packaging
    built = package(provider, app, stage, progress)
    artifact = built.artifact
    assert artifact is not None
    desired = _asking(provider, app, stage, lambda: provider.desired(app, stage, artifact))
    progress(f"Reading what exists for {app.name!r} (stage {stage}) on {_where(provider, target)}")
    remote = _remote(provider, app, stage)
    the_plan = make_plan(desired, remote)
    report = DryRunExecutor(app.name, stage).execute(the_plan)
    notes = provider.plan_notes(app, stage)
    policy = _policy(provider, app, stage, desired)
    cost = plan_change(provider, app, stage, desired, remote)
    grants = _grants(provider, desired, remote)
    return Outcome(
        artifact=artifact,
        plan=the_plan,
        report=report,
        notes=notes,
        target=target,
        policy=policy,
        cost=cost,
        grants=grants,
    )


def deploy(
    provider: Provider, app: App, stage: str, progress: Progress = quiet, confirm: Confirm | None = None
) -> Outcome:
    """Package, plan, apply, and report outputs. A rerun after a failure converges. `confirm(plan)`, when
    given, sees the plan before anything changes and raises to stop it."""
    provider.check(app)
    target = _target(provider, app, stage)  # a missing setting or credential is said before packaging
    built = package(provider, app, stage, progress)
    artifact = built.artifact
    assert artifact is not None
    desired = _asking(provider, app, stage, lambda: provider.desired(app, stage, artifact))
    remote = _remote(provider, app, stage)
    the_plan = make_plan(desired, remote)
    progress(f"Plan for {_where(provider, target)}: {the_plan.summary()}")
    _say_kept(the_plan, progress)
    notes = provider.plan_notes(app, stage)
    for note in notes:
        progress(f"  ! {note}")
    grants = _grants(provider, desired, remote)
    for grant in grants.added:
        progress(f"  + grant {grant.describe()}")
    for grant in grants.removed:
        progress(f"  - grant {grant.describe()}")
    policy = _policy(provider, app, stage, desired)
    for finding in policy.waived:
        progress(f"  waived {finding.line_text()}")
    policy.enforce("deploy")
    if confirm is not None:
        confirm(the_plan)
    waivers = [f.to_dict() for f in policy.waived]
    with _recorded(provider, app, stage, "deploy", the_plan, artifact, waivers, target, progress) as recorded:
        report = provider.executor(app, stage).execute(the_plan, progress)
    # With nothing applied, what was read for the plan is still what is deployed: a deploy that changes nothing
    # (the usual rerun from CI) reads the app once, not twice.
    deployed = remote if the_plan.empty else _remote(provider, app, stage)
    outputs = _asking(provider, app, stage, lambda: provider.outputs(app, stage, deployed))
    return Outcome(
        artifact=artifact,
        plan=the_plan,
        report=report,
        outputs=outputs,
        notes=notes,
        target=target,
        policy=policy,
        audit=recorded.record,
        grants=grants,
    )


def remove(
    provider: Provider,
    app: App,
    stage: str,
    progress: Progress = quiet,
    confirm: Confirm | None = None,
    delete_data: bool = False,
) -> Outcome:
    """Delete exactly what the app created for this stage (found by tag), nothing else; `confirm` as for
    `deploy`. A state store holding data is kept (and the plan says so) unless `delete_data`."""
    target = _target(provider, app, stage)
    remote = _asking(provider, app, stage, lambda: provider.read_remote_to_remove(app, stage))
    the_plan = make_plan([], remote, delete_data)
    progress(f"Plan for {_where(provider, target)}: {the_plan.summary()}")
    _say_kept(the_plan, progress)
    if confirm is not None:
        confirm(the_plan)
    with _recorded(provider, app, stage, "remove", the_plan, None, (), target, progress) as recorded:
        report = provider.executor(app, stage).execute(the_plan, progress, verb="remove")
    return Outcome(plan=the_plan, report=report, target=target, audit=recorded.record)


def _say_kept(the_plan: Plan, progress: Progress) -> None:
    for line in the_plan.kept_lines():
        progress(f"  {line}")


def info(provider: Provider, app: App, stage: str) -> Outcome:
    """The outputs of what is deployed now."""
    remote: RemoteState = _remote(provider, app, stage)
    return Outcome(outputs=_asking(provider, app, stage, lambda: provider.outputs(app, stage, remote)))


@dataclass
class _Recorded:
    record: AuditRecord | None = None


@contextmanager
def _recorded(
    provider: Provider,
    app: App,
    stage: str,
    verb: str,
    the_plan: Plan,
    artifact: Artifact | None,
    waivers: Sequence[dict[str, Any]],
    target: DeployTarget | None,
    progress: Progress,
) -> Iterator[_Recorded]:
    """Apply the plan inside this block; then write the audit record of the change, succeeded or failed
    (`portable_fn.audit`). A record that cannot be written fails a change that succeeded (it says where
    the record is kept and how to send it), but never hides the change's own error."""
    recorded = _Recorded()
    error: BaseException | None = None
    try:
        yield recorded
    except BaseException as exc:
        error = exc
        raise
    finally:
        from .. import audit

        try:
            recorded.record = audit.record(provider, app, stage, verb, the_plan, artifact, waivers, error, target)
        except Exception as exc:
            if error is None:
                raise
            why = f"{type(exc).__name__}: {exc}"
            progress(f"  ! {exc}" if isinstance(exc, DeployError) else f"  ! The audit record was not written: {why}")
        else:
            progress(f"Recorded in {recorded.record.location}" if recorded.record.location else "Not recorded")
            for note in recorded.record.notes:
                progress(f"  ! {note}")


def _policy(provider: Provider, app: App, stage: str, desired: list[Resource]) -> PolicyReport:
    """The team's rules and the built-in ones over what the plan deploys (`portable_fn.policy`)."""
    from ..policy import evaluate

    return evaluate(provider, app, stage, desired)


def _grants(provider: Provider, desired: Sequence[Resource], remote: RemoteState) -> GrantChanges:
    """The grants the plan adds and takes away: the provider's reading of what exists against what it deploys."""
    from .grants import grant_changes

    return grant_changes(provider.grants(list(remote)), provider.grants(desired))


def _target(provider: Provider, app: App, stage: str) -> DeployTarget | None:
    """Where the provider acts and as whom (asks the cloud who is calling); None for a provider that does
    not say (a third-party provider written before `Deployer.target`)."""

    def ask() -> DeployTarget | None:
        try:
            return provider.deployer.target()
        except NotImplementedError:
            return None

    return _asking(provider, app, stage, ask)


def _where(provider: Provider, target: DeployTarget | None) -> str:
    return provider.name if target is None else target.describe()


def _remote(provider: Provider, app: App, stage: str) -> RemoteState:
    return _asking(provider, app, stage, lambda: provider.read_remote(app, stage))


def _asking(provider: Provider, app: App, stage: str, read: Callable[[], T]) -> T:
    """`read()`, which asks the cloud without changing it; its failure is a DeployError saying so, in the
    provider's words when it can explain it (no credentials, say: what to do)."""
    try:
        return read()
    except PortableFnError:
        raise
    except Exception as exc:
        said = provider.explain(exc) or f"{type(exc).__name__}: {exc}"
        raise DeployError(
            f"Reading what exists for {app.name!r} (stage {stage!r}) on {provider.name} "
            f"failed, and nothing was changed: {said}"
        ) from exc
