"""samples/saas deployed to the fake ARM, Azurite and the fake Key Vault through the shared pipeline: a table per
state (the sample's and portable-fn's rate-limit, outbox and workflow stores), the app's Key Vault with
`billing-key` granted to the function app's identity by `secrets set` (on that secret alone), and then a plan
with nothing to do."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient
from portable_fn_azure.deploy.grants import grants
from portable_fn_azure.deploy.naming import Names, table_name
from portable_fn_azure.deploy.roles import SECRET_READER, definition_id
from portable_fn_azure.secret_store import store_for

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.deploy.grants import grant_changes

SAAS = Path(__file__).resolve().parents[4] / "samples" / "saas"
SUB = "/subscriptions/11111111-2222-3333-4444-555555555555"
GROUP = f"{SUB}/resourceGroups/saas-dev-rg"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OFFICER = "0d3b7a52-6a1c-4c55-9b7e-2f3c1e5a9d10"  # the deploying user's object id
SECRETS_USER = definition_id(Names("saas", "dev", SUB.rsplit("/", 1)[-1]), SECRET_READER)  # a custom role
ROLE_TYPE = "Microsoft.Authorization/roleAssignments"


@pytest.fixture
def saas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    target = tmp_path / "saas"
    shutil.copytree(SAAS, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_MANAGER_URL", "AZURE_STORAGE_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    return load_app(target)


@pytest.fixture
def provider(arm: Any, keyvault: Any, blobs: Any, azurite: str, certificate: Any, saas: App, helpers: Any) -> Any:
    tables = TableServiceClient.from_connection_string(azurite)
    for table in tables.list_tables():
        tables.delete_table(table.name)
    arm.state.directory.add(OFFICER)
    settings = helpers.settings_for(
        saas, "dev", certificate, azurite, tenant_id=TENANT, secrets_officer_id=OFFICER, keyvault_endpoint=keyvault.url
    )
    return helpers.ArmProvider(settings, arm.url)


def roles_at(arm: Any, scope: str) -> dict[str, str]:
    found = arm.children(f"{scope}/providers/Microsoft.Authorization/roleAssignments", ROLE_TYPE)
    return {r["properties"]["roleDefinitionId"]: r["properties"]["principalId"] for r in found}


def secret_grants(provider: Any, saas: App, tmp_path: Path) -> list[tuple[str | None, str, tuple[str, ...]]]:
    """(function, resource, actions) of each grant on a Key Vault secret, from what deploy wants."""
    desired = provider.desired(saas, "dev", provider.package(saas, "dev", tmp_path / "build", None))
    return sorted((g.function, g.resource, g.actions) for g in grants(desired) if "/secrets/" in g.resource)


def test_the_saas_sample_deploys_its_states_and_vault_and_a_second_plan_is_a_no_op(
    provider: Any, saas: App, arm: Any, azurite: str, tmp_path: Path
) -> None:
    names = provider.deployer.names(saas, "dev")
    states = {s.name for s in saas.states}
    assert states == {
        "projects",
        "project-ids",
        "api-keys",
        "activity",
        "tenants",
        "pfn-rate-limits",
        "pfn-outbox",
        "pfn-workflows",
    }
    said: list[str] = []
    pipeline.deploy(provider, saas, "dev", said.append)
    made = {t.name for t in TableServiceClient.from_connection_string(azurite).list_tables()}
    assert made == {table_name(s) for s in states}
    vault_id = f"{GROUP}/providers/Microsoft.KeyVault/vaults/{names.vault}"
    assert arm.get(vault_id)["properties"]["enableRbacAuthorization"] is True
    assert [line.strip() for line in said if "skipped" in line] == [
        "skipped: secret 'billing-key' has no value yet, so it cannot be granted; `portable-fn secrets set "
        "billing-key --provider azure --stage dev` stores it and grants it"
    ]

    store_for(provider.deployer, saas, "dev").set("billing-key", "bk_test_1")  # grants it too: no second deploy
    site = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{names.function_app}")
    identity = f"{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{names.identity('billing_export')}"
    own = arm.get(identity)["properties"]  # billing_export's own identity reads it, not the app's
    assert roles_at(arm, f"{vault_id}/secrets/billing-key") == {SECRETS_USER: own["principalId"]}
    assert site["identity"]["userAssignedIdentities"][identity] == {k: own[k] for k in ("principalId", "clientId")}
    settings = arm.get(f"{site['id']}/config/appsettings")["properties"]
    assert settings["PORTABLE_FN_SECRETS"] == f"https://{names.vault}.vault.azure.net/"
    assert settings["PORTABLE_FN_IDENTITY_BILLING_EXPORT"] == own["clientId"]  # what its clients ask tokens of
    assert "bk_test_1" not in str(settings)

    provider.deployer.client.calls.clear()
    again = pipeline.plan(provider, saas, "dev").plan
    assert again.empty, [s.describe() for s in again.steps]
    assert provider.deployer.client.mutating_calls() == []
    desired = provider.desired(saas, "dev", provider.package(saas, "dev", tmp_path / "build", None))
    changes = grant_changes(grants(list(provider.read_remote(saas, "dev"))), grants(desired))
    assert (changes.added, changes.removed) == ((), ())  # what ARM holds reads back as what deploy wanted


def test_the_one_secret_grant_names_billing_key_alone(provider: Any, saas: App, tmp_path: Path) -> None:
    vault = provider.deployer.names(saas, "dev").vault
    [(function, resource, actions)] = secret_grants(provider, saas, tmp_path)
    # billing_export, the only function that declares it (`uses=`), holds it through its own identity
    assert (function, actions) == ("billing_export", ("Microsoft.KeyVault/vaults/secrets/getSecret/action",))
    assert resource.endswith(f"/providers/Microsoft.KeyVault/vaults/{vault}/secrets/billing-key")
    assert [s.name for s in saas.functions if any(u.resource.kind == "secret" for u in s.options.uses)] == [
        "billing_export"
    ]
