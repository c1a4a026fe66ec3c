"""Names and tags of everything deploy creates on Azure: one place, so read, plan and remove agree.

Every resource Azure lets us tag (resource group, storage account, plan, function app, Event Grid
topics and the storage account's system topic) carries both tags below; remote state is found by them.
What cannot be tagged lives inside a tagged parent the app owns (queues and containers in its storage
account, package blobs in its packages container, event subscriptions on its topics), so everything
under that parent is the app's. State tables are the exception: the Functions host makes tables of its
own in the same account, so deploy's are told by their name (`table_name`: `pfs`, the state's name in
letters and digits, a hash of the name). Role assignments on the app's storage account are the exception (an
administrator may add their own there): deploy marks its own with `ROLE_DESCRIPTION`.

Names that must be unique across all of Azure (storage account, function app, Key Vault) end in a short hash of
subscription, app and stage, so two subscriptions deploying the same app do not collide. Custom Event
Grid topics get the same suffix: their endpoint host name is unique per region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portable_fn.deploy.tags import TagRules

# The queue and container names the generated bindings point at live in the stdlib-only `names` (codegen
# needs them without the Azure SDK); deploy uses that one copy.
from ..names import (
    MAX_CONTAINER,
    MAX_QUEUE,
    POISON_SUFFIX,
    container_name,
    dead_letter_queue,
    dns_label,
    fit,
    queue_name,
    short_hash,
)

__all__ = [
    "DEAD_LETTER_CONTAINER",
    "DEPLOYMENT_CONTAINER",
    "FUNCTION_TAG",
    "MAX_CONTAINER",
    "MAX_QUEUE",
    "PACKAGES_CONTAINER",
    "POISON_SUFFIX",
    "ROLE_DESCRIPTION",
    "STORAGE_ROLES",
    "TAG_APP",
    "TAG_RECORD",
    "TAG_RULES",
    "TAG_STAGE",
    "Names",
    "container_name",
    "dead_letter_queue",
    "dns_label",
    "fit",
    "has_tags",
    "is_bucket_container",
    "queue_name",
    "short_hash",
    "subscription_name",
    "table_name",
    "tags",
]

# What Azure takes as a tag (https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources,
# Limitations; read 2026-12-06): 50 a resource, names up to 512 characters (128 on storage accounts, which
# every app has), values up to 256, no `< > % & \ ? /` in a name. Three of the 50 are portable-fn's own (app,
# stage, and the function app's release), and a key holds no space here (the record separates keys with one).
TAG_RECORD = "portable-fn-tags"  # the keys of the user's tags on a resource (`portable_fn.deploy.tags`)
TAG_RULES = TagRules(
    provider="azure",
    noun="tag",
    max_tags=50 - 3,
    max_key=128,
    max_value=256,
    key_pattern=re.compile(r"[^<>%&\\?/\s]+"),
    value_pattern=re.compile(r".*", re.DOTALL),
    allowed="Azure takes no < > % & \\ ? / in a tag's name (portable-fn no space either)",
    reserved=("microsoft", "azure", "windows"),
    record=TAG_RECORD,
)
TAG_APP = "portable-fn-app"
TAG_STAGE = "portable-fn-stage"
FUNCTION_TAG = "portable-fn-function"  # on a function's own identity: which function it is (`remote` reads it)
PACKAGES_CONTAINER = "portable-fn-packages"  # holds the content-addressed zips WEBSITE_RUN_FROM_PACKAGE points at
DEPLOYMENT_CONTAINER = "portable-fn-deployment"  # Flex Consumption runs the package deployed into it
DEAD_LETTER_CONTAINER = "portable-fn-dead-letters"  # where Event Grid puts what it could not deliver
# Containers of the account that are no bucket: deploy's own, and the Functions host's (`azure-webjobs-hosts`,
# `azure-webjobs-secrets`) and the platform's (`$logs`, `$web`), which `is_bucket_container` tells apart.
OWN_CONTAINERS = frozenset({PACKAGES_CONTAINER, DEPLOYMENT_CONTAINER, DEAD_LETTER_CONTAINER})

MAX_GROUP, MAX_ACCOUNT, MAX_SITE, MAX_PLAN, MAX_TOPIC, MAX_VAULT = 90, 24, 60, 60, 50, 24
MAX_SYSTEM_TOPIC, MAX_SUBSCRIPTION, MAX_IDENTITY = 128, 64, 128
ROLE_DESCRIPTION = "portable-fn"  # the description of the role assignments deploy makes (see remote.py)
# Built-in roles the function app's identity gets on the app's storage account, so the host reaches its
# storage (AzureWebJobsStorage__accountName) without a key: blobs and queues, and for blob triggers the
# account itself (their receipts and poison queue).
STORAGE_ROLES = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Account Contributor": "17d1049b-9a84-46fb-8f53-869881c3d3ab",
}

TABLE_PREFIX = "pfs"  # state tables: pfs<name in letters and digits><6 hex of the name>
STATE_TABLE = re.compile(rf"{TABLE_PREFIX}[a-z0-9]*[0-9a-f]{{6}}")
MAX_TABLE = 63


def table_name(state: str) -> str:
    """The table of state `state` in the app's account: letters and digits only, starting with a letter
    (Table Storage's rule), ending in a hash of the name so `audit-log` and `auditlog` stay apart."""
    alnum = re.sub(r"[^a-z0-9]", "", state.lower())
    return f"{TABLE_PREFIX}{alnum[: MAX_TABLE - len(TABLE_PREFIX) - 6]}{short_hash(state)}"


def is_bucket_container(container: str) -> bool:
    """Whether a container of the app's account is a bucket's (a storage trigger's or a declared bucket's): what
    it holds is the user's data, which `remove` keeps unless `--delete-data`."""
    return container not in OWN_CONTAINERS and not container.startswith(("azure-webjobs-", "$"))


def tags(app: str, stage: str) -> dict[str, str]:
    return {TAG_APP: app, TAG_STAGE: stage}


def has_tags(found: dict[str, str] | None, app: str, stage: str) -> bool:
    found = found or {}
    return found.get(TAG_APP) == app and found.get(TAG_STAGE) == stage


def subscription_name(function: str) -> str:
    """The event subscription delivering to `function`: its name when Event Grid allows it (3-64 letters,
    digits and hyphens), else a cleaned name ending in a short hash of it, so two functions never share one."""
    if re.fullmatch(r"[A-Za-z0-9-]{3,64}", function):
        return function
    return f"{dns_label(function, MAX_SUBSCRIPTION - 7)}-{short_hash(function)}"


@dataclass(frozen=True)
class Names:
    """The physical names for one app and stage in one subscription."""

    app: str
    stage: str
    subscription: str
    group_override: str = ""  # settings `resource_group`: an existing group deploy uses but never owns

    @property
    def prefix(self) -> str:
        return f"{self.app}-{self.stage}"

    @property
    def suffix(self) -> str:
        return short_hash(self.subscription, self.app, self.stage)

    @property
    def resource_group(self) -> str:
        return self.group_override or fit(f"{self.prefix}-rg", MAX_GROUP)

    @property
    def owns_group(self) -> bool:
        return not self.group_override

    @property
    def storage_account(self) -> str:
        alnum = re.sub(r"[^a-z0-9]", "", f"{self.app}{self.stage}")
        return f"{alnum[: MAX_ACCOUNT - 2 - len(self.suffix)]}pf{self.suffix}"

    @property
    def vault(self) -> str:
        """The app and stage's Key Vault: 3-24 letters and digits (Key Vault also takes single hyphens), starting
        with a letter, unique across Azure (its host name is `<vault>.vault.azure.net`): made like the storage
        account's name, `kv` before the hash."""
        alnum = re.sub(r"[^a-z0-9]", "", f"{self.app}{self.stage}").lstrip("0123456789")
        return f"{alnum[: MAX_VAULT - 2 - len(self.suffix)]}kv{self.suffix}"

    @property
    def vault_id(self) -> str:
        return self.arm_id("Microsoft.KeyVault/vaults", self.vault)

    def secret_id(self, secret: str) -> str:
        """The ARM id of secret `secret` in the app's vault: the scope of the role that reads it."""
        return f"{self.vault_id}/secrets/{secret}"

    def identity(self, function: str) -> str:
        """The user-assigned managed identity of `function`: 3-128 letters, digits, hyphens and underscores,
        starting with a letter or digit (Microsoft.ManagedIdentity's rule), unique in the group: the app and
        stage, the function in lowercase letters, digits and hyphens, a hash of the function's exact name (two
        names cleaned alike stay apart)."""
        label = dns_label(f"{self.prefix}-{function}", MAX_IDENTITY - 7)
        return f"{label}-{short_hash(self.subscription, self.app, self.stage, function)}"

    def identity_id(self, identity: str) -> str:
        return self.arm_id("Microsoft.ManagedIdentity/userAssignedIdentities", identity)

    @property
    def plan(self) -> str:
        return fit(f"{self.prefix}-plan", MAX_PLAN)

    @property
    def function_app(self) -> str:
        return f"{fit(self.prefix, MAX_SITE - len(self.suffix) - 1)}-{self.suffix}"

    def topic(self, logical: str) -> str:
        """The custom Event Grid topic of `topic(logical)` triggers."""
        return f"{dns_label(f'{self.prefix}-{logical}', MAX_TOPIC - len(self.suffix) - 1)}-{self.suffix}"

    @property
    def system_topic(self) -> str:
        """The Event Grid system topic of the app's storage account (Azure allows one per account)."""
        return fit(f"{self.prefix}-storage-events", MAX_SYSTEM_TOPIC)

    def arm_id(self, provider_type: str, name: str) -> str:
        """The ARM id of `name` of `provider_type` (e.g. `Microsoft.Web/sites`) in the app's group."""
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/{provider_type}/{name}"
        )

    @property
    def account_id(self) -> str:
        return self.arm_id("Microsoft.Storage/storageAccounts", self.storage_account)

    @property
    def site_id(self) -> str:
        return self.arm_id("Microsoft.Web/sites", self.function_app)

    def role_definition_id(self, role: str) -> str:
        """The subscription-scoped id of a built-in role of the host's (`STORAGE_ROLES`; the roles for what the
        app declares are its own, `roles`)."""
        return (
            f"/subscriptions/{self.subscription}/providers/Microsoft.Authorization/roleDefinitions/"
            f"{STORAGE_ROLES[role]}"
        )

    def table_id(self, table: str) -> str:
        """The ARM id of a table in the app's account: the scope of its role assignments."""
        return f"{self.account_id}/tableServices/default/tables/{table}"

    def container_id(self, container: str) -> str:
        """The ARM id of a blob container in the app's account: the scope of a bucket's roles."""
        return f"{self.account_id}/blobServices/default/containers/{container}"

    def queue_id(self, queue: str) -> str:
        """The ARM id of a queue in the app's account: the scope of a sender's role."""
        return f"{self.account_id}/queueServices/default/queues/{queue}"

    def topic_id(self, topic: str) -> str:
        """The ARM id of a custom Event Grid topic in the app's group."""
        return self.arm_id("Microsoft.EventGrid/topics", topic)

    @property
    def package_prefix(self) -> str:
        """Package blobs sit under `<app>-<stage>/`, so apps sharing an emulator's account stay apart."""
        return f"{self.prefix}/"

    def package_blob(self, sha256: str) -> str:
        return f"{self.package_prefix}{sha256}.zip"
