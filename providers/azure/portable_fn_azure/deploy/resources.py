"""The Azure resources deploy manages, as frozen dataclasses: plain values, no I/O.

`desired` builds them from the app, `remote` from what Azure answers, and the shared planner compares
them field by field. Fields in `ignore_on_compare` are filled in by Azure (ids, host names, principal
ids) or only needed to act (the zip's path), so they never cause an update. Secrets never appear in a
field: an app setting holding the storage connection string is the marker `STORAGE_CONNECTION`, and
`WEBSITE_RUN_FROM_PACKAGE` is the blob URL without its SAS query (see `appliers.AppSettingsApplier`; with
`storage_auth = "identity"` it has none, the platform fetching it with the app's identity), a
blob trigger's webhook is its URL without the `code` key, and what is known only once the function app
exists is a marker: its identity `APP_IDENTITY` and its host name `APP_HOST` (ARM's `defaultHostName`,
which is `<app>.azurewebsites.net` only for some apps: Flex Consumption and apps with unique default host
names get `<app>-<hash>.<region>-01.azurewebsites.net`). So are a topic's publish endpoint and its key in
the settings of the functions that publish to it (`TOPIC_ENDPOINT`, `TOPIC_KEY`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portable_fn.deploy import Resource

FLEX_TIER = "FlexConsumption"
Pairs = tuple[tuple[str, str], ...]
STORAGE_CONNECTION = "@portable-fn:storage-connection-string"  # resolved only when the settings are written
PACKAGE_SETTING = "WEBSITE_RUN_FROM_PACKAGE"  # Linux Consumption and Premium run the zip at this URL
PACKAGE_IDENTITY_SETTING = "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID"  # ...fetched with this identity, no SAS
SYSTEM_IDENTITY = "SystemAssigned"  # that setting's value for the app's system-assigned identity
FLEX_PACKAGE_SETTING = "PORTABLE_FN_PACKAGE"  # Flex: which package was deployed (its URL, no SAS)
DEPLOYMENT_CONNECTION = "DEPLOYMENT_STORAGE_CONNECTION_STRING"  # Flex: the setting naming the deployment storage
APP_IDENTITY = "@portable-fn:function-app-identity"  # the principal id of the function app's identity
# The principal id of a function's own user-assigned identity (`ManagedIdentity`), and in the app settings its
# client id: the marker, then the identity's name.
FUNCTION_IDENTITY = "@portable-fn:function-identity:"
IDENTITY_CLIENT_ID = "@portable-fn:identity-client-id:"
BOTH_IDENTITIES = "SystemAssigned, UserAssigned"  # the site's identity type when functions have identities
DEPLOYER = "@portable-fn:deployer"  # the object id of the principal deploying: it sets the app's secrets
APP_HOST = "@portable-fn:function-app-host"  # the function app's defaultHostName, as ARM answers it
# A setting holding an Event Grid topic's publish endpoint or its key (known once the topic exists; the key is a
# secret): the marker, then the topic's name.
TOPIC_ENDPOINT = "@portable-fn:topic-endpoint:"
TOPIC_KEY = "@portable-fn:topic-key:"
RELEASE_TAG = "portable-fn-release"  # on the function app: the package blob its host took last (see Release)


@dataclass(frozen=True)
class ResourceGroup(Resource):
    """The app's resource group (only when the settings do not name an existing one)."""

    kind = "resource group"
    ignore_on_compare = frozenset({"holds_state"})
    location: str = ""
    holds_state: bool = False  # found holding a state table with entities or a bucket with blobs: kept by remove
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own

    def holds_data(self) -> bool:
        return self.holds_state


@dataclass(frozen=True)
class StorageAccount(Resource):
    """The app's storage account: queues, containers, state tables, the package blob and AzureWebJobsStorage.
    A state table and a bucket's container live in it, so the account is kept (and its group) as long as a
    table or container holding data is."""

    kind = "storage account"
    ignore_on_compare = frozenset({"holds_state"})
    resource_group: str = ""
    location: str = ""
    sku: str = "Standard_LRS"
    account_kind: str = "StorageV2"
    https_only: bool = True
    minimum_tls: str = "TLS1_2"
    public_blob_access: bool = False
    holds_state: bool = False
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own

    def holds_data(self) -> bool:
        return self.holds_state


@dataclass(frozen=True)
class BlobContainer(Resource):
    """A private container in the app's account, named `<account>/<container>`. `bucket` is the declared bucket
    it holds (desired only: a container keeps no tags); `blobs` is whether remote found any in a bucket's
    container (`naming.is_bucket_container`), which keeps it on `remove` unless `--delete-data`."""

    kind = "blob container"
    ignore_on_compare = frozenset({"bucket", "blobs"})
    resource_group: str = ""
    account: str = ""
    container: str = ""
    bucket: str = ""
    blobs: bool = False

    def holds_data(self) -> bool:
        return self.blobs


@dataclass(frozen=True)
class StorageQueue(Resource):
    """A queue in the app's account, named `<account>/<queue>` (a queue trigger's and its poison queue)."""

    kind = "storage queue"
    resource_group: str = ""
    account: str = ""
    queue: str = ""


@dataclass(frozen=True)
class StateTable(Resource):
    """A state's table in the app's account, named `<account>/<table>` (`naming.table_name`). `state` is the
    declared name (desired only: a table keeps no tags, so remote knows it by its name's pattern);
    `entities` is whether remote found any, which keeps it on `remove` unless `--delete-data`."""

    kind = "state table"
    ignore_on_compare = frozenset({"state", "entities"})
    resource_group: str = ""
    account: str = ""
    table: str = ""
    state: str = ""
    entities: bool = False

    def holds_data(self) -> bool:
        return self.entities


@dataclass(frozen=True)
class PackageBlob(Resource):
    """The app's zip in the packages container, named `<container>/<app>-<stage>/<sha256>.zip`: content-addressed, so an
    unchanged package is never uploaded again and a changed one is a new blob (the old one is deleted
    once the app points at the new one)."""

    kind = "package blob"
    ignore_on_compare = frozenset({"path"})
    container: str = ""
    blob: str = ""
    path: str = ""


@dataclass(frozen=True)
class FunctionPlan(Resource):
    """The App Service plan hosting the app: Linux Consumption (Y1/Dynamic) by default, Flex Consumption
    (FC1/FlexConsumption) or Elastic Premium."""

    kind = "app service plan"
    resource_group: str = ""
    location: str = ""
    sku: str = "Y1"
    tier: str = "Dynamic"
    reserved: bool = True  # Linux
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own

    @property
    def flex(self) -> bool:
        return self.tier == FLEX_TIER

    def changed_fields(self, remote: Resource) -> tuple[str, ...]:
        """As compared, except that a move to or from Flex Consumption, which Azure cannot make in place,
        is one change that says the plan is replaced (see `appliers.FunctionPlans`)."""
        if isinstance(remote, FunctionPlan) and self.flex != remote.flex:
            return (f"replace: {remote.sku} -> {self.sku}",)
        return super().changed_fields(remote)


@dataclass(frozen=True)
class ManagedIdentity(Resource):
    """A user-assigned managed identity of one function that declares a use (`naming.Names.identity`): the
    principal its declared roles are assigned to, attached to the function app. `function` is the function's
    name (its tag: `remote` reads it back); ARM answers `principal_id` and `client_id`."""

    kind = "managed identity"
    ignore_on_compare = frozenset({"principal_id", "client_id"})
    resource_group: str = ""
    location: str = ""
    function: str = ""
    principal_id: str = ""
    client_id: str = ""
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own


@dataclass(frozen=True)
class FunctionApp(Resource):
    """The function app (a `Microsoft.Web/sites` of kind `functionapp,linux`) with a system-assigned
    identity, and the user-assigned identities of its functions (`user_identities`, their names; `identity` is
    then `SystemAssigned, UserAssigned`). `linux_fx_version` changes through the site's web config, the rest
    through the site.

    On Flex Consumption the runtime is not a `linuxFxVersion` but the site's `functionAppConfig`: the
    deployment container the platform runs the package from (and how it authenticates there), the Python
    version, the instance memory and the scale-out cap. Those fields stay empty on the other plans."""

    kind = "function app"
    ignore_on_compare = frozenset({"host_name", "principal_id"})
    resource_group: str = ""
    location: str = ""
    plan_id: str = ""
    site_kind: str = "functionapp,linux"
    https_only: bool = True
    identity: str = "SystemAssigned"
    user_identities: tuple[str, ...] = ()  # the functions' identities attached to the app, by name, sorted
    linux_fx_version: str = ""
    deployment_storage: str = ""  # Flex: the blob container URL
    deployment_auth: str = ""  # Flex: SystemAssignedIdentity or StorageAccountConnectionString
    runtime_version: str = ""  # Flex: the Python version
    instance_memory_mb: int = 0
    maximum_instance_count: int = 0
    host_name: str = ""
    principal_id: str = ""
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own

    @property
    def flex(self) -> bool:
        return bool(self.deployment_storage)

    def changed_fields(self, remote: Resource) -> tuple[str, ...]:
        """As compared, except that a move to or from Flex Consumption, which Azure cannot make in place,
        is one change that says the app is replaced (see `appliers.FunctionApps`)."""
        if isinstance(remote, FunctionApp) and self.flex != remote.flex:
            return (f"replace: moves {'to' if self.flex else 'off'} Flex Consumption",)
        return super().changed_fields(remote)

    def function_app_config(self) -> dict[str, Any]:
        """ARM's `functionAppConfig` of a Flex app."""
        authentication: dict[str, Any] = {"type": self.deployment_auth}
        if self.deployment_auth == "StorageAccountConnectionString":
            authentication["storageAccountConnectionStringName"] = DEPLOYMENT_CONNECTION
        return {
            "deployment": {
                "storage": {"type": "blobContainer", "value": self.deployment_storage, "authentication": authentication}
            },
            "runtime": {"name": "python", "version": self.runtime_version},
            "scaleAndConcurrency": {
                "instanceMemoryMB": self.instance_memory_mb,
                "maximumInstanceCount": self.maximum_instance_count,
            },
        }


@dataclass(frozen=True)
class AppSettings(Resource):
    """The function app's application settings, named after the app; compared as sorted pairs."""

    kind = "app settings"
    resource_group: str = ""
    settings: Pairs = ()

    def value(self, key: str) -> str:
        return dict(self.settings).get(key, "")


@dataclass(frozen=True)
class Release(Resource):
    """The package the function app's host runs, named after the app. Writing `WEBSITE_RUN_FROM_PACKAGE`
    is not enough on Linux Consumption and Premium: the host's triggers are then synced. Flex Consumption
    runs what was published to its SCM host (`/api/publish`), which the platform puts in its deployment
    container. Azure keeps nothing deploy could read to tell whether either happened, so once it has, the
    app is tagged `portable-fn-release=<package blob>` (a tag does not restart the app, a setting would): a
    sync or publish that failed leaves the old tag, and the rerun does it again, though the settings already
    name the package."""

    kind = "package release"
    waits_for_kinds = frozenset({"role assignment"})  # the host fetches or stores it with the app's identity
    ignore_on_compare = frozenset({"package_url", "path"})
    resource_group: str = ""
    package: str = ""  # the package blob's name (its content hash): the tag's value
    flex: bool = False  # how it is done; a changed plan recreates the app, which must take the package again
    package_url: str = ""  # the blob's URL, without SAS (desired only)
    path: str = ""  # the zip on this machine: what a Flex app is published (desired only)


@dataclass(frozen=True)
class KeyVault(Resource):
    """The app and stage's Key Vault, made when a function declares a secret: RBAC mode (data access by role
    assignments only), soft delete on. It holds the secrets' values, which deploy never sees, so `remove`
    keeps it (and its group) unless `--delete-data`. `tenant_id` is the deploying credential's (or the
    `tenant_id` setting), filled in by the applier."""

    kind = "key vault"
    resource_group: str = ""
    location: str = ""
    sku: str = "standard"
    rbac: bool = True
    soft_delete: bool = True
    retention_days: int = 90
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own

    def holds_data(self) -> bool:
        return True


@dataclass(frozen=True)
class RoleDefinition(Resource):
    """A custom role deploy defines for one kind of declared use (`roles.Use`: a state read, a queue sent to, a
    secret read, ...), named by its `roleName` (`roles.role_name`: unique in the tenant, as Azure requires):
    exactly `actions` and `data_actions`, no wildcard, assignable only at `assignable_scopes` (the app's resource
    group; a Service Bus role, the user's namespace). ARM keeps custom roles in the subscription, by a GUID:
    `definition_id` is the full id the role assignments point at."""

    kind = "role definition"
    definition_id: str = ""
    description: str = ""
    actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    assignable_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleAssignment(Resource):
    """A role of the function app's identity on the app's storage account, named `<account>/<role>`; of one
    function's identity on a state table or a queue, named `<account>/<table or queue>/<role> for <function>`,
    on an Event Grid topic, `<topic>/<role> for <function>`, on a Service Bus entity,
    `<namespace>/<entity>/<role> for <function>`, or on one secret of the app's Key Vault,
    `<vault>/<secret>/<role> for <function>`; or the deploying principal's (`DEPLOYER`) on the vault,
    `<vault>/<role>` (ARM names it by a GUID, `assignment_id`, derived from scope, role and principal)."""

    kind = "role assignment"
    ignore_on_compare = frozenset({"assignment_id"})
    scope: str = ""
    role_definition_id: str = ""
    principal: str = APP_IDENTITY  # or a function's own identity (`FUNCTION_IDENTITY` + its name)
    assignment_id: str = ""
    function: str = ""  # the function whose declaration the role grants ("" for the app's and the deployer's)


@dataclass(frozen=True)
class BusDeliveryCount(Resource):
    """The MaxDeliveryCount of a Service Bus queue, or of the subscription named after a function on a Service
    Bus topic, in the user's namespace (`service_bus_namespace_id`), named by the entity's ARM id: the
    function's retry attempts + 1 (see `bus`). The entity is the user's: deploy only sets this count, and
    `remove` leaves it as it is."""

    kind = "service bus max delivery count"
    max_delivery_count: int = 10

    def kept_because(self) -> str | None:
        return "the Service Bus entity is yours: remove leaves it, and its MaxDeliveryCount, as they are"


@dataclass(frozen=True)
class EventGridTopic(Resource):
    """A custom Event Grid topic for `topic(name)` triggers; publishers POST CloudEvents 1.0 to `endpoint`."""

    kind = "event grid topic"
    ignore_on_compare = frozenset({"endpoint"})
    resource_group: str = ""
    location: str = ""
    input_schema: str = "CloudEventSchemaV1_0"
    endpoint: str = ""
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own


@dataclass(frozen=True)
class SystemTopic(Resource):
    """The Event Grid system topic of the app's storage account: where its blob events come from."""

    kind = "event grid system topic"
    resource_group: str = ""
    location: str = ""
    source: str = ""  # the storage account's ARM id
    topic_type: str = "Microsoft.Storage.StorageAccounts"
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own


@dataclass(frozen=True)
class EventSubscription(Resource):
    """An Event Grid subscription delivering one topic's events to one function, named `<topic>/<name>`.

    `AzureFunction` delivers to an `event_grid_trigger` (`destination` is the function's ARM id);
    `WebHook` to a blob trigger with the Event Grid source, through the blobs extension's webhook
    (`destination` is its URL on the host `APP_HOST` without the `code` key; the applier puts in both).
    What Event Grid cannot deliver after `max_delivery_attempts` goes to the dead-letter container of the
    app's account, not dropped."""

    kind = "event subscription"
    waits_for_kinds = frozenset({"package release"})  # Event Grid checks the host when it is written
    resource_group: str = ""
    topic: str = ""
    system_topic: bool = False
    endpoint_type: str = "AzureFunction"
    destination: str = ""
    event_types: tuple[str, ...] = ()
    subject_begins_with: str = ""
    subject_ends_with: str = ""
    delivery_schema: str = "EventGridSchema"
    max_delivery_attempts: int = 30  # Event Grid's default; the function's RetryPolicy attempts, 1 to 30
    dead_letter_account: str = ""  # the storage account (ARM id) Event Grid dead-letters into
    dead_letter_container: str = ""  # ...and its container


# Dependencies first: the order `desired` lists resources in and `remote` reads them in (the planner
# deletes in reverse order of what was read, so dependents go before what they depend on).
ORDER: tuple[type[Resource], ...] = (
    ResourceGroup,
    StorageAccount,
    BlobContainer,
    StorageQueue,
    StateTable,
    PackageBlob,
    FunctionPlan,
    ManagedIdentity,  # before the app that attaches it and the roles granted to it; deleted after both
    FunctionApp,
    KeyVault,  # before the roles on it and on its secrets
    EventGridTopic,  # before the roles on it and the settings naming its endpoint
    RoleDefinition,  # before the assignments pointing at it; deleted after them (ARM refuses it while assigned)
    RoleAssignment,
    AppSettings,
    Release,
    SystemTopic,
    EventSubscription,
    BusDeliveryCount,  # on the user's entities, which deploy only reads and writes back
)


def in_order(resources: list[Resource]) -> list[Resource]:
    """`resources` sorted by `ORDER` (stable within a type), first occurrence of each key kept."""
    seen: dict[tuple[str, str], Resource] = {}
    for resource in sorted(resources, key=lambda r: ORDER.index(type(r))):
        seen.setdefault(resource.key, resource)
    return list(seen.values())
