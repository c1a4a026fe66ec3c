"""The deploy side of portable-fn on Google Cloud Functions (2nd gen), with the official Google clients.

`GcpDeployer` (a `portable_fn.deploy.Deployer`) is what `GcpProvider` delegates `check`, `desired`,
`read_remote`, `executor` and `outputs` to. The parts follow the shared pipeline (see `portable_fn.deploy`):

    naming      names, labels, resource paths        resources   frozen dataclasses, no I/O
    desired     app -> resources (pure)              schedules   rate/cron -> Cloud Scheduler cron
    remote      Google -> RemoteState (reads only)   appliers    create/update/delete per resource (the
    client      GcpClient, the one I/O boundary                  map the shared Executor dispatches by)
    outputs     URLs, topics, jobs, states after a   routes      dead-letter subscriptions, IAM grants
                deploy                               retries     where Google clamps a retry policy (plan)
    storage_agent  the Cloud Storage service agent's publisher grant on the project (storage triggers)

A topic or queue some function sends to is a Pub/Sub topic, named to the functions that declare it; a queue's
delayed sends wait as Cloud Tasks tasks on the app's delay queue (see `desired` for both and their grants).

A secret some function reads is a Secret Manager secret (`<app>-<stage>-<name>`), kept by `remove` unless
`--delete-data`; the account each function that declares it runs as holds roles/secretmanager.secretAccessor
on that secret alone, and the functions get `PORTABLE_FN_SECRETS` (see `desired`).

A bucket some function declares is the bucket a `storage(name)` trigger of that name watches (made unless the
settings map it to an existing one), named to the functions that declare it in `PORTABLE_FN_BUCKET_<NAME>`; the
account each of them runs as holds roles/storage.objectViewer (read) or roles/storage.objectUser (write) in that
bucket's own IAM policy. `remove` keeps a bucket holding objects unless `--delete-data` (see `desired`).

A state some function uses gets its own Firestore database (`<app>-<stage>-<state>`, TTL policy on
`expires_at`), named to the functions that declare it in `PORTABLE_FN_STATE_<NAME>`; the account each of them
runs as is granted roles/datastore.user or .viewer on the project under an IAM condition naming that database
(see `desired`).

Each function runs as a service account of its own, made by deploy (`<app>-<stage>-<function>`, cut to 30
characters with a hash), granted exactly what that function declares and its trigger needs; when the settings
name a `service_account`, every function runs as it instead and the grants are the app's as a whole (plan
says so).

Settings (`[tool.portable-fn.gcp]`, stage overrides applied): `project` (else GOOGLE_CLOUD_PROJECT or
CLOUDSDK_CORE_PROJECT), `region` (else CLOUDSDK_FUNCTIONS_REGION), `service_account` (one runtime and trigger
identity for every function, granted what any of them declares, `roles/run.invoker` on each event function's
service and, for a storage trigger, `roles/eventarc.eventReceiver` on the project; unset: each function's own),
`ingress` (ALLOW_ALL), `min_instances` (0), `max_instances` (100; a function's max_concurrency wins),
`buckets` (logical bucket -> the existing bucket a storage trigger watches and a declared bucket is, else
`<app>-<stage>-<name>`, which deploy makes; deploy never makes or deletes a mapped one, only grants on it),
`endpoints` (per-service endpoint overrides), `project_number` (for the Pub/Sub and Cloud Storage service agents),
`grant_storage_agent` (true: deploy grants the Cloud Storage service agent
`roles/pubsub.publisher` on the project when a storage trigger needs it; false when that is done outside
deploy), `grant_wait_s` (420) and `retry_every_s` (15: how long a storage trigger Eventarc refuses for want of
a grant this run made is deployed again, as IAM changes take minutes to reach it), `subscription_wait_s` (120:
how long a dead-letter route waits for Eventarc to name a Pub/Sub trigger's subscription), `poll_s` (2) and
`operation_timeout_s` (1800) for long-running operations.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from google.auth.credentials import Credentials

from portable_fn.config import typed_settings
from portable_fn.deploy import Artifact, Deployer, DeployTarget, RemoteState, Resource
from portable_fn.deploy.executor import Appliers
from portable_fn.runtime.errors import ConfigError, UnsupportedTriggerError
from portable_fn.runtime.triggers import Queue, Schedule

from ..settings import GcpSettings
from .appliers import APPLIERS, ApplyContext
from .audit import GcsAuditStore
from .client import GcpClient, explain
from .desired import (
    DEAD_LETTER_ENV,
    MAX_EVENT_TIMEOUT_S,
    Target,
    account_of,
    desired,
    secret_readers,
    wants_delays,
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
    """The deploy half of the Google Cloud provider for one set of settings and one endpoint. It reads the
    settings as `config`, a `GcpSettings` (a mapping given is validated into one)."""

    provider = "gcp"

    def __init__(
        self,
        settings: GcpSettings | Mapping[str, Any] | None = None,
        endpoint_url: str | None = None,
        client: GcpClient | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.config = typed_settings(GcpSettings, settings, "tool.portable-fn.gcp")
        super().__init__(self.config.model_dump(exclude_unset=True), endpoint_url, client)
        self.credentials = credentials

    def make_client(self) -> GcpClient:
        """The one GcpClient every call goes through (made on first use, so `check` needs no project)."""
        config = self.config
        return GcpClient(
            self.endpoint_url, config.endpoints, self.credentials, config.poll_s, config.operation_timeout_s
        )

    def check(self, app: App) -> None:
        """Raise UnsupportedTriggerError for what Cloud Functions, Pub/Sub or Cloud Scheduler cannot do."""
        for spec in app.functions:
            trigger, timeout = spec.trigger, app.options(spec).timeout_s or 0
            if isinstance(trigger, Schedule):
                cloud_scheduler_cron(spec.name, trigger)
            if isinstance(trigger, Queue) and trigger.fifo:
                raise UnsupportedTriggerError(
                    f"Function {spec.name!r} on gcp: queue({trigger.name!r}, fifo=True) needs ordered delivery, "
                    "which a Cloud Functions Pub/Sub trigger does not give. Drop fifo=True or deploy it elsewhere."
                )
            if trigger.is_event and timeout > MAX_EVENT_TIMEOUT_S:
                raise UnsupportedTriggerError(
                    f"Function {spec.name!r} on gcp: timeout_s={timeout} is over the {MAX_EVENT_TIMEOUT_S} s "
                    "an event-driven Cloud Function may run. Lower it, or split the work."
                )

    def project_and_region(self) -> tuple[str, str]:
        """The project and region deploy acts on: the settings, else the environment (`required`)."""
        found = required({"project": self.config.project, "region": self.config.region})
        return found["project"], found["region"]

    def names(self, app: App, stage: str) -> Names:
        project, region = self.project_and_region()
        return Names(app.name, stage, project, region, tuple(sorted(self.config.buckets.items())))

    def desired(self, app: App, stage: str, artifact: Artifact) -> list[Resource]:
        self.check(app)
        return desired(Target(app, stage, self.names(app, stage), artifact, self.config))

    def read_remote(self, app: App, stage: str, removing: bool = False) -> RemoteState:
        config, names = self.config, self.names(app, stage)
        target = Target(app, stage, names, Artifact(Path("not-built.zip"), "", 0, 0), config)  # no artifact read
        return RemoteReader(
            self.client,
            names,
            config,
            storage_agent=wants_storage_agent_grant(app, config),
            event_receiver=wants_event_receiver_grant(app, config),
            states=bool(app.states),
            channels=frozenset(self.names(app, stage).topic(channel.name) for channel in app.channels),
            delays=wants_delays(app),
            secrets={names.secret(s.name): secret_readers(target, s) for s in app.secrets},
            accounts=frozenset(account_of(target, spec) for spec in app.functions),
            removing=removing,
            buckets=frozenset(names.bucket(b.name) for b in app.buckets),
        ).read()

    def read_remote_to_remove(self, app: App, stage: str) -> RemoteState:
        """`read_remote` with every account deploy made counted as going, so the remove plan lists (and takes back)
        each project binding naming one, as a deploy that drops a function does."""
        return self.read_remote(app, stage, removing=True)

    def appliers(self, app: App, stage: str) -> Appliers:
        ctx = ApplyContext(self.client, self.names(app, stage), self.config)
        return {kind: make(ctx) for kind, make in APPLIERS.items()}

    def explain(self, exc: BaseException) -> str | None:
        return explain(exc)

    def outputs(self, app: App, stage: str, remote: RemoteState) -> dict[str, Any]:
        return outputs(app, stage, remote, self.names(app, stage))

    def audit_store(self, app: App, stage: str) -> GcsAuditStore:
        """The app and stage's audit records, in a bucket of their own (see `audit`)."""
        return GcsAuditStore(self.client, self.names(app, stage))

    def target(self) -> DeployTarget:
        """The project and region deploy acts on (the settings, else the environment), and the account
        of the credentials given or found by google-auth when it names one."""
        project, region = self.project_and_region()
        return DeployTarget(self.provider, "project", project, region, principal_of(self.credentials))


def principal_of(credentials: Credentials | None) -> str | None:
    """The service account's email, or the user's account, of `credentials` (else of what google-auth
    finds); None when they do not say (anonymous, a metadata server's "default", none found). Nothing is
    refreshed or fetched: this reads what the credentials already hold."""
    if credentials is None:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            credentials, _ = google.auth.default()
        except DefaultCredentialsError:
            return None
    for attribute in ("service_account_email", "account"):
        value = getattr(credentials, attribute, None)
        if isinstance(value, str) and value and value != "default":
            return value
    return None


REQUIRED = {  # what every deploy needs: the setting, else the first of these environment variables set
    "project": ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"),
    "region": ("CLOUDSDK_FUNCTIONS_REGION",),
}


def required(settings: dict[str, str | None]) -> dict[str, str]:
    """Each of `REQUIRED`'s keys from `settings`, else from its environment variables; one ConfigError
    naming every key that has neither, so a user fixes them all at once."""
    found = {
        key: settings.get(key) or next((os.environ[v] for v in variables if os.environ.get(v)), None)
        for key, variables in REQUIRED.items()
    }
    missing = [key for key, value in found.items() if not value]
    if missing:
        ways = "; ".join(
            f'{key} = "..." under [tool.portable-fn.gcp] in pyproject.toml, or the '
            f"{' or '.join(REQUIRED[key])} environment variable"
            for key in missing
        )
        raise ConfigError(f"Deploying to gcp needs a {' and a '.join(missing)}: set {ways}.")
    return {key: value for key, value in found.items() if value}
