"""How each kind of resource is created, updated and deleted: with `grid` (the Event Grid appliers), the
only code here that mutates Azure.

One `Applier` per resource type, all going through the same `AzureClient`. Bodies are ARM's own JSON
(camelCase, as the REST reference spells it), so they read the same as the docs whatever model classes
the SDK generation has. Long-running operations are awaited with progress. Every action is safe to
repeat: deletes accept "already gone" and creates are PUTs, so rerunning `deploy` after a failure
converges.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Generic, TypeVar

from azure.core.exceptions import ResourceNotFoundError

from portable_fn.deploy import Resource
from portable_fn.deploy.executor import while_settling

from .client import AzureClient, arm_json, missing
from .naming import PACKAGES_CONTAINER, ROLE_DESCRIPTION
from .resources import (
    PACKAGE_IDENTITY_SETTING,
    PACKAGE_SETTING,
    RELEASE_TAG,
    STORAGE_CONNECTION,
    AppSettings,
    BlobContainer,
    FunctionApp,
    FunctionPlan,
    PackageBlob,
    Release,
    ResourceGroup,
    RoleAssignment,
    StorageAccount,
    StorageQueue,
)

R = TypeVar("R", bound=Resource)
Progress = Callable[[str], None]
ONE_DEPLOY_SAS_HOURS = 2  # Flex: the package URL only has to last until OneDeploy fetched it
ROLE_NAMESPACE = uuid.UUID("5f0c3a52-8d57-4a8e-9a3c-6f1b6c1d2e7a")  # role assignment GUIDs: uuid5(this, ...)
# What the platform answers while the app's identity does not yet hold a role it was just granted: Azure
# Storage's code for a missing data role, and what syncing triggers answers when the host could not start
# (it could not read its package or its storage).
NOT_YET_GRANTED = ("AuthorizationPermissionMismatch", "AuthorizationFailure", "from host runtime")
# What Event Grid answers while the host that just took a new package is not up yet: the webhook's
# validation handshake failed, or the function is not listed yet.
HOST_NOT_UP = ("validation handshake failed", "attempt to validate the provided endpoint",
               "Destination endpoint not found")


class Context:
    """What every applier shares: the client, the tags to put, progress, and timings."""

    def __init__(self, azure: AzureClient, tags: dict[str, str], settings: dict[str, Any]) -> None:
        self.azure = azure
        self.tags = tags
        self.progress: Progress = lambda message: None
        self.sas_days = int(settings.get("package_sas_days", 3650))
        self.lro_timeout_s = float(settings.get("lro_timeout_s", 1800))
        self.report_every_s = float(settings.get("lro_report_every_s", 10))
        self.remote_build = bool(settings.get("remote_build", False))  # Flex: OneDeploy installs requirements
        # Azure applies a new role assignment after a while (minutes; at worst longer), and a host that took a
        # new package takes a while to start: what depends on either is retried every `retry_every_s` for
        # up to `role_wait_s` after this run granted a role, or `host_wait_s` after it released a package.
        self.role_wait_s = float(settings.get("role_wait_s", 600))
        self.host_wait_s = float(settings.get("host_wait_s", 300))
        self.retry_every_s = float(settings.get("retry_every_s", 15))
        self.roles_granted_at: float | None = None
        self.released_at: float | None = None

    def with_roles(self, call: Callable[[], Any], what: str) -> Any:
        """`call()`, which acts with the app's identity, retried while it is refused for want of a role this
        run granted (`NOT_YET_GRANTED`)."""
        return while_settling(call, since=self.roles_granted_at, refusals=NOT_YET_GRANTED, wait_s=self.role_wait_s,
                              every_s=self.retry_every_s, progress=self.progress, what=what,
                              waiting_for="the app's new roles to take effect",
                              why="Azure can take longer to apply new role assignments", setting="role_wait_s")

    def after_release(self, call: Callable[[], Any], what: str) -> Any:
        """`call()`, which needs the app's host up, retried while Event Grid cannot reach a host that took
        a new package in this run (`HOST_NOT_UP`)."""
        return while_settling(call, since=self.released_at, refusals=HOST_NOT_UP, wait_s=self.host_wait_s,
                              every_s=self.retry_every_s, progress=self.progress, what=what,
                              waiting_for="the app's host to start with its new package",
                              why="the host can take longer to start (its log stream says why, if it cannot)",
                              setting="host_wait_s")

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


def tolerate_missing(call: Callable[[], Any]) -> None:
    """Run a delete; a resource that is already gone is fine (a rerun after a failure)."""
    try:
        call()
    except Exception as exc:
        if not missing(exc):
            raise


class Applier(Generic[R]):
    """Create, update, delete one type of resource. By default an update is the same PUT as a create."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.azure = ctx.azure

    def create(self, resource: R) -> None:
        raise NotImplementedError

    def update(self, resource: R, previous: R, changes: tuple[str, ...]) -> None:
        self.create(resource)

    def delete(self, resource: R) -> None:
        raise NotImplementedError


class ResourceGroups(Applier[ResourceGroup]):
    def create(self, resource: ResourceGroup) -> None:
        self.azure.resources.resource_groups.create_or_update(
            resource.name, {"location": resource.location, "tags": self.ctx.tags})

    def delete(self, resource: ResourceGroup) -> None:
        groups = self.azure.resources.resource_groups
        tolerate_missing(lambda: self.ctx.wait(groups.begin_delete(resource.name), f"resource group {resource.name}"))


class StorageAccounts(Applier[StorageAccount]):
    def body(self, resource: StorageAccount) -> dict[str, Any]:
        return {"sku": {"name": resource.sku}, "tags": self.ctx.tags, "properties": {
            "supportsHttpsTrafficOnly": resource.https_only, "minimumTlsVersion": resource.minimum_tls,
            "allowBlobPublicAccess": resource.public_blob_access}}

    def create(self, resource: StorageAccount) -> None:
        body = {**self.body(resource), "location": resource.location, "kind": resource.account_kind}
        poller = self.azure.storage.storage_accounts.begin_create(resource.resource_group, resource.name, body)
        self.ctx.wait(poller, f"storage account {resource.name}")

    def update(self, resource: StorageAccount, previous: StorageAccount, changes: tuple[str, ...]) -> None:
        self.azure.storage.storage_accounts.update(resource.resource_group, resource.name, self.body(resource))

    def delete(self, resource: StorageAccount) -> None:
        accounts = self.azure.storage.storage_accounts
        tolerate_missing(lambda: accounts.delete(resource.resource_group, resource.name))


class BlobContainers(Applier[BlobContainer]):
    def create(self, resource: BlobContainer) -> None:
        self.azure.storage.blob_containers.create(resource.resource_group, resource.account, resource.container,
                                                  {"properties": {"publicAccess": "None"}})

    def delete(self, resource: BlobContainer) -> None:
        containers = self.azure.storage.blob_containers
        tolerate_missing(lambda: containers.delete(resource.resource_group, resource.account, resource.container))


class StorageQueues(Applier[StorageQueue]):
    def create(self, resource: StorageQueue) -> None:
        self.azure.storage.queue.create(resource.resource_group, resource.account, resource.queue,
                                        {"properties": {"metadata": dict(self.ctx.tags)}})

    def delete(self, resource: StorageQueue) -> None:
        queues = self.azure.storage.queue
        tolerate_missing(lambda: queues.delete(resource.resource_group, resource.account, resource.queue))


class PackageBlobs(Applier[PackageBlob]):
    """Uploads through the data plane of the app's storage (the connection-string override, else the
    account's keys). Deploy creates the container through ARM first; against an emulator that does not
    share ARM's view, the container is made on the data plane when the upload says it is missing."""

    def __init__(self, ctx: Context, group: str, account: str) -> None:
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
        tolerate_missing(lambda: container.delete_blob(resource.blob))


class FunctionPlans(Applier[FunctionPlan]):
    """A plan moving to or from Flex Consumption is replaced, since Azure cannot convert it (or its app)
    in place: the function app goes first (a plan holding an app cannot be deleted), then the plan, and the
    plan is created anew; the function app's own replacing step, next, creates the app. Each part accepts
    what an interrupted earlier run left, so rerunning `deploy` converges."""

    def __init__(self, ctx: Context, site: str) -> None:
        super().__init__(ctx)
        self.site = site

    def create(self, resource: FunctionPlan) -> None:
        body = {"location": resource.location, "kind": "functionapp", "tags": self.ctx.tags,
                "sku": {"name": resource.sku, "tier": resource.tier}, "properties": {"reserved": resource.reserved}}
        poller = self.azure.web.app_service_plans.begin_create_or_update(resource.resource_group, resource.name, body)
        self.ctx.wait(poller, f"app service plan {resource.name}")

    def update(self, resource: FunctionPlan, previous: FunctionPlan, changes: tuple[str, ...]) -> None:
        if resource.flex == previous.flex:
            self.create(resource)
            return
        web = self.azure.web.web_apps
        tolerate_missing(lambda: web.delete(previous.resource_group, self.site))
        self.delete(previous)
        self.create(resource)

    def delete(self, resource: FunctionPlan) -> None:
        plans = self.azure.web.app_service_plans
        tolerate_missing(lambda: plans.delete(resource.resource_group, resource.name))


class FunctionApps(Applier[FunctionApp]):
    """Linux Consumption and Premium apps get their Python version as `linuxFxVersion`; Flex apps as
    `functionAppConfig` (with the deployment container and scale), and no `linuxFxVersion` at all. An app
    moving to or from Flex Consumption is replaced: deleted (already, by its plan's replacing step) and
    created. What hangs on the old app's identity, host name and keys (role assignments, webhooks) is read
    as belonging to another app (see `remote`), so the plan writes it again for the new one."""

    def create(self, resource: FunctionApp) -> None:
        properties: dict[str, Any] = {"serverFarmId": resource.plan_id, "httpsOnly": resource.https_only,
                                      "reserved": True}
        if resource.flex:
            properties.update(siteConfig={}, functionAppConfig=resource.function_app_config())
        else:
            properties["siteConfig"] = {"linuxFxVersion": resource.linux_fx_version}
        body = {"location": resource.location, "kind": resource.site_kind, "tags": self.ctx.tags,
                "identity": {"type": resource.identity}, "properties": properties}
        poller = self.azure.web.web_apps.begin_create_or_update(resource.resource_group, resource.name, body)
        self.ctx.wait(poller, f"function app {resource.name}")

    def update(self, resource: FunctionApp, previous: FunctionApp, changes: tuple[str, ...]) -> None:
        web = self.azure.web.web_apps
        if resource.flex != previous.flex:
            self.delete(previous)
            self.create(resource)
            return
        if "linux_fx_version" in changes:
            web.update_configuration(resource.resource_group, resource.name,
                                     {"properties": {"linuxFxVersion": resource.linux_fx_version}})
        if set(changes) - {"linux_fx_version"}:
            properties: dict[str, Any] = {"serverFarmId": resource.plan_id, "httpsOnly": resource.https_only}
            if resource.flex:
                properties["functionAppConfig"] = resource.function_app_config()
            web.update(resource.resource_group, resource.name, {
                "kind": resource.site_kind, "identity": {"type": resource.identity}, "properties": properties})

    def delete(self, resource: FunctionApp) -> None:
        web = self.azure.web.web_apps
        tolerate_missing(lambda: web.delete(resource.resource_group, resource.name))


class RoleAssignments(Applier[RoleAssignment]):
    """Grants the function app's identity a role. ARM names an assignment by a GUID, made here from scope,
    role and principal, so a rerun PUTs the same one. A changed principal (the app was recreated) is a
    new assignment: the old one is deleted first."""

    def __init__(self, ctx: Context, group: str, site: str) -> None:
        super().__init__(ctx)
        self.group = group
        self.site = site

    def create(self, resource: RoleAssignment) -> None:
        principal = self.principal()
        name = uuid.uuid5(ROLE_NAMESPACE, f"{resource.scope}|{resource.role_definition_id}|{principal}".lower())
        self.azure.authorization.role_assignments.create(resource.scope, str(name), {"properties": {
            "roleDefinitionId": resource.role_definition_id, "principalId": principal,
            "principalType": "ServicePrincipal", "description": ROLE_DESCRIPTION}})
        self.ctx.roles_granted_at = time.monotonic()

    def update(self, resource: RoleAssignment, previous: RoleAssignment, changes: tuple[str, ...]) -> None:
        self.delete(previous)
        self.create(resource)

    def principal(self) -> str:
        site = arm_json(self.azure.web.web_apps.get(self.group, self.site))
        principal = (site.get("identity") or {}).get("principalId")
        if not principal:
            raise LookupError(f"function app {self.site} has no system-assigned identity yet, so no role can be "
                              "granted to it; check its identity in the portal")
        return str(principal)

    def delete(self, resource: RoleAssignment) -> None:
        roles = self.azure.authorization.role_assignments
        tolerate_missing(lambda: roles.delete(resource.scope, resource.assignment_id))


class AppSettingsApplier(Applier[AppSettings]):
    """Writes the settings with their secrets resolved: the storage connection string, and, unless the
    platform fetches the package with the app's identity (`WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID`
    is set), a read-only SAS (valid `package_sas_days`, 3650 by default) on the package URL. The host takes
    the package in the next step (`Releases`)."""

    def __init__(self, ctx: Context, account: str) -> None:
        super().__init__(ctx)
        self.account = account

    def create(self, resource: AppSettings) -> None:
        self.write(resource)

    def update(self, resource: AppSettings, previous: AppSettings, changes: tuple[str, ...]) -> None:
        self.write(resource)

    def write(self, resource: AppSettings) -> None:
        connection = self.azure.storage_connection_string(resource.resource_group, self.account)
        sas = not resource.value(PACKAGE_IDENTITY_SETTING)
        values = {key: self.resolve(key, value, connection, sas) for key, value in resource.settings}
        self.azure.web.web_apps.update_application_settings(resource.resource_group, resource.name,
                                                            {"properties": values})

    def resolve(self, key: str, value: str, connection: str, sas: bool) -> str:
        if value == STORAGE_CONNECTION:
            return connection
        if key == PACKAGE_SETTING and value and sas:
            return f"{value}?{read_sas(value, connection, timedelta(days=self.ctx.sas_days))}"
        return value

    def delete(self, resource: AppSettings) -> None:
        """Nothing to do: the settings go with their function app."""


class Releases(Applier[Release]):
    """Has the host take the package the settings name: on Linux Consumption and Premium its triggers are
    synced (required after WEBSITE_RUN_FROM_PACKAGE changed); on Flex Consumption the package is deployed
    by OneDeploy from its blob (with a SAS of `ONE_DEPLOY_SAS_HOURS`) into the app's deployment container.
    Both act with the app's identity where it fetches the package or reaches its storage, so they wait for
    roles granted in this run (`Context.with_roles`). Then the app is tagged with the package."""

    def __init__(self, ctx: Context, account: str) -> None:
        super().__init__(ctx)
        self.account = account

    def create(self, resource: Release) -> None:
        if resource.flex:
            connection = self.azure.storage_connection_string(resource.resource_group, self.account)
            sas = read_sas(resource.package_url, connection, timedelta(hours=ONE_DEPLOY_SAS_HOURS))
            url = f"{resource.package_url}?{sas}"
            self.ctx.with_roles(lambda: self.one_deploy(resource, url), f"deploying the package to {resource.name}")
        else:
            web = self.azure.web.web_apps
            self.ctx.with_roles(lambda: web.sync_function_triggers(resource.resource_group, resource.name),
                                f"syncing the triggers of {resource.name}")
        self.ctx.released_at = time.monotonic()
        site = self.azure.web.web_apps.get(resource.resource_group, resource.name).id
        self.ctx.wait(self.azure.resources.tags.begin_update_at_scope(
            site, {"operation": "Merge", "properties": {"tags": {RELEASE_TAG: resource.package}}}),
            f"tagging {resource.name} with its package")

    def one_deploy(self, resource: Release, package_uri: str) -> None:
        """OneDeploy from the package's URL: the SDK's `create_one_deploy_operation` sends no body, so the
        request is made through the same client with ARM's `packageUri`."""
        path = (f"/subscriptions/{self.azure.subscription_id}/resourceGroups/{resource.resource_group}"
                f"/providers/Microsoft.Web/sites/{resource.name}/extensions/onedeploy")
        body = {"properties": {"packageUri": package_uri, "remoteBuild": self.ctx.remote_build}}
        response = self.azure.arm_request("PUT", path, body, api="web")
        self.ctx.wait_response(response, f"deploying the package to {resource.name}")

    def delete(self, resource: Release) -> None:
        """Nothing to do: the tag goes with its function app."""


def read_sas(url: str, connection: str, valid: timedelta) -> str:
    """A read-only SAS on the package blob at `url`, signed with the account key in `connection`."""
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    parts = dict(p.split("=", 1) for p in connection.split(";") if "=" in p)
    blob = url.split(f"/{PACKAGES_CONTAINER}/", 1)[1]
    expiry = datetime.now(timezone.utc) + valid
    return str(generate_blob_sas(parts["AccountName"], PACKAGES_CONTAINER, blob, account_key=parts["AccountKey"],
                                 permission=BlobSasPermissions(read=True), expiry=expiry))
