"""What an app's role assignments grant on Azure, as `Grant`s: one per `RoleAssignment` `desired` builds, its
scope the resource. A custom role (`roles`: what a function declares) is spelled out as the actions and
dataActions of its `RoleDefinition`, found among the same resources; a built-in role, which deploy keeps only
for what the platform itself needs (the Functions host's own storage), by its definition's GUID (`DEFINITIONS`),
with the reason the platform needs it (`Grant.platform`, from `PLATFORM`). Pure: no Azure call.

A role on what a function declares goes to that function's own user-assigned identity (`principal` the marker
`FUNCTION_IDENTITY` and the identity's name), so the grant is that function's (`function`). The host's built-in
roles on its storage go to the function app's system-assigned identity, and the secrets officer's role on the
app's Key Vault to the deploying principal (`DEPLOYER`): both the app's as a whole (`function` None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portable_fn.deploy import Resource
from portable_fn.deploy.grants import Grant

from .naming import STORAGE_ROLES
from .resources import RoleAssignment, RoleDefinition

_STORAGE = "Microsoft.Storage/storageAccounts"
_QUEUES = f"{_STORAGE}/queueServices/queues"


@dataclass(frozen=True)
class Definition:
    actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()


# The permissions of the built-in roles deploy assigns, by name, as Microsoft lists them
# (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage; read 2026-12-06). The
# wildcards are Microsoft's own; each is granted on the app's own storage account alone.
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
}
# Why the platform needs each built-in role, no function having declared it: the Functions host reaches its own
# storage (`AzureWebJobsStorage__accountName`) with the app's identity, as Microsoft documents for identity-based
# host storage (https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-
# with-an-identity; read 2026-12-07).
PLATFORM = {
    "Storage Blob Data Owner": "the Functions host's own storage: its leases, keys and the app's package",
    "Storage Queue Data Contributor": "the Functions host's own storage: its trigger and poison queues",
    "Storage Account Contributor": "the Functions host's blob triggers, on an identity connection",
}
ROLE_NAMES = {guid: name for name, guid in STORAGE_ROLES.items()}


def grants(desired: Sequence[Resource]) -> list[Grant]:
    """Every role assignment in `desired`, as a `Grant` on its scope (custom roles read from `desired` too)."""
    custom = {r.definition_id.lower(): r for r in desired if isinstance(r, RoleDefinition)}
    return [grant(r, custom) for r in desired if isinstance(r, RoleAssignment)]


def grant(assignment: RoleAssignment, custom: dict[str, RoleDefinition] | None = None) -> Grant:
    """The assignment as a grant: a custom role's exact actions (no role name: the actions are the grant, as on
    AWS), a built-in role by name with its actions and the platform's reason; a role neither, by its id."""
    found = (custom or {}).get(assignment.role_definition_id.lower())
    if found is not None:
        function = assignment.function or None
        return Grant(function, assignment.principal, found.actions + found.data_actions, assignment.scope)
    role = ROLE_NAMES.get(assignment.role_definition_id.rsplit("/", 1)[-1])
    if role is None:
        return Grant(None, assignment.principal, (), assignment.scope, assignment.role_definition_id)
    definition = DEFINITIONS[role]
    actions = definition.actions + definition.data_actions
    return Grant(None, assignment.principal, actions, assignment.scope, role, PLATFORM[role])
