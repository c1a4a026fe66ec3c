"""The audit trail on Azure: one blob per deploy or remove, `<app>/<stage>/<UTC time>-<digest12>.json` in the
`pfn-audit` container of an audit storage account of the app and stage's own.

Not the stage's own account: `remove` deletes it (with the resource group deploy owns), so the record of
the remove itself would have nowhere to go, and the trail would end with the stage. The audit account
(`<app><stage>au<6 hex>`) lives in the group `<app>-<stage>-audit-rg` (or in the group the settings name
with `resource_group`), both tagged `portable-fn-audit = <app>/<stage>` and not with the app and stage tags
remote state finds resources by, so no plan updates or deletes them. They are made on the first record, the
account HTTPS-only, TLS 1.2, with no public blob access. Each blob is uploaded with `overwrite=False`, which
the SDK sends as `If-None-Match: *` (Azurite honours it: 409 BlobAlreadyExists), so no record is
overwritten. The stage's anchor is its function app: its tags `pfn-audit-*` name the last record, merged
through the Tags API so its other tags stay (after a `remove` there is none to tag); remote state leaves
`pfn-audit-*` tags out, so they never make a plan. The trail's calls go through the deployer's
`audit_client`, apart from the deploy's own call record, and are on the API log (`--verbose`) like the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from portable_fn.audit import PREFIX, RecordExists

from ..names import fit, short_hash
from ..settings import AzureSettings
from .appliers import ApplyContext, ResourceGroups, StorageAccounts
from .client import AzureClient, missing
from .naming import MAX_ACCOUNT, MAX_GROUP, Names
from .resources import ResourceGroup, StorageAccount

TAG_AUDIT = "portable-fn-audit"  # <app>/<stage>: what the audit account keeps records of
CONTAINER = PREFIX


def audit_group(names: Names) -> str:
    return names.group_override or fit(f"{names.prefix}-audit-rg", MAX_GROUP)


def audit_account(names: Names) -> str:
    """Lowercase letters and digits, 3-24, unique to subscription, app and stage (account names are global)."""
    suffix = short_hash(names.subscription, names.app, names.stage, "audit")
    alnum = re.sub(r"[^a-z0-9]", "", f"{names.app}{names.stage}".lower())
    return f"{alnum[: MAX_ACCOUNT - 2 - len(suffix)]}au{suffix}"


class BlobAuditStore:
    """The records of one app and stage in their audit account's `pfn-audit` container."""

    def __init__(self, azure: AzureClient, names: Names, location: str, settings: AzureSettings) -> None:
        self.azure, self.names, self.location = azure, names, location
        self.group, self.account = audit_group(names), audit_account(names)
        self.prefix = f"{names.app}/{names.stage}/"
        self.ctx = ApplyContext(azure, {TAG_AUDIT: f"{names.app}/{names.stage}"}, settings)

    @property
    def where(self) -> str:
        return f"https://{self.account}.blob.{self.azure.storage_suffix}/{CONTAINER}/{self.prefix}"

    def append(self, name: str, body: bytes) -> str:
        """A new block blob, never over an existing one; the account and container are made when missing (the
        container once an upload found none, so a stage's later records take one write each)."""
        if not self._account_exists():
            self._make_account()
        container = self._container()
        try:
            self._upload(container, name, body)
        except ResourceNotFoundError:  # the container is not there yet
            try:
                container.create_container()
            except ResourceExistsError:  # made meanwhile, by another deploy of the stage
                pass
            self._upload(container, name, body)
        return f"{self.where}{name}"

    def _upload(self, container: Any, name: str, body: bytes) -> None:
        try:
            container.upload_blob(f"{self.prefix}{name}", body, overwrite=False)
        except ResourceExistsError as exc:
            raise RecordExists(name) from exc

    def read(self) -> list[bytes]:
        if not self._account_exists():
            return []
        container = self._container()
        try:
            names = [b["name"] for b in container.list_blobs(name_starts_with=self.prefix)]
        except ResourceNotFoundError:
            return []
        return [bytes(container.download_blob(n).readall()) for n in names]

    def mark(self, tags: Mapping[str, str]) -> str | None:
        """Merge `tags` into the stage's function app's tags (Tags API, as the release tag is set); None
        when there is no function app (after a remove)."""
        names, web = self.names, self.azure.web.web_apps
        try:
            site = web.get(names.resource_group, names.function_app).id
        except Exception as exc:
            if missing(exc):
                return None
            raise
        merge = {"operation": "Merge", "properties": {"tags": dict(tags)}}
        self.ctx.wait(self.azure.resources.tags.begin_update_at_scope(site, merge), f"tagging {names.function_app}")
        return str(site)

    def _container(self) -> Any:
        connection = self.azure.storage_connection_string(self.group, self.account)
        return self.azure.blobs(connection).get_container_client(CONTAINER)

    def _account_exists(self) -> bool:
        try:
            self.azure.storage.storage_accounts.get_properties(self.group, self.account)
        except Exception as exc:
            if missing(exc):
                return False
            raise
        return True

    def _make_account(self) -> None:
        if self.names.owns_group:
            ResourceGroups(self.ctx).create(ResourceGroup(self.group, location=self.location))
        account = StorageAccount(self.account, resource_group=self.group, location=self.location)
        StorageAccounts(self.ctx).create(account)
