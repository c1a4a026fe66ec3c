"""State on Azure, deployed: a table per state in the app's storage account (ARM's Table_Create, held to
the storage spec by the fake ARM, and made in Azurite's table service too), the function app's identity
granted the state reader or writer custom role (`roles`) on each table, `PORTABLE_FN_STATE_<NAME>` in the app
settings, and `remove` keeping a table that holds entities (with its account and group) unless
`delete_data`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient
from portable_fn_azure.deploy import AzureDeployer
from portable_fn_azure.deploy.grants import grants
from portable_fn_azure.deploy.naming import Names, table_name
from portable_fn_azure.deploy.resources import RoleAssignment, StateTable
from portable_fn_azure.deploy.roles import STATE_READER, STATE_WRITER, definition_id
from portable_fn_azure.state import open_backend

from portable_fn.app import App, load_app
from portable_fn.deploy import Artifact, pipeline
from portable_fn.deploy.grants import grant_changes
from portable_fn.runtime.state import Record, locator_env

SUB = "/subscriptions/11111111-2222-3333-4444-555555555555"
GROUP = f"{SUB}/resourceGroups/stateful-dev-rg"
STATEFUL = Path(__file__).resolve().parents[1] / "apps" / "stateful"
NAMES = Names("stateful", "dev", SUB.rsplit("/", 1)[-1])
READER, WRITER = definition_id(NAMES, STATE_READER), definition_id(NAMES, STATE_WRITER)  # custom roles
ROLE_TYPE = "Microsoft.Authorization/roleAssignments"


@pytest.fixture
def stateful(tmp_path: Path) -> App:
    target = tmp_path / "stateful"
    shutil.copytree(STATEFUL, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    return load_app(target)


@pytest.fixture
def provider(arm: Any, blobs: Any, azurite: str, certificate: Any, stateful: App, helpers: Any) -> Any:
    tables = TableServiceClient.from_connection_string(azurite)
    for table in tables.list_tables():
        tables.delete_table(table.name)
    return helpers.ArmProvider(helpers.settings_for(stateful, "dev", certificate, azurite), arm.url)


def account_of(provider: Any, app: App) -> str:
    return str(provider.deployer.names(app, "dev").storage_account)


def table_roles(arm: Any, account: str, table: str) -> set[tuple[str, str]]:
    """(role definition id, principal id) of each role assignment on the table."""
    scope = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{account}/tableServices/default/tables/{table}"
    found = arm.children(f"{scope}/providers/Microsoft.Authorization/roleAssignments", ROLE_TYPE)
    return {(r["properties"]["roleDefinitionId"], r["properties"]["principalId"]) for r in found}


def own_principal(arm: Any, provider: Any, app: App, function: str) -> str:
    """The principal id of `function`'s own user-assigned identity, as the endpoint holds it."""
    identity = provider.deployer.names(app, "dev").identity(function)
    found = arm.get(f"{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}")
    return str(found["properties"]["principalId"])


def test_each_state_gets_a_table_its_setting_and_the_role_its_functions_need(
    provider: Any, stateful: App, arm: Any, azurite: str
) -> None:
    outcome = pipeline.deploy(provider, stateful, "dev")
    account = account_of(provider, stateful)
    tables = {name: table_name(name) for name in ("orders", "audit-log", "prices")}
    assert {s.resource.name for s in outcome.plan.steps if s.resource.kind == "state table"} == {
        f"{account}/{t}" for t in tables.values()
    }
    for table in tables.values():  # through ARM (held to Table_Create's schema), and on Azurite's data plane
        arm.get(f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{account}/tableServices/default/tables/{table}")
    assert {t.name for t in TableServiceClient.from_connection_string(azurite).list_tables()} == set(tables.values())

    site = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{provider.deployer.names(stateful, 'dev').function_app}")
    take, show = (own_principal(arm, provider, stateful, f) for f in ("take_order", "show_order"))
    # each function's own identity holds its own declaration: take_order writes orders, show_order only reads it
    assert table_roles(arm, account, tables["orders"]) == {(WRITER, take), (READER, show)}
    assert table_roles(arm, account, tables["audit-log"]) == {(WRITER, take)}
    assert table_roles(arm, account, tables["prices"]) == {(READER, show)}
    assert site["identity"]["principalId"] not in {
        who for t in tables.values() for _, who in table_roles(arm, account, t)
    }
    assert site["identity"]["type"] == "SystemAssigned, UserAssigned"
    assert len(site["identity"]["userAssignedIdentities"]) == 2  # ping declares nothing: no identity

    settings = arm.get(f"{site['id']}/config/appsettings")["properties"]
    endpoint = azurite.split("TableEndpoint=")[1].split(";")[0]
    assert {k: v for k, v in settings.items() if k.startswith("PORTABLE_FN_STATE_")} == {
        locator_env(name): f"{endpoint}/{table}" for name, table in tables.items()
    }
    assert "PORTABLE_FN_TABLES_CONNECTION" not in settings  # the identity reaches the tables

    remote = provider.deployer.read_remote(stateful, "dev")
    assert provider.deployer.outputs(stateful, "dev", remote)["states"] == tables  # what `info` shows

    provider.deployer.client.calls.clear()
    assert pipeline.deploy(provider, stateful, "dev").plan.empty
    assert provider.deployer.client.mutating_calls() == []


def test_remove_keeps_a_table_holding_entities_with_its_account_and_group_unless_told(
    provider: Any, stateful: App, arm: Any, azurite: str, monkeypatch: pytest.MonkeyPatch, helpers: Any
) -> None:
    pipeline.deploy(provider, stateful, "dev")
    site = provider.deployer.names(stateful, "dev").function_app
    settings = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{site}/config/appsettings")["properties"]
    monkeypatch.setenv("PORTABLE_FN_TABLES_CONNECTION", azurite)
    open_backend("orders", settings[locator_env("orders")]).write(Record("o-1", '{"n":1}', "v1"))

    kept = pipeline.remove(provider, stateful, "dev").plan
    account = account_of(provider, stateful)
    assert {(r.kind, r.name) for r in kept.kept} == {
        ("state table", f"{account}/{table_name('orders')}"),
        ("storage account", account),
        ("resource group", "stateful-dev-rg"),
    }
    assert len(kept.kept_lines()) == 3 and all("--delete-data" in line for line in kept.kept_lines())
    assert {t.name for t in TableServiceClient.from_connection_string(azurite).list_tables()} == {table_name("orders")}
    arm.get(f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{account}")  # still there, its tables in it
    assert open_backend("orders", settings[locator_env("orders")]).read("o-1") is not None

    gone = pipeline.remove(provider, stateful, "dev", delete_data=True).plan
    assert not gone.kept and list(TableServiceClient.from_connection_string(azurite).list_tables()) == []
    # all but the audit trail's group and account, which outlive the stage
    assert {key: found["tags"] for key, found in arm.state.resources.items()} == helpers.audit_trail("stateful", "dev")


def test_the_hosts_own_tables_are_not_read_as_state(provider: Any, stateful: App, arm: Any) -> None:
    pipeline.deploy(provider, stateful, "dev")
    account = account_of(provider, stateful)
    provider.deployer.client.storage.table.create(
        "stateful-dev-rg", account, "AzureFunctionsDiagnosticEvents202612", {"properties": {}}
    )
    remote = provider.deployer.read_remote(stateful, "dev")
    assert sorted(r.name for r in remote if isinstance(r, StateTable)) == sorted(
        f"{account}/{table_name(n)}" for n in ("orders", "audit-log", "prices")
    )


def test_with_a_connection_string_the_tables_get_it_and_no_role(
    arm: Any, blobs: Any, stateful: App, certificate: Any, azurite: str, helpers: Any
) -> None:
    settings = helpers.settings_for(stateful, "dev", certificate, azurite, storage_auth="connection_string")
    provider = helpers.ArmProvider(settings, arm.url)
    outcome = pipeline.deploy(provider, stateful, "dev")
    assert "role assignment" not in {s.resource.kind for s in outcome.plan.steps}
    site = provider.deployer.names(stateful, "dev").function_app
    written = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{site}/config/appsettings")["properties"]
    assert written["PORTABLE_FN_TABLES_CONNECTION"] == azurite
    assert pipeline.plan(provider, stateful, "dev").plan.empty  # read back as the marker, not a change


# -- the grants, as generated (no endpoint) -----------------------------------------------------------------
def test_generated_table_grants_are_exactly_the_declared_uses(stateful: App) -> None:
    """No wildcard and no account-wide table role: every table role is scoped to one named state table of a
    declared state, the writer only where some function declared a write, and no state undeclared."""
    deployer = AzureDeployer({"subscription_id": SUB.rsplit("/", 1)[-1], "location": "westeurope"})
    resources = deployer.desired(stateful, "dev", Artifact(Path("/tmp/app.zip"), "ab" * 32, 10, 1))
    names = deployer.names(stateful, "dev")
    table_grants = [r for r in resources if isinstance(r, RoleAssignment) and r.role_definition_id in (READER, WRITER)]
    wanted = {  # (function, its identity, table, role): each function's own declaration, nothing of another's
        (s.name, names.identity(s.name), names.table_id(table_name(u.resource.name)), WRITER if u.writes else READER)
        for s in stateful.functions
        for u in s.options.uses
    }
    found = [(r.function, r.principal.rsplit(":", 1)[-1], r.scope, r.role_definition_id) for r in table_grants]
    assert sorted(found) == sorted(wanted)
    declared = {u.resource.name for s in stateful.functions for u in s.options.uses}
    for grant in table_grants:
        assert "*" not in grant.scope and grant.scope.rsplit("/", 1)[-1] in {table_name(n) for n in declared}
        assert grant.scope.startswith(names.account_id + "/tableServices/default/tables/")


# The grants `plan` lists, read back from the fake ARM: after a deploy none is added or taken away; a use
# going from read to write swaps that table's role for the function app's identity and nothing else.


def planned_grants(provider: Any, app: App) -> Any:
    desired = provider.desired(app, "dev", pipeline.package(provider, app, "dev").artifact)
    return grant_changes(grants(list(provider.read_remote(app, "dev"))), grants(desired))


def test_what_deploy_granted_reads_back_unchanged(provider: Any, stateful: App) -> None:
    before = planned_grants(provider, stateful)
    assert before.kept == () and len(before.added) >= 2
    pipeline.deploy(provider, stateful, "dev")
    after = planned_grants(provider, stateful)
    assert (after.added, after.removed) == ((), ())
    assert sorted(after.kept, key=repr) == sorted(before.added, key=repr)


def test_a_use_going_from_read_to_write_swaps_that_tables_role_only(provider: Any, stateful: App) -> None:
    pipeline.deploy(provider, stateful, "dev")
    copy = shutil.copytree(
        stateful.root, stateful.root.with_name("changed"), ignore=shutil.ignore_patterns("__pycache__")
    )
    source = next(p for p in copy.rglob("*.py") if "prices.read()" in p.read_text())
    source.write_text(source.read_text().replace("prices.read()", "prices.write()"))
    changes = planned_grants(provider, load_app(copy))
    assert [g.resource.rsplit("/", 1)[-1] for g in changes.removed] == [
        g.resource.rsplit("/", 1)[-1] for g in changes.added
    ]
    assert len(changes.added) == 1 and "/tables/pfsprices" in changes.added[0].resource
    assert (changes.removed[0].actions, changes.added[0].actions) == (
        STATE_READER.data_actions,
        STATE_WRITER.data_actions,
    )
    assert "Microsoft.Storage/storageAccounts/tableServices/tables/entities/write" in changes.added[0].actions
