"""The provider interface and the registry that finds providers through entry points.

A provider has two halves that never mix: the runtime shim (generated code that runs in the cloud,
standard library plus `portable_fn.runtime` only) and the deploy side (the cloud's SDK, imported only
when packaging, planning, deploying or removing). Providers register under the entry-point group
`portable_fn.providers`; the built-in `local` provider is found the same way as third-party ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .config import parse_settings
from .runtime.errors import ProviderError, ProviderNotInstalledError
from .runtime.outcomes import ACK

if TYPE_CHECKING:
    from .app import App
    from .cost import Sizing
    from .deploy import Artifact, Deployer, DeployTarget, Executor, RemoteState, Resource
    from .deploy.grants import Grant
    from .export import Export
    from .logread import LogEntry
    from .runtime.function import FunctionSpec
    from .secrets import SecretStore

GROUP = "portable_fn.providers"
KNOWN = {"local": "portable-fn", "aws": "aws", "gcp": "gcp", "azure": "azure"}
Progress = Callable[[str], None]


class Provider:
    """What every provider implements. The CLI composes these calls (see `portable_fn.deploy.pipeline`).

    The deploy questions (`desired`, `read_remote`, `executor`, `outputs`, `explain`) go to the provider's
    `Deployer` (`make_deployer`, made on first use); see docs/providers.md for how to add a provider.

    `settings` is the provider's table from `[tool.portable-fn]` with the stage's overrides applied,
    checked against `settings_model` (every key the provider reads, with its type and default; unknown
    keys are errors, also when the app is loaded); `endpoint_url` points the deploy side at an emulator
    (moto, LocalStack, a recording endpoint).
    """

    name = ""
    settings_model: type[BaseModel] | None = None
    export_formats: tuple[str, ...] = ()  # what `export` writes ("cloudformation", "terraform")

    def __init__(self, settings: dict[str, Any] | None = None, endpoint_url: str | None = None) -> None:
        given = dict(settings or {})
        model = self.settings_model
        self.settings = given if model is None else parse_settings(model, given, f"tool.portable-fn.{self.name}")
        self.endpoint_url = endpoint_url
        self._deployer: Deployer[Any, Any] | None = None

    @property
    def deployer(self) -> Deployer[Any, Any]:
        """The deploy side (`make_deployer`), made on first use: running a function never imports its SDK."""
        if self._deployer is None:
            self._deployer = self.make_deployer()
        return self._deployer

    @deployer.setter
    def deployer(self, deployer: Deployer[Any, Any]) -> None:
        self._deployer = deployer

    def make_deployer(self) -> Deployer[Any, Any]:
        """This provider's `portable_fn.deploy.Deployer` for its settings and endpoint (import its SDK here)."""
        raise NotImplementedError(f"provider {self.name!r} has no deploy side")

    # -- checks and runtime shim ---------------------------------------------------------------
    def check(self, app: App) -> None:
        """Raise UnsupportedTriggerError for anything in the app this provider cannot honour."""

    def generate_shim(self, app: App, out_dir: Path) -> list[Path]:
        """Write the generated entry-point code for the app into `out_dir`; return the files."""
        raise NotImplementedError

    # -- deploy side -----------------------------------------------------------------------------
    def package(self, app: App, stage: str, out_dir: Path, progress: Progress) -> Artifact:
        """Build the deployable artifact (deterministic bytes)."""
        raise NotImplementedError

    def desired(self, app: App, stage: str, artifact: Artifact) -> list[Resource]:
        """The resources the app needs, dependencies first."""
        return self.deployer.desired(app, stage, artifact)

    def offline_desired(self, app: App, stage: str, artifact: Artifact) -> list[Resource]:
        """`desired` as far as it can be known without calling the cloud (for `check`, which needs no login):
        the same resources, with placeholders where only the cloud can say (an account id in an ARN)."""
        return self.desired(app, stage, artifact)

    def read_remote(self, app: App, stage: str) -> RemoteState:
        """What exists in the cloud for this app and stage (found by tags or labels)."""
        return self.deployer.read_remote(app, stage)

    def read_remote_to_remove(self, app: App, stage: str) -> RemoteState:
        """What exists that `remove` deletes: `read_remote`, unless the provider reads more when no function
        stays (GCP: the project bindings of every account deploy made, each of which goes). A plugin that
        overrides `read_remote` alone has it used by `remove` too."""
        return self.read_remote(app, stage)

    def executor(self, app: App, stage: str) -> Executor:
        """The executor that applies plans to this cloud."""
        return self.deployer.executor(app, stage)

    def outputs(self, app: App, stage: str, remote: RemoteState) -> dict[str, Any]:
        """URLs, ARNs and names a user needs after a deploy."""
        return self.deployer.outputs(app, stage, remote)

    def target(self) -> DeployTarget:
        """The account / project / subscription and region deploy acts on, and as whom (the deployer's)."""
        return self.deployer.target()

    def explain(self, exc: BaseException) -> str | None:
        """What a cloud error means and what to do about it, when the provider can tell (no credentials,
        expired ones); None: the error says it well enough. The pipeline and the executor use it."""
        try:
            deployer = self.deployer
        except NotImplementedError:
            return None
        return deployer.explain(exc)

    # -- data plane --------------------------------------------------------------------------------
    def invoke(self, app: App, spec: FunctionSpec, event: Any, stage: str | None = None) -> dict[str, Any]:
        """Run one function once with `event` (this provider's native event or a neutral one) through
        the provider's runtime adapter, for `stage` (default: the first declared; the local provider
        applies its `env`). Return a JSON-ready result that `invocation_failed` reads: an HTTP answer's
        `status`, each record's `results` (`outcome`, `id`, `reason`), or one `outcome`; an `error` the
        cloud would see raised; `skipped` events the trigger filters out."""
        raise NotImplementedError

    def read_logs(self, app: App, stage: str, functions: Sequence[FunctionSpec], since: datetime) -> list[LogEntry]:
        """The log lines `functions` wrote on this cloud for `stage` at or after `since` (aware), oldest
        first, as `portable_fn.logread.LogEntry`s; `portable-fn logs` merges, filters and prints them."""
        raise ProviderError(
            f"Provider {self.name!r} keeps no logs to read; `portable-fn dev` prints the "
            "local functions' logs as they run. Give --provider aws, gcp or azure."
        )

    def grants(self, desired: Sequence[Resource]) -> list[Grant]:
        """What the `desired` resources grant: each principal's actions on each resource, as
        `portable_fn.deploy.grants.Grant`s (none for a provider that grants nothing)."""
        return []

    def export(self, app: App, stage: str, artifact: Artifact, fmt: str) -> Export:
        """The app's `desired` resources for `stage` as infrastructure as code in `fmt` (one of
        `export_formats`), for `portable-fn export`; what cannot be exported is in the export's notes."""
        from .export import unsupported_format

        raise unsupported_format(self.name, fmt, self.export_formats)

    def plan_notes(self, app: App, stage: str) -> list[str]:
        """What this provider adjusts in what the app declares, one line each, printed by `plan` and
        `deploy` (a retry policy its cloud clamps, say); read from the app alone, without a cloud call."""
        return []

    def cost_sizing(self, app: App, stage: str, resources: Sequence[Resource]) -> dict[str, Sizing]:
        """What each of the app's functions runs with (memory, architecture, plan) in `resources` (desired or
        found), by function name; a function with no resource there is left out. `portable_fn.cost` prices
        a plan's two sides from it."""
        from .runtime.errors import ConfigError

        raise ConfigError(f"Provider {self.name!r} says nothing of what its functions cost.")

    def dead_letters(self, app: App, stage: str, spec: FunctionSpec, redrive: bool = False) -> list[DeadLetterEntry]:
        """The dead letters `spec` gave up on in `stage`, oldest first, read from its dead-letter target
        (their `deadletter*` extensions: `runtime.dead_letters`); with `redrive`, each is also sent back to
        the function's trigger and removed from the target (`redriven` says it was)."""
        raise ProviderError(f"Provider {self.name!r} cannot list dead letters yet.")

    def secret_store(self, app: App, stage: str) -> SecretStore:
        """Where the app's secrets live for `stage` on this provider (`portable_fn.secrets.SecretStore`), for
        `portable-fn secrets set|list|remove`; the functions read them through `runtime.secrets`."""
        raise ProviderError(
            f"Provider {self.name!r} keeps no secrets. Give --provider local, aws, gcp or azure, or a "
            "provider that implements `secret_store`."
        )

    def workflow_env(self, app: App, stage: str) -> dict[str, str]:
        """The environment under which this machine reaches the app's workflow store (`pfn-workflows`) and
        its workflows' queues the way its functions do: `PORTABLE_FN_PROVIDER` and the locators deploy sets
        (`PORTABLE_FN_STATE_PFN_WORKFLOWS`, `PORTABLE_FN_QUEUE_PFN_WF_<NAME>`, ...). `portable-fn workflows`
        runs the runtime's own `runtime.workflow` operations under it."""
        raise ProviderError(f"Provider {self.name!r} cannot operate workflows from here yet.")

    def workflows(self, app: App, stage: str, operation: str, *args: Any) -> Any:
        """Run `runtime.workflow.<operation>(*args)` (`list_instances`, `get_instance`, `cancel`, `retry`)
        against the app's instances in `stage` on this cloud."""
        from .runtime import workflow

        with runtime_environment(self.workflow_env(app, stage)):
            return getattr(workflow, operation)(*args)


@dataclass
class DeadLetterEntry:
    """One dead letter as `portable-fn dead-letters` shows it, the same fields on every provider."""

    function: str
    id: str  # the CloudEvent's id (the message id when the body is not a CloudEvent)
    reason: str | None  # `deadletterreason`
    attempts: int | None  # `deadletterattempt` (or the transport's delivery count)
    time: str | None  # when it was dead-lettered or first sent, ISO 8601, when known
    where: str  # the dead-letter queue / topic / journal it was read from
    event: dict[str, Any] | None = None  # the CloudEvent in JSON format, when the body holds one
    redriven: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@contextlib.contextmanager
def runtime_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Run the portable runtime in this process as a deployed function would (`env` set, states and the
    publisher opened again from it), then restore what was there."""
    from .runtime.channels import use_publisher
    from .runtime.state import use_backends

    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    backends, publisher = use_backends(None), use_publisher(None)
    try:
        yield
    finally:
        use_backends(backends)
        use_publisher(publisher)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def invocation_failed(result: Mapping[str, Any]) -> bool:
    """Whether an `invoke` result says the invocation failed, whatever the provider's shape: an HTTP
    status of 400 or more, a record not acknowledged (retry or dead-letter), a failed single `outcome`,
    an `error` the cloud would see raised, or SQS batch item failures. Skipped events are not failures."""
    status = result.get("status")
    if isinstance(status, (int, float)) and not isinstance(status, bool) and status >= 400:
        return True
    if result.get("error") or result.get("outcome", ACK) != ACK:
        return True
    records = result.get("results") or []
    if any(not isinstance(r, Mapping) or r.get("outcome") != ACK for r in records):
        return True
    response = result.get("response")
    return isinstance(response, Mapping) and bool(response.get("batchItemFailures"))


def available() -> dict[str, Any]:
    """Installed providers by name (entry points, not yet loaded)."""
    return dict(_entry_points(_metadata_dirs()))


@functools.lru_cache(maxsize=4)
def _entry_points(metadata_dirs: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """The providers' entry points, read from the distributions in `metadata_dirs`: reading them scans every
    installed distribution's metadata (tens of milliseconds), so it is done once per process and set of
    directories, not on each call (an app's directory put on sys.path changes nothing here)."""
    return tuple((ep.name, ep) for ep in entry_points(group=GROUP))


def _metadata_dirs() -> tuple[str, ...]:
    """The entries of sys.path that hold distribution metadata (*.dist-info, *.egg-info)."""
    found = []
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        if any(name.endswith((".dist-info", ".egg-info")) for name in names):
            found.append(entry)
    return tuple(found)


def settings_models(installed: dict[str, Any] | None = None) -> dict[str, type[BaseModel]]:
    """The settings model of each installed provider, by name; one that fails to load is left out here
    (using it says why)."""
    found = available() if installed is None else installed
    models: dict[str, type[BaseModel]] = {}
    for name, entry in sorted(found.items()):
        try:
            model = getattr(entry.load(), "settings_model", None)
        except Exception:
            continue
        if isinstance(model, type) and issubclass(model, BaseModel):
            models[name] = model
    return models


def load_provider(
    name: str,
    settings: dict[str, Any] | None = None,
    endpoint_url: str | None = None,
    installed: dict[str, Any] | None = None,
) -> Provider:
    """Instantiate an installed provider; a missing one says what to install. `installed` replaces the
    entry-point lookup (tests pass a registry of their own)."""
    found = available() if installed is None else installed
    if name not in found:
        raise ProviderNotInstalledError(_install_hint(name, found))
    try:
        cls = found[name].load()
    except Exception as exc:
        raise ProviderError(
            f"Provider {name!r} is installed but failed to load: {type(exc).__name__}: {exc}. "
            f"Reinstall it with pip install --force-reinstall 'portable-fn[{name}]'."
        ) from exc
    provider = cls(settings, endpoint_url)
    if not isinstance(provider, Provider):
        raise ProviderError(f"Entry point {found[name].value!r} for provider {name!r} is not a Provider.")
    return provider


def _install_hint(name: str, found: dict[str, Any]) -> str:
    installed = ", ".join(sorted(found)) or "none"
    if name in KNOWN and name != "local":
        return (
            f"Provider {name!r} is not installed (installed: {installed}). Install it with "
            f"pip install 'portable-fn[{name}]'."
        )
    return f"There is no provider named {name!r} (installed: {installed}; known: {', '.join(sorted(KNOWN))})."
