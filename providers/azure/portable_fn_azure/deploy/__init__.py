"""The deploy side of portable-fn on Azure Functions: plan, deploy, remove and info with the official
Azure SDK clients (azure-mgmt-resource, azure-mgmt-storage, azure-mgmt-web, azure-mgmt-eventgrid,
azure-mgmt-keyvault, azure-storage-blob).

`AzureDeployer` (a `portable_fn.deploy.Deployer`) is what `AzureProvider` delegates `check`, `desired`,
`read_remote`, `executor` and `outputs` to. The parts follow the shared pipeline (see `portable_fn.deploy`):

    naming      names and the two tags             resources   frozen dataclasses, no I/O
    checks      settings checked, errors say what to set
    desired     app -> resources (pure)            remote      Azure -> RemoteState (reads only)
    appliers    create/update/delete per resource (`AzureDeployer.appliers` maps each type to one; the
    grid        the Event Grid appliers             shared Executor dispatches by that map)
    client      AzureClient, the one I/O boundary  outputs     URLs and names after a deploy

Settings (`[tool.portable-fn.azure]`, stage overrides applied): `subscription_id` (else
AZURE_SUBSCRIPTION_ID), `location` (required), `resource_group` (an existing group to deploy into; by
default deploy creates and owns `<app>-<stage>-rg`), `plan_sku` (`Y1`, Linux Consumption; `FC1`, Flex
Consumption, with `instance_memory_mb` 512, 2048 (default) or 4096 and `maximum_instance_count` 40-1000,
default 100; or `EP1`-`EP3`; a live app moving to or from FC1 is replaced, app and plan, as Azure cannot
convert it: see `appliers.FunctionPlans` and `remote.RemoteReader`),
`storage_auth` (`identity`, the default: the function app's system-assigned identity gets Storage Blob Data
Owner and Storage Queue Data Contributor, plus Storage Account Contributor for blob triggers, on the app's
storage account (the host's own), and for what functions declare custom roles of exact actions (`roles`): a
state reader or writer on each state table, and a sender's role on each queue, Event Grid topic or (with
`service_bus_namespace_id`) Service Bus entity a function sends to (see `desired`); deploying then needs
`Microsoft.Authorization/roleDefinitions/write` besides role assignments. The
host finds it by `AzureWebJobsStorage__accountName`; `connection_string`: the
account key in `AzureWebJobsStorage`, for deployers who may not create role assignments),
`tenant_id` and `secrets_officer_id` (when a function declares a secret: the tenant the app's Key Vault trusts
and the object id given the secrets officer's custom role on it, else the `tid` and `oid` of the deploying credential's
ARM token; see `desired`), `keyvault_endpoint` (where requests to a vault go, its host in `Host`: emulators),
`package_sas_days` (3650), `arm_endpoint`, `scm_endpoint` (where requests to a site's SCM host go, the host
in `Host`) and `storage_connection_string` (emulators; the `endpoint_url` given to the provider is the ARM
endpoint too), `connection_verify` (a CA bundle path, or false),
`polling_interval_s` (the SDK's LRO default when unset) and `lro_report_every_s` (10), `role_wait_s`
(600), `host_wait_s` (300) and `retry_every_s` (15): how long what acts with the app's identity is
retried after this run granted it roles, which Azure applies only after a while, and what needs the host
up (Event Grid subscriptions) after this run gave it a new package (a package release waits for the
role assignments of the same plan, an event subscription for the release: see `appliers.RoleAssignments`,
`appliers.Releases` and `portable_fn.deploy.executor.Waits`).

On Linux Consumption (and Premium) the platform fetches the package from its blob
(`WEBSITE_RUN_FROM_PACKAGE`) with the app's identity (`WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID =
SystemAssigned`, read through Storage Blob Data Owner, granted before the setting is written), so no SAS
is in the app settings; with `storage_auth = "connection_string"` through a read-only SAS on the URL
(`package_sas_days`). On Flex Consumption the zip is published to the app's SCM host (`/api/publish`, Flex's
One Deploy), and the platform puts it in the `portable-fn-deployment` container of the app's account, which
it reaches with the app's identity (or the connection string, per `storage_auth`); a Flex app's
`functionAppConfig` changes by a PUT of the whole site, the update (PATCH) schema having no such property.
Either way the host taking the package (triggers synced, or the publish) is its own step,
`package release`, marked done by a tag on the app, so a rerun redoes it when it failed (see
`resources.Release`). Topic triggers get a custom Event Grid topic (CloudEvents 1.0 in and out) and storage
triggers a subscription on the storage account's system topic (see `desired`).
"""

from __future__ import annotations

import base64
import functools
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from portable_fn.config import typed_settings
from portable_fn.deploy import Artifact, Deployer, DeployTarget, RemoteState, Resource
from portable_fn.deploy.executor import Appliers
from portable_fn.runtime.errors import ConfigError

from ..settings import AzureSettings
from . import bus
from .appliers import (
    ApplyContext,
    AppSettingsApplier,
    BlobContainers,
    FunctionApps,
    FunctionPlans,
    KeyVaults,
    ManagedIdentities,
    PackageBlobs,
    Releases,
    ResourceGroups,
    RoleAssignments,
    RoleDefinitions,
    StateTables,
    StorageAccounts,
    StorageQueues,
)
from .audit import BlobAuditStore
from .bus import BusDeliveryCounts
from .checks import FLEX_SKU, check_env, check_flex
from .client import AzureClient, explain
from .desired import Target, bus_grants, desired, secret_grants
from .grid import EventGridTopics, EventSubscriptions, SystemTopics
from .naming import PACKAGES_CONTAINER, TAG_APP, TAG_STAGE, Names, container_name, queue_name, tags
from .outputs import outputs
from .remote import RemoteReader
from .resources import (
    AppSettings,
    BlobContainer,
    BusDeliveryCount,
    EventGridTopic,
    EventSubscription,
    FunctionApp,
    FunctionPlan,
    KeyVault,
    ManagedIdentity,
    PackageBlob,
    Release,
    ResourceGroup,
    RoleAssignment,
    RoleDefinition,
    StateTable,
    StorageAccount,
    StorageQueue,
    SystemTopic,
    in_order,
)

if TYPE_CHECKING:
    from portable_fn.app import App

__all__ = [
    "PACKAGES_CONTAINER",
    "TAG_APP",
    "TAG_STAGE",
    "AzureClient",
    "AzureDeployer",
    "container_name",
    "queue_name",
]


class AzureDeployer(Deployer[AzureClient, Names]):
    """The deploy half of the Azure provider for one set of settings and one ARM endpoint. It reads the
    settings as `config`, an `AzureSettings` (a mapping given is validated into one)."""

    provider = "azure"

    def __init__(
        self,
        settings: AzureSettings | Mapping[str, Any] | None = None,
        endpoint_url: str | None = None,
        client: AzureClient | None = None,
        credential: Any = None,
    ) -> None:
        self.config = typed_settings(AzureSettings, settings, "tool.portable-fn.azure")
        super().__init__(self.config.model_dump(exclude_unset=True), endpoint_url, client)
        self.endpoint_url = endpoint_url or self.config.arm_endpoint
        self._credential = credential

    def make_client(self) -> AzureClient:
        """The one AzureClient every call goes through (made on first use, so `check` needs no login)."""
        config = self.config
        return AzureClient(
            self.subscription(),
            self._credential,
            arm_endpoint=self.endpoint_url,
            storage_connection_string=config.storage_connection_string,
            connection_verify=config.connection_verify,
            polling_interval=config.polling_interval_s,
            scm_endpoint=config.scm_endpoint,
        )

    def subscription(self) -> str:
        example = "00000000-0000-0000-0000-000000000000"
        return required("subscription_id", self.config.subscription_id, "AZURE_SUBSCRIPTION_ID", example)

    def location(self) -> str:
        return required("location", self.config.location, None, "westeurope")

    def check(self, app: App) -> None:
        """Raise UnsupportedTriggerError for what one function app cannot hold (the settings' values were
        checked when `config` was made)."""
        check_env(app)

    def names(self, app: App, stage: str) -> Names:
        return Names(app.name, stage, self.subscription(), self.config.resource_group)

    def blob_endpoint(self, names: Names) -> str:
        """Where the app's blobs live: the override's BlobEndpoint (or account), else the account's."""
        return self.endpoint(names, "blob")

    def table_endpoint(self, names: Names) -> str:
        """Where the app's state tables live: the override's TableEndpoint (or account), else the account's."""
        return self.endpoint(names, "table")

    def endpoint(self, names: Names, service: str) -> str:
        override = self.client.storage_override
        if override:
            parts = dict(p.split("=", 1) for p in override.split(";") if "=" in p)
            if f"{service.capitalize()}Endpoint" in parts:
                return parts[f"{service.capitalize()}Endpoint"].rstrip("/")
            return (
                f"{parts.get('DefaultEndpointsProtocol', 'https')}://{parts['AccountName']}.{service}."
                f"{parts.get('EndpointSuffix', 'core.windows.net')}"
            )
        return f"https://{names.storage_account}.{service}.{self.client.storage_suffix}"

    def desired(self, app: App, stage: str, artifact: Artifact) -> list[Resource]:
        self.check(app)
        names = self.names(app, stage)
        config = self.config
        return desired(
            Target(
                app,
                stage,
                names,
                self.location(),
                artifact,
                self.blob_endpoint(names),
                config.plan_sku,
                config.storage_auth == "identity",
                check_flex(config),
                self.table_endpoint(names),
                config.service_bus_namespace_id or "",
            )
        )

    def read_remote(self, app: App, stage: str) -> RemoteState:
        names = self.names(app, stage)
        grants = (
            bus_grants(app, names, self.config.service_bus_namespace_id or "")
            if self.config.storage_auth == "identity"
            else []
        )
        grants += secret_grants(app, names)
        scopes = tuple(dict.fromkeys((grant.scope, grant.name.rsplit("/", 1)[0]) for grant in grants))
        deployer = self.deployer_id() if app.secrets else ""
        found = RemoteReader(self.client, names, self.config.plan_sku == FLEX_SKU, scopes, deployer).read()
        counts = bus.read(self.client, bus.delivery_counts(app, self.config.service_bus_namespace_id or ""))
        return RemoteState(in_order([*found, *counts])) if counts else found

    def deployer_id(self) -> str:
        """The object id of who sets the app's secrets: `secrets_officer_id`, else the deploying credential's."""
        return self.config.secrets_officer_id or claim(self.client.credential, "oid", "secrets_officer_id")

    def tenant_id(self) -> str:
        """The tenant the app's Key Vault trusts: `tenant_id`, else the deploying credential's."""
        return self.config.tenant_id or claim(self.client.credential, "tid", "tenant_id")

    def appliers(self, app: App, stage: str) -> Appliers:
        names = self.names(app, stage)
        ctx = ApplyContext(self.client, tags(app.name, stage), self.config)
        group, account, site = names.resource_group, names.storage_account, names.function_app
        return {
            ResourceGroup: ResourceGroups(ctx),
            StorageAccount: StorageAccounts(ctx),
            BlobContainer: BlobContainers(ctx),
            StorageQueue: StorageQueues(ctx),
            StateTable: StateTables(ctx),
            PackageBlob: PackageBlobs(ctx, group, account),
            FunctionPlan: FunctionPlans(ctx, site),
            FunctionApp: FunctionApps(ctx),
            AppSettings: AppSettingsApplier(ctx, account),
            Release: Releases(ctx, account),
            EventGridTopic: EventGridTopics(ctx),
            SystemTopic: SystemTopics(ctx),
            EventSubscription: EventSubscriptions(ctx, site),
            RoleDefinition: RoleDefinitions(ctx),
            RoleAssignment: RoleAssignments(ctx, group, site, self.deployer_id),
            KeyVault: KeyVaults(ctx, self.tenant_id),
            ManagedIdentity: ManagedIdentities(ctx),
            BusDeliveryCount: BusDeliveryCounts(ctx),
        }

    def explain(self, exc: BaseException) -> str | None:
        return explain(exc)

    def outputs(self, app: App, stage: str, remote: RemoteState) -> dict[str, Any]:
        return outputs(app, stage, remote, self.names(app, stage), self.location())

    def audit_store(self, app: App, stage: str) -> BlobAuditStore:
        """The app and stage's audit records, in a storage account of their own (see `audit`), written
        through `audit_client`."""
        return BlobAuditStore(self.audit_client, self.names(app, stage), self.location(), self.config)

    @functools.cached_property
    def audit_client(self) -> AzureClient:
        """The audit trail's own client (`AzureClient.sibling`: same credential, endpoints and API log): the
        record is not part of the change set, so `client.calls` stays exactly what deploy did to the app."""
        return self.client.sibling()

    def target(self) -> DeployTarget:
        """The subscription and location deploy acts on, and who the credential's ARM token names."""
        principal = principal_of(self.client.credential)
        return DeployTarget(self.provider, "subscription", self.subscription(), self.location(), principal)


ARM_SCOPE = "https://management.azure.com/.default"  # what the management clients ask tokens for


def principal_of(credential: Any) -> str | None:
    """Who an ARM access token of `credential` names: the user's `upn`, else the application's `appid`
    (a service principal or managed identity), else the object id `oid`; None when the token is not a JWT
    or names none. The payload is only decoded, not verified: it is the token the SDK will send anyway."""
    claims = token_claims(credential)
    found = next((claims[k] for k in ("upn", "unique_name", "appid", "oid") if claims.get(k)), None)
    return str(found) if found is not None else None


def token_claims(credential: Any) -> dict[str, Any]:
    """The claims of an ARM access token of `credential` ({} when it is not a JWT), decoded, not verified."""
    token = str(credential.get_token(ARM_SCOPE).token)
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def claim(credential: Any, name: str, setting: str) -> str:
    """Claim `name` of the deploying credential's ARM token; a ConfigError naming `setting` when it has none."""
    found = token_claims(credential).get(name)
    if not found:
        what = "tenant id" if name == "tid" else "object id"
        raise ConfigError(
            f"Deploying secrets to azure needs {setting}: the deploying credential's token names no `{name}`. Set "
            f'{setting} = "<{what}>" under [tool.portable-fn.azure] in pyproject.toml.'
        )
    return str(found)


def required(key: str, value: str | None, env: str | None, example: str) -> str:
    """The setting `key`, else the environment variable `env`; neither: a ConfigError saying what to set."""
    found = value or (os.environ.get(env) if env else None)
    if not found:
        also = f", or the {env} environment variable" if env else ""
        raise ConfigError(
            f'Deploying to azure needs {key}: set {key} = "{example}" (for example) under '
            f"[tool.portable-fn.azure] in pyproject.toml{also}."
        )
    return found
