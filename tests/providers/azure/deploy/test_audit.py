"""The audit trail on Azure, against the fake ARM and Azurite: who deploy acts as (from the token's claims),
the records in the audit account's `pfn-audit` container, its tags, and a next plan that stays a no-op."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError
from portable_fn_azure.deploy import AzureDeployer
from portable_fn_azure.deploy.audit import audit_account, audit_group
from portable_fn_azure.deploy.naming import Names

from portable_fn import audit
from portable_fn.deploy import DeployTarget, pipeline

SUB = "11111111-2222-3333-4444-555555555555"  # the suite's subscription (conftest.SUBSCRIPTION)


def jwt(claims: dict[str, str]) -> str:
    """An access token's shape: header.payload.signature, each base64url without padding."""

    def part(value: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("claims", "principal"),
    [
        ({"upn": "alice@contoso.example", "oid": "0000-a", "appid": "cli"}, "alice@contoso.example"),
        ({"appid": "9f1c0000-app", "oid": "0000-sp"}, "9f1c0000-app"),  # a service principal
        ({"oid": "0000-mi"}, "0000-mi"),
        ({"aud": "https://management.azure.com"}, None),
    ],
)
def test_the_target_names_the_tokens_principal(claims: dict[str, str], principal: str | None, helpers: Any) -> None:
    credential = helpers.StaticToken(jwt(claims))
    deployer = AzureDeployer({"subscription_id": SUB, "location": "westeurope"}, credential=credential)
    assert deployer.target() == DeployTarget("azure", "subscription", SUB, "westeurope", principal)
    assert credential.scopes == [("https://management.azure.com/.default",)]


def test_a_token_that_is_no_jwt_names_nobody(provider: Any) -> None:
    assert provider.target() == DeployTarget("azure", "subscription", SUB, "westeurope", None)


def test_the_audit_names_fit_azures_rules(provider: Any, shop: Any) -> None:
    names = provider.deployer.names(shop, "dev")
    assert audit_group(names) == "shop-dev-audit-rg"
    assert re.fullmatch(r"shopdevau[0-9a-f]{6}", audit_account(names))
    assert audit_account(names) != names.storage_account
    long = audit_account(Names("A-very-long-app-name" * 3, "dev", SUB))
    assert len(long) == 24 and re.fullmatch(r"averylongappnameau[0-9a-f]{6}", long)
    assert audit_group(Names("shop", "dev", SUB, group_override="shared-rg")) == "shared-rg"


def test_deploy_and_remove_are_recorded_in_the_audit_account(
    provider: Any, shop: Any, arm: Any, blobs: Any, helpers: Any
) -> None:
    outcome = pipeline.deploy(provider, shop, "dev")
    made = outcome.audit  # the record deploy wrote
    assert made is not None and outcome.plan is not None and outcome.artifact is not None

    account = audit_account(provider.deployer.names(shop, "dev"))
    assert made.location == f"https://{account}.blob.core.windows.net/pfn-audit/shop/dev/{made.name}"
    assert made.notes == () and made.target["scope_id"] == SUB
    blob = blobs.get_container_client("pfn-audit").get_blob_client(f"shop/dev/{made.name}")
    assert json.loads(blob.download_blob().readall()) == made.to_dict()
    with pytest.raises(ResourceExistsError):  # overwrite=False is If-None-Match: *, which Azurite honours
        blob.upload_blob(b"{}", overwrite=False)

    group = arm.find("/resourceGroups/shop-dev-audit-rg")
    assert group is not None and group["tags"] == {"portable-fn-audit": "shop/dev"}
    stored = arm.find(f"/resourceGroups/shop-dev-audit-rg/providers/Microsoft.Storage/storageAccounts/{account}")
    assert stored is not None and stored["tags"] == {"portable-fn-audit": "shop/dev"}
    site = arm.find(f"/providers/Microsoft.Web/sites/{provider.deployer.names(shop, 'dev').function_app}")
    assert site is not None and {k: v for k, v in site["tags"].items() if k.startswith("pfn-audit-")} == made.tags()
    assert stored["properties"]["allowBlobPublicAccess"] is False
    assert stored["properties"]["minimumTlsVersion"] == "TLS1_2"

    again = pipeline.plan(provider, shop, "dev")  # neither the audit account nor its group is in a plan
    assert again.plan is not None and again.plan.empty

    removed = pipeline.remove(provider, shop, "dev").audit
    assert removed is not None
    assert arm.find("/resourceGroups/shop-dev-rg") is None  # the stage is gone, its trail is not
    assert {key: found["tags"] for key, found in arm.state.resources.items()} == helpers.audit_trail("shop", "dev")
    assert audit.history(provider, shop, "dev") == [removed, made]
    assert removed.notes == ("No resource of 'shop' (stage 'dev') on azure to tag.",)


def test_history_of_a_stage_never_recorded_is_empty(provider: Any, shop: Any, arm: Any) -> None:
    assert audit.history(provider, shop, "dev") == []
    assert arm.mutating() == []


def test_the_trails_calls_are_its_own_and_a_later_record_takes_one_write(
    provider: Any, shop: Any, arm: Any, blobs: Any
) -> None:
    pipeline.deploy(provider, shop, "dev")
    deployer = provider.deployer
    assert deployer.audit_client is not deployer.client
    assert deployer.audit_client.credential is deployer.client.credential  # signed in once
    assert [c for c in deployer.client.calls if "audit" in c[2].lower()] == []  # the deploy's record is the deploy's

    names = deployer.names(shop, "dev")
    account = f"/subscriptions/{SUB}/resourceGroups/shop-dev-audit-rg/providers/Microsoft.Storage/storageAccounts/"
    site = f"/subscriptions/{SUB}/resourceGroups/shop-dev-rg/providers/Microsoft.Web/sites/{names.function_app}"

    def trail_of(outcome: Any) -> list[tuple[str, str, str]]:
        record = f"/devstoreaccount1/pfn-audit/shop/dev/{outcome.audit.name}"
        return [
            ("arm", "GET", account + audit_account(names)),  # there: nothing to make
            ("blob", "PUT", record),
            ("arm", "GET", site),
            ("arm", "PATCH", f"{site}/providers/Microsoft.Resources/tags/default"),
        ]

    deployer.audit_client.calls.clear()
    again = pipeline.deploy(provider, shop, "dev")
    assert again.plan is not None and again.plan.empty
    assert deployer.audit_client.calls == trail_of(again)

    blobs.delete_container("pfn-audit")  # someone emptied the account: the container is made again
    deployer.audit_client.calls.clear()
    third = pipeline.deploy(provider, shop, "dev")
    account_read, upload, *rest = trail_of(third)
    made = ("blob", "PUT", "/devstoreaccount1/pfn-audit")
    assert deployer.audit_client.calls == [account_read, upload, made, upload, *rest]
    assert [b["name"] for b in blobs.get_container_client("pfn-audit").list_blobs()] == [f"shop/dev/{third.audit.name}"]
