"""Deploying an app that reads secrets: one Secret Manager secret per declared secret (no value: those come from
`portable-fn secrets set`), `roles/secretmanager.secretAccessor` on each secret for exactly the functions that
declare it, the locator on those functions only; a second plan changes nothing, and `remove` keeps the secrets
(their values are data) unless told `--delete-data`. Against the recording endpoint, whose Secret Manager is held
to secretmanager.v1's Discovery document."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline

from ....app_copy import copy_app

PROJECT, REGION = "shop-project", "europe-west1"
ACCOUNT = "secretive-runtime@shop-project.iam.gserviceaccount.com"
MEMBER = f"serviceAccount:{ACCOUNT}"
ACCESSOR = "roles/secretmanager.secretAccessor"
SECRETIVE = Path(__file__).with_name("apps") / "secretive"
FUNCTIONS = f"projects/{PROJECT}/locations/{REGION}/functions/secretive-dev"
LOCATOR = f"projects/{PROJECT}/secrets/secretive-dev-"


@pytest.fixture
def app(tmp_path: Path) -> App:
    return load_app(copy_app(SECRETIVE, tmp_path / "app"))  # deploys write into the app's directory


def settings(app: App, **more: Any) -> dict[str, Any]:
    return {**app.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01, **more}


@pytest.fixture
def provider(google: Any, google_server: Any, helpers: Any, app: App) -> Any:
    return helpers.RecordingProvider(settings(app, service_account=ACCOUNT), google_server.url)


def env(google: Any, function_id: str) -> dict[str, str]:
    return dict(google.functions[f"{FUNCTIONS}-{function_id}"]["serviceConfig"]["environmentVariables"])


def test_each_declared_secret_is_made_labelled_without_a_value(provider: Any, app: App, google: Any) -> None:
    pipeline.deploy(provider, app, "dev")
    assert sorted(google.secrets.secrets) == [
        "secretive-dev-partner-keys",
        "secretive-dev-stripe-key",
        "secretive-dev-webhook-secret",
    ]
    for secret in google.secrets.secrets.values():
        assert secret["replication"] == {"automatic": {}}
        assert secret["labels"] == {"portable-fn-app": "secretive", "portable-fn-stage": "dev"}
    assert all(versions == [] for versions in google.secrets.versions.values())
    assert google.secrets.answer_problems == [] and google.answer_problems == []


def test_the_accessor_role_is_bound_on_each_secret_for_its_readers(provider: Any, app: App, google: Any) -> None:
    pipeline.deploy(provider, app, "dev")
    assert google.secrets.members("secretive-dev-stripe-key", ACCESSOR) == [MEMBER]
    assert google.secrets.members("secretive-dev-webhook-secret", ACCESSOR) == [MEMBER]
    assert [b for p in google.project_policy(PROJECT)["bindings"] for b in [p] if "secretmanager" in b["role"]] == []


def test_only_the_functions_that_read_a_secret_are_told_where_secrets_are(provider: Any, app: App, google: Any) -> None:
    pipeline.deploy(provider, app, "dev")
    assert env(google, "charge")["PORTABLE_FN_SECRETS"] == LOCATOR
    assert env(google, "refund")["PORTABLE_FN_SECRETS"] == LOCATOR
    assert env(google, "partners")["PORTABLE_FN_SECRETS"] == LOCATOR
    assert "PORTABLE_FN_SECRETS" not in env(google, "health")


def test_a_route_that_verifies_its_callers_is_open_at_the_edge_and_others_are_not(
    provider: Any, app: App, google: Any
) -> None:
    pipeline.deploy(provider, app, "dev")
    service = f"projects/{PROJECT}/locations/{REGION}/services/secretive-dev-"
    invokers = {path.removeprefix(service): policy.get("bindings", []) for path, policy in google.policies.items()}
    assert invokers["partners"] == [{"role": "roles/run.invoker", "members": ["allUsers"]}]  # auth=api_key(...)
    assert invokers["charge"] == [] and invokers["health"] == []


def test_plan_lists_the_secrets_and_grants_and_a_second_plan_is_a_no_op(provider: Any, app: App, google: Any) -> None:
    planned = [s.describe() for s in pipeline.plan(provider, app, "dev").plan.steps]
    assert "+ create secret manager secret secretive-dev-stripe-key" in planned
    assert "+ create secret accessor grant secretive-dev-webhook-secret" in planned
    pipeline.deploy(provider, app, "dev")
    google.requests.clear()
    again = pipeline.plan(provider, app, "dev")
    assert again.plan.empty, [s.describe() for s in again.plan.steps]
    assert google.writes() == []


@pytest.fixture
def store(google: Any, google_server: Any, app: App) -> Any:
    """`portable-fn secrets` for the app's stage dev."""
    from portable_fn_gcp.provider import GcpProvider

    return GcpProvider(settings(app), google_server.url).secret_store(app, "dev")


def test_a_secret_set_before_the_first_deploy_is_adopted_as_it_is(
    provider: Any, app: App, google: Any, store: Any
) -> None:
    store.set("stripe-key", "sk_test_1")
    pipeline.deploy(provider, app, "dev")
    assert [v["data"] for v in google.secrets.versions["secretive-dev-stripe-key"]] == [b"sk_test_1"]
    made = [m for m in google.secrets.methods() if m == "secrets.create"]
    assert len(made) == 3  # the store's, then deploy's for the two others


def test_remove_keeps_the_secrets_and_takes_the_grants_back_unless_told_to_delete_data(
    provider: Any, app: App, google: Any, store: Any
) -> None:
    pipeline.deploy(provider, app, "dev")
    store.set("stripe-key", "sk_test_1")
    messages: list[str] = []
    pipeline.remove(provider, app, "dev", messages.append)
    assert len(google.secrets.secrets) == 3
    assert google.secrets.members("secretive-dev-stripe-key", ACCESSOR) == []
    assert any("secretive-dev-stripe-key" in m and "--delete-data" in m for m in messages), messages
    pipeline.remove(provider, app, "dev", delete_data=True)
    assert google.secrets.secrets == {}


def test_a_secret_no_function_reads_any_more_loses_its_grant_and_is_kept(
    provider: Any, app: App, google: Any, tmp_path: Path
) -> None:
    pipeline.deploy(provider, app, "dev")
    shutil.copytree(SECRETIVE, tmp_path / "secretive")
    module = tmp_path / "secretive" / "gcp_secret_functions.py"
    module.write_text(module.read_text().replace(", webhook_secret.read()", ""))
    edited = load_app(tmp_path / "secretive")
    planned = [s.describe() for s in pipeline.plan(provider, edited, "dev").plan.steps]
    assert "- delete secret accessor grant secretive-dev-webhook-secret" in planned
    pipeline.deploy(provider, edited, "dev")
    assert google.secrets.members("secretive-dev-webhook-secret", ACCESSOR) == []
    assert "secretive-dev-webhook-secret" in google.secrets.secrets  # kept: it may hold a value


def test_without_an_app_account_each_reader_s_own_account_is_granted_its_secrets_alone(
    google: Any, google_server: Any, helpers: Any, app: App
) -> None:
    from portable_fn_gcp.provider import GcpProvider

    provider = helpers.RecordingProvider(settings(app), google_server.url)
    pipeline.deploy(provider, app, "dev")
    own = {
        fn: f"serviceAccount:secretive-dev-{fn}@{PROJECT}.iam.gserviceaccount.com"
        for fn in ("charge", "refund", "partners")
    }
    assert google.secrets.members("secretive-dev-stripe-key", ACCESSOR) == [own["charge"], own["refund"]]
    assert google.secrets.members("secretive-dev-webhook-secret", ACCESSOR) == [own["refund"]]
    assert google.secrets.members("secretive-dev-partner-keys", ACCESSOR) == [own["partners"]]
    assert not [n for n in GcpProvider(settings(app)).plan_notes(app, "dev") if "service_account" in n]
    named = GcpProvider(settings(app, service_account=ACCOUNT)).plan_notes(app, "dev")
    assert any("so what deploy grants is per app" in n and "charge, partners, refund" in n for n in named), named
    assert pipeline.plan(provider, app, "dev").plan.empty


def test_the_secret_grants_plan_lists_read_back_unchanged_after_a_deploy(provider: Any, app: App) -> None:
    from portable_fn_gcp.deploy.grants import grants

    from portable_fn.deploy.grants import grant_changes

    def planned() -> Any:
        desired = provider.desired(app, "dev", pipeline.package(provider, app, "dev").artifact)
        return grant_changes(grants(list(provider.read_remote(app, "dev"))), grants(desired))

    before = planned()
    assert sorted((g.function, g.resource) for g in before.added if "/secrets/" in g.resource) == [
        ("charge", f"{LOCATOR}stripe-key"),
        ("partners", f"{LOCATOR}partner-keys"),
        ("refund", f"{LOCATOR}stripe-key"),
        ("refund", f"{LOCATOR}webhook-secret"),
    ]
    pipeline.deploy(provider, app, "dev")
    after = planned()
    assert not after.changed and len(after.kept) == len(before.added)


def test_the_zip_ships_the_secret_backend_and_its_client_only_when_a_function_reads_a_secret(
    zips: Any, app: App
) -> None:
    from portable_fn_gcp.packaging import SECRET_MANAGER

    files = zips.shipped(app, "reads")
    assert "portable_fn_gcp/secrets.py" in files and SECRET_MANAGER in zips.asked[-1]
    assert not [f for f in files if f.endswith("secret_store.py") or "secrets.json" in f]  # no CLI side, no values
    quiet = load_app(Path(__file__).with_name("apps") / "no_storage")
    assert "portable_fn_gcp/secrets.py" not in zips.shipped(quiet, "quiet") and SECRET_MANAGER not in zips.asked[-1]
