"""Deploying an app that uses states: one Firestore database per state with its TTL policy, the locator on
each function that declares the state, and the app's account granted read or write on that database only
(an IAM condition on the database's name). Against the recording endpoint, held to firestore.v1's and
cloudresourcemanager.v3's Discovery documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline

from ....app_copy import copy_app

PROJECT, REGION = "shop-project", "europe-west1"
ACCOUNT = "stateful-runtime@shop-project.iam.gserviceaccount.com"
STATEFUL = Path(__file__).with_name("apps") / "stateful"
DB = f"projects/{PROJECT}/databases/stateful-dev"
FUNCTIONS = f"projects/{PROJECT}/locations/{REGION}/functions/stateful-dev"


@pytest.fixture
def app(tmp_path: Path) -> App:
    return load_app(copy_app(STATEFUL, tmp_path / "app"))  # deploys write into the app's directory


@pytest.fixture
def provider(google: Any, google_server: Any, helpers: Any, app: App) -> Any:
    settings = {**app.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01}
    return helpers.RecordingProvider({**settings, "service_account": ACCOUNT}, google_server.url)


def env(google: Any, function_id: str) -> dict[str, str]:
    return dict(google.functions[f"{FUNCTIONS}-{function_id}"]["serviceConfig"]["environmentVariables"])


def state_bindings(google: Any) -> list[dict[str, Any]]:
    return [b for b in google.project_policy(PROJECT)["bindings"] if b["role"].startswith("roles/datastore.")]


def test_each_state_gets_its_database_with_a_ttl_policy(provider: Any, app: App, google: Any) -> None:
    pipeline.deploy(provider, app, "dev")
    assert sorted(google.databases) == [f"{DB}-audit", f"{DB}-orders", f"{DB}-pfn-idempotency"]
    for database in google.databases.values():
        assert (database["locationId"], database["type"]) == (REGION, "FIRESTORE_NATIVE")
    assert google.fields[f"{DB}-orders/collectionGroups/items/fields/expires_at"]["ttlConfig"] == {"state": "ACTIVE"}
    assert google.answer_problems == []


def test_only_the_functions_that_declare_a_state_are_told_where_it_is(provider: Any, app: App, google: Any) -> None:
    pipeline.deploy(provider, app, "dev")
    orders, audit = f"{DB}-orders/documents/items", f"{DB}-audit/documents/items"
    assert env(google, "create-order")["PORTABLE_FN_STATE_ORDERS"] == orders
    assert "PORTABLE_FN_STATE_AUDIT" not in env(google, "create-order")
    assert {k: v for k, v in env(google, "fulfil").items() if k.startswith("PORTABLE_FN_STATE_")} == {
        "PORTABLE_FN_STATE_ORDERS": orders,
        "PORTABLE_FN_STATE_AUDIT": audit,
    }
    assert not [k for k in env(google, "notify") if k.startswith("PORTABLE_FN_STATE_")]


def test_grants_are_what_the_functions_declare_each_limited_to_its_database(
    provider: Any, app: App, google: Any
) -> None:
    pipeline.deploy(provider, app, "dev")
    member = f"serviceAccount:{ACCOUNT}"
    found = {(b["role"], b["condition"]["expression"]): b["members"] for b in state_bindings(google)}
    assert found == {
        ("roles/datastore.user", f'resource.name == "{DB}-orders"'): [member],  # create_order writes it
        ("roles/datastore.viewer", f'resource.name == "{DB}-audit"'): [member],  # fulfil only reads it
        ("roles/datastore.user", f'resource.name == "{DB}-pfn-idempotency"'): [member],  # charge is idempotent
    }
    # (the fake refuses a conditional binding unless the policy is set as version 3, as Google does)
    # no Firestore role without a condition naming a state's database, for anyone
    assert all(
        b.get("condition", {}).get("expression", "").startswith('resource.name == "') for b in state_bindings(google)
    )


def test_plan_shows_the_databases_and_grants_and_a_second_deploy_changes_nothing(
    provider: Any, app: App, google: Any
) -> None:
    planned = [s.describe() for s in pipeline.plan(provider, app, "dev").plan.steps]
    assert "+ create firestore database stateful-dev-orders" in planned
    assert "+ create state access grant stateful-dev-audit" in planned
    pipeline.deploy(provider, app, "dev")
    again = pipeline.plan(provider, app, "dev")
    assert again.plan.empty, [s.describe() for s in again.plan.steps]


def test_without_an_app_account_each_function_s_own_gets_exactly_its_access(
    google: Any, google_server: Any, helpers: Any, app: App
) -> None:
    settings = {**app.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01}
    provider = helpers.RecordingProvider(settings, google_server.url)
    pipeline.deploy(provider, app, "dev")
    own = {
        fn: f"serviceAccount:stateful-dev-{fn}@{PROJECT}.iam.gserviceaccount.com"
        for fn in ("create-order", "fulfil", "charge")
    }
    found = {(b["role"], b["condition"]["expression"]): b["members"] for b in state_bindings(google)}
    assert found == {
        ("roles/datastore.user", f'resource.name == "{DB}-orders"'): [own["create-order"]],  # it writes orders
        ("roles/datastore.viewer", f'resource.name == "{DB}-orders"'): [own["fulfil"]],  # fulfil only reads them
        ("roles/datastore.viewer", f'resource.name == "{DB}-audit"'): [own["fulfil"]],
        ("roles/datastore.user", f'resource.name == "{DB}-pfn-idempotency"'): [own["charge"]],
    }
    planned = [s.describe() for s in pipeline.plan(provider, app, "dev").plan.steps]
    assert planned == []


def test_remove_keeps_a_database_holding_documents_unless_told_to_delete_data(
    provider: Any, app: App, google: Any
) -> None:
    pipeline.deploy(provider, app, "dev")
    google.documents[f"{DB}-orders"] = 3
    messages: list[str] = []
    pipeline.remove(provider, app, "dev", messages.append)
    assert list(google.databases) == [f"{DB}-orders"]  # the empty ones went
    assert any("stateful-dev-orders" in m and "--delete-data" in m for m in messages), messages
    pipeline.remove(provider, app, "dev", delete_data=True)
    assert google.databases == {} and state_bindings(google) == []


def test_every_generated_grant_is_declared_and_names_its_database(app: App) -> None:
    """Pure: the grants `desired` makes are exactly one per state some function uses, at the access the functions
    declare (write wins), each on a database `desired` also makes; nothing else touches Firestore."""
    from portable_fn_gcp.deploy.desired import Target, desired
    from portable_fn_gcp.deploy.naming import Names
    from portable_fn_gcp.deploy.resources import StateDatabase, StateGrant
    from portable_fn_gcp.settings import GcpSettings

    from portable_fn.deploy import Artifact

    names = Names("stateful", "dev", PROJECT, REGION)
    artifact = Artifact(Path("source.zip"), "0" * 64, 1, 1)
    found = desired(Target(app, "dev", names, artifact, GcpSettings(service_account=ACCOUNT)))
    databases = {r.name for r in found if isinstance(r, StateDatabase)}
    grants = {r.name: r for r in found if isinstance(r, StateGrant)}
    declared: dict[str, str] = {}
    for spec in app.functions:
        for use in app.options(spec).uses:
            name = names.database(use.resource.name)
            declared[name] = "write" if use.writes or declared.get(name) == "write" else "read"
    assert set(grants) == set(declared) == databases
    for name, grant in grants.items():
        assert grant.role == {"write": "roles/datastore.user", "read": "roles/datastore.viewer"}[declared[name]]
        assert grant.database == f"projects/{PROJECT}/databases/{name}" and grant.member == f"serviceAccount:{ACCOUNT}"
        assert grant.condition["expression"] == f'resource.name == "{grant.database}"'


def test_outputs_name_each_states_database_and_where_dead_letters_are_kept(provider: Any, app: App) -> None:
    pipeline.deploy(provider, app, "dev")
    out = pipeline.info(provider, app, "dev").outputs
    assert out["states"]["orders"] == {"database": f"{DB}-orders", "collection": f"{DB}-orders/documents/items"}
    assert set(out["states"]) == {"orders", "audit", "pfn-idempotency"}
    fulfil = out["functions"]["fulfil"]
    assert fulfil["dead_letter_subscription"] == f"projects/{PROJECT}/subscriptions/stateful-dev-orders-dlq"


def test_a_project_without_the_firestore_api_is_told_how_to_enable_it(provider: Any, app: App, google: Any) -> None:
    from portable_fn.runtime.errors import DeployError

    google.disabled = {f"/v1/projects/{PROJECT}/databases"}
    with pytest.raises(DeployError, match="gcloud services enable firestore.googleapis.com --project=shop-project"):
        pipeline.plan(provider, app, "dev")
    assert google.databases == {}
