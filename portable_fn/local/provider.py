"""The built-in `local` provider: the dev host for `portable-fn dev`, and a local deploy target.

Deploying locally goes through the same pipeline and the same deploy core as a cloud: the app is
packaged into a deterministic zip, its resources are planned against the "local cloud" (a JSON file of
resources tagged with app and stage, default `<app>/.portable-fn/local-cloud/`) and applied by the shared
`Executor` through `LocalDeployer`'s appliers. That makes plan, deploy, redeploy and remove observable and
testable without any cloud, and makes this module the worked example of docs/providers.md:

    naming      LocalNames: `<app>-<stage>-<function, channel or state>`
    desired     LocalDeployer.desired: a function per app function, a channel per queue, topic, bucket,
                a state store per declared state and a grant per function and state it uses
    remote      LocalDeployer.read_remote: the records tagged with the app and stage, each store with the
                number of items its file holds (a store holding data is kept by `remove`)
    appliers    LocalRecords: put or delete a resource's record; LocalStores: the store's SQLite file too
    client      LocalCloud, the one I/O boundary

A state store of the local cloud is the SQLite file `<local cloud>/states/<app>-<stage>-<state>.sqlite3`
(the same format as the dev host's states, `portable_fn.runtime.state_sqlite`).
    outputs     LocalDeployer.outputs: each function's trigger and URL
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..deploy.appliers import Applier, ApplyContext
from ..deploy.deployer import Deployer
from ..deploy.executor import Appliers, Progress
from ..deploy.models import Artifact, DeployTarget, RemoteState, Resource
from ..deploy.tags import stage_tags, with_tags
from ..logread import LogEntry
from ..packaging import app_files, runtime_files, write_zip
from ..provider import DeadLetterEntry, Provider
from ..runtime.cloudevent import CloudEvent, json_bytes
from ..runtime.dead_letters import dead_letter_info
from ..runtime.errors import InvalidEventError
from ..runtime.function import FunctionSpec
from ..runtime.resources import WRITE
from ..runtime.state_sqlite import SqliteBackend
from ..runtime.triggers import Http, Queue, Schedule, Storage, Topic
from .audit import LocalAuditStore
from .settings import LocalSettings

if TYPE_CHECKING:
    from ..app import App
    from ..secrets import LocalSecretStore

MANIFEST = "portable_fn_manifest.json"
LOCAL_CLOUD = Path(".portable-fn", "local-cloud")  # in the app's directory, unless `state_dir` says elsewhere


@dataclass(frozen=True)
class LocalFunction(Resource):
    kind = "local function"
    trigger: str = ""
    options: str = ""
    code_sha256: str = ""
    tags: tuple[tuple[str, str], ...] = ()  # the user's tags, recorded beside the app and stage


@dataclass(frozen=True)
class LocalChannel(Resource):
    """A local queue, topic, bucket or schedule a function is bound to."""

    kind = "local channel"
    channel: str = ""
    tags: tuple[tuple[str, str], ...] = ()  # the user's tags, recorded beside the app and stage


@dataclass(frozen=True)
class LocalStateStore(Resource):
    """A declared state's SQLite file; `items` is what the file held when it was read."""

    kind = "local state"
    ignore_on_compare = frozenset({"items"})
    path: str = ""
    items: int = 0
    tags: tuple[tuple[str, str], ...] = ()  # the user's tags, recorded beside the app and stage

    def holds_data(self) -> bool:
        return self.items > 0


@dataclass(frozen=True)
class LocalBucket(Resource):
    """A declared bucket's folder (`runtime.buckets.FolderStore`, the folder the dev host watches); `objects` is
    how many files it held when it was read."""

    kind = "local bucket"
    ignore_on_compare = frozenset({"objects"})
    path: str = ""
    objects: int = 0
    tags: tuple[tuple[str, str], ...] = ()  # the user's tags, recorded beside the app and stage

    def holds_data(self) -> bool:
        return self.objects > 0


@dataclass(frozen=True)
class LocalGrant(Resource):
    """A function's access ("read" or "write") to a state store or a bucket, as a cloud's plan lists its
    grants (one of `state` and `bucket` is set)."""

    kind = "local grant"
    function: str = ""
    state: str = ""
    access: str = ""
    bucket: str = ""
    tags: tuple[tuple[str, str], ...] = ()  # the user's tags, recorded beside the app and stage


KINDS: dict[str, type[Resource]] = {
    c.kind: c for c in (LocalFunction, LocalChannel, LocalStateStore, LocalBucket, LocalGrant)
}


class LocalProvider(Provider):
    """Runs everything on this machine. Settings: `state_dir` (the local cloud), `port` (for outputs)."""

    name = "local"
    settings_model = LocalSettings
    dev_state: Path | None = None  # the dev host's state directory when not the app's own (`use_dev_state_dir`)

    def use_dev_state_dir(self, state_dir: Path) -> None:
        """Read and write what `portable-fn dev --state-dir DIR` keeps (journal, dead letters, workflow
        instances, kept logs, secrets) in `state_dir` instead of the app's `.portable-fn/local`."""
        self.dev_state = Path(state_dir)

    def dev_dir(self, app: App) -> Path:
        """The dev host's state directory this provider reads: `use_dev_state_dir`'s, else the app's own."""
        from .host import dev_state_dir

        return self.dev_state if self.dev_state is not None else dev_state_dir(app)

    def make_deployer(self) -> LocalDeployer:
        return LocalDeployer(self.settings)

    def generate_shim(self, app: App, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / MANIFEST
        path.write_text(json.dumps(manifest(app), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return [path]

    def package(self, app: App, stage: str, out_dir: Path, progress: Progress) -> Artifact:
        entries: list[tuple[str, bytes | Path]] = [
            (MANIFEST, json.dumps(manifest(app), indent=2, sort_keys=True).encode("utf-8"))
        ]
        entries += app_files(app, skip=out_dir, context=f"Packaging {app.name!r} for local")
        entries += list(runtime_files())
        return write_zip(out_dir / f"{app.name}-local.zip", entries)

    def invoke(self, app: App, spec: FunctionSpec, event: Any, stage: str | None = None) -> dict[str, Any]:
        """Run the function here with the environment it gets on a cloud (defaults, `stage`'s env, its
        own; see `environment`), set for the duration of the call, its states the ones `dev` keeps; what it
        sends to a queue (a workflow it starts) waits in `dev`'s journal for the queue's function."""
        from ..runtime.channels import use_publisher
        from ..testing import invoke_native
        from .environment import ProcessEnv, function_env
        from .host import STATE_DIR_ENV, reopen_states
        from .journal import Journal
        from .letters import JOURNAL
        from .workflow_ops import JournalPublisher

        if spec.trigger.kind in ("queue", "topic"):
            for message in event if isinstance(event, list) else [event]:
                _check_message(app, spec.trigger.kind, message)
        env = function_env(app, spec, stage or next(iter(app.config.stages)))
        state_dir = self.dev_dir(app)
        with ProcessEnv({**env, STATE_DIR_ENV: str(state_dir)}), Journal(state_dir / JOURNAL) as journal:
            reopen_states(app)  # the states `dev` keeps
            before = use_publisher(JournalPublisher(app, journal))
            try:
                return invoke_native(spec, event, provider="local")
            finally:
                use_publisher(before)

    def secret_store(self, app: App, stage: str) -> LocalSecretStore:
        """The dev host's secrets file, in the app's state directory (`portable_fn.secrets`)."""
        from ..runtime.secrets_file import FILE_NAME
        from ..secrets import LocalSecretStore

        return LocalSecretStore(self.dev_dir(app) / FILE_NAME, stage)

    def dead_letters(self, app: App, stage: str, spec: FunctionSpec, redrive: bool = False) -> list[DeadLetterEntry]:
        """The dead letters the dev host kept for `spec` in its journal (see `letters`)."""
        from . import letters

        entries, where = letters.dead_letters(self.dev_dir(app), spec.name, redrive)
        return [_entry(e, where, redrive) for e in entries]

    def read_logs(self, app: App, stage: str, functions: Sequence[FunctionSpec], since: datetime) -> list[LogEntry]:
        """What `functions` logged under `portable-fn dev` for `stage` (`function_logs.read_kept`)."""
        from .function_logs import read_kept

        return read_kept(self.dev_dir(app), stage, {spec.name for spec in functions}, since)

    def workflows(self, app: App, stage: str, operation: str, *args: Any) -> Any:
        """The instances the dev host keeps in the app's state directory (through the host when it runs)."""
        from .workflow_ops import operate

        return operate(app, self.dev_dir(app), operation, *args)


def _check_message(app: App, kind: str, message: Any) -> None:
    """InvalidEventError for a message `dev` would refuse on its queue or topic, and so would a cloud: one larger
    than the strictest limit of the clouds the app deploys to, or holding a number JSON cannot (NaN, 1e400)."""
    from .limits import Limits, deploy_targets

    limits = Limits.strictest(deploy_targets(app.config))
    limit = limits.queue if kind == "queue" else limits.topic
    try:
        size = len(json_bytes(json.dumps(message, ensure_ascii=False, allow_nan=False)))
    except ValueError:
        raise InvalidEventError(
            "The message holds a number JSON cannot hold: NaN, Infinity or a number past 1.8e308. Send the number "
            "as a string, or leave it out."
        ) from None
    if size > limit.size:
        raise InvalidEventError(
            f"The message ({size:,} bytes as JSON) is larger than {limit.what} may be: at most {limit.describe()}, "
            "as `portable-fn dev` answers (413). Keep large data in a bucket or a state and send its key."
        )


def _entry(entry: dict[str, Any], where: str, redriven: bool) -> DeadLetterEntry:
    """A journal entry as `portable-fn dead-letters` shows it, read from the event's own extensions."""
    event = entry.get("event") or {}
    info = dead_letter_info(CloudEvent.from_dict(event)) or {}
    return DeadLetterEntry(
        function=str(info.get("function") or entry.get("function")),
        id=str(event.get("id", "")),
        reason=info.get("reason", entry.get("reason")),
        attempts=info.get("attempt", entry.get("attempts")),
        time=entry.get("time"),
        where=where,
        event=event or None,
        redriven=redriven,
    )


@dataclass(frozen=True)
class LocalNames:
    """What the app's resources are called for one stage: `<app>-<stage>-<function or channel>`."""

    app: str
    stage: str

    def function(self, name: str) -> str:
        return f"{self.app}-{self.stage}-{name}"

    def channel(self, channel: str) -> str:
        return f"{self.app}-{self.stage}-{channel}"

    def state(self, name: str) -> str:
        return f"{self.app}-{self.stage}-{name}"

    def bucket(self, name: str) -> str:
        return f"{self.app}-{self.stage}-{name}"

    def bucket_grant(self, function: str, bucket: str, access: str) -> str:
        """What a plan shows: `shop-dev-scan reads bucket shop-dev-uploads` (or `writes`)."""
        verb = "writes" if access == WRITE else "reads"
        return f"{self.function(function)} {verb} bucket {self.bucket(bucket)}"

    def grant(self, function: str, state: str, access: str) -> str:
        """What a plan shows: `shop-dev-fulfil writes shop-dev-orders` (or `reads`)."""
        verb = "writes" if access == WRITE else "reads"
        return f"{self.function(function)} {verb} {self.state(state)}"


class LocalDeployer(Deployer["LocalCloud", LocalNames]):
    """The local deploy side. Its client, the local cloud, lives in the app's directory unless the setting
    `state_dir` (or PORTABLE_FN_LOCAL_CLOUD) says where; a test passes its own `client`."""

    provider = "local"

    def cloud(self, app: App) -> LocalCloud:
        return self._client if self._client is not None else LocalCloud(self.state_dir(app))

    def state_dir(self, app: App) -> Path:
        configured = self.settings.get("state_dir") or os.environ.get("PORTABLE_FN_LOCAL_CLOUD")
        return Path(configured) if configured else app.root / LOCAL_CLOUD

    def audit_store(self, app: App, stage: str) -> LocalAuditStore:
        """The app and stage's audit records, in the local cloud's `audit.jsonl` (`portable_fn.audit`)."""
        return LocalAuditStore(self.state_dir(app), app.name, stage)

    def target(self) -> DeployTarget:
        """The local cloud's directory (relative to the app's when not configured), as this OS user."""
        configured = self.settings.get("state_dir") or os.environ.get("PORTABLE_FN_LOCAL_CLOUD")
        return DeployTarget(self.provider, "directory", str(configured or LOCAL_CLOUD), "local", os_user())

    def names(self, app: App, stage: str) -> LocalNames:
        return LocalNames(app.name, stage)

    def desired(self, app: App, stage: str, artifact: Artifact) -> list[Resource]:
        names = self.names(app, stage)
        channels: dict[str, LocalChannel] = {}
        functions = []
        for spec in app.functions:
            channel = _channel(spec)
            if channel is not None:
                channels[names.channel(channel)] = LocalChannel(names.channel(channel), channel=channel)
            options = json.dumps(app.options(spec).to_dict(), sort_keys=True)
            functions.append(
                LocalFunction(
                    names.function(spec.name), trigger=repr(spec.trigger), options=options, code_sha256=artifact.sha256
                )
            )
        resources = [
            *channels.values(),
            *self._stores(app, names),
            *self._buckets(app, names),
            *functions,
            *self._grants(app, names),
        ]
        return with_tags(resources, tuple(sorted(stage_tags(app.config, stage).items())))

    def _stores(self, app: App, names: LocalNames) -> list[LocalStateStore]:
        states = self.state_dir(app) / "states"
        return [
            LocalStateStore(names.state(s.name), path=str(states / f"{names.state(s.name)}.sqlite3"))
            for s in app.states
        ]

    def _buckets(self, app: App, names: LocalNames) -> list[LocalBucket]:
        """Each declared bucket: a folder in the local cloud, named as a cloud names its bucket."""
        return [
            LocalBucket(names.bucket(b.name), path=str(self.state_dir(app) / "buckets" / names.bucket(b.name)))
            for b in app.buckets
        ]

    def _grants(self, app: App, names: LocalNames) -> list[LocalGrant]:
        grants = []
        for spec in app.functions:
            for use in spec.options.uses:
                kind, name = use.resource.kind, use.resource.name
                if kind == "state":
                    grant = LocalGrant(
                        names.grant(spec.name, name, use.access),
                        function=names.function(spec.name),
                        state=names.state(name),
                        access=use.access,
                    )
                elif kind == "bucket":
                    grant = LocalGrant(
                        names.bucket_grant(spec.name, name, use.access),
                        function=names.function(spec.name),
                        access=use.access,
                        bucket=names.bucket(name),
                    )
                else:
                    continue
                grants.append(grant)
        return grants

    def read_remote(self, app: App, stage: str) -> RemoteState:
        cloud = self.cloud(app)
        return RemoteState(_with_items(_from_record(r), cloud) for r in cloud.find(app.name, stage))

    def appliers(self, app: App, stage: str) -> Appliers:
        context = LocalApplyContext(self.cloud(app), app.name, stage)
        records = LocalRecords(context)
        return {
            LocalFunction: records,
            LocalChannel: records,
            LocalGrant: records,
            LocalStateStore: LocalStores(context),
            LocalBucket: LocalBuckets(context),
        }

    def outputs(self, app: App, stage: str, remote: RemoteState) -> dict[str, Any]:
        base = f"http://127.0.0.1:{self.settings.get('port', 8080)}"
        names, deployed = self.names(app, stage), {r.name for r in remote}
        out: dict[str, Any] = {"functions": {}}
        for spec in app.functions:
            if names.function(spec.name) not in deployed:
                continue
            entry: dict[str, Any] = {"trigger": spec.trigger.kind}
            if isinstance(spec.trigger, Http):
                entry["url"] = base + spec.trigger.path
            out["functions"][spec.name] = entry
        out["serve"] = f"portable-fn dev {app.root}"
        return out


def os_user() -> str | None:
    """The name of the user running this process, None when the system cannot say (no passwd entry)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def manifest(app: App) -> dict[str, Any]:
    """What the local package declares: app name, modules and each function's trigger."""
    return {
        "app": app.name,
        "modules": list(app.config.modules),
        "functions": [{"name": s.name, "trigger": repr(s.trigger)} for s in app.functions],
    }


def _channel(spec: FunctionSpec) -> str | None:
    trigger = spec.trigger
    if isinstance(trigger, Queue):
        return f"queue-{trigger.name}"
    if isinstance(trigger, Topic):
        return f"topic-{trigger.name}"
    if isinstance(trigger, Storage):
        return f"bucket-{trigger.bucket}"
    if isinstance(trigger, Schedule):
        return f"schedule-{spec.name}"
    return None


def _from_record(record: dict[str, Any]) -> Resource:
    fields = {k: v for k, v in record.items() if k not in ("kind", "tags", "user_tags")}
    return with_tags([KINDS[record["kind"]](**fields)], tuple(sorted((record.get("user_tags") or {}).items())))[0]


def _with_items(found: Resource, cloud: LocalCloud) -> Resource:
    """A store as found: with the number of items its file holds now."""
    if isinstance(found, LocalStateStore):
        return replace(found, items=cloud.count_items(Path(found.path)))
    if isinstance(found, LocalBucket):
        return replace(found, objects=cloud.count_objects(Path(found.path)))
    return found


class LocalCloud:
    """The local cloud's one I/O boundary: a JSON file of tagged resource records."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "resources.json"
        self.mutations = 0

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return list(json.loads(self.path.read_text(encoding="utf-8")))

    def find(self, app: str, stage: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("tags") == {"app": app, "stage": stage}]

    def put(self, resource: Resource, app: str, stage: str) -> None:
        fields = {k: v for k, v in asdict(resource).items() if k != "tags"}
        user = dict(getattr(resource, "tags", ()))
        record = {"kind": resource.kind, **fields, "tags": {"app": app, "stage": stage}, "user_tags": user}
        kept = [r for r in self.records() if (r["kind"], r["name"]) != resource.key]
        self._write([*kept, record])

    def delete(self, resource: Resource) -> None:
        self._write([r for r in self.records() if (r["kind"], r["name"]) != resource.key])

    def create_store(self, path: Path) -> None:
        """An empty state store file (an existing one is kept as it is)."""
        SqliteBackend(str(path))
        self.mutations += 1

    def delete_store(self, path: Path) -> None:
        """A state store's file, with its write-ahead log, gone."""
        for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            part.unlink(missing_ok=True)
        self.mutations += 1

    def create_bucket(self, path: Path) -> None:
        """A bucket's folder (an existing one is kept as it is)."""
        path.mkdir(parents=True, exist_ok=True)
        self.mutations += 1

    def delete_bucket(self, path: Path) -> None:
        """A bucket's folder, with every object in it, gone."""
        shutil.rmtree(path, ignore_errors=True)
        self.mutations += 1

    def count_objects(self, path: Path) -> int:
        """How many objects a bucket's folder holds (files not hidden: what `FolderStore.keys` lists)."""
        if not path.is_dir():
            return 0
        return sum(
            1 for f in path.rglob("*") if f.is_file() and not any(p.startswith(".") for p in f.relative_to(path).parts)
        )

    def count_items(self, path: Path) -> int:
        """How many items a state store's file holds (0 when there is no file)."""
        if not path.is_file():
            return 0
        with contextlib.closing(sqlite3.connect(path)) as db:
            try:
                (count,) = db.execute("SELECT COUNT(*) FROM items").fetchone()
            except sqlite3.OperationalError:  # not a state store's file (yet)
                return 0
        return int(count)

    def _write(self, records: list[dict[str, Any]]) -> None:
        self.mutations += 1
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".resources.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(records, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)


class LocalApplyContext(ApplyContext):
    """What the local appliers share: the local cloud and the tags (app and stage) to put."""

    def __init__(self, cloud: LocalCloud, app: str, stage: str) -> None:
        super().__init__()
        self.cloud = cloud
        self.app = app
        self.stage = stage


class LocalRecords(Applier[Resource, LocalApplyContext]):
    """Applies any local resource: create and update write its record, delete removes it."""

    def create(self, resource: Resource) -> None:
        self.ctx.cloud.put(resource, self.ctx.app, self.ctx.stage)

    def update(self, resource: Resource, previous: Resource, changes: tuple[str, ...]) -> None:
        self.create(resource)

    def delete(self, resource: Resource) -> None:
        self.ctx.cloud.delete(resource)


class LocalStores(LocalRecords):
    """Applies a state store: its record and its SQLite file (deleted only when the plan deletes the store,
    which it does for a store holding data only with `remove --delete-data`)."""

    def create(self, resource: Resource) -> None:
        assert isinstance(resource, LocalStateStore)
        self.ctx.cloud.create_store(Path(resource.path))
        super().create(resource)

    def delete(self, resource: Resource) -> None:
        assert isinstance(resource, LocalStateStore)
        self.ctx.cloud.delete_store(Path(resource.path))
        super().delete(resource)


class LocalBuckets(LocalRecords):
    """Applies a bucket: its record and its folder (deleted only when the plan deletes the bucket, which it
    does for a bucket holding objects only with `remove --delete-data`)."""

    def create(self, resource: Resource) -> None:
        assert isinstance(resource, LocalBucket)
        self.ctx.cloud.create_bucket(Path(resource.path))
        super().create(resource)

    def delete(self, resource: Resource) -> None:
        assert isinstance(resource, LocalBucket)
        self.ctx.cloud.delete_bucket(Path(resource.path))
        super().delete(resource)
