"""How each kind of resource is created, updated and deleted: with `grid` (the Event Grid appliers), the
only code here that mutates Azure.

One `Applier` per resource type (the shared `portable_fn.deploy.Applier`), all going through the same
`AzureClient`. Bodies are ARM's own JSON
(camelCase, as the REST reference spells it), so they read the same as the docs whatever model classes
the SDK generation has. Long-running operations are awaited with progress. Every action is safe to
repeat: deletes accept "already gone" and creates are PUTs, so rerunning `deploy` after a failure
converges.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from azure.core.exceptions import ResourceNotFoundError

from portable_fn.deploy import Applier as BaseApplier
from portable_fn.deploy import ApplyContext as BaseApplyContext
from portable_fn.deploy import Resource, Settling
from portable_fn.deploy.executor import while_settling
from portable_fn.deploy.tags import managed, tag_changes

from ..publish import EVENT_GRID
from ..settings import AzureSettings
from . import errors
from .client import AzureClient, arm_json, missing
from .naming import FUNCTION_TAG, PACKAGES_CONTAINER, ROLE_DESCRIPTION, TAG_RECORD, TAG_STAGE, is_bucket_container
from .resources import (
    DEPLOYER,
    FUNCTION_IDENTITY,
    IDENTITY_CLIENT_ID,
    PACKAGE_IDENTITY_SETTING,
    PACKAGE_SETTING,
    RELEASE_TAG,
    STORAGE_CONNECTION,
    TOPIC_ENDPOINT,
    TOPIC_KEY,
    AppSettings,
    BlobContainer,
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
)

R = TypeVar("R", bound=Resource)
PUBLISH_DEPLOYER = "portable-fn"  # Flex: who published, as Kudu's deployment record shows it
DEPLOY_SUCCESS, DEPLOY_FAILED = 4, 3  # Kudu's deployment status: 0 pending, 1 building, 2 deploying, 3, 4
ROLE_NAMESPACE = uuid.UUID("5f0c3a52-8d57-4a8e-9a3c-6f1b6c1d2e7a")  # role assignment GUIDs: uuid5(this, ...)
# What the platform answers while the app's identity does not yet hold a role it was just granted, and what
# Event Grid answers while the host that just took a new package is not up yet: told by Azure's error codes
# (`errors` cites each).
NOT_YET_GRANTED = errors.role_not_yet_effective
HOST_NOT_UP = errors.host_not_up


class ApplyContext(BaseApplyContext):
    """What every applier of one run shares: the client, the tags to put, progress, and timings."""

    def __init__(self, azure: AzureClient, tags: dict[str, str], settings: AzureSettings) -> None:
        super().__init__()
        self.azure = azure
        self.tags = tags
        self.sas_days = settings.package_sas_days
        self.lro_timeout_s = settings.lro_timeout_s
        self.report_every_s = settings.lro_report_every_s
        self.remote_build = settings.remote_build  # Flex: the publish installs requirements
        # Azure applies a new role assignment after a while (minutes; at worst longer), and a host that took a
        # new package takes a while to start: what depends on either is retried every `retry_every_s` for
        # up to `role_wait_s` after this run granted a role, or `host_wait_s` after it released a package
        # (`RoleAssignments.settles`, `Releases.settles`; the steps that wait name them in the plan).
        self.role_wait_s = settings.role_wait_s
        self.host_wait_s = settings.host_wait_s
        self.retry_every_s = settings.retry_every_s

    def tags_for(self, resource: Resource) -> dict[str, str]:
        """What to tag `resource` with: the user's tags (its `tags`), portable-fn's own over them."""
        return {**managed(getattr(resource, "tags", ()), TAG_RECORD), **self.tags}

    def wait(self, poller: Any, what: str) -> Any:
        """The result of a long-running operation, reporting while it runs."""
        waited = 0.0
        while not poller.done():
            poller.wait(self.report_every_s)
            waited += self.report_every_s
            if not poller.done():
                self.progress(f"    waiting for {what} ({poller.status()}, {waited:.0f} s)")
            if waited >= self.lro_timeout_s:
                raise TimeoutError(f"{what} did not finish within {self.lro_timeout_s:.0f} s")
        return poller.result()

    def wait_response(self, response: Any, what: str) -> None:
        """Await the operation a raw ARM request started: 202 + `Azure-AsyncOperation` (polled until its
        status is final) or 202 + `Location` (polled until it stops answering 202), reporting while it runs."""
        async_url, location = response.headers.get("Azure-AsyncOperation"), response.headers.get("Location")
        if response.status_code != 202 or not (async_url or location):
            return
        interval = self.azure.polling_interval if self.azure.polling_interval is not None else 5.0
        waited = 0.0
        while waited < self.lro_timeout_s:
            time.sleep(interval)
            waited += interval
            polled = self.azure.arm_request("GET", async_url or location)
            if async_url:
                status = (polled.json() or {}).get("status")
                if status == "Succeeded":
                    return
                if status in ("Failed", "Canceled"):
                    raise RuntimeError(f"{what} ended {status}: {polled.text()}")
            elif polled.status_code != 202:
                return
            self.progress(f"    waiting for {what} ({waited:.0f} s)")
        raise TimeoutError(f"{what} did not finish within {self.lro_timeout_s:.0f} s")


class Applier(BaseApplier[R, ApplyContext]):
    """Create, update, delete one type of resource. By default an update is the same PUT as a create;
    a delete of what ARM says is gone (`client.missing`) is fine."""

    def __init__(self, ctx: ApplyContext) -> None:
        super().__init__(ctx)
        self.azure = ctx.azure

    def update(self, resource: R, previous: R, changes: tuple[str, ...]) -> bool | None:
        return self.create(resource)

    def missing(self, exc: BaseException, *codes: str) -> bool:
        return missing(exc)

    def retag(self, resource: R, previous: R, changes: tuple[str, ...], scope: str) -> tuple[str, ...]:
        """Apply a change of the user's tags (`tags` in `changes`) through ARM's Tags API at `scope`, key by key,
        so the tags others put there (the audit trail's, the release tag) stay; the other changes are left for
        the caller."""
        if "tags" not in changes:
            return changes
        tags = self.azure.resources.tags
        _, gone = tag_changes(getattr(resource, "tags", ()), getattr(previous, "tags", ()), TAG_RECORD)
        if gone:
            before = managed(getattr(previous, "tags", ()), TAG_RECORD)
            taken = {"operation": "Delete", "properties": {"tags": {key: before[key] for key in gone}}}
            self.ctx.wait(tags.begin_update_at_scope(scope, taken), f"untagging {resource.name}")
        put = {"operation": "Merge", "properties": {"tags": self.ctx.tags_for(resource)}}
        self.ctx.wait(tags.begin_update_at_scope(scope, put), f"tagging {resource.name}")
        return tuple(c for c in changes if c != "tags")

    def arm_id(self, group: str, provider_type: str, name: str) -> str:
        """The ARM id of `name` of `provider_type` in `group`: the scope of its tags."""
        return f"/subscriptions/{self.azure.subscription_id}/resourceGroups/{group}/providers/{provider_type}/{name}"


SITES = "Microsoft.Web/sites"
IDENTITIES = "Microsoft.ManagedIdentity/userAssignedIdentities"
IDENTITY_API = "2023-01-31"  # Microsoft.ManagedIdentity's api-version (no SDK of it is installed: raw ARM requests)


class Identities:
    """A function's user-assigned identities as ARM answers them: `get` by name (its principalId and clientId),
    through `AzureClient.arm_request` (deploy installs no SDK of Microsoft.ManagedIdentity)."""

    def __init__(self, azure: AzureClient, group: str) -> None:
        self.azure = azure
        self.group = group

    def path(self, name: str) -> str:
        return f"/subscriptions/{self.azure.subscription_id}/resourceGroups/{self.group}/providers/{IDENTITIES}/{name}"

    def get(self, name: str) -> dict[str, Any]:
        response = self.azure.arm_request("GET", self.path(name), api_version=IDENTITY_API)
        return dict(response.json() or {})

    def put(self, name: str, body: dict[str, Any]) -> None:
        self.azure.arm_request("PUT", self.path(name), body, api_version=IDENTITY_API)

    def delete(self, name: str) -> None:
        self.azure.arm_request("DELETE", self.path(name), api_version=IDENTITY_API)

    def property(self, name: str, key: str) -> str:
        """`principalId` or `clientId` of identity `name`; LookupError when ARM has none yet."""
        found = (self.get(name).get("properties") or {}).get(key)
        if not found:
            raise LookupError(f"managed identity {name} has no {key} yet; check it in the portal")
        return str(found)


class ManagedIdentities(Applier[ManagedIdentity]):
    """A function's own user-assigned identity (`Identities_CreateOrUpdate`, a PUT of its location and tags,
    the function's name among them): the same PUT on a rerun, which keeps its principal. Deleted after the
    role assignments granted to it and the app it is attached to (`ORDER`)."""

    def create(self, resource: ManagedIdentity) -> None:
        tags = {**self.ctx.tags_for(resource), FUNCTION_TAG: resource.function}
        Identities(self.azure, resource.resource_group).put(
            resource.name, {"location": resource.location, "tags": tags}
        )

    def update(self, resource: ManagedIdentity, previous: ManagedIdentity, changes: tuple[str, ...]) -> None:
        """A change of the user's tags through the Tags API (the tags others put there stay), else the PUT."""
        scope = self.arm_id(resource.resource_group, IDENTITIES, resource.name)
        if self.retag(resource, previous, changes, scope):
            self.create(resource)

    def delete(self, resource: ManagedIdentity) -> None:
        self.tolerate_missing(lambda: Identities(self.azure, resource.resource_group).delete(resource.name))


class ResourceGroups(Applier[ResourceGroup]):
    def create(self, resource: ResourceGroup) -> None:
        self.azure.resources.resource_groups.create_or_update(
            resource.name, {"location": resource.location, "tags": self.ctx.tags_for(resource)}
        )

    def update(self, resource: ResourceGroup, previous: ResourceGroup, changes: tuple[str, ...]) -> None:
        """The group PUT again with its tags as found (the audit trail's among them), the user's changed."""
        groups = self.azure.resources.resource_groups
        found = dict(arm_json(groups.get(resource.name)).get("tags") or {})
        _, gone = tag_changes(resource.tags, previous.tags, TAG_RECORD)
        kept = {k: v for k, v in found.items() if k not in gone}
        groups.create_or_update(
            resource.name, {"location": resource.location, "tags": {**kept, **self.ctx.tags_for(resource)}}
        )

    def delete(self, resource: ResourceGroup) -> None:
        groups = self.azure.resources.resource_groups
        self.tolerate_missing(
            lambda: self.ctx.wait(groups.begin_delete(resource.name), f"resource group {resource.name}")
        )


class StorageAccounts(Applier[StorageAccount]):
    def body(self, resource: StorageAccount) -> dict[str, Any]:
        return {
            "sku": {"name": resource.sku},
            "properties": {
                "supportsHttpsTrafficOnly": resource.https_only,
                "minimumTlsVersion": resource.minimum_tls,
                "allowBlobPublicAccess": resource.public_blob_access,
            },
        }

    def create(self, resource: StorageAccount) -> None:
        body = {
            **self.body(resource),
            "location": resource.location,
            "kind": resource.account_kind,
            "tags": self.ctx.tags_for(resource),
        }
        poller = self.azure.storage.storage_accounts.begin_create(resource.resource_group, resource.name, body)
        self.ctx.wait(poller, f"storage account {resource.name}")

    def update(self, resource: StorageAccount, previous: StorageAccount, changes: tuple[str, ...]) -> None:
        scope = self.arm_id(resource.resource_group, "Microsoft.Storage/storageAccounts", resource.name)
        if self.retag(resource, previous, changes, scope):
            self.azure.storage.storage_accounts.update(resource.resource_group, resource.name, self.body(resource))

    def delete(self, resource: StorageAccount) -> None:
        accounts = self.azure.storage.storage_accounts
        self.tolerate_missing(lambda: accounts.delete(resource.resource_group, resource.name))


class BlobContainers(Applier[BlobContainer]):
    """A private container, made through ARM. Deleting a bucket's deletes its blobs: the plan does so only when
    it holds none, or with `--delete-data`. Against an emulator that does not share ARM's view (the storage
    connection string override: Azurite), a declared bucket's container is made on its data plane too, where
    the functions and remote's blob check reach it, and a bucket's container is deleted there too."""

    def create(self, resource: BlobContainer) -> None:
        self.azure.storage.blob_containers.create(
            resource.resource_group, resource.account, resource.container, {"properties": {"publicAccess": "None"}}
        )
        if self.azure.storage_override and resource.bucket:
            from azure.core.exceptions import ResourceExistsError

            try:
                self.azure.blobs(self.azure.storage_override).create_container(resource.container)
            except ResourceExistsError:
                pass

    def delete(self, resource: BlobContainer) -> None:
        containers = self.azure.storage.blob_containers
        self.tolerate_missing(lambda: containers.delete(resource.resource_group, resource.account, resource.container))
        if self.azure.storage_override and is_bucket_container(resource.container):
            service = self.azure.blobs(self.azure.storage_override)
            self.tolerate_missing(lambda: service.delete_container(resource.container))


class StorageQueues(Applier[StorageQueue]):
    def create(self, resource: StorageQueue) -> None:
        self.azure.storage.queue.create(
            resource.resource_group, resource.account, resource.queue, {"properties": {"metadata": dict(self.ctx.tags)}}
        )

    def delete(self, resource: StorageQueue) -> None:
        queues = self.azure.storage.queue
        self.tolerate_missing(lambda: queues.delete(resource.resource_group, resource.account, resource.queue))


class StateTables(Applier[StateTable]):
    """A state's table, made through ARM like the queues (a table takes no tags or metadata: remote knows
    deploy's by their names). Deleting it deletes its entities: the plan does so only when it holds none,
    or with `--delete-data`. Against an emulator that does not share ARM's view (the storage connection
    string override: Azurite), the table is made and deleted on its data plane too, where the functions
    and remote's entity check reach it."""

    def create(self, resource: StateTable) -> None:
        self.azure.storage.table.create(resource.resource_group, resource.account, resource.table, {"properties": {}})
        if self.azure.storage_override:
            self.azure.tables(self.azure.storage_override).create_table_if_not_exists(resource.table)

    def update(self, resource: StateTable, previous: StateTable, changes: tuple[str, ...]) -> None:
        """Nothing to change: a table has no settings deploy sets."""

    def delete(self, resource: StateTable) -> None:
        tables = self.azure.storage.table
        self.tolerate_missing(lambda: tables.delete(resource.resource_group, resource.account, resource.table))
        if self.azure.storage_override:
            self.azure.tables(self.azure.storage_override).delete_table(resource.table)


class PackageBlobs(Applier[PackageBlob]):
    """Uploads through the data plane of the app's storage (the connection-string override, else the
    account's keys). Deploy creates the container through ARM first; against an emulator that does not
    share ARM's view, the container is made on the data plane when the upload says it is missing."""

    def __init__(self, ctx: ApplyContext, group: str, account: str) -> None:
        super().__init__(ctx)
        self.group = group
        self.account = account

    def service(self) -> Any:
        return self.azure.blobs(self.azure.storage_connection_string(self.group, self.account))

    def create(self, resource: PackageBlob) -> None:
        container = self.service().get_container_client(resource.container)
        data = Path(resource.path).read_bytes()
        try:
            container.upload_blob(resource.blob, data, overwrite=True)
        except ResourceNotFoundError:
            container.create_container()
            container.upload_blob(resource.blob, data, overwrite=True)

    def delete(self, resource: PackageBlob) -> None:
        container = self.service().get_container_client(resource.container)
        self.tolerate_missing(lambda: container.delete_blob(resource.blob))


class FunctionPlans(Applier[FunctionPlan]):
    """A plan moving to or from Flex Consumption is replaced, since Azure cannot convert it (or its app)
    in place: the function app goes first (a plan holding an app cannot be deleted), then the plan, and the
    plan is created anew; the function app's own replacing step, next, creates the app. Each part accepts
    what an interrupted earlier run left, so rerunning `deploy` converges."""

    def __init__(self, ctx: ApplyContext, site: str) -> None:
        super().__init__(ctx)
        self.site = site

    def create(self, resource: FunctionPlan) -> None:
        body = {
            "location": resource.location,
            "kind": "functionapp",
            "tags": self.ctx.tags_for(resource),
            "sku": {"name": resource.sku, "tier": resource.tier},
            "properties": {"reserved": resource.reserved},
        }
        poller = self.azure.web.app_service_plans.begin_create_or_update(resource.resource_group, resource.name, body)
        self.ctx.wait(poller, f"app service plan {resource.name}")

    def update(self, resource: FunctionPlan, previous: FunctionPlan, changes: tuple[str, ...]) -> None:
        scope = self.arm_id(resource.resource_group, "Microsoft.Web/serverfarms", resource.name)
        if not self.retag(resource, previous, changes, scope):
            return
        if resource.flex == previous.flex:
            self.create(resource)
            return
        web = self.azure.web.web_apps
        self.tolerate_missing(lambda: web.delete(previous.resource_group, self.site))
        self.delete(previous)
        self.create(resource)

    def delete(self, resource: FunctionPlan) -> None:
        plans = self.azure.web.app_service_plans
        self.tolerate_missing(lambda: plans.delete(resource.resource_group, resource.name))


class FunctionApps(Applier[FunctionApp]):
    """Linux Consumption and Premium apps get their Python version as `linuxFxVersion`; Flex apps as
    `functionAppConfig` (with the deployment container and scale), and no `linuxFxVersion` at all. An app
    moving to or from Flex Consumption is replaced: deleted (already, by its plan's replacing step) and
    created. What hangs on the old app's identity, host name and keys (role assignments, webhooks) is read
    as belonging to another app (see `remote`), so the plan writes it again for the new one.

    A Flex app is updated by a PUT of the whole site (`put_flex`): Microsoft.Web's update schema
    (`SitePatchResource`, 2025-05-01) has no `functionAppConfig`, only the PUT's `Site` has, as the spec's
    own Flex example shows. The other apps are updated by PATCH."""

    def create(self, resource: FunctionApp) -> None:
        properties: dict[str, Any] = {
            "serverFarmId": resource.plan_id,
            "httpsOnly": resource.https_only,
            "reserved": True,
        }
        if resource.flex:
            properties.update(siteConfig={}, functionAppConfig=resource.function_app_config())
        else:
            properties["siteConfig"] = {"linuxFxVersion": resource.linux_fx_version}
        body = {
            "location": resource.location,
            "kind": resource.site_kind,
            "tags": self.ctx.tags_for(resource),
            "identity": self.identity(resource),
            "properties": properties,
        }
        poller = self.azure.web.web_apps.begin_create_or_update(resource.resource_group, resource.name, body)
        self.ctx.wait(poller, f"function app {resource.name}")

    def update(self, resource: FunctionApp, previous: FunctionApp, changes: tuple[str, ...]) -> None:
        web = self.azure.web.web_apps
        if resource.flex != previous.flex:
            self.delete(previous)
            self.create(resource)
            return
        changes = self.retag(resource, previous, changes, self.arm_id(resource.resource_group, SITES, resource.name))
        if "linux_fx_version" in changes:
            web.update_configuration(
                resource.resource_group, resource.name, {"properties": {"linuxFxVersion": resource.linux_fx_version}}
            )
        if resource.flex and set(changes) - {"linux_fx_version"}:
            self.put_flex(resource)
        elif set(changes) - {"linux_fx_version"}:
            web.update(
                resource.resource_group,
                resource.name,
                {
                    "kind": resource.site_kind,
                    "identity": self.identity(resource, previous),
                    "properties": {"serverFarmId": resource.plan_id, "httpsOnly": resource.https_only},
                },
            )

    def identity(self, resource: FunctionApp, previous: FunctionApp | None = None) -> dict[str, Any]:
        """ARM's `identity` of the site: its type and the functions' identities by id; one attached before and
        no longer wanted is detached (ARM's PATCH merges the map: a null takes it out)."""
        if not resource.user_identities and not (previous and previous.user_identities):
            return {"type": resource.identity}
        ids = Identities(self.azure, resource.resource_group)
        attached: dict[str, Any] = {ids.path(name): {} for name in resource.user_identities}
        for gone in set(previous.user_identities if previous else ()) - set(resource.user_identities):
            attached[ids.path(gone)] = None
        return {"type": resource.identity, "userAssignedIdentities": attached}

    def put_flex(self, resource: FunctionApp) -> None:
        """The site as Azure holds it, with what deploy manages set: a PUT replaces the site, so the rest
        (its tags, among them the release tag, the parts of `functionAppConfig` deploy does not set, its other
        properties) is sent back as read. The SDK's model drops what the spec marks read-only; `siteConfig`,
        which a read does not return, is left out, and the site keeps it."""
        from azure.mgmt.web.models import Site

        web = self.azure.web.web_apps
        current = arm_json(web.get(resource.resource_group, resource.name))
        properties = {k: v for k, v in (current.get("properties") or {}).items() if v is not None}
        properties.pop("siteConfig", None)
        properties.update(
            serverFarmId=resource.plan_id,
            httpsOnly=resource.https_only,
            functionAppConfig=merged(properties.get("functionAppConfig") or {}, resource.function_app_config()),
        )
        body = {
            **current,
            "location": resource.location,
            "kind": resource.site_kind,
            "tags": {**(current.get("tags") or {}), **self.ctx.tags_for(resource)},
            "identity": {**(current.get("identity") or {}), **self.identity(resource)},
            "properties": properties,
        }
        poller = web.begin_create_or_update(resource.resource_group, resource.name, Site(body))
        self.ctx.wait(poller, f"function app {resource.name}")

    def delete(self, resource: FunctionApp) -> None:
        web = self.azure.web.web_apps
        self.tolerate_missing(lambda: web.delete(resource.resource_group, resource.name))


class KeyVaults(Applier[KeyVault]):
    """The app's Key Vault through ARM (`Vaults_CreateOrUpdate`): RBAC mode, soft delete on, in the tenant of
    the deploying credential (`tenant`, read when first needed). Deleting it (`remove --delete-data` only)
    purges it too (see `delete`)."""

    def __init__(self, ctx: ApplyContext, tenant: Callable[[], str]) -> None:
        super().__init__(ctx)
        self.tenant = tenant

    def create(self, resource: KeyVault) -> None:
        body = {
            "location": resource.location,
            "tags": self.ctx.tags_for(resource),
            "properties": {
                "tenantId": self.tenant(),
                "sku": {"family": "A", "name": resource.sku},
                "enableRbacAuthorization": resource.rbac,
                "enableSoftDelete": resource.soft_delete,
                "softDeleteRetentionInDays": resource.retention_days,
            },
        }
        vaults = self.azure.keyvault.vaults
        self.ctx.wait(
            vaults.begin_create_or_update(resource.resource_group, resource.name, body), f"key vault {resource.name}"
        )

    def update(self, resource: KeyVault, previous: KeyVault, changes: tuple[str, ...]) -> None:
        scope = self.arm_id(resource.resource_group, "Microsoft.KeyVault/vaults", resource.name)
        if self.retag(resource, previous, changes, scope):
            self.create(resource)

    def delete(self, resource: KeyVault) -> None:
        """Delete the vault (`remove --delete-data` only), then purge it: a deleted vault is kept soft-deleted,
        its name taken, and its secrets recoverable, which `--delete-data` says they are not."""
        vaults = self.azure.keyvault.vaults
        self.tolerate_missing(lambda: vaults.delete(resource.resource_group, resource.name))
        if resource.soft_delete:
            self.tolerate_missing(lambda: self.purge(resource))

    def purge(self, resource: KeyVault) -> None:
        poller = self.azure.keyvault.vaults.begin_purge_deleted(resource.name, resource.location)
        self.ctx.wait(poller, f"purging key vault {resource.name}")


class RoleDefinitions(Applier[RoleDefinition]):
    """Defines one of the app's custom roles (`roles`): a PUT of its exact permissions at its id in the
    subscription, the same GUID every run, so a rerun or an update is the same PUT. ARM refuses to delete a role
    that is still assigned (RoleDefinitionHasAssignments), so plans delete it after its assignments (`ORDER`)."""

    def create(self, resource: RoleDefinition) -> None:
        scope, guid = self.split(resource)
        body = {
            "properties": {
                "roleName": resource.name,
                "description": resource.description,
                "type": "CustomRole",
                "permissions": [
                    {
                        "actions": list(resource.actions),
                        "notActions": [],
                        "dataActions": list(resource.data_actions),
                        "notDataActions": [],
                    }
                ],
                "assignableScopes": list(resource.assignable_scopes),
            }
        }
        self.azure.authorization.role_definitions.create_or_update(scope, guid, body)

    def delete(self, resource: RoleDefinition) -> None:
        scope, guid = self.split(resource)
        self.tolerate_missing(lambda: self.azure.authorization.role_definitions.delete(scope, guid))

    @staticmethod
    def split(resource: RoleDefinition) -> tuple[str, str]:
        """(the subscription's scope, the GUID) of the role's id."""
        scope, guid = resource.definition_id.split("/providers/Microsoft.Authorization/roleDefinitions/")
        return scope, guid


class RoleAssignments(Applier[RoleAssignment]):
    """Grants a function's own identity (`FUNCTION_IDENTITY`) or the function app's system-assigned identity a
    role, or the deploying principal (`DEPLOYER`: `deployer`, read when first needed) its role on the app's Key
    Vault. ARM names an assignment by a GUID, made here from scope,
    role and principal, so a rerun PUTs the same one. A changed principal (the app was recreated) is a
    new assignment: the old one is deleted first.

    A role scoped to one secret needs the secret to exist: ARM answers ResourceNotFound for the scope of a
    missing resource, and deploy never holds a value to create it with. Such a grant is skipped (`create`
    answers False) with a message saying to set the secret: `portable-fn secrets set` makes the grant through
    this applier once the value is stored (`secret_store.ReaderGrant`), and the plan shows it until then."""

    def __init__(self, ctx: ApplyContext, group: str, site: str, deployer: Callable[[], str] | None = None) -> None:
        super().__init__(ctx)
        self.group = group
        self.site = site
        self.deployer = deployer

    def create(self, resource: RoleAssignment) -> bool | None:
        if is_secret_scope(resource.scope) and not self.scope_exists(resource.scope):
            secret, stage = resource.scope.rsplit("/", 1)[-1], self.ctx.tags.get(TAG_STAGE, "STAGE")
            self.ctx.progress(
                f"    skipped: secret {secret!r} has no value yet, so it cannot be granted; `portable-fn secrets set "
                f"{secret} --provider azure --stage {stage}` stores it and grants it"
            )
            return False
        principal = self.deployer_id() if resource.principal == DEPLOYER else self.principal(resource.principal)
        name = uuid.uuid5(ROLE_NAMESPACE, f"{resource.scope}|{resource.role_definition_id}|{principal}".lower())
        body = {
            "properties": {
                "roleDefinitionId": resource.role_definition_id,
                "principalId": principal,
                "principalType": "ServicePrincipal",
                "description": ROLE_DESCRIPTION,
            }
        }
        # A managed identity made moments ago may not have reached the directory ARM checks the principal
        # in: PrincipalNotFound until it has ("Troubleshoot Azure RBAC"), nor a custom role defined moments ago
        # every replica of ARM: both retried for up to `role_wait_s`.
        while_settling(
            lambda: self.azure.authorization.role_assignments.create(resource.scope, str(name), body),
            since=time.monotonic(),
            refusals=errors.not_replicated,
            wait_s=self.ctx.role_wait_s,
            every_s=self.ctx.retry_every_s,
            progress=self.ctx.progress,
            what=f"granting the {resource.kind} {resource.name}",
            waiting_for="the app's new identity to reach the directory",
            why="Azure can take longer to replicate a new managed identity",
            setting="role_wait_s",
        )
        return None

    def settles(self) -> Settling:
        """Azure applies a new role assignment after a while: until then what acts with the app's identity
        is refused (`NOT_YET_GRANTED`)."""
        return Settling(
            NOT_YET_GRANTED,
            wait_s=self.ctx.role_wait_s,
            every_s=self.ctx.retry_every_s,
            waiting_for="the app's new roles to take effect",
            why="Azure can take longer to apply new role assignments",
            setting="role_wait_s",
        )

    def update(self, resource: RoleAssignment, previous: RoleAssignment, changes: tuple[str, ...]) -> None:
        self.delete(previous)
        self.create(resource)

    def deployer_id(self) -> str:
        if self.deployer is None:
            raise LookupError("no deploying principal is known to grant the app's Key Vault to")
        return self.deployer()

    def scope_exists(self, scope: str) -> bool:
        """Whether ARM holds the resource at `scope` (a secret of the app's vault), asked as the role assignments
        at it: ARM answers ResourceNotFound for a scope whose resource does not exist."""
        return self.held_at(scope) is not None

    def held_at(self, scope: str) -> list[tuple[str, str]] | None:
        """(role definition id, principal id) of each role assignment at `scope` itself; None when ARM holds no
        resource there."""
        try:
            found = list(self.azure.authorization.role_assignments.list_for_scope(scope, filter="atScope()"))
        except Exception as exc:
            if missing(exc):
                return None
            raise
        props = [arm_json(item).get("properties") or {} for item in found]
        return [(str(p.get("roleDefinitionId", "")), str(p.get("principalId", ""))) for p in props]

    def principal(self, marker: str = "") -> str:
        """The principal id `marker` stands for: a function's own identity (`FUNCTION_IDENTITY`), else the
        function app's system-assigned one."""
        if marker.startswith(FUNCTION_IDENTITY):
            return Identities(self.azure, self.group).property(marker[len(FUNCTION_IDENTITY) :], "principalId")
        site = arm_json(self.azure.web.web_apps.get(self.group, self.site))
        principal = (site.get("identity") or {}).get("principalId")
        if not principal:
            raise LookupError(
                f"function app {self.site} has no system-assigned identity yet, so no role can be "
                "granted to it; check its identity in the portal"
            )
        return str(principal)

    def delete(self, resource: RoleAssignment) -> None:
        roles = self.azure.authorization.role_assignments
        self.tolerate_missing(lambda: roles.delete(resource.scope, resource.assignment_id))


class AppSettingsApplier(Applier[AppSettings]):
    """Writes the settings with their secrets and markers resolved: the storage connection string, a topic's
    endpoint and key, and, unless the
    platform fetches the package with the app's identity (`WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID`
    is set), a read-only SAS (valid `package_sas_days`, 3650 by default) on the package URL. The host takes
    the package in the next step (`Releases`)."""

    def __init__(self, ctx: ApplyContext, account: str) -> None:
        super().__init__(ctx)
        self.account = account

    def create(self, resource: AppSettings) -> None:
        self.write(resource)

    def update(self, resource: AppSettings, previous: AppSettings, changes: tuple[str, ...]) -> None:
        self.write(resource)

    def write(self, resource: AppSettings) -> None:
        connection = self.azure.storage_connection_string(resource.resource_group, self.account)
        sas = not resource.value(PACKAGE_IDENTITY_SETTING)
        group = resource.resource_group
        values = {key: self.resolve(key, value, connection, sas, group) for key, value in resource.settings}
        self.azure.web.web_apps.update_application_settings(
            resource.resource_group, resource.name, {"properties": values}
        )

    def resolve(self, key: str, value: str, connection: str, sas: bool, group: str = "") -> str:
        if value == STORAGE_CONNECTION:
            return connection
        if value.startswith(TOPIC_ENDPOINT):  # the topic exists by now (`resources.ORDER`)
            topic = arm_json(self.azure.eventgrid.topics.get(group, value[len(TOPIC_ENDPOINT) :]))
            return f"{EVENT_GRID}:{topic['properties']['endpoint']}"
        if value.startswith(TOPIC_KEY):
            keys = self.azure.eventgrid.topics.list_shared_access_keys(group, value[len(TOPIC_KEY) :])
            return str(arm_json(keys)["key1"])
        if value.startswith(IDENTITY_CLIENT_ID):  # the identity exists by now (`resources.ORDER`)
            return Identities(self.azure, group).property(value[len(IDENTITY_CLIENT_ID) :], "clientId")
        if key == PACKAGE_SETTING and value and sas:
            return f"{value}?{read_sas(value, connection, timedelta(days=self.ctx.sas_days))}"
        return value

    def delete(self, resource: AppSettings) -> None:
        """Nothing to do: the settings go with their function app."""


class Releases(Applier[Release]):
    """Has the host take the package the settings name: on Linux Consumption and Premium its triggers are
    synced (required after WEBSITE_RUN_FROM_PACKAGE changed); on Flex Consumption the zip is published to
    the app's SCM host (`publish`). Both act with the app's identity where the platform fetches or stores
    the package, so they wait for the role assignments of this run (the plan's `waits_for`,
    `RoleAssignments.settles`). Then the app is tagged with the package; what needs the new host up waits
    for this step (`settles`)."""

    def __init__(self, ctx: ApplyContext, account: str) -> None:
        super().__init__(ctx)
        self.account = account

    def create(self, resource: Release) -> None:
        if resource.flex:
            self.until_settled(lambda: self.publish(resource), f"publishing the package to {resource.name}")
        else:
            web = self.azure.web.web_apps
            self.until_settled(
                lambda: web.sync_function_triggers(resource.resource_group, resource.name),
                f"syncing the triggers of {resource.name}",
            )
        site = self.azure.web.web_apps.get(resource.resource_group, resource.name).id
        self.ctx.wait(
            self.azure.resources.tags.begin_update_at_scope(
                site, {"operation": "Merge", "properties": {"tags": {RELEASE_TAG: resource.package}}}
            ),
            f"tagging {resource.name} with its package",
        )

    def settles(self) -> Settling:
        """A host that took a new package takes a while to start: until then Event Grid cannot reach it
        (`HOST_NOT_UP`)."""
        return Settling(
            HOST_NOT_UP,
            wait_s=self.ctx.host_wait_s,
            every_s=self.ctx.retry_every_s,
            waiting_for="the app's host to start with its new package",
            why="the host can take longer to start (its log stream says why, if it cannot)",
            setting="host_wait_s",
        )

    def publish(self, resource: Release) -> None:
        """Flex Consumption's One Deploy, as its deployment docs, `az functionapp deployment source config-zip`
        and Core Tools do it: the zip POSTed to `https://<scm host>/api/publish?RemoteBuild=<remote_build>`
        (the platform writes it into the deployment container and restarts the app on it), answered 202
        with the deployment's status URL (`Location`), polled until Kudu says it succeeded or failed."""
        site = arm_json(self.azure.web.web_apps.get(resource.resource_group, resource.name))
        host = scm_host(site)
        build = "true" if self.ctx.remote_build else "false"
        response = self.azure.scm_request(
            "POST",
            f"https://{host}/api/publish?RemoteBuild={build}&Deployer={PUBLISH_DEPLOYER}",
            Path(resource.path).read_bytes(),
            {"Content-Type": "application/zip", "Cache-Control": "no-cache"},
        )
        if response.status_code != 202:
            raise RuntimeError(
                f"publishing the package to {resource.name} was refused ({response.status_code}): {response.text()}"
            )
        location = response.headers.get("Location") or "/api/deployments/latest"
        status_url = f"https://{host}{location}" if location.startswith("/") else location
        self.await_deployment(resource.name, status_url)

    def await_deployment(self, name: str, status_url: str) -> None:
        """Poll Kudu's deployment record until it is complete: success (4) or failed (3, with its log)."""
        interval = self.azure.polling_interval if self.azure.polling_interval is not None else 2.0
        waited = 0.0
        while waited < self.ctx.lro_timeout_s:
            time.sleep(interval)
            waited += interval
            polled = self.azure.scm_request("GET", status_url)
            record = polled.json() if polled.status_code == 200 else {}
            if record.get("status") == DEPLOY_SUCCESS:
                return
            if record.get("status") == DEPLOY_FAILED or record.get("complete"):
                raise RuntimeError(
                    f"publishing the package to {name} failed: {record.get('status_text') or record}; "
                    f"its log: {record.get('log_url') or status_url + '/log'}"
                )
            self.ctx.progress(f"    waiting for the package to be deployed to {name} ({waited:.0f} s)")
        raise TimeoutError(f"publishing the package to {name} did not finish within {self.ctx.lro_timeout_s:.0f} s")

    def delete(self, resource: Release) -> None:
        """Nothing to do: the tag goes with its function app."""


def is_secret_scope(scope: str) -> bool:
    """Whether `scope` is one secret of a Key Vault (`.../providers/Microsoft.KeyVault/vaults/<v>/secrets/<s>`)."""
    return bool(re.search(r"/providers/microsoft\.keyvault/vaults/[^/]+/secrets/[^/]+$", scope.lower()))


def scm_host(site: dict[str, Any]) -> str:
    """The site's SCM (Kudu) host name, as ARM lists it: the host name of type Repository."""
    properties = site.get("properties") or {}
    for state in properties.get("hostNameSslStates") or []:
        if state.get("hostType") == "Repository" and state.get("name"):
            return str(state["name"])
    for name in properties.get("enabledHostNames") or []:
        if ".scm." in name:
            return str(name)
    raise LookupError(
        f"function app {site.get('name')} lists no SCM host name (hostNameSslStates of type "
        "Repository), so its package cannot be published; check the app in the portal"
    )


def merged(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """`current` with `wanted` written over it, nested objects merged key by key, except `authentication`,
    which is replaced (the spec: set a type's own property only for that type)."""
    out = dict(current)
    for key, value in wanted.items():
        nested = isinstance(value, dict) and isinstance(out.get(key), dict) and key != "authentication"
        out[key] = merged(out[key], value) if nested else value
    return out


def read_sas(url: str, connection: str, valid: timedelta) -> str:
    """A read-only SAS on the package blob at `url`, signed with the account key in `connection`."""
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    parts = dict(p.split("=", 1) for p in connection.split(";") if "=" in p)
    blob = url.split(f"/{PACKAGES_CONTAINER}/", 1)[1]
    expiry = datetime.now(timezone.utc) + valid
    return str(
        generate_blob_sas(
            parts["AccountName"],
            PACKAGES_CONTAINER,
            blob,
            account_key=parts["AccountKey"],
            permission=BlobSasPermissions(read=True),
            expiry=expiry,
        )
    )
