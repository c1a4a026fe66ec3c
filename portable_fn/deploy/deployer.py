"""The deploy half of a provider, as every provider fills it in: naming, desired, remote, appliers,
client, outputs.

A `Deployer` is made on first use by its `Provider` (so running a function locally never imports a cloud
SDK) and answers the pipeline's questions for one set of settings and one endpoint:

    names       the names of the app's resources for a stage (the provider's `naming` module)
    client      the one I/O boundary (`make_client`, made on first use, so `check` needs no login)
    desired     app -> the resources it needs, dependencies first (pure)
    read_remote the cloud -> `RemoteState` (reads only)
    appliers    resource type -> `Applier`, which the shared `Executor` dispatches each step to
    outputs     URLs and names a user needs after a deploy
    explain     what a cloud error means and what to do (no credentials, say)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from .executor import Appliers, Executor

if TYPE_CHECKING:
    from ..app import App
    from .models import Artifact, DeployTarget, RemoteState, Resource

Client = TypeVar("Client")
Names = TypeVar("Names")


class Deployer(Generic[Client, Names]):
    """What a provider's deploy side implements; `executor` is the shared `Executor` over its appliers."""

    provider: ClassVar[str] = "provider"

    def __init__(
        self, settings: dict[str, Any] | None = None, endpoint_url: str | None = None, client: Client | None = None
    ) -> None:
        self.settings = dict(settings or {})
        self.endpoint_url = endpoint_url
        self._client = client

    @property
    def client(self) -> Client:
        """The one client every call goes through, made on first use."""
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def make_client(self) -> Client:
        raise NotImplementedError

    def check(self, app: App) -> None:
        """Raise UnsupportedTriggerError (or ConfigError) for what this cloud cannot do."""

    def names(self, app: App, stage: str) -> Names:
        """The names of the app's resources for `stage` (the provider's `naming`)."""
        raise NotImplementedError

    def desired(self, app: App, stage: str, artifact: Artifact) -> list[Resource]:
        raise NotImplementedError

    def read_remote(self, app: App, stage: str) -> RemoteState:
        raise NotImplementedError

    def appliers(self, app: App, stage: str) -> Appliers:
        """An applier for every resource type `desired` and `read_remote` return, sharing one context."""
        raise NotImplementedError

    def executor(self, app: App, stage: str) -> Executor:
        return Executor(app.name, stage, self.appliers(app, stage), provider=self.provider, explain=self.explain)

    def outputs(self, app: App, stage: str, remote: RemoteState) -> dict[str, Any]:
        raise NotImplementedError

    def target(self) -> DeployTarget:
        """The account / project / subscription and region this deployer acts on, and as whom (asks the
        cloud who is calling; no change)."""
        raise NotImplementedError

    def explain(self, exc: BaseException) -> str | None:
        """What a cloud error means and what to do about it; None: the error says it well enough."""
        return None
