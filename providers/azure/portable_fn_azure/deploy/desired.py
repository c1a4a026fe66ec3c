"""What an app needs on Azure: its functions and triggers turned into resources. Pure: no Azure call.

All functions of an app run in one function app, so the resources are per app, not per function. Each one
Azure lets deploy tag (group, storage account, plan, function app, Event Grid topics) carries the app's tags
(`[tool.portable-fn] tags`, a stage's over them, checked against `naming.TAG_RULES`) beside portable-fn's own:

    always    resource group (unless settings name one), storage account, the packages container and
              the package blob, the plan, the function app and its application settings, and (with
              `storage_auth = "identity"`, the default) the roles of the app's identity on the account
    queue     the queue and its poison queue (`<queue>-poison`, where the host moves a message after
              `maxDequeueCount` failed deliveries and where `DeadLetter` sends it at once)
    storage   the blob container the trigger watches, the storage account's Event Grid system topic and
              a subscription filtered to the container, prefix, suffix and event (BlobCreated for
              `on="created"`, delivered to the blob trigger's webhook; BlobDeleted for `on="deleted"`,
              delivered to the function's Event Grid trigger)
    topic     a custom Event Grid topic taking CloudEvents 1.0 and a subscription delivering them, in
              that schema, to the function's Event Grid trigger
    schedule  nothing but the function's dead-letter queue (below)
    Service Bus (a queue with `queue_transport = "service_bus"`, a topic with `topic_transport =
              "service_bus"`): nothing is made in the namespace, which is the user's; with
              `service_bus_namespace_id`, the MaxDeliveryCount of the entity each function receives from
              (`bus`: read and written back, never made or deleted)
    dead letters: every function but an http one and a Storage Queue one (which has `<queue>-poison`) gets
              its own dead-letter queue in the app's account (`naming.dead_letter_queue`, where the shim
              writes what it dead-letters: `codegen.has_dead_letter_queue`)
    Event Grid: every subscription retries the function's attempts (at most 30), then dead-letters into
              the `portable-fn-dead-letters` container of the app's account (never drops).
    identity  a user-assigned managed identity per function that declares a use (`naming.Names.identity`;
              with `storage_auth = "connection_string"` only per function that reads a secret), attached
              to the function app beside its system-assigned one (which the host keeps for its own storage
              and the package), `PORTABLE_FN_IDENTITY_<FUNCTION>` set to its client id
              (`portable_fn_azure.identity`): every role below on what a function declares goes to that
              function's identity alone, so each function holds exactly its own grants (the functions still
              share one worker process: see `identity` for that limit).
    state     a table per state some function uses (`naming.table_name`), `PORTABLE_FN_STATE_<NAME>` set
              to its URL; with the identities, a role on the table itself for each function that declares
              it: the custom state writer when that function writes it, else the state reader (`roles`).
              With `storage_auth = "connection_string"` no role: `PORTABLE_FN_TABLES_CONNECTION` holds
              the account's connection string.
    bucket    a container per declared bucket (`names.container_name`: the one a `storage(name)` trigger of that
              name watches), `PORTABLE_FN_BUCKET_<NAME>` set to its URL; with the identities, a role on the
              container itself for each function that declares the bucket: the custom bucket writer when that
              function writes it, else the bucket reader (`roles`). With `storage_auth = "connection_string"`
              no role: `PORTABLE_FN_BLOBS_CONNECTION` holds the account's connection string.
    send      per topic or queue some function sends to (`app.channels`), whether or not a function of
              the app receives from it: the queue in the app's account (the queue sender's role on it),
              the custom Event Grid topic (the topic sender's), or, on Service Bus, nothing (the
              namespace is the user's; the bus sender's role on the entity when
              `service_bus_namespace_id` names the namespace), each role for the identity of each function
              that declares sending there. `PORTABLE_FN_QUEUE_<NAME>` /
              `PORTABLE_FN_TOPIC_<NAME>` hold the locator `portable_fn_azure.publish` reads (a topic's
              endpoint, known once it exists, as the marker `TOPIC_ENDPOINT`). With `storage_auth =
              "connection_string"` no role: a topic's key goes in `PORTABLE_FN_TOPIC_<NAME>_KEY`
              (`TOPIC_KEY`), a queue is reached with the connection string the trigger uses.
    secret    a Key Vault for the app and stage (`naming.Names.vault`, RBAC mode, soft delete on),
              `PORTABLE_FN_SECRETS` set to its URL, the secret reader's role on each secret for the identity
              of each function that reads it, scoped to that secret (`<vault id>/secrets/<name>`), and the
              secrets officer's for the deploying principal on the vault (what `portable-fn secrets set`
              needs). A role
              can only be scoped to a secret that exists: ARM refuses the scope of a missing resource
              (ResourceNotFound), and deploy never holds a value to create one, so a secret's grant is made by
              the first deploy after `portable-fn secrets set` (see `appliers.RoleAssignments`).

Each role on what a function declares is a custom role of exact actions (`roles`), defined with the app;
the host's own roles on the storage account stay Microsoft's built-in ones.

Subscriptions name the function as `function_app.py` registers it (`@app.function_name(name=...)`), so
`<site>/functions/<name>` and the blobs extension's `Host.Functions.<name>` reach the right function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import quote

from portable_fn.deploy import Artifact, Resource
from portable_fn.deploy.tags import checked, with_tags
from portable_fn.runtime import channels
from portable_fn.runtime.buckets import Bucket
from portable_fn.runtime.buckets import locator_env as bucket_env
from portable_fn.runtime.resources import Resource as Declared
from portable_fn.runtime.secrets import Secret
from portable_fn.runtime.state import State, locator_env
from portable_fn.runtime.triggers import Queue, Storage, Topic

from ..codegen import has_dead_letter_queue, on_service_bus, transports
from ..identity import identity_env
from ..publish import SERVICE_BUS, STORAGE_QUEUE
from ..secrets import vault_url
from . import bus
from .checks import PLAN_TIERS, Flex
from .naming import (
    DEAD_LETTER_CONTAINER,
    DEPLOYMENT_CONTAINER,
    PACKAGES_CONTAINER,
    POISON_SUFFIX,
    STORAGE_ROLES,
    TAG_RULES,
    Names,
    container_name,
    dead_letter_queue,
    queue_name,
    subscription_name,
    table_name,
)
from .resources import (
    APP_HOST,
    BOTH_IDENTITIES,
    DEPLOYER,
    DEPLOYMENT_CONNECTION,
    FLEX_PACKAGE_SETTING,
    FUNCTION_IDENTITY,
    IDENTITY_CLIENT_ID,
    PACKAGE_IDENTITY_SETTING,
    PACKAGE_SETTING,
    STORAGE_CONNECTION,
    SYSTEM_IDENTITY,
    TOPIC_ENDPOINT,
    TOPIC_KEY,
    AppSettings,
    BlobContainer,
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
    StateTable,
    StorageAccount,
    StorageQueue,
    SystemTopic,
    in_order,
)
from .roles import (
    BUCKET_READER,
    BUCKET_WRITER,
    BUS_SENDER,
    QUEUE_SENDER,
    SECRET_READER,
    SECRETS_OFFICER,
    STATE_READER,
    STATE_WRITER,
    TOPIC_SENDER,
    Use,
)
from .roles import assignment as custom_role
from .roles import definitions as role_definitions

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.runtime.function import FunctionSpec

BLOB_EVENTS = {"created": "Microsoft.Storage.BlobCreated", "deleted": "Microsoft.Storage.BlobDeleted"}
RUNTIME_SETTINGS = {"FUNCTIONS_WORKER_RUNTIME": "python", "FUNCTIONS_EXTENSION_VERSION": "~4"}
TABLES_CONNECTION_SETTING = "PORTABLE_FN_TABLES_CONNECTION"  # read by portable_fn_azure.state
BLOBS_CONNECTION_SETTING = "PORTABLE_FN_BLOBS_CONNECTION"  # read by portable_fn_azure.buckets
SECRETS_LOCATOR = "PORTABLE_FN_SECRETS"  # read by portable_fn.runtime.secrets, handed to portable_fn_azure.secrets


@dataclass(frozen=True)
class Target:
    """Everything the builders need: app, stage, names, location, the artifact and where blobs live."""

    app: App
    stage: str
    names: Names
    location: str
    artifact: Artifact
    blob_endpoint: str  # e.g. https://<account>.blob.core.windows.net, or Azurite's http://127.0.0.1:port/<account>
    plan_sku: str = "Y1"
    identity: bool = True  # the host reaches its storage through the app's identity, not a key
    flex: Flex | None = None  # Flex Consumption (plan_sku FC1): run from the deployment container
    table_endpoint: str = ""  # e.g. https://<account>.table.core.windows.net (state locators)
    service_bus_namespace: str = ""  # the ARM id of the user's Service Bus namespace (its entities' roles)


def desired(target: Target) -> list[Resource]:
    """Every resource of the app, dependencies first."""
    names = target.names
    group, account = names.resource_group, names.storage_account
    resources: list[Resource] = [ResourceGroup(group, location=target.location)] if names.owns_group else []
    resources += [
        StorageAccount(account, resource_group=group, location=target.location),
        container(names, PACKAGES_CONTAINER),
        *([container(names, DEPLOYMENT_CONTAINER)] if target.flex else []),
        package_blob(target),
        FunctionPlan(
            names.plan,
            resource_group=group,
            location=target.location,
            sku=target.plan_sku,
            tier=PLAN_TIERS[target.plan_sku],
        ),
        *identities(target),
        function_app(target),
        app_settings(target),
        release(target),
        *(role_assignments(target) if target.identity else []),
        *state_tables(target),
        *(table_grants(target) if target.identity else []),
        *bucket_containers(target),
        *(bucket_grants(target) if target.identity else []),
        *channel_resources(target),
        *bus.delivery_counts(target.app, target.service_bus_namespace),
        *secret_resources(target),
    ]
    event_grid_topics = transports(target.app)["topic_transport"] == "event_grid"
    for spec in target.app.functions:
        resources += trigger_resources(target, spec, event_grid_topics)
    resources += role_definitions(names, resources, target.service_bus_namespace)  # the custom roles assigned
    return with_tags(in_order(resources), checked(target.app.config, target.stage, TAG_RULES))


def trigger_resources(target: Target, spec: FunctionSpec, event_grid_topics: bool) -> list[Resource]:
    names, trigger = target.names, spec.trigger
    own: list[Resource] = []  # where the shim writes the function's dead letters
    if has_dead_letter_queue(target.app, spec):
        own.append(queue(names, dead_letter_queue(spec.name)))
    if on_service_bus(target.app, spec):  # the entity is the user's; the dead letters are in the app's account
        return own
    if isinstance(trigger, Queue):
        logical = queue_name(trigger.name)
        return [queue(names, logical), queue(names, logical + POISON_SUFFIX)]
    if isinstance(trigger, Storage):
        return [
            *own,
            container(names, DEAD_LETTER_CONTAINER),
            container(names, container_name(trigger.bucket)),
            SystemTopic(
                names.system_topic,
                resource_group=names.resource_group,
                location=target.location,
                source=names.account_id,
            ),
            delivered(target, spec, blob_subscription(names, spec.name, trigger)),
        ]
    if isinstance(trigger, Topic) and event_grid_topics:
        topic = names.topic(trigger.name)
        subscription = EventSubscription(
            f"{topic}/{subscription_name(spec.name)}",
            resource_group=names.resource_group,
            topic=topic,
            destination=f"{names.site_id}/functions/{spec.name}",
            delivery_schema="CloudEventSchemaV1_0",
        )
        return [
            *own,
            container(names, DEAD_LETTER_CONTAINER),
            EventGridTopic(topic, resource_group=names.resource_group, location=target.location),
            delivered(target, spec, subscription),
        ]
    return own


def delivered(target: Target, spec: FunctionSpec, subscription: EventSubscription) -> EventSubscription:
    """`subscription` with its retries and its dead letters: `maxDeliveryAttempts` (1 to 30) is the function's
    declared attempts (else Event Grid's default, 30), and what is still undelivered goes to the app's
    dead-letter container rather than being dropped."""
    options = target.app.options(spec)
    attempts = 30 if options.retry is None else min(max(options.retry.attempts, 1), 30)
    return replace(
        subscription,
        max_delivery_attempts=attempts,
        dead_letter_account=target.names.account_id,
        dead_letter_container=DEAD_LETTER_CONTAINER,
    )


def blob_subscription(names: Names, function: str, trigger: Storage) -> EventSubscription:
    """Blob events of the trigger's container, prefix and suffix. `created` is a blob trigger with the
    Event Grid source, reached through the blobs extension's webhook on the app's host (known once the app
    exists: `APP_HOST`); `deleted` an Event Grid trigger."""
    topic = names.system_topic
    if trigger.on == "created":
        endpoint_type = "WebHook"
        destination = f"https://{APP_HOST}/runtime/webhooks/blobs?functionName=Host.Functions.{quote(function)}"
    else:
        endpoint_type, destination = "AzureFunction", f"{names.site_id}/functions/{function}"
    return EventSubscription(
        f"{topic}/{subscription_name(function)}",
        resource_group=names.resource_group,
        topic=topic,
        system_topic=True,
        endpoint_type=endpoint_type,
        destination=destination,
        event_types=(BLOB_EVENTS[trigger.on],),
        subject_begins_with=f"/blobServices/default/containers/{container_name(trigger.bucket)}/blobs/{trigger.prefix}",
        subject_ends_with=trigger.suffix,
    )


def queue(names: Names, name: str) -> StorageQueue:
    account = names.storage_account
    return StorageQueue(f"{account}/{name}", resource_group=names.resource_group, account=account, queue=name)


def container(names: Names, name: str) -> BlobContainer:
    account = names.storage_account
    return BlobContainer(f"{account}/{name}", resource_group=names.resource_group, account=account, container=name)


def package_blob(target: Target) -> PackageBlob:
    blob = target.names.package_blob(target.artifact.sha256)
    return PackageBlob(
        f"{PACKAGES_CONTAINER}/{blob}", container=PACKAGES_CONTAINER, blob=blob, path=str(target.artifact.path)
    )


def package_url(target: Target) -> str:
    """The package blob's URL without a SAS (the applier adds one when it writes the setting)."""
    blob = target.names.package_blob(target.artifact.sha256)
    return f"{target.blob_endpoint.rstrip('/')}/{PACKAGES_CONTAINER}/{quote(blob)}"


def function_app(target: Target) -> FunctionApp:
    names, python, flex = target.names, target.app.config.python, target.flex
    app = FunctionApp(
        names.function_app,
        resource_group=names.resource_group,
        location=target.location,
        plan_id=plan_id(names),
        linux_fx_version=f"Python|{python}",
    )
    attached = tuple(sorted(i.name for i in identities(target)))
    if attached:
        app = replace(app, identity=BOTH_IDENTITIES, user_identities=attached)
    if flex is None:
        return app
    return replace(
        app,
        linux_fx_version="",
        deployment_storage=f"{target.blob_endpoint.rstrip('/')}/{DEPLOYMENT_CONTAINER}",
        deployment_auth="SystemAssignedIdentity" if target.identity else "StorageAccountConnectionString",
        runtime_version=python,
        instance_memory_mb=flex.instance_memory_mb,
        maximum_instance_count=flex.maximum_instance_count,
    )


def role_assignments(target: Target) -> list[RoleAssignment]:
    """The storage roles of the app's identity; Storage Account Contributor only when a blob trigger needs it.
    Storage Blob Data Owner is also what lets the platform fetch the package with the identity."""
    names = target.names
    roles = list(STORAGE_ROLES)
    if not any(isinstance(s.trigger, Storage) and s.trigger.on == "created" for s in target.app.functions):
        roles.remove("Storage Account Contributor")
    return [
        RoleAssignment(
            f"{names.storage_account}/{role}", scope=names.account_id, role_definition_id=names.role_definition_id(role)
        )
        for role in roles
    ]


def state_tables(target: Target) -> list[StateTable]:
    names = target.names
    return [
        StateTable(
            f"{names.storage_account}/{table_name(state.name)}",
            resource_group=names.resource_group,
            account=names.storage_account,
            table=table_name(state.name),
            state=state.name,
        )
        for state in target.app.states
    ]


def bucket_containers(target: Target) -> list[BlobContainer]:
    """The container of each declared bucket: the same one a `storage(name)` trigger of that name gets."""
    names = target.names
    return [replace(container(names, container_name(b.name)), bucket=b.name) for b in target.app.buckets]


def bucket_grants(target: Target) -> list[RoleAssignment]:
    """One role per bucket's container for each function that declares the bucket: write if it writes it, else
    read."""
    return declared_grants(target, Bucket, container_name, target.names.container_id, BUCKET_READER, BUCKET_WRITER)


def declared_grants(
    target: Target,
    kind: type[Declared],
    physical: Callable[[str], str],
    scope: Callable[[str], str],
    reader: Use,
    writer: Use,
) -> list[RoleAssignment]:
    """For each function's declared use of a `kind` resource (a state's table, a bucket's container, both in the
    app's storage account): the `writer` role if it writes it, else the `reader`, scoped to `scope` of its
    `physical` name."""
    names, grants = target.names, []
    for spec in target.app.functions:
        for declared in spec.options.uses:
            if isinstance(declared.resource, kind):
                found = physical(declared.resource.name)
                use = writer if declared.writes else reader
                grants.append(granted(names, spec.name, f"{names.storage_account}/{found}", scope(found), use))
    return grants


def identities(target: Target) -> list[ManagedIdentity]:
    """A user-assigned identity per function that declares a use; with `storage_auth = "connection_string"` per
    function that reads a secret (Key Vault is reached by role alone; the rest with the connection string)."""
    names = target.names
    return [
        ManagedIdentity(
            names.identity(spec.name), resource_group=names.resource_group, location=target.location, function=spec.name
        )
        for spec in target.app.functions
        if any(target.identity or isinstance(u.resource, Secret) for u in spec.options.uses)
    ]


def granted(names: Names, function: str, label: str, scope: str, use: Use) -> RoleAssignment:
    """The role of `use` on exactly `scope` for `function`'s own identity, named `<label>/<role> for <function>`."""
    principal = FUNCTION_IDENTITY + names.identity(function)
    found = custom_role(names, label, scope, use, principal=principal)
    return replace(found, name=f"{found.name} for {function}", function=function)


def table_grants(target: Target) -> list[RoleAssignment]:
    """One role per state table for each function that declares the state: write if it writes it, else read."""
    return declared_grants(target, State, table_name, target.names.table_id, STATE_READER, STATE_WRITER)


def secret_resources(target: Target) -> list[Resource]:
    """The vault, the deploying principal's officer role on it, and a reader role per declared secret scoped
    to that secret (none without secrets)."""
    names, app = target.names, target.app
    if not app.secrets:
        return []
    vault = KeyVault(names.vault, resource_group=names.resource_group, location=target.location)
    officer = custom_role(names, names.vault, names.vault_id, SECRETS_OFFICER, principal=DEPLOYER)
    return [vault, officer, *secret_grants(app, names)]


def secret_grants(app: App, names: Names, only: str | None = None) -> list[RoleAssignment]:
    """The secret reader's role on each secret alone (or on secret `only`), for the identity of each function
    that reads it (`remote` reads them at these scopes)."""
    return [
        granted(names, reader.name, f"{names.vault}/{secret.name}", names.secret_id(secret.name), SECRET_READER)
        for secret in sorted(app.secrets, key=lambda s: s.name)
        if only is None or secret.name == only
        for reader in app.readers(secret)
    ]


def identity_settings(target: Target) -> dict[str, str]:
    """`PORTABLE_FN_IDENTITY_<FUNCTION>`: the client id of each function's own identity (known once it exists:
    the marker `IDENTITY_CLIENT_ID`), which `portable_fn_azure.identity` asks tokens of."""
    return {identity_env(i.function): IDENTITY_CLIENT_ID + i.name for i in identities(target)}


def secret_settings(target: Target) -> dict[str, str]:
    """`PORTABLE_FN_SECRETS`: the vault's URL, where `portable_fn_azure.secrets` reads (when a function declares
    a secret)."""
    return {SECRETS_LOCATOR: vault_url(target.names.vault)} if target.app.secrets else {}


def transport_of(app: App, channel: channels.Channel) -> str:
    """`storage_queue`, `service_bus` or `event_grid`: how the app's settings carry this channel."""
    return transports(app)["topic_transport" if channel.kind == channels.TOPIC else "queue_transport"]


def channel_resources(target: Target) -> list[Resource]:
    """Per channel some function sends to: its queue or topic, and the role on exactly it of the identity of
    each function that declares sending there."""
    names, app, out = target.names, target.app, list[Resource]()
    for channel in app.channels:
        transport, entity = transport_of(app, channel), queue_name(channel.name)
        if transport == "storage_queue":
            out.append(queue(names, entity))
        elif transport == "event_grid":
            topic = names.topic(channel.name)
            out.append(EventGridTopic(topic, resource_group=names.resource_group, location=target.location))
        if target.identity:
            out += [
                grant
                for sender in app.senders(channel)
                for grant in [channel_grant(app, names, target.service_bus_namespace, channel, sender.name)]
                if grant is not None
            ]
    return out


def channel_grant(
    app: App, names: Names, namespace: str, channel: channels.Channel, function: str
) -> RoleAssignment | None:
    """`function`'s sender role on the channel's queue or topic; on Service Bus the bus sender's role on the
    entity in the user's namespace (its ARM id, `namespace`), or None when the settings do not name it: then
    the connection's own rights apply."""
    transport, entity = transport_of(app, channel), queue_name(channel.name)
    if transport == "storage_queue":
        return granted(names, function, f"{names.storage_account}/{entity}", names.queue_id(entity), QUEUE_SENDER)
    if transport == "event_grid":
        topic = names.topic(channel.name)
        return granted(names, function, topic, names.topic_id(topic), TOPIC_SENDER)
    if not namespace:
        return None
    namespace = namespace.rstrip("/")
    scope = f"{namespace}/{'topics' if channel.kind == channels.TOPIC else 'queues'}/{entity}"
    return granted(names, function, f"{namespace.rsplit('/', 1)[-1]}/{entity}", scope, BUS_SENDER)


def bus_grants(app: App, names: Names, namespace: str) -> list[RoleAssignment]:
    """The Service Bus senders' roles (outside the app's group: `remote` reads them at these scopes)."""
    found = [
        channel_grant(app, names, namespace, c, sender.name)
        for c in app.channels
        if transport_of(app, c) == "service_bus"
        for sender in app.senders(c)
    ]
    return [grant for grant in found if grant is not None]


def channel_settings(target: Target) -> dict[str, str]:
    """`PORTABLE_FN_QUEUE_<NAME>` / `PORTABLE_FN_TOPIC_<NAME>` per channel: the locator `publish` reads
    (see its table), through the connection settings the app's bindings use; a topic's key too when the
    app has no identity to publish with."""
    chosen, values = transports(target.app), dict[str, str]()
    for channel in target.app.channels:
        env, transport = channels.locator_env(channel.kind, channel.name), transport_of(target.app, channel)
        if transport == "storage_queue":
            values[env] = f"{STORAGE_QUEUE}:{chosen['storage_connection']}/{queue_name(channel.name)}"
        elif transport == "service_bus":
            values[env] = f"{SERVICE_BUS}:{chosen['service_bus_connection']}/{queue_name(channel.name)}"
        else:
            values[env] = TOPIC_ENDPOINT + target.names.topic(channel.name)
            if not target.identity:
                values[env + "_KEY"] = TOPIC_KEY + target.names.topic(channel.name)
    return values


def state_settings(target: Target) -> dict[str, str]:
    """`PORTABLE_FN_STATE_<NAME>`: the table's URL, for every state; the connection string's marker when
    the app reaches its storage with a key, not its identity."""
    endpoint = target.table_endpoint.rstrip("/")
    values = {locator_env(s.name): f"{endpoint}/{table_name(s.name)}" for s in target.app.states}
    if values and not target.identity:
        values[TABLES_CONNECTION_SETTING] = STORAGE_CONNECTION
    return values


def bucket_settings(target: Target) -> dict[str, str]:
    """`PORTABLE_FN_BUCKET_<NAME>`: the container's URL, for every declared bucket; the connection string's
    marker when the app reaches its storage with a key, not its identity."""
    endpoint = target.blob_endpoint.rstrip("/")
    values = {bucket_env(b.name): f"{endpoint}/{container_name(b.name)}" for b in target.app.buckets}
    if values and not target.identity:
        values[BLOBS_CONNECTION_SETTING] = STORAGE_CONNECTION
    return values


def plan_id(names: Names) -> str:
    return names.arm_id("Microsoft.Web/serverfarms", names.plan)


def release(target: Target) -> Release:
    """The package the host is to run: synced or deployed once the settings name it (see `Release`)."""
    names = target.names
    return Release(
        names.function_app,
        resource_group=names.resource_group,
        package=package_blob(target).blob,
        flex=target.flex is not None,
        package_url=package_url(target),
        path=str(target.artifact.path),
    )


def app_settings(target: Target) -> AppSettings:
    """App defaults < stage < the functions' own env < the runtime's and portable-fn's own settings. The
    host's storage is the account name (reached with the app's identity), or the connection string.

    With the identity, the platform fetches the package with it too (`WEBSITE_RUN_FROM_PACKAGE` is the
    blob's URL and `WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID` is `SystemAssigned`; Storage Blob Data
    Owner, granted before the settings are written, covers the read); with the connection string the
    applier adds a read-only SAS to the URL.

    Flex Consumption refuses the runtime settings and WEBSITE_RUN_FROM_PACKAGE (its runtime and package
    are the site's functionAppConfig): the package URL is kept in `PORTABLE_FN_PACKAGE` instead, so a
    changed package is a changed setting, which the applier deploys."""
    config, names = target.app.config, target.names
    stage = config.stages.get(target.stage)
    values: dict[str, str] = {**config.defaults.env, **(stage.env if stage else {})}
    for spec in target.app.functions:
        values.update(spec.options.env)
    storage = (
        {"AzureWebJobsStorage__accountName": names.storage_account}
        if target.identity
        else {"AzureWebJobsStorage": STORAGE_CONNECTION}
    )
    if target.flex is None:
        platform = {
            **RUNTIME_SETTINGS,
            PACKAGE_SETTING: package_url(target),
            **({PACKAGE_IDENTITY_SETTING: SYSTEM_IDENTITY} if target.identity else {}),
        }
    else:
        platform = {
            FLEX_PACKAGE_SETTING: package_url(target),
            **({} if target.identity else {DEPLOYMENT_CONNECTION: STORAGE_CONNECTION}),
        }
    values.update(
        {
            **storage,
            **platform,
            **state_settings(target),
            **bucket_settings(target),
            **channel_settings(target),
            **secret_settings(target),
            **identity_settings(target),
            "PORTABLE_FN_APP": target.app.name,
            "PORTABLE_FN_STAGE": target.stage,
            "PORTABLE_FN_PROVIDER": "azure",
            **target.app.config.runtime_env(),  # settings of the runtime itself (`max_hops`)
        }
    )
    return AppSettings(names.function_app, resource_group=names.resource_group, settings=tuple(sorted(values.items())))
