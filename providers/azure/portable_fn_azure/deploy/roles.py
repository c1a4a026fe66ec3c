"""The roles deploy grants for what an app declares: custom role definitions of exact actions. Pure: no Azure call.

Azure's built-in roles for these uses carry Microsoft's wildcards (Azure Service Bus Data Sender's
`Microsoft.ServiceBus/*/send/action`, EventGrid Data Sender's `Microsoft.Authorization/*/read`, Key Vault
Secrets Officer's `secrets/*`) or more than the use needs (Storage Table Data Contributor creates and deletes
tables). So each kind of use (`Use`) is a custom role holding exactly the data actions the runtime's calls
need, and the role assignment on the one resource a function declared points at it:

    state reader      entities/read of one table                (`state.read()`: portable_fn_azure.state)
    state writer      the entities' read, add, update, write, delete  (`state.write()`)
    bucket reader     blobs/read of one container: Get Blob and List Blobs (`bucket.read()`: portable_fn_azure.buckets)
    bucket writer     blobs/read, write (overwrite), add/action (a new blob), delete  (`bucket.write()`)
    queue sender      messages/add/action of one Storage queue   (`queue.send()`: portable_fn_azure.publish)
    topic sender      events/send/action of one Event Grid topic (`topic.publish()`)
    bus sender        messages/send/action of one Service Bus queue or topic (`service_bus_namespace_id`)
    secret reader     secrets/getSecret/action of one secret     (`secret(...)`: portable_fn_azure.secrets)
    secrets officer   the deploying principal's on the app's vault: set, list, delete, recover
                      (`portable-fn secrets set|list|remove`)

The action names are Microsoft's resource provider operations (https://learn.microsoft.com/azure/
role-based-access-control/permissions/storage, .../permissions/integration and .../permissions/security;
read 2026-12-07): Service Bus publishes its send as one exact data action, so no use keeps a built-in role.

A definition lives in the subscription (where ARM keeps custom roles), assignable only in the app's resource
group (the bus sender: in the user's namespace). Its GUID is a uuid5 of subscription, app, stage and use, so a
redeploy PUTs nothing, `remote` reads each by id, and a change of a use's actions in a later portable-fn is an
update in place, not a new role left behind. What the platform itself needs to run the app, the Functions
host's own storage, stays Microsoft's built-in roles (`naming.STORAGE_ROLES`; see `grants.PLATFORM`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from portable_fn.deploy import Resource

from .naming import Names
from .resources import APP_IDENTITY, RoleAssignment, RoleDefinition

_STORAGE = "Microsoft.Storage/storageAccounts"
_ENTITIES = f"{_STORAGE}/tableServices/tables/entities"
_BLOBS = f"{_STORAGE}/blobServices/containers/blobs"
_SECRETS = "Microsoft.KeyVault/vaults/secrets"
ROLE_NAMESPACE = uuid.UUID("0b1f3c57-6a2e-4d55-9c07-3e4f8a9d2c11")  # role definition GUIDs: uuid5(this, ...)


@dataclass(frozen=True)
class Use:
    """One kind of declared use: the custom role's short name and its exact permissions."""

    name: str
    data_actions: tuple[str, ...]
    actions: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How a role assignment's name shows the role: `portable-fn state reader`."""
        return f"portable-fn {self.name}"


STATE_READER = Use("state reader", (f"{_ENTITIES}/read",))
STATE_WRITER = Use(
    "state writer",
    (
        f"{_ENTITIES}/read",
        f"{_ENTITIES}/add/action",
        f"{_ENTITIES}/update/action",
        f"{_ENTITIES}/write",
        f"{_ENTITIES}/delete",
    ),
)
BUCKET_READER = Use("bucket reader", (f"{_BLOBS}/read",))
# Put Blob needs write to replace a blob and add/action to make a new one (Microsoft's permissions for Blob
# Storage operations, read 2026-12-07); the block uploads of a large put need the same two.
BUCKET_WRITER = Use("bucket writer", (f"{_BLOBS}/read", f"{_BLOBS}/write", f"{_BLOBS}/add/action", f"{_BLOBS}/delete"))
QUEUE_SENDER = Use("queue sender", (f"{_STORAGE}/queueServices/queues/messages/add/action",))
TOPIC_SENDER = Use("topic sender", ("Microsoft.EventGrid/events/send/action",))
BUS_SENDER = Use("bus sender", ("Microsoft.ServiceBus/namespaces/messages/send/action",))
SECRET_READER = Use("secret reader", (f"{_SECRETS}/getSecret/action",))
SECRETS_OFFICER = Use(
    "secrets officer",
    (
        f"{_SECRETS}/getSecret/action",  # the recover poller reads the secret back
        f"{_SECRETS}/setSecret/action",
        f"{_SECRETS}/readMetadata/action",  # list, versions, a deleted secret
        f"{_SECRETS}/delete",
        f"{_SECRETS}/recover/action",  # set again after remove: soft delete keeps the name
    ),
)
USES = (
    STATE_READER,
    STATE_WRITER,
    QUEUE_SENDER,
    TOPIC_SENDER,
    BUS_SENDER,
    SECRET_READER,
    SECRETS_OFFICER,
    BUCKET_READER,
    BUCKET_WRITER,
)


def definition_guid(names: Names, use: Use) -> str:
    return str(uuid.uuid5(ROLE_NAMESPACE, f"{names.subscription}|{names.app}|{names.stage}|{use.name}".lower()))


def definition_id(names: Names, use: Use) -> str:
    """The custom role's id, kept in the subscription as built-in roles are."""
    return (
        f"/subscriptions/{names.subscription}/providers/Microsoft.Authorization/roleDefinitions/"
        f"{definition_guid(names, use)}"
    )


def role_name(names: Names, use: Use) -> str:
    """The role's name, unique in the tenant (Azure requires it): the use, the app and stage, their hash."""
    return f"portable-fn {use.name} {names.prefix}-{names.suffix}"


def assignment(names: Names, label: str, scope: str, use: Use, principal: str = APP_IDENTITY) -> RoleAssignment:
    """The role of `use` on exactly `scope`, named `<label>/portable-fn <use>`."""
    return RoleAssignment(
        f"{label}/{use.label}", scope=scope, role_definition_id=definition_id(names, use), principal=principal
    )


def definitions(names: Names, resources: Sequence[Resource], bus_namespace: str = "") -> list[RoleDefinition]:
    """The custom role of each use some role assignment among `resources` points at."""
    wanted = {r.role_definition_id.lower() for r in resources if isinstance(r, RoleAssignment)}
    return [definition(names, use, bus_namespace) for use in USES if definition_id(names, use).lower() in wanted]


def definition(names: Names, use: Use, bus_namespace: str = "") -> RoleDefinition:
    group = f"/subscriptions/{names.subscription}/resourceGroups/{names.resource_group}"
    scope = bus_namespace.rstrip("/") if use is BUS_SENDER else group
    return RoleDefinition(
        role_name(names, use),
        definition_id=definition_id(names, use),
        description=f"portable-fn {names.app} ({names.stage}): the {use.name}, exact actions on what is assigned",
        actions=use.actions,
        data_actions=use.data_actions,
        assignable_scopes=(scope,),
    )


def labels(names: Names) -> dict[str, str]:
    """The label of each custom role of the app and stage, by GUID: how `remote` names what it finds."""
    return {definition_guid(names, use): use.label for use in USES}
