"""The deploy side of portable-fn on Google Cloud Functions (2nd gen), with the official Google clients.

`GcpDeployer` (a `portable_fn.deploy.Deployer`) is what `GcpProvider` delegates `check`, `desired`,
`read_remote`, `executor` and `outputs` to. The parts follow the shared pipeline (see `portable_fn.deploy`):

    naming      names, labels, resource paths        resources   frozen dataclasses, no I/O
    desired     app -> resources (pure)              schedules   rate/cron -> Cloud Scheduler cron
    remote      Google -> RemoteState (reads only)   appliers    create/update/delete per resource (the
    client      GcpClient, the one I/O boundary                  map the shared Executor dispatches by)
    outputs     URLs, topics, jobs after a deploy    routes      dead-letter subscriptions, IAM grants
    storage_agent  the Cloud Storage service agent's publisher grant on the project (storage triggers)

Settings (`[tool.portable-fn.gcp]`, stage overrides applied): `project` (else GOOGLE_CLOUD_PROJECT or
CLOUDSDK_CORE_PROJECT), `region` (else CLOUDSDK_FUNCTIONS_REGION), `service_account` (runtime and trigger
identity, which deploy grants `roles/run.invoker` on each event function's service and, for a storage trigger,
`roles/eventarc.eventReceiver` on the project; Google's default when unset, and then granted nothing),
`ingress` (ALLOW_ALL), `min_instances` (0), `max_instances` (100; a function's max_concurrency wins),
`buckets` (logical bucket -> the bucket a storage trigger watches, else `<app>-<stage>-<name>`; deploy does
not create buckets), `endpoints` (per-service endpoint overrides), `project_number` (for the Pub/Sub and Cloud
Storage service agents), `grant_storage_agent` (true: deploy grants the Cloud Storage service agent
`roles/pubsub.publisher` on the project when a storage trigger needs it; false when that is done outside
deploy), `grant_wait_s` (420) and `retry_every_s` (15: how long a storage trigger Eventarc refuses for want of
a grant this run made is deployed again, as IAM changes take minutes to reach it), `subscription_wait_s` (120:
how long a dead-letter route waits for Eventarc to name a Pub/Sub trigger's subscription), `poll_s` (2) and
`operation_timeout_s` (1800) for long-running operations.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from google.auth.credentials import Credentials

from portable_fn.deploy import Artifact, Deployer, RemoteState, Resource
from portable_fn.deploy.executor import Appliers
from portable_fn.runtime.errors import ConfigError, UnsupportedTriggerError
from portable_fn.runtime.triggers import Queue, Schedule

from .appliers import APPLIERS, ApplyContext
from .client import GcpClient, explain
from .desired import (
    DEAD_LETTER_ENV,
    MAX_EVENT_TIMEOUT_S,
    Settings,
    Target,
    desired,
    wants_event_receiver_grant,
    wants_storage_agent_grant,
)
from .naming import LABEL_APP, LABEL_SOURCE, LABEL_STAGE, Names
from .outputs import outputs
from .remote import RemoteReader
from .schedules import cloud_scheduler_cron

if TYPE_CHECKING:
    from portable_fn.app import App

__all__ = ["DEAD_LETTER_ENV", "LABEL_APP", "LABEL_SOURCE", "LABEL_STAGE", "GcpClient", "GcpDeployer", "Names"]


class GcpDeployer(Deployer[GcpClient, Names]):
    """The deploy half of the Google Cloud provider for one set of settings and one endpoint."""

    provider = "gcp"

    def __init__(self, settings: dict[str, Any] | None = None, endpoint_url: str | None = None,
                 client: GcpClient | None = None, credentials: Credentials | None = None) -> None:
        super().__init__(settings, endpoint_url, client)
        self.credentials = credentials

    def make_client(self) -> GcpClient:
        """The one GcpClient every call goes through (made on first use, so `check` needs no project)."""
        return GcpClient(self.endpoint_url, self.settings.get("endpoints"), self.credentials,
                         float(self.settings.get("poll_s", 2)), float(self.settings.get("operation_timeout_s", 1800)))

    def check(self, app: App) -> None:
        """Raise UnsupportedTriggerError for what Cloud Functions, Pub/Sub or Cloud Scheduler cannot do."""
        for spec in app.functions:
            trigger, timeout = spec.trigger, app.options(spec).timeout_s or 0
            if isinstance(trigger, Schedule):
                cloud_scheduler_cron(spec.name, trigger)
            if isinstance(trigger, Queue) and trigger.fifo:
                raise UnsupportedTriggerError(
                    f"Function {spec.name!r} on gcp: queue({trigger.name!r}, fifo=True) needs ordered delivery, "
                    "which a Cloud Functions Pub/Sub trigger does not give. Drop fifo=True or deploy it elsewhere.")
            if trigger.is_event and timeout > MAX_EVENT_TIMEOUT_S:
                raise UnsupportedTriggerError(
                    f"Function {spec.name!r} on gcp: timeout_s={timeout} is over the {MAX_EVENT_TIMEOUT_S} s "
                    "an event-driven Cloud Function may run. Lower it, or split the work.")

    def names(self, app: App, stage: str) -> Names:
        buckets = self.settings.get("buckets") or {}
        return Names(app.name, stage, self.setting("project", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"),
                     self.setting("region", "CLOUDSDK_FUNCTIONS_REGION"),
                     tuple(sorted((str(k), str(v)) for k, v in buckets.items())))

    def setting(self, key: str, *variables: str) -> str:
        value = self.settings.get(key) or next((os.environ[v] for v in variables if os.environ.get(v)), None)
        if not value:
            raise ConfigError(
                f"Deploying to gcp needs a {key}: set {key} = \"...\" under [tool.portable-fn.gcp] in "
                f"pyproject.toml, or the {' or '.join(variables)} environment variable.")
        return str(value)

    def desired(self, app: App, stage: str, artifact: Artifact) -> list[Resource]:
        self.check(app)
        return desired(Target(app, stage, self.names(app, stage), artifact, Settings.of(self.settings)))

    def read_remote(self, app: App, stage: str) -> RemoteState:
        settings = Settings.of(self.settings)
        return RemoteReader(self.client, self.names(app, stage), settings,
                            storage_agent=wants_storage_agent_grant(app, settings),
                            event_receiver=wants_event_receiver_grant(app, settings)).read()

    def appliers(self, app: App, stage: str) -> Appliers:
        ctx = ApplyContext(self.client, self.names(app, stage), Settings.of(self.settings))
        return {kind: make(ctx) for kind, make in APPLIERS.items()}

    def explain(self, exc: BaseException) -> str | None:
        return explain(exc)

    def outputs(self, app: App, stage: str, remote: RemoteState) -> dict[str, Any]:
        return outputs(app, stage, remote, self.names(app, stage))
