"""What an app's role assignments grant on Azure, as `Grant`s: one per `RoleAssignment` `desired` builds, its
built-in role (found by the definition's GUID) spelled out as the role's actions and dataActions
(`DEFINITIONS`), its scope the resource. Pure: no Azure call.

Every assignment goes to the function app's identity, which all the app's functions share, so the grants are
the app's as a whole (`function` None; each function's own declaration is enforced at run time), except the
deploying principal's role on the app's Key Vault (`principal` the marker `DEPLOYER`), which sets its secrets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portable_fn.deploy import Resource
from portable_fn.deploy.grants import Grant

from .naming import BUILT_IN_ROLES
from .resources import RoleAssignment

_STORAGE = "Microsoft.Storage/storageAccounts"
_QUEUES, _TABLES = f"{_STORAGE}/queueServices/queues", f"{_STORAGE}/tableServices/tables"


@dataclass(frozen=True)
class Definition:
    actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()


# The permissions of each built-in role deploy assigns, by name, as Microsoft lists them
# (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage and
# .../built-in-roles/integration; read 2026-12-06). The wildcards are Microsoft's own.
DEFINITIONS: dict[str, Definition] = {
    "Storage Blob Data Owner": Definition(
        (f"{_STORAGE}/blobServices/containers/*", f"{_STORAGE}/blobServices/generateUserDelegationKey/action"),
        (f"{_STORAGE}/blobServices/containers/blobs/*",),
    ),
    "Storage Queue Data Contributor": Definition(
        (f"{_QUEUES}/delete", f"{_QUEUES}/read", f"{_QUEUES}/write"),
        (
            f"{_QUEUES}/messages/delete",
            f"{_QUEUES}/messages/read",
            f"{_QUEUES}/messages/write",
            f"{_QUEUES}/messages/process/action",
        ),
    ),
    "Storage Account Contributor": Definition(
        (
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Insights/diagnosticSettings/*",
            "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            f"{_STORAGE}/*",
            "Microsoft.Support/*",
        ),
    ),
    "Storage Table Data Reader": Definition((f"{_TABLES}/read",), (f"{_TABLES}/entities/read",)),
    "Storage Table Data Contributor": Definition(
        (f"{_TABLES}/read", f"{_TABLES}/write", f"{_TABLES}/delete"),
        (
            f"{_TABLES}/entities/read",
            f"{_TABLES}/entities/write",
            f"{_TABLES}/entities/delete",
            f"{_TABLES}/entities/add/action",
            f"{_TABLES}/entities/update/action",
        ),
    ),
    "Storage Queue Data Message Sender": Definition((), (f"{_QUEUES}/messages/add/action",)),
    "EventGrid Data Sender": Definition(
        (
            "Microsoft.Authorization/*/read",
            "Microsoft.EventGrid/topics/read",
            "Microsoft.EventGrid/domains/read",
            "Microsoft.EventGrid/partnerNamespaces/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.EventGrid/namespaces/read",
        ),
        ("Microsoft.EventGrid/events/send/action",),
    ),
    "Azure Service Bus Data Sender": Definition(
        (
            "Microsoft.ServiceBus/*/queues/read",
            "Microsoft.ServiceBus/*/topics/read",
            "Microsoft.ServiceBus/*/topics/subscriptions/read",
        ),
        ("Microsoft.ServiceBus/*/send/action",),
    ),
}
# Key Vault's data-plane roles (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security;
# read 2026-12-06). The Officer's wildcards are Microsoft's own; it is the deploying principal's, on the one vault.
_VAULTS = "Microsoft.KeyVault/vaults"
DEFINITIONS["Key Vault Secrets User"] = Definition(
    (), (f"{_VAULTS}/secrets/getSecret/action", f"{_VAULTS}/secrets/readMetadata/action")
)
DEFINITIONS["Key Vault Secrets Officer"] = Definition(
    (
        "Microsoft.Authorization/*/read",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Support/*",
        "Microsoft.KeyVault/checkNameAvailability/read",
        "Microsoft.KeyVault/deletedVaults/read",
        "Microsoft.KeyVault/locations/*/read",
        f"{_VAULTS}/*/read",
        "Microsoft.KeyVault/operations/read",
    ),
    (f"{_VAULTS}/secrets/*",),
)
ROLE_NAMES = {guid: name for name, guid in BUILT_IN_ROLES.items()}


def grants(desired: Sequence[Resource]) -> list[Grant]:
    """Every role assignment in `desired`, as a `Grant` on its scope."""
    return [grant(r) for r in desired if isinstance(r, RoleAssignment)]


def grant(assignment: RoleAssignment) -> Grant:
    role = ROLE_NAMES[assignment.role_definition_id.rsplit("/", 1)[-1]]
    definition = DEFINITIONS[role]
    actions = definition.actions + definition.data_actions
    return Grant(None, assignment.principal, actions, assignment.scope, role)
