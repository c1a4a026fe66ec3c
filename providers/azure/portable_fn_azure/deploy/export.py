"""The app's Azure resources as a Terraform document for hashicorp/azurerm: `portable-fn export --provider azure
--format terraform`.

Built from the same `desired` resources `plan` and `deploy` use, one exporter per resource type (`EXPORTERS`;
a type without one is an error, so a new kind of resource cannot be left out unnoticed). The document is plain
values in the shape of Terraform's JSON syntax (`portable_fn.export.hcl` writes it as `main.tf`); a resource
refers to another of the document by a Terraform reference (`${azurerm_storage_account.app.id}`), never by its
literal ARM id, and what deploy resolves only once things exist (the app's identity and host name, a topic's
endpoint and key, the storage connection string, the blobs extension's key) is a reference too, so no secret
is written.

What differs from deploy, or is not in Terraform, is said in the notes and as comments in `main.tf`:

- the application settings are the function app's `app_settings`, less those azurerm writes from the app's own
  arguments (`AzureWebJobsStorage*`, `FUNCTIONS_EXTENSION_VERSION` and `FUNCTIONS_WORKER_RUNTIME` of a Linux
  function app; the deployment storage's connection of a Flex Consumption one);
- the package release: on Flex Consumption azurerm publishes the zip (`zip_deploy_file`, One Deploy); on the
  other plans the app runs the package blob `WEBSITE_RUN_FROM_PACKAGE` names, and its triggers must be synced
  after an apply that changed it (the note gives the command);
- the app's `portable-fn-release` tag, which only deploy reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from portable_fn.deploy import Artifact, Resource
from portable_fn.deploy.tags import stage_tags
from portable_fn.export import TerraformBuilder, TerraformDocument
from portable_fn.export.hcl import COMMENT
from portable_fn.export.terraform import Body
from portable_fn.runtime.errors import DeployError

from ..codegen import transports
from ..publish import EVENT_GRID
from ..secrets import vault_url
from ..settings import AzureSettings
from .grid import EVENT_RETRY
from .naming import FUNCTION_TAG, PACKAGES_CONTAINER, ROLE_DESCRIPTION, Names, tags
from .resources import (
    APP_HOST,
    APP_IDENTITY,
    DEPLOYER,
    DEPLOYMENT_CONNECTION,
    FUNCTION_IDENTITY,
    IDENTITY_CLIENT_ID,
    STORAGE_CONNECTION,
    TOPIC_ENDPOINT,
    TOPIC_KEY,
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
)

if TYPE_CHECKING:
    from portable_fn.app import App

PROVIDER = {"source": "hashicorp/azurerm", "version": "~> 4.55"}  # the release its schema was checked against
# Settings azurerm writes itself from a Linux function app's arguments (storage, runtime, extension version).
MANAGED_SETTINGS = re.compile(r"AzureWebJobsStorage(__.*)?|FUNCTIONS_EXTENSION_VERSION|FUNCTIONS_WORKER_RUNTIME")
# The types an app has one of, and their label.
SINGLE = {
    "azurerm_resource_group": "app",
    "azurerm_storage_account": "app",
    "azurerm_service_plan": "app",
    "azurerm_linux_function_app": "app",
    "azurerm_function_app_flex_consumption": "app",
    "azurerm_storage_blob": "package",
}


@dataclass
class TerraformAzure(TerraformBuilder):
    """The document being built (`TerraformBuilder`), its `ids` the literal ids, URLs and markers of what is in
    it."""

    app: App
    stage: str
    names: Names
    artifact: Artifact
    artifact_file: str
    settings: AzureSettings
    today: date

    def short(self, tf_type: str, name: str) -> str:
        """`SINGLE`'s label for the app's one of a kind, else the name without the account, the
        `<app>-<stage>-` prefix and the names' hash."""
        names = self.names
        short = name.removeprefix(f"{names.storage_account}/").removeprefix(f"{names.prefix}-")
        short = short.replace(f"-{names.suffix}", "").replace(names.suffix, "")
        return SINGLE.get(tf_type, short)

    @property
    def group(self) -> str:
        """The resource group's name: a reference when the app owns it, else the group the settings name."""
        return self.ref(f"@group:{self.names.resource_group}")

    @property
    def tags(self) -> dict[str, str]:
        """The user's tags for the stage beside portable-fn's app and stage tags (deploy finds resources by these)."""
        return {**stage_tags(self.app.config, self.stage), **tags(self.names.app, self.names.stage)}


def terraform_document(
    app: App,
    stage: str,
    desired: list[Resource],
    artifact: Artifact,
    *,
    names: Names,
    settings: AzureSettings | None = None,
    artifact_file: str = "",
    blob_endpoint: str = "",
    table_endpoint: str = "",
    today: date | None = None,
) -> tuple[TerraformDocument, list[str]]:
    """The Terraform document of `desired` (`provider.desired(app, stage, artifact)`) and its notes. The zip is
    read from `artifact_file`, relative to the document (default: the artifact's file name); `blob_endpoint` and
    `table_endpoint` are the account's as desired wrote them; `today` starts a package SAS (connection strings)."""
    doc = TerraformAzure(
        app,
        stage,
        names,
        artifact,
        artifact_file or artifact.path.name,
        settings or AzureSettings(),
        today or date.today(),
    )
    account = f"https://{names.storage_account}"
    _register_ids(doc, desired, blob_endpoint or f"{account}.blob.core.windows.net", table_endpoint)
    where = f"Exporting {app.name!r} to Terraform for azure"
    doc.write(desired, EXPORTERS, where=where, table="portable_fn_azure.deploy.export.EXPORTERS")
    _transport_notes(doc)
    configuration = {"features": [{}], "subscription_id": doc.names.subscription}
    return doc.document("azurerm", PROVIDER, configuration), doc.notes


def _register_ids(doc: TerraformAzure, desired: list[Resource], blob_endpoint: str, table_endpoint: str) -> None:
    """The ids, URLs and markers others name these resources by, as references, before any body is built."""
    names, ids = doc.names, doc.ids
    account = doc.stem("azurerm_storage_account", names.storage_account)
    ids[f"@group:{names.resource_group}"] = names.resource_group
    ids[names.account_id] = f"${{{account}.id}}"
    ids[STORAGE_CONNECTION] = f"${{{account}.primary_connection_string}}"
    ids[f"{blob_endpoint.rstrip('/')}/"] = f"${{{account}.primary_blob_endpoint}}"
    if table_endpoint:
        ids[f"{table_endpoint.rstrip('/')}/"] = f"${{{account}.primary_table_endpoint}}"
    for resource in desired:
        if isinstance(resource, ResourceGroup):
            ids[f"@group:{resource.name}"] = f"${{{doc.stem('azurerm_resource_group', resource.name)}.name}}"
        elif isinstance(resource, FunctionPlan):
            ids[names.arm_id("Microsoft.Web/serverfarms", resource.name)] = f"${{{_plan_stem(doc, resource)}.id}}"
        elif isinstance(resource, FunctionApp):
            app = _app_stem(doc, resource)
            ids[names.site_id] = f"${{{app}.id}}"
            ids[APP_IDENTITY] = f"${{{app}.identity[0].principal_id}}"
            ids[APP_HOST] = f"${{{app}.default_hostname}}"
        elif isinstance(resource, ManagedIdentity):
            stem = doc.stem("azurerm_user_assigned_identity", resource.name)
            ids[names.identity_id(resource.name)] = f"${{{stem}.id}}"
            ids[FUNCTION_IDENTITY + resource.name] = f"${{{stem}.principal_id}}"
            ids[IDENTITY_CLIENT_ID + resource.name] = f"${{{stem}.client_id}}"
        elif isinstance(resource, BlobContainer):  # the scope of a bucket's roles
            stem = doc.stem("azurerm_storage_container", resource.name)
            ids[names.container_id(resource.container)] = f"${{{stem}.resource_manager_id}}"
        elif isinstance(resource, StateTable):
            stem = doc.stem("azurerm_storage_table", resource.name)
            ids[names.table_id(resource.table)] = f"${{{stem}.resource_manager_id}}"
        elif isinstance(resource, StorageQueue):
            stem = doc.stem("azurerm_storage_queue", resource.name)
            ids[names.queue_id(resource.queue)] = f"${{{stem}.resource_manager_id}}"
        elif isinstance(resource, EventGridTopic):
            stem = doc.stem("azurerm_eventgrid_topic", resource.name)
            ids[names.topic_id(resource.name)] = f"${{{stem}.id}}"
            ids[TOPIC_ENDPOINT + resource.name] = f"{EVENT_GRID}:${{{stem}.endpoint}}"
            ids[TOPIC_KEY + resource.name] = f"${{{stem}.primary_access_key}}"
        elif isinstance(resource, KeyVault):
            stem = doc.stem("azurerm_key_vault", resource.name)
            ids[names.vault_id] = f"${{{stem}.id}}"
            ids[vault_url(resource.name)] = f"${{{stem}.vault_uri}}"
            ids[DEPLOYER] = f"${{{doc.source('azurerm_client_config', 'current')}.object_id}}"
        elif isinstance(resource, RoleDefinition):
            stem = doc.stem("azurerm_role_definition", resource.name)
            ids[resource.definition_id] = f"${{{stem}.role_definition_resource_id}}"
        elif isinstance(resource, PackageBlob):
            blob = doc.stem("azurerm_storage_blob", resource.name)
            ids[f"{blob_endpoint.rstrip('/')}/{PACKAGES_CONTAINER}/{resource.blob}"] = f"${{{blob}.url}}"


def _plan_stem(doc: TerraformAzure, plan: FunctionPlan) -> str:
    return doc.stem("azurerm_service_plan", plan.name)


def _app_type(app: FunctionApp) -> str:
    return "azurerm_function_app_flex_consumption" if app.flex else "azurerm_linux_function_app"


def _app_stem(doc: TerraformAzure, app: FunctionApp) -> str:
    return doc.stem(_app_type(app), app.name)


def _resource_group(doc: TerraformAzure, group: ResourceGroup) -> None:
    body = {"name": group.name, "location": group.location, "tags": doc.tags}
    doc.add("azurerm_resource_group", group.name, body, f"portable-fn {group.kind}")


def _storage_account(doc: TerraformAzure, account: StorageAccount) -> None:
    tier, replication = account.sku.split("_", 1)
    body = {
        "name": account.name,
        "resource_group_name": doc.group,
        "location": account.location,
        "account_kind": account.account_kind,
        "account_tier": tier,
        "account_replication_type": replication,
        "https_traffic_only_enabled": account.https_only,
        "min_tls_version": account.minimum_tls,
        "allow_nested_items_to_be_public": account.public_blob_access,
        "tags": doc.tags,
    }
    what = "portable-fn storage account: queues, containers, state tables, the package, the host's storage"
    doc.add("azurerm_storage_account", account.name, body, what)


def _container(doc: TerraformAzure, container: BlobContainer) -> None:
    body = {
        "name": container.container,
        "storage_account_id": doc.ref(doc.names.account_id),
        "container_access_type": "private",
    }
    doc.add("azurerm_storage_container", container.name, body, f"portable-fn {container.kind}")


def _identity(doc: TerraformAzure, identity: ManagedIdentity) -> None:
    body = {
        "name": identity.name,
        "resource_group_name": doc.group,
        "location": identity.location,
        "tags": {**doc.tags, FUNCTION_TAG: identity.function},
    }
    doc.add("azurerm_user_assigned_identity", identity.name, body, f"function {identity.function}'s own identity")


def _queue(doc: TerraformAzure, queue: StorageQueue) -> None:
    body = {"name": queue.queue, "storage_account_id": doc.ref(doc.names.account_id), "metadata": doc.tags}
    doc.add("azurerm_storage_queue", queue.name, body, f"portable-fn {queue.kind}")


def _table(doc: TerraformAzure, table: StateTable) -> None:
    account = doc.stem("azurerm_storage_account", table.account)
    body = {"name": table.table, "storage_account_name": f"${{{account}.name}}"}
    doc.add("azurerm_storage_table", table.name, body, f"portable-fn state {table.state!r}")


def _package_blob(doc: TerraformAzure, blob: PackageBlob) -> None:
    account = doc.stem("azurerm_storage_account", doc.names.storage_account)
    container = doc.stem("azurerm_storage_container", f"{doc.names.storage_account}/{blob.container}")
    body = {
        "name": blob.blob,
        "storage_account_name": f"${{{account}.name}}",
        "storage_container_name": f"${{{container}.name}}",
        "type": "Block",
        "source": f"${{path.module}}/{doc.artifact_file}",
    }
    doc.add("azurerm_storage_blob", blob.name, body, "The app's zip, named after its SHA-256")


def _plan(doc: TerraformAzure, plan: FunctionPlan) -> None:
    body = {
        "name": plan.name,
        "resource_group_name": doc.group,
        "location": plan.location,
        "os_type": "Linux" if plan.reserved else "Windows",
        "sku_name": plan.sku,
        "tags": doc.tags,
    }
    doc.add("azurerm_service_plan", plan.name, body, f"portable-fn {plan.kind} ({plan.tier})")


def _function_app(doc: TerraformAzure, app: FunctionApp) -> None:
    """The app and its identity; the settings (`_app_settings`) and the package (`_release`) are added to it."""
    account = doc.stem("azurerm_storage_account", doc.names.storage_account)
    identity = doc.settings.storage_auth == "identity"
    body: Body = {
        "name": app.name,
        "resource_group_name": doc.group,
        "location": app.location,
        "service_plan_id": doc.ref(app.plan_id),
        "https_only": app.https_only,
        "identity": [
            {
                "type": app.identity,
                **(
                    {"identity_ids": [doc.ref(doc.names.identity_id(i)) for i in app.user_identities]}
                    if app.user_identities
                    else {}
                ),
            }
        ],
    }
    if app.flex:
        body |= {
            "storage_container_type": "blobContainer",
            "storage_container_endpoint": doc.ref(app.deployment_storage),
            "storage_authentication_type": app.deployment_auth,
            "runtime_name": "python",
            "runtime_version": app.runtime_version,
            "instance_memory_in_mb": app.instance_memory_mb,
            "maximum_instance_count": app.maximum_instance_count,
            "site_config": [{}],
        }
        if not identity:
            body["storage_access_key"] = f"${{{account}.primary_access_key}}"
    else:
        body |= {
            "storage_account_name": f"${{{account}.name}}",
            "functions_extension_version": "~4",
            "site_config": [{"application_stack": [{"python_version": app.linux_fx_version.split("|", 1)[1]}]}],
        }
        if identity:
            body["storage_uses_managed_identity"] = True
        else:
            body["storage_account_access_key"] = f"${{{account}.primary_access_key}}"
    body["tags"] = doc.tags
    stem = doc.add(_app_type(app), app.name, body, f"portable-fn {app.kind}: every function of the app")
    doc.outputs["function_app_host"] = {"value": f"${{{stem}.default_hostname}}"}


def _declared_app(doc: TerraformAzure) -> Body:
    for tf_type in ("azurerm_linux_function_app", "azurerm_function_app_flex_consumption"):
        for body in doc.resources.get(tf_type, {}).values():
            return body
    raise DeployError("Exporting to Terraform for azure: the function app is not in the document.")


def _app_settings(doc: TerraformAzure, settings: AppSettings) -> None:
    """The function app's `app_settings`, markers as references, less what azurerm writes itself."""
    flex = "storage_container_type" in _declared_app(doc)
    values = {}
    for key, value in settings.settings:
        if (flex and key == DEPLOYMENT_CONNECTION) or (not flex and MANAGED_SETTINGS.fullmatch(key)):
            continue
        values[key] = doc.ref(value)
    if not flex and doc.settings.storage_auth != "identity" and "WEBSITE_RUN_FROM_PACKAGE" in values:
        values["WEBSITE_RUN_FROM_PACKAGE"] += f"${{{_package_sas(doc)}.sas}}"
    _declared_app(doc)["app_settings"] = values


def _package_sas(doc: TerraformAzure) -> str:
    """A read-only SAS on the packages container for `package_sas_days` from `today` (as deploy's, but fixed
    dates, so a plan stays empty until they are moved)."""
    container = doc.stem("azurerm_storage_container", f"{doc.names.storage_account}/{PACKAGES_CONTAINER}")
    expiry = doc.today + timedelta(days=doc.settings.package_sas_days)
    doc.data.setdefault("azurerm_storage_account_blob_container_sas", {})["package"] = {
        "connection_string": doc.ref(STORAGE_CONNECTION),
        "container_name": f"${{{container}.name}}",
        "https_only": True,
        "start": doc.today.isoformat(),
        "expiry": expiry.isoformat(),
        "permissions": [{"read": True, "add": False, "create": False, "write": False, "delete": False, "list": False}],
    }
    return "data.azurerm_storage_account_blob_container_sas.package"


def _release(doc: TerraformAzure, release: Release) -> None:
    app = _declared_app(doc)
    if release.flex:
        app["zip_deploy_file"] = f"${{path.module}}/{doc.artifact_file}"
        app[COMMENT].append("azurerm publishes the zip (One Deploy) to the deployment container")
        return
    sync = (
        f"az rest --method post --url https://management.azure.com{doc.names.site_id}/syncfunctiontriggers"
        "?api-version=2022-03-01"
    )
    app[COMMENT] += ["After an apply that changed WEBSITE_RUN_FROM_PACKAGE, sync the triggers:", f"  {sync}"]
    doc.notes.append(
        f"azure: the function app runs the package blob WEBSITE_RUN_FROM_PACKAGE names; after an apply that changed "
        f"it, sync its triggers (deploy does): {sync}"
    )


def _role_definition(doc: TerraformAzure, role: RoleDefinition) -> None:
    """A custom role of exact actions (`roles`), kept in the subscription and assignable in the app's group (or
    the user's Service Bus namespace) alone; deploy's GUID, so deploy and Terraform name the same role."""
    names = doc.names
    group_id = f"/subscriptions/{names.subscription}/resourceGroups/{names.resource_group}"
    owned = f"${{{doc.stem('azurerm_resource_group', names.resource_group)}.id}}" if names.owns_group else group_id
    body = {
        "name": role.name,
        "scope": f"${{{doc.source('azurerm_subscription', 'current')}.id}}",
        "role_definition_id": role.definition_id.rsplit("/", 1)[-1],
        "description": role.description,
        "permissions": [{"actions": list(role.actions), "data_actions": list(role.data_actions)}],
        "assignable_scopes": [owned if scope == group_id else scope for scope in role.assignable_scopes],
    }
    doc.add("azurerm_role_definition", role.name, body, "exactly the actions the app's declarations need")


def _role(doc: TerraformAzure, role: RoleAssignment) -> None:
    custom = doc.ids.get(role.role_definition_id)  # one of the app's custom roles, else a built-in one by name
    body = {
        "scope": doc.ref(role.scope),
        **({"role_definition_id": custom} if custom else {"role_definition_name": role.name.rsplit("/", 1)[1]}),
        "principal_id": doc.ref(role.principal),
        **({} if role.principal == DEPLOYER else {"principal_type": "ServicePrincipal"}),
        "description": ROLE_DESCRIPTION,
    }
    who = (
        "whoever applies this (it sets the secrets)"
        if role.principal == DEPLOYER
        else f"function {role.function}'s own identity"
        if role.function
        else "the function app's identity"
    )
    doc.add("azurerm_role_assignment", role.name, body, who)


def _vault(doc: TerraformAzure, vault: KeyVault) -> None:
    """The app's Key Vault; its secrets' values are never in the document, so each secret's role (scoped to it)
    applies only once the secret exists, as with deploy."""
    body = {
        "name": vault.name,
        "location": vault.location,
        "resource_group_name": doc.group,
        "tenant_id": f"${{{doc.source('azurerm_client_config', 'current')}.tenant_id}}",
        "sku_name": vault.sku,
        "rbac_authorization_enabled": vault.rbac,  # azurerm 4.x's name; enable_rbac_authorization is its old one
        "soft_delete_retention_days": vault.retention_days,
        "tags": doc.tags,
    }
    doc.add("azurerm_key_vault", vault.name, body, "the app's secrets (values set with `portable-fn secrets set`)")
    doc.notes.append(
        f"Key Vault {vault.name}: a role scoped to a secret needs the secret to exist; set each with `portable-fn "
        f"secrets set NAME --provider azure --stage {doc.stage}` after the vault exists and before the apply that "
        "grants it (the document holds no secret value). Once the function app exists, `secrets set` makes that "
        "role itself: `terraform import` it into the secret's azurerm_role_assignment."
    )


def _topic(doc: TerraformAzure, topic: EventGridTopic) -> None:
    body = {
        "name": topic.name,
        "resource_group_name": doc.group,
        "location": topic.location,
        "input_schema": topic.input_schema,
        "tags": doc.tags,
    }
    doc.add("azurerm_eventgrid_topic", topic.name, body, f"portable-fn {topic.kind}")


def _system_topic(doc: TerraformAzure, topic: SystemTopic) -> None:
    body = {
        "name": topic.name,
        "resource_group_name": doc.group,
        "location": topic.location,
        "source_resource_id": doc.ref(topic.source),
        "topic_type": topic.topic_type,
        "tags": doc.tags,
    }
    doc.add("azurerm_eventgrid_system_topic", topic.name, body, "the storage account's blob events")


def _subscription(doc: TerraformAzure, subscription: EventSubscription) -> None:
    body: Body = {"name": subscription.name.split("/", 1)[1]}
    if subscription.system_topic:
        tf_type = "azurerm_eventgrid_system_topic_event_subscription"
        topic = doc.stem("azurerm_eventgrid_system_topic", subscription.topic)
        body |= {"system_topic": f"${{{topic}.name}}", "resource_group_name": doc.group}
    else:
        tf_type = "azurerm_eventgrid_event_subscription"
        body["scope"] = doc.ref(doc.names.topic_id(subscription.topic))
    body["event_delivery_schema"] = subscription.delivery_schema
    if subscription.event_types:
        body["included_event_types"] = list(subscription.event_types)
    if subscription.subject_begins_with or subscription.subject_ends_with:
        subject = {"subject_begins_with": subscription.subject_begins_with}
        if subscription.subject_ends_with:
            subject["subject_ends_with"] = subscription.subject_ends_with
        body["subject_filter"] = [subject]
    body |= _destination(doc, subscription)
    body["retry_policy"] = [
        {
            "max_delivery_attempts": subscription.max_delivery_attempts,
            "event_time_to_live": EVENT_RETRY["eventTimeToLiveInMinutes"],
        }
    ]
    if subscription.dead_letter_account:
        container = doc.stem(
            "azurerm_storage_container", f"{doc.names.storage_account}/{subscription.dead_letter_container}"
        )
        body["storage_blob_dead_letter_destination"] = [
            {
                "storage_account_id": doc.ref(subscription.dead_letter_account),
                "storage_blob_container_name": f"${{{container}.name}}",
            }
        ]
    if grants := _account_grants(doc):
        body["depends_on"] = grants  # the host reads its package and storage with them before Event Grid checks it
    what = "Event Grid checks the function is there when this is written: the package must be running"
    doc.add(tf_type, subscription.name, body, what)


def _account_grants(doc: TerraformAzure) -> list[str]:
    """The app identity's roles on the storage account, as declared so far (desired lists them before)."""
    account = doc.ref(doc.names.account_id)
    declared = doc.resources.get("azurerm_role_assignment", {})
    return [f"${{azurerm_role_assignment.{label}}}" for label, body in declared.items() if body["scope"] == account]


def _destination(doc: TerraformAzure, subscription: EventSubscription) -> Body:
    if subscription.endpoint_type == "WebHook":
        app = _declared_app(doc)
        keys = doc.data.setdefault("azurerm_function_app_host_keys", {})
        keys["app"] = {"name": app["name"], "resource_group_name": app["resource_group_name"]}
        code = "${data.azurerm_function_app_host_keys.app.blobs_extension_key}"
        url = subscription.destination.replace(APP_HOST, doc.ids[APP_HOST])
        return {"webhook_endpoint": [{"url": f"{url}&code={code}"}]}
    endpoint = {
        "function_id": doc.ref(subscription.destination),
        "max_events_per_batch": 1,
        "preferred_batch_size_in_kilobytes": 64,
    }
    return {"azure_function_endpoint": [endpoint]}


def _transport_notes(doc: TerraformAzure) -> None:
    chosen = transports(doc.app)
    if "service_bus" in (chosen["queue_transport"], chosen["topic_transport"]):
        doc.notes.append(
            "azure: the Service Bus namespace and its queues and topics are yours (service_bus_namespace_id), so "
            f"they are not in main.tf; the app setting {chosen['service_bus_connection']} must hold its connection."
        )
    doc.notes.append(
        "azure: deploy makes no Application Insights, so none is exported; add azurerm_application_insights and "
        "APPLICATIONINSIGHTS_CONNECTION_STRING in app_settings to have one."
    )


def _delivery_count(doc: TerraformAzure, resource: BusDeliveryCount) -> None:
    """The user's Service Bus entity is not in main.tf (see `_transport_notes`): a note names the count deploy
    would set on it, for where the user manages it (azurerm's `max_delivery_count`)."""
    doc.notes.append(
        f"azure: deploy sets MaxDeliveryCount = {resource.max_delivery_count} on the Service Bus entity "
        f"{resource.name} (yours, so not in main.tf): set max_delivery_count = {resource.max_delivery_count} "
        "where you manage it."
    )


# Every resource type `desired` returns, and how it is written.
EXPORTERS: dict[type[Resource], Callable[[TerraformAzure, Any], None]] = {
    ResourceGroup: _resource_group,
    StorageAccount: _storage_account,
    BlobContainer: _container,
    StorageQueue: _queue,
    StateTable: _table,
    PackageBlob: _package_blob,
    FunctionPlan: _plan,
    ManagedIdentity: _identity,
    FunctionApp: _function_app,
    EventGridTopic: _topic,
    RoleDefinition: _role_definition,
    RoleAssignment: _role,
    KeyVault: _vault,
    AppSettings: _app_settings,
    Release: _release,
    SystemTopic: _system_topic,
    EventSubscription: _subscription,
    BusDeliveryCount: _delivery_count,
}
__all__ = ["EXPORTERS", "terraform_document"]
