"""The audit trail: who deployed or removed what, where, when, and how it ended.

`record` writes one `AuditRecord` per `deploy` or `remove` to the stage's audit store, which the provider's
deployer opens (`KeepsAudit.audit_store`: an S3 bucket, a Cloud Storage bucket, a blob container, a local
JSON-lines file), as a new object that is never overwritten, and then tags the stage's anchor resource with
the last record's digest, commit and time (`pfn-audit-*`), where the provider has one (the local cloud has
none, by design). `history` reads the records back, newest first.

A record names the plan by its digest (SHA-256 of its canonical JSON) and lists each step's action, kind,
name and the names of the fields it changes: never a value, so no environment value or secret reaches it.
A record that cannot be written is kept under `.portable-fn/audit/` in the app's directory, and
`resend` (`portable-fn history --resend`) writes it later.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .runtime.errors import DeployError, PortableFnError, ProviderError

if TYPE_CHECKING:
    from .app import App
    from .deploy import Artifact, DeployTarget, Plan
    from .provider import Provider

__all__ = [
    "FAILED",
    "NOTHING_TO_TAG",
    "PREFIX",
    "SUCCEEDED",
    "TAG_AT",
    "TAG_COMMIT",
    "TAG_DIGEST",
    "VERSION",
    "AuditRecord",
    "AuditStore",
    "KeepsAudit",
    "RecordExists",
    "git_state",
    "history",
    "keeps_audit",
    "plan_digest",
    "record",
    "resend",
    "store_of",
]

PREFIX = "pfn-audit"  # the folder (key prefix, container) records are kept under
TAG_DIGEST, TAG_COMMIT, TAG_AT = f"{PREFIX}-digest", f"{PREFIX}-commit", f"{PREFIX}-at"
SUCCEEDED, FAILED = "succeeded", "failed"
VERSION = 1  # of the record's JSON
NOTHING_TO_TAG = "nothing to tag"  # what `AuditStore.mark` returns for a store with no anchor, by design


class RecordExists(Exception):
    """A store refused to write a record because one of that name exists (its conditional put failed)."""


class AuditStore(Protocol):
    """Where one app and stage keep their records, opened by the provider's deployer."""

    @property
    def where(self) -> str:
        """The store as a user finds it ("s3://bucket/pfn-audit/app/stage/")."""
        ...

    def append(self, name: str, body: bytes) -> str:
        """Write a new record `name` (made if the store does not exist yet); never overwrites one: raise
        `RecordExists` instead. Return where it was written."""
        ...

    def read(self) -> list[bytes]:
        """Every record's body, in any order (none when the store does not exist)."""
        ...

    def mark(self, tags: Mapping[str, str]) -> str | None:
        """Put `tags` on the stage's anchor resource, keeping its other tags; return what was tagged, None
        when the anchor is missing (a cloud's after `remove`: a note says so), or `NOTHING_TO_TAG` when the
        store has no anchor by design (the local cloud's: no note)."""
        ...


@runtime_checkable
class KeepsAudit(Protocol):
    """A deployer that keeps an audit trail."""

    def audit_store(self, app: App, stage: str) -> AuditStore: ...


@dataclass(frozen=True)
class AuditRecord:
    """One deploy or remove, as written to the store (`to_dict`); `location` and `notes` say where this run
    wrote it and what did not work (the tags), and are not part of the record."""

    app: str
    stage: str
    provider: str
    verb: str  # "deploy" or "remove"
    at: str  # when it ended, UTC, ISO 8601 with microseconds and a Z
    principal: str | None  # who, as the cloud says (`DeployTarget.principal`)
    target: dict[str, Any] | None  # `DeployTarget.to_dict()`
    digest: str | None  # SHA-256 of the plan's canonical JSON; None when it failed before planning
    summary: str  # the plan's summary ("2 to create, ...")
    changes: tuple[dict[str, Any], ...]  # each step: action, kind, name, fields (names only)
    commit: str | None  # the app directory's git commit
    dirty: bool | None  # whether the work tree differed from it (None: not in a git work tree)
    packages: dict[str, str]  # "artifact" and, per function zip, the function's name -> SHA-256
    waivers: tuple[dict[str, Any], ...]  # the policy waivers that applied, as the caller gave them
    outcome: str  # "succeeded" or "failed"
    error: str | None = None  # the error's first line, when it failed
    version: int = VERSION
    location: str | None = field(default=None, compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        """The record's file name: `<UTC time>-<digest12>.json`, so names sort by time."""
        stamp = self.at.replace("-", "").replace(":", "")
        return f"{stamp}-{(self.digest or 'noplan')[:12]}.json"

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        del out["location"], out["notes"]
        return {**out, "changes": list(self.changes), "waivers": list(self.waivers)}

    def body(self) -> bytes:
        return (json.dumps(self.to_dict(), sort_keys=True, indent=1) + "\n").encode()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditRecord:
        known = {f.name for f in dataclasses.fields(cls)} - {"location", "notes"}
        given = {k: v for k, v in data.items() if k in known}
        given["changes"] = tuple(given.get("changes") or ())
        given["waivers"] = tuple(given.get("waivers") or ())
        return cls(**given)

    def tags(self) -> dict[str, str]:
        """The anchor's tags: values every cloud accepts, GCP's label rules included ([a-z0-9_-], 63)."""
        commit = (self.commit or "none")[:12] + ("-dirty" if self.dirty else "")
        stamp = self.at.split(".")[0].replace("-", "").replace(":", "").lower() + "z"
        return {TAG_DIGEST: (self.digest or "noplan")[:12], TAG_COMMIT: commit, TAG_AT: stamp}

    def line(self) -> dict[str, str]:
        """The columns `portable-fn history` shows."""
        return {
            "when": self.at.split(".")[0].replace("T", " ") + "Z",
            "verb": self.verb,
            "who": self.principal or "-",
            "digest": (self.digest or "-")[:12],
            "commit": (self.commit or "-")[:12] + ("+" if self.dirty else ""),
            "changes": self.summary,
            "outcome": self.outcome if self.error is None else f"{self.outcome}: {self.error}",
        }


# -- the two calls the pipeline makes ----------------------------------------------------------------------
def record(
    provider: Provider,
    app: App,
    stage: str,
    verb: str,
    plan: Plan | None,
    artifact: Artifact | None,
    waivers: Iterable[Mapping[str, Any]] = (),
    error: BaseException | None = None,
    target: DeployTarget | None = None,
) -> AuditRecord:
    """Write the record of a `deploy` or `remove` of `app` to `stage` that ended with `error` (None: it
    succeeded), then tag the stage's anchor. `target` saves asking the cloud again who is calling. A failure
    to tag is a note on the returned record; a failure to write the record is a DeployError saying the change
    happened, where the record is kept and how to send it."""
    if not keeps_audit(provider):
        nowhere = f"Provider {provider.name!r} keeps no audit trail: this {verb} is recorded nowhere."
        return dataclasses.replace(
            _made(provider, app, stage, verb, plan, artifact, waivers, error, target), notes=(nowhere,)
        )
    notes: list[str] = []
    if target is None:
        target, unknown = _target(provider)
        notes += [unknown] if unknown else []
    made = _made(provider, app, stage, verb, plan, artifact, waivers, error, target)
    store, location = _written(provider, app, stage, made)
    try:
        tagged = store.mark(made.tags())
    except Exception as exc:  # the record is what counts; the tags are a convenience
        notes.append(f"The audit tags were not set ({_said(provider, exc)}); the record is in {location}.")
    else:
        if tagged is None:  # an anchor that should be there is not (a cloud's, after `remove`)
            notes.append(f"No resource of {app.name!r} (stage {stage!r}) on {provider.name} to tag.")
    return dataclasses.replace(made, location=location, notes=tuple(notes))


def history(provider: Provider, app: App, stage: str) -> list[AuditRecord]:
    """Every record of `app` in `stage` on `provider`, newest first; a failure to read is a DeployError in
    the provider's words when it can explain it (no credentials, say)."""
    store = None
    try:
        store = store_of(provider, app, stage)  # on AWS this asks STS for the account
        bodies = store.read()
    except PortableFnError:
        raise
    except Exception as exc:
        where = f" from {store.where}" if store is not None else ""
        raise DeployError(
            f"Reading the audit trail of {app.name!r} (stage {stage!r}) on {provider.name}{where} failed: "
            f"{_said(provider, exc)}"
        ) from exc
    records = [AuditRecord.from_dict(json.loads(body)) for body in bodies]
    return sorted(records, key=lambda r: (r.at, r.name), reverse=True)


def resend(provider: Provider, app: App, stage: str) -> list[str]:
    """Write the records kept in the app's directory because writing them failed; return where each went."""
    store, written = store_of(provider, app, stage), []
    for path in sorted(_pending_dir(app, provider.name, stage).glob("*.json")):
        try:
            written.append(store.append(path.name, path.read_bytes()))
        except RecordExists:
            written.append(f"{store.where}{path.name} (already there)")
        path.unlink()
    return written


# -- what a record holds ---------------------------------------------------------------------------------
def plan_digest(plan: Plan) -> str:
    """SHA-256 of the plan's canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(plan.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _changes(plan: Plan) -> tuple[dict[str, Any], ...]:
    """Each step's action, kind, name and changed field names: no value of any field."""
    return tuple(
        {"action": s.action, "kind": s.resource.kind, "name": s.resource.name, "fields": list(s.changes)}
        for s in plan.steps
    )


def _packages(artifact: Artifact | None) -> dict[str, str]:
    """The artifact's SHA-256 and, when it was packaged one zip per function, each zip's."""
    if artifact is None:
        return {}
    zips = artifact.to_dict().get("zips") or {}
    return {"artifact": artifact.sha256, **{name: str(z["sha256"]) for name, z in sorted(zips.items())}}


def git_state(directory: Path) -> tuple[str | None, bool | None]:
    """The commit checked out in the git work tree holding `directory` and whether anything in `directory`
    differs from it (untracked files included, portable-fn's own `.portable-fn` folder not); (None, None)
    outside a work tree or without git."""
    try:
        commit = _git(directory, "rev-parse", "--verify", "HEAD")
        status = _git(directory, "status", "--porcelain", "--", ".", ":(exclude).portable-fn")
    except (OSError, subprocess.SubprocessError):  # no git, not a work tree, or git hung
        return None, None
    return commit, bool(status)


def _git(directory: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.strip()


def _made(
    provider: Provider,
    app: App,
    stage: str,
    verb: str,
    plan: Plan | None,
    artifact: Artifact | None,
    waivers: Iterable[Mapping[str, Any]],
    error: BaseException | None,
    target: DeployTarget | None,
) -> AuditRecord:
    commit, dirty = git_state(app.root)
    return AuditRecord(
        app=app.name,
        stage=stage,
        provider=provider.name,
        verb=verb,
        at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        principal=target.principal if target else None,
        target=target.to_dict() if target else None,
        digest=plan_digest(plan) if plan is not None else None,
        summary=plan.summary() if plan is not None else "no plan",
        changes=_changes(plan) if plan is not None else (),
        commit=commit,
        dirty=dirty,
        packages=_packages(artifact),
        waivers=tuple(dict(w) for w in waivers),
        outcome=FAILED if error is not None else SUCCEEDED,
        error=_first_line(error) if error is not None else None,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]


# -- the store ---------------------------------------------------------------------------------------------
def keeps_audit(provider: Provider) -> bool:
    """Whether `provider`'s deployer has an audit store (a third-party provider may have none)."""
    try:
        return isinstance(provider.deployer, KeepsAudit)
    except NotImplementedError:  # no deploy side at all
        return False


def store_of(provider: Provider, app: App, stage: str) -> AuditStore:
    """The audit store `provider` keeps `app` and `stage`'s records in."""
    deployer = provider.deployer if keeps_audit(provider) else None
    if not isinstance(deployer, KeepsAudit):
        raise ProviderError(
            f"Provider {provider.name!r} keeps no audit trail: its deployer has no `audit_store`. "
            "Use --provider aws, gcp, azure or local."
        )
    return deployer.audit_store(app, stage)


def _target(provider: Provider) -> tuple[DeployTarget | None, str | None]:
    try:
        return provider.target(), None
    except Exception as exc:
        return None, f"Who made the change is not recorded: asking {provider.name} failed ({_said(provider, exc)})."


def _written(provider: Provider, app: App, stage: str, made: AuditRecord) -> tuple[AuditStore, str]:
    """The store and where `made` went in it (under a name with a counter should one of its name exist); on
    failure, `made` is kept in the app's directory and a DeployError says how to send it."""
    body, store = made.body(), None
    try:
        store = store_of(provider, app, stage)
        return store, _append_new(store, made.name, body)
    except Exception as exc:
        kept = _pending_dir(app, provider.name, stage) / made.name
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_bytes(body)
        where = store.where if store is not None else f"the audit store on {provider.name}"
        raise DeployError(
            f"The {made.verb} of {app.name!r} (stage {stage!r}) on {provider.name} {made.outcome}, but its audit "
            f"record was not written to {where}: {_said(provider, exc)}. The record is kept in {kept}; once "
            f"that is fixed, run `portable-fn history --provider {provider.name} --stage {stage} --resend` "
            "to write it."
        ) from exc


def _said(provider: Provider, exc: BaseException) -> str:
    """What went wrong, in the provider's words when it can explain the error, else its first line."""
    return provider.explain(exc) or _first_line(exc)


def _append_new(store: AuditStore, name: str, body: bytes) -> str:
    stem = name.removesuffix(".json")
    for attempt in range(10):
        try:
            return store.append(f"{stem}-{attempt}.json" if attempt else name, body)
        except RecordExists:
            continue
    raise RecordExists(f"records named {stem}*.json exist already")


def _pending_dir(app: App, provider: str, stage: str) -> Path:
    return app.root / ".portable-fn" / "audit" / provider / stage
