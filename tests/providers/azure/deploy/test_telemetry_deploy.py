"""samples/telemetry deployed to the fake ARM and Azurite: a table for each state the sample uses (its own
and portable-fn's idempotency and breaker stores) in the app's storage account, shown by `plan`, made
through ARM and on Azurite's table service, its locator in the app settings, and each function's own identity
granted on each table what that function declares, nothing another function declared."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient
from portable_fn_azure.deploy.naming import Names, table_name
from portable_fn_azure.deploy.roles import STATE_READER, STATE_WRITER, definition_id

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.runtime.state import locator_env

TELEMETRY = Path(__file__).resolve().parents[4] / "samples" / "telemetry"
SUB = "/subscriptions/11111111-2222-3333-4444-555555555555"
GROUP = f"{SUB}/resourceGroups/telemetry-dev-rg"
NAMES = Names("telemetry", "dev", SUB.rsplit("/", 1)[-1])
READER, WRITER = definition_id(NAMES, STATE_READER), definition_id(NAMES, STATE_WRITER)  # custom roles
ROLE_TYPE = "Microsoft.Authorization/roleAssignments"


@pytest.fixture
def telemetry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    target = tmp_path / "telemetry"
    shutil.copytree(TELEMETRY, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_MANAGER_URL", "AZURE_STORAGE_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    return load_app(target)


@pytest.fixture
def provider(arm: Any, blobs: Any, azurite: str, certificate: Any, telemetry: App, helpers: Any) -> Any:
    tables = TableServiceClient.from_connection_string(azurite)
    for table in tables.list_tables():
        tables.delete_table(table.name)
    return helpers.ArmProvider(helpers.settings_for(telemetry, "dev", certificate, azurite), arm.url)


def table_roles(arm: Any, account: str, table: str) -> set[tuple[str, str]]:
    """(role definition id, principal id) of each role assignment on the table."""
    scope = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{account}/tableServices/default/tables/{table}"
    found = arm.children(f"{scope}/providers/Microsoft.Authorization/roleAssignments", ROLE_TYPE)
    return {(r["properties"]["roleDefinitionId"], r["properties"]["principalId"]) for r in found}


def test_plan_shows_a_table_per_state_and_deploy_makes_and_grants_them(
    provider: Any, telemetry: App, arm: Any, azurite: str
) -> None:
    account = str(provider.deployer.names(telemetry, "dev").storage_account)
    tables = {s.name: table_name(s.name) for s in telemetry.states}
    planned = pipeline.plan(provider, telemetry, "dev").plan
    assert {s.resource.name for s in planned.steps if s.resource.kind == "state table"} == {
        f"{account}/{t}" for t in tables.values()
    }
    pipeline.deploy(provider, telemetry, "dev")
    assert {t.name for t in TableServiceClient.from_connection_string(azurite).list_tables()} == set(tables.values())
    identities = f"{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
    own = {  # each declaring function's own identity, by function
        spec.name: arm.get(f"{identities}/{NAMES.identity(spec.name)}")["properties"]["principalId"]
        for spec in telemetry.functions
        if spec.options.uses
    }
    for name, table in tables.items():  # exactly the functions that declare the state, each with its own access
        wanted = {
            (WRITER if use.writes else READER, own[spec.name])
            for spec in telemetry.functions
            for use in spec.options.uses
            if use.resource.name == name
        }
        assert wanted and table_roles(arm, account, table) == wanted

    site = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{provider.deployer.names(telemetry, 'dev').function_app}")
    settings = arm.get(f"{site['id']}/config/appsettings")["properties"]
    endpoint = azurite.split("TableEndpoint=")[1].split(";")[0]
    assert {k: v for k, v in settings.items() if k.startswith("PORTABLE_FN_STATE_")} == {
        locator_env(name): f"{endpoint}/{table}" for name, table in tables.items()
    }
    assert pipeline.plan(provider, telemetry, "dev").plan.empty
