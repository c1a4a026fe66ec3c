"""What an app's role assignments grant on Azure (`AzureProvider.grants`), read from the desired resources: for
the shop and every test app that declares `uses=`, and with its channels on Service Bus: every grant a
declaration explains is a custom role of exact actions (no wildcard) on the one resource declared (a table, a
queue, a topic, a Service Bus entity, a secret), the narrowest for the use (read only for a state only read),
held by the own identity of the function that declared it and traced back to that function's declaration
(function X holds exactly what X declared, nothing another function declared); every declaration honoured.
The only other grants are the platform's own, each labelled with its reason and checked apart: Microsoft's
built-in roles the Functions host needs on the app's own storage account (their wildcards are Microsoft's, on
that one account)."""

from __future__ import annotations

from pathlib import Path

import pytest
from portable_fn_azure.deploy import AzureDeployer, queue_name
from portable_fn_azure.deploy.desired import transport_of
from portable_fn_azure.deploy.naming import Names, container_name, table_name
from portable_fn_azure.deploy.resources import RoleDefinition
from portable_fn_azure.provider import AzureProvider

from portable_fn.app import App, load_app
from portable_fn.deploy import Artifact, Resource
from portable_fn.deploy.grants import Grant
from portable_fn.runtime import channels
from portable_fn.runtime.buckets import Bucket
from portable_fn.runtime.secrets import Secret
from portable_fn.runtime.state import State
from portable_fn.runtime.triggers import Storage

from ....grants_contract import untraced, unused

REPO = Path(__file__).resolve().parents[4]
APPS = [
    REPO / "samples" / "shop",
    REPO / "samples" / "telemetry",
    REPO / "samples" / "saas",
    REPO / "tests" / "apps" / "flow",
    REPO / "tests" / "apps" / "emitter",
    REPO / "tests" / "providers" / "azure" / "apps" / "stateful",
    REPO / "tests" / "providers" / "azure" / "apps" / "sender",
    REPO / "tests" / "providers" / "azure" / "apps" / "fifo_sender",
    REPO / "tests" / "providers" / "azure" / "apps" / "keyed",
    REPO / "tests" / "providers" / "azure" / "apps" / "filing",
]
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
BUS_NAMESPACE = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/messaging/providers/Microsoft.ServiceBus/namespaces/bus"
ON_SERVICE_BUS = {"queue_transport": "service_bus", "topic_transport": "service_bus"}
ARTIFACT = Artifact(Path("/tmp/app.zip"), "ab" * 32, 10, 1)
FUNCTION = "@portable-fn:function-identity:"  # a function's own identity, then its name (`Names.identity`)

# The exact actions each declared use needs, spelled here from Microsoft's resource provider operations
# (independent of the code under test): what the runtime's calls do, nothing more.
ENTITIES = "Microsoft.Storage/storageAccounts/tableServices/tables/entities"
READ_STATE = frozenset({f"{ENTITIES}/read"})
WRITE_STATE = READ_STATE | {f"{ENTITIES}/{a}" for a in ("add/action", "update/action", "write", "delete")}
BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
READ_BUCKET = frozenset({f"{BLOBS}/read"})  # Get Blob and List Blobs
WRITE_BUCKET = READ_BUCKET | {f"{BLOBS}/{a}" for a in ("write", "add/action", "delete")}  # Put Blob: write or add
SEND_QUEUE = frozenset({"Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action"})
SEND_TOPIC = frozenset({"Microsoft.EventGrid/events/send/action"})
SEND_BUS = frozenset({"Microsoft.ServiceBus/namespaces/messages/send/action"})
SECRETS = "Microsoft.KeyVault/vaults/secrets"
READ_SECRET = frozenset({f"{SECRETS}/getSecret/action"})
SET_SECRETS = frozenset({f"{SECRETS}/{a}" for a in ("getSecret/action", "setSecret/action", "readMetadata/action")})
OFFICER = SET_SECRETS | {f"{SECRETS}/delete", f"{SECRETS}/recover/action"}  # `portable-fn secrets set|list|remove`
Allowed = dict[tuple[str | None, str], tuple[frozenset[str], str]]


def desired_of(app: App, **settings: str) -> list[Resource]:
    deployer = AzureDeployer(
        {
            "location": "westeurope",
            **app.config.provider_settings("azure", "dev"),
            "subscription_id": SUBSCRIPTION,
            **settings,
        }
    )
    return deployer.desired(app, "dev", ARTIFACT)


def grants_of(app: App, **settings: str) -> list[Grant]:
    return AzureProvider().grants(desired_of(app, **settings))


def declared(grants: list[Grant]) -> list[Grant]:
    """The grants a declaration must explain: all but the platform's own (`Grant.platform`)."""
    return [g for g in grants if not g.platform]


def allowed(app: App, bus_namespace: str = "") -> Allowed:
    """What each function's declarations allow it, built from the app alone (ids from `Names`, actions spelled
    here): keyed by (function, resource), so a grant to one function of what another declared is not allowed."""
    names = Names(app.name, "dev", SUBSCRIPTION)
    out: Allowed = {}
    if app.secrets:
        out[(None, names.vault_id)] = (OFFICER, "the deploying principal sets the secrets (`portable-fn secrets`)")
    for spec in app.functions:
        for use in app.options(spec).uses:
            why, found = f"{spec.name} uses {use}", use.resource
            if isinstance(found, State):
                resource = names.table_id(table_name(found.name))
                out[(spec.name, resource)] = (WRITE_STATE if use.writes else READ_STATE, why)
            elif isinstance(found, Bucket):
                resource = names.container_id(container_name(found.name))
                out[(spec.name, resource)] = (WRITE_BUCKET if use.writes else READ_BUCKET, why)
            elif isinstance(found, Secret):
                out[(spec.name, names.secret_id(found.name))] = (READ_SECRET, why)
            elif isinstance(found, channels.Channel):
                transport = transport_of(app, found)
                if transport == "event_grid":
                    out[(spec.name, names.topic_id(names.topic(found.name)))] = (SEND_TOPIC, why)
                elif transport == "storage_queue":
                    out[(spec.name, names.queue_id(queue_name(found.name)))] = (SEND_QUEUE, why)
                elif bus_namespace:
                    kind = "topics" if found.kind == channels.TOPIC else "queues"
                    out[(spec.name, f"{bus_namespace}/{kind}/{queue_name(found.name)}")] = (SEND_BUS, why)
    return out


def host_roles(app: App) -> set[str]:
    """The built-in roles the Functions host needs on the app's own account: blobs and queues, and the account
    itself for blob triggers (Microsoft's documented need on an identity connection)."""
    roles = {"Storage Blob Data Owner", "Storage Queue Data Contributor"}
    if any(isinstance(s.trigger, Storage) and s.trigger.on == "created" for s in app.functions):
        roles.add("Storage Account Contributor")
    return roles


@pytest.fixture(params=APPS, ids=lambda p: p.name)
def app(request: pytest.FixtureRequest) -> App:
    return load_app(request.param)


def test_every_declared_grant_is_exact_named_and_traced_to_its_declaration(app: App) -> None:
    grants = declared(grants_of(app))
    assert untraced(grants, allowed(app)) == []  # no wildcard, no unnamed resource, nothing undeclared
    assert unused(grants, allowed(app)) == []
    assert [g.describe() for g in grants if set(g.actions) != allowed(app)[(g.function, g.resource)][0]] == []
    assert [g.describe() for g in grants if g.role is not None] == []  # custom roles: the actions are the grant
    names = Names(app.name, "dev", SUBSCRIPTION)
    assert [  # each held by its function's own identity (the deployer's on the vault is the app's)
        g.describe()
        for g in grants
        if g.principal != ("@portable-fn:deployer" if g.function is None else f"{FUNCTION}{names.identity(g.function)}")
    ] == []


# The apps where more than one function declares a use (in fifo_sender one function declares them all)
SHARED = [path for path in APPS if path.name != "fifo_sender"]


@pytest.mark.parametrize("path", SHARED, ids=lambda p: p.name)
def test_no_function_holds_what_only_another_declared(path: Path) -> None:
    """The per-function check can fail: the union of the app's grants given to each function's identity (what one
    identity for the whole app amounted to) is named for every function that did not declare that much."""
    app = load_app(path)
    grants = [g for g in declared(grants_of(app)) if g.function is not None]
    functions = sorted({g.function for g in grants if g.function is not None})
    assert len(functions) >= 2, f"{path.name}: one function declares every use; leave it out of SHARED"
    union = [Grant(f, g.principal, g.actions, g.resource) for f in functions for g in grants if g.function != f]
    table = allowed(app)
    wrong = [g for g in union if not set(g.actions) <= table.get((g.function, g.resource), (frozenset(), ""))[0]]
    assert wrong
    assert untraced(wrong, table) == [f"not declared: {g.describe()}" for g in wrong]


def test_the_platforms_own_grants_are_the_hosts_built_in_roles_on_its_own_account_each_with_its_reason(
    app: App,
) -> None:
    names = Names(app.name, "dev", SUBSCRIPTION)
    platform = [g for g in grants_of(app) if g.platform]
    assert sorted((g.role or "", g.resource) for g in platform) == sorted(
        (role, names.account_id) for role in host_roles(app)
    )
    assert all("Functions host" in g.platform and "(for the platform: " in g.describe() for g in platform)


def test_on_service_bus_each_entity_sent_to_is_granted_send_alone_by_a_role_assignable_in_that_namespace() -> None:
    app = load_app(REPO / "tests" / "providers" / "azure" / "apps" / "sender")
    app.config = app.config.model_copy(update={"azure": {**app.config.azure, **ON_SERVICE_BUS}})
    resources = desired_of(app, service_bus_namespace_id=BUS_NAMESPACE)
    grants = declared(AzureProvider().grants(resources))
    assert untraced(grants, allowed(app, BUS_NAMESPACE)) == []
    assert unused(grants, allowed(app, BUS_NAMESPACE)) == []
    bus_grants = [g for g in grants if g.resource.startswith(BUS_NAMESPACE + "/")]
    assert {g.resource.rsplit("/", 2)[-2] for g in bus_grants} == {"queues", "topics"}
    assert {frozenset(g.actions) for g in bus_grants} == {SEND_BUS}
    (bus,) = [r for r in resources if isinstance(r, RoleDefinition) and "ServiceBus" in str(r.data_actions)]
    assert (bus.actions, bus.data_actions, bus.assignable_scopes) == ((), tuple(SEND_BUS), (BUS_NAMESPACE,))


def test_each_custom_role_is_exact_assignable_in_the_apps_group_alone_and_the_same_on_every_run(app: App) -> None:
    names = Names(app.name, "dev", SUBSCRIPTION)
    definitions = [r for r in desired_of(app) if isinstance(r, RoleDefinition)]
    assert definitions == [r for r in desired_of(app) if isinstance(r, RoleDefinition)]  # same GUIDs: a no-op
    group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{names.resource_group}"
    for role in definitions:
        assert [a for a in role.actions + role.data_actions if "*" in a] == []
        assert role.assignable_scopes == (group,)
        assert role.definition_id.startswith(f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/")
        assert app.name in role.name and role.name.startswith("portable-fn ")
    assert len({r.definition_id for r in definitions}) == len({r.name for r in definitions}) == len(definitions)


def test_a_state_only_read_is_granted_entity_reads_on_its_table_alone() -> None:
    app = load_app(REPO / "tests" / "providers" / "azure" / "apps" / "stateful")
    names = Names(app.name, "dev", SUBSCRIPTION)
    tables = {
        (g.function, g.resource.rsplit("/", 1)[-1]): set(g.actions) for g in grants_of(app) if "/tables/" in g.resource
    }
    assert tables == {  # take_order writes orders and the audit log; show_order reads orders and prices
        ("take_order", table_name("orders")): WRITE_STATE,
        ("take_order", table_name("audit-log")): WRITE_STATE,
        ("show_order", table_name("orders")): READ_STATE,
        ("show_order", table_name("prices")): READ_STATE,
    }
    on_tables = [g for g in grants_of(app) if "/tables/" in g.resource]
    assert all(g.resource.startswith(names.account_id + "/tableServices/default/tables/") for g in on_tables)


def test_each_secret_is_granted_alone_to_its_readers_own_identities_and_the_vault_to_the_deployer_only() -> None:
    app = load_app(REPO / "tests" / "providers" / "azure" / "apps" / "keyed")
    names = Names(app.name, "dev", SUBSCRIPTION)
    vault = [g for g in grants_of(app) if g.resource.startswith(names.vault_id)]
    readers = [(f.name, s.name) for s in app.secrets for f in app.readers(s)]
    assert sorted((g.function or "", g.principal, g.resource, frozenset(g.actions)) for g in vault) == sorted(
        [("", "@portable-fn:deployer", names.vault_id, OFFICER)]
        + [(f, FUNCTION + names.identity(f), names.secret_id(s), READ_SECRET) for f, s in readers]
    )
    # both read stripe-key; webhook-secret is granted to the one function that declares it
    assert sorted(readers) == [("charge", "stripe-key"), ("charge", "webhook-secret"), ("refund", "stripe-key")]
    # an app without secrets gets no vault and no role on one
    plain = load_app(REPO / "tests" / "providers" / "azure" / "apps" / "stateful")
    assert [g for g in grants_of(plain) if "KeyVault" in g.resource + " ".join(g.actions)] == []


def test_a_grant_nothing_declares_or_a_wildcard_is_named() -> None:
    """The checks above can fail: a wildcard, a wider action set or an undeclared resource is each named."""
    app = load_app(REPO / "tests" / "providers" / "azure" / "apps" / "stateful")
    reader = next(g for g in declared(grants_of(app)) if set(g.actions) == READ_STATE)
    wider = Grant(reader.function, reader.principal, (*reader.actions, f"{ENTITIES}/write"), reader.resource)
    wildcard = Grant(reader.function, reader.principal, (f"{ENTITIES}/*",), reader.resource)
    elsewhere = Grant(reader.function, reader.principal, reader.actions, reader.resource + "x")
    assert untraced([wider, wildcard, elsewhere], allowed(app)) == [
        f"not declared: {wider.describe()}",
        f"wildcard action ('{ENTITIES}/*',): {wildcard.describe()}",
        f"not declared: {wildcard.describe()}",
        f"not declared: {elsewhere.describe()}",
    ]


def test_a_bucket_only_read_is_granted_blob_reads_on_its_container_alone() -> None:
    app = load_app(REPO / "tests" / "providers" / "azure" / "apps" / "filing")
    names = Names(app.name, "dev", SUBSCRIPTION)
    containers = {
        (g.function, g.resource.rsplit("/", 1)[-1]): set(g.actions)
        for g in grants_of(app)
        if "/containers/" in g.resource
    }
    assert containers == {  # summarise reads uploads and writes reports; listing reads, upload writes uploads
        ("summarise", container_name("uploads")): READ_BUCKET,
        ("summarise", container_name("reports")): WRITE_BUCKET,
        ("listing", container_name("uploads")): READ_BUCKET,
        ("upload", container_name("uploads")): WRITE_BUCKET,
    }
    on_containers = [g for g in grants_of(app) if "/containers/" in g.resource]
    assert all(g.resource.startswith(names.account_id + "/blobServices/default/containers/") for g in on_containers)


def test_a_read_only_function_given_a_buckets_write_is_named() -> None:
    """The checks above can fail for buckets: the writer's role on `uploads` handed to `listing`, which only
    reads it, or a grant on the whole account instead of the container, is each named."""
    app = load_app(REPO / "tests" / "providers" / "azure" / "apps" / "filing")
    names = Names(app.name, "dev", SUBSCRIPTION)
    reader = next(g for g in declared(grants_of(app)) if g.function == "listing")
    wrote = Grant(reader.function, reader.principal, tuple(sorted(WRITE_BUCKET)), reader.resource)
    account_wide = Grant(reader.function, reader.principal, reader.actions, names.account_id)
    assert untraced([wrote, account_wide], allowed(app)) == [
        f"not declared: {wrote.describe()}",
        f"not declared: {account_wide.describe()}",
    ]
