"""What an app's role assignments grant on Azure (`AzureProvider.grants`), read from the desired resources: for
the shop and every test app that declares `uses=`, every scope one resource (the storage account only for the
host's own roles, with the reason), the narrowest built-in role for each use (a reader for a state only read,
a message sender for a queue), wildcards only inside the Microsoft roles listed below, and each grant traced
back to a declared use, a trigger or the host; and every declaration honoured."""

from __future__ import annotations

from pathlib import Path

import pytest
from portable_fn_azure.deploy import AzureDeployer, queue_name
from portable_fn_azure.deploy.desired import transport_of
from portable_fn_azure.deploy.naming import Names, table_name
from portable_fn_azure.provider import AzureProvider

from portable_fn.app import App, load_app
from portable_fn.deploy import Artifact
from portable_fn.deploy.grants import Grant
from portable_fn.runtime.triggers import Storage

from ....grants_contract import untraced, unused

REPO = Path(__file__).resolve().parents[4]
APPS = [
    REPO / "samples" / "shop",
    REPO / "samples" / "telemetry",
    REPO / "tests" / "apps" / "flow",
    REPO / "tests" / "apps" / "emitter",
    REPO / "tests" / "providers" / "azure" / "apps" / "stateful",
    REPO / "tests" / "providers" / "azure" / "apps" / "sender",
    REPO / "tests" / "providers" / "azure" / "apps" / "fifo_sender",
    REPO / "tests" / "providers" / "azure" / "apps" / "keyed",
]
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
ARTIFACT = Artifact(Path("/tmp/app.zip"), "ab" * 32, 10, 1)
HOST = "the Functions host keeps its leases, keys, packages and trigger queues across the app's own storage account"
# Built-in roles whose Microsoft definition holds wildcards, each bounded by the one scope it is assigned on.
WILDCARD_ROLES = {
    "Storage Blob Data Owner": "containers/* and blobs/* of the app's own storage account: " + HOST,
    "Storage Account Contributor": "Microsoft's documented need of blob triggers on an identity connection; "
    "its Microsoft.Storage/storageAccounts/* is the app's own account",
    "EventGrid Data Sender": "Microsoft.Authorization/*/read on the one topic: reading its role assignments",
    "Azure Service Bus Data Sender": "*/send/action on the one queue or topic entity",
    "Key Vault Secrets Officer": "secrets/* of the app's own vault, for the deploying principal: what "
    "`portable-fn secrets set|list|remove` does",
}
QUEUE_SENDER = frozenset({"Storage Queue Data Message Sender"})
TOPIC_SENDER = frozenset({"EventGrid Data Sender"})
Allowed = dict[tuple[str | None, str], tuple[frozenset[str], str]]


def grants_of(app: App) -> list[Grant]:
    settings = {
        "location": "westeurope",
        **app.config.provider_settings("azure", "dev"),
        "subscription_id": SUBSCRIPTION,
    }
    deployer = AzureDeployer(settings)
    return AzureProvider().grants(deployer.desired(app, "dev", ARTIFACT))


def allowed(app: App) -> Allowed:
    """What the app's declarations allow, built from the app alone (ids from `Names`, roles spelled here)."""
    names = Names(app.name, "dev", SUBSCRIPTION)
    host = {"Storage Blob Data Owner", "Storage Queue Data Contributor"}
    if any(isinstance(s.trigger, Storage) and s.trigger.on == "created" for s in app.functions):
        host.add("Storage Account Contributor")
    out: Allowed = {(None, names.account_id): (frozenset(host), HOST)}
    for state in app.states:
        writes = any(u.writes for s in app.functions for u in app.options(s).uses if u.resource is state)
        role = "Storage Table Data Contributor" if writes else "Storage Table Data Reader"
        out[(None, names.table_id(table_name(state.name)))] = (frozenset({role}), f"uses {state}")
    if app.secrets:
        officer = "the deploying principal sets the secrets (`portable-fn secrets set`)"
        out[(None, names.vault_id)] = (frozenset({"Key Vault Secrets Officer"}), officer)
    for secret in app.secrets:
        readers = ", ".join(f.name for f in app.readers(secret))
        out[(None, names.secret_id(secret.name))] = (frozenset({"Key Vault Secrets User"}), f"read by {readers}")
    for channel in app.channels:
        if transport_of(app, channel) == "event_grid":
            out[(None, names.topic_id(names.topic(channel.name)))] = (TOPIC_SENDER, f"sends to {channel}")
        else:
            out[(None, names.queue_id(queue_name(channel.name)))] = (QUEUE_SENDER, f"sends to {channel}")
    return out


@pytest.fixture(params=APPS, ids=lambda p: p.name)
def app(request: pytest.FixtureRequest) -> App:
    return load_app(request.param)


def test_every_grant_traces_to_a_declaration_and_names_its_scope(app: App) -> None:
    grants = grants_of(app)
    assert untraced(grants, allowed(app), wildcard_roles=WILDCARD_ROLES) == []
    assert unused(grants, allowed(app)) == []
    names = Names(app.name, "dev", SUBSCRIPTION)
    # no subscription or resource group scope; the whole storage account only for the host's roles (`allowed`)
    assert [
        g.describe()
        for g in grants
        if g.resource.count("/") <= f"/subscriptions/{SUBSCRIPTION}/resourceGroups/g".count("/")
    ] == []
    assert {g.role for g in grants if g.resource == names.account_id} <= allowed(app)[(None, names.account_id)][0]


def test_a_state_only_read_gets_the_table_reader_role_on_its_table_alone() -> None:
    app = load_app(REPO / "tests" / "providers" / "azure" / "apps" / "stateful")
    names = Names(app.name, "dev", SUBSCRIPTION)
    tables = {g.resource.rsplit("/", 1)[-1]: g for g in grants_of(app) if "/tables/" in g.resource}
    roles = {table: g.role for table, g in tables.items()}
    writes = {s.name for f in app.functions for u in app.options(f).uses if u.writes for s in [u.resource]}
    assert roles == {
        table_name(state.name): "Storage Table Data Contributor"
        if state.name in writes
        else "Storage Table Data Reader"
        for state in app.states
    }
    assert "Storage Table Data Reader" in roles.values()
    reader = next(g for g in tables.values() if g.role == "Storage Table Data Reader")
    assert reader.actions == (
        "Microsoft.Storage/storageAccounts/tableServices/tables/read",
        "Microsoft.Storage/storageAccounts/tableServices/tables/entities/read",
    )
    assert reader.resource.startswith(names.account_id + "/tableServices/default/tables/")


def test_each_secret_is_granted_alone_to_the_apps_identity_and_the_vault_to_the_deployer_only() -> None:
    app = load_app(REPO / "tests" / "providers" / "azure" / "apps" / "keyed")
    names = Names(app.name, "dev", SUBSCRIPTION)
    vault = [g for g in grants_of(app) if g.resource.startswith(names.vault_id)]
    assert sorted((g.principal, g.role, g.resource) for g in vault) == [
        ("@portable-fn:deployer", "Key Vault Secrets Officer", names.vault_id),
        ("@portable-fn:function-app-identity", "Key Vault Secrets User", names.secret_id("stripe-key")),
        ("@portable-fn:function-app-identity", "Key Vault Secrets User", names.secret_id("webhook-secret")),
    ]
    reader = next(g for g in vault if g.role == "Key Vault Secrets User")
    assert reader.actions == (
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    )
    # an app without secrets gets no vault and no Key Vault role
    plain = load_app(REPO / "tests" / "providers" / "azure" / "apps" / "stateful")
    assert [g for g in grants_of(plain) if "KeyVault" in g.resource or (g.role or "").startswith("Key Vault")] == []
