"""samples/saas deployed against the recording Google endpoint (held to the Discovery documents): a Firestore
database per state (the sample's and portable-fn's rate-limit, outbox and workflow stores), the Secret Manager
secret `saas-dev-billing-key` made without a value, the accessor role bound on it alone, `billing_export` alone
told where secrets are, the JWT routes open at the edge (they verify their callers), and a second plan with
nothing to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.deploy.grants import grants
from portable_fn_gcp.provider import GcpProvider

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.deploy.grants import grant_changes

from ....app_copy import copy_app

SAAS = Path(__file__).resolve().parents[4] / "samples" / "saas"
PROJECT, REGION = "shop-project", "europe-west1"
ACCOUNT = "saas-runtime@shop-project.iam.gserviceaccount.com"
MEMBER = f"serviceAccount:{ACCOUNT}"
ACCESSOR = "roles/secretmanager.secretAccessor"
FUNCTIONS = f"projects/{PROJECT}/locations/{REGION}/functions/saas-dev"
SERVICES = f"projects/{PROJECT}/locations/{REGION}/services/saas-dev-"


@pytest.fixture
def saas(tmp_path: Path) -> App:
    return load_app(copy_app(SAAS, tmp_path))


@pytest.fixture
def provider(google: Any, google_server: Any, helpers: Any, saas: App) -> Any:
    settings = {**saas.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01}
    return helpers.RecordingProvider({**settings, "service_account": ACCOUNT}, google_server.url)


def function_id(name: str) -> str:
    return name.replace("_", "-")


def test_the_saas_sample_deploys_its_databases_and_secret_and_a_second_plan_is_a_no_op(
    provider: Any, saas: App, google: Any, tmp_path: Path
) -> None:
    pipeline.deploy(provider, saas, "dev")
    assert sorted(google.databases) == sorted(f"projects/{PROJECT}/databases/saas-dev-{s.name}" for s in saas.states)
    assert sorted(google.secrets.secrets) == ["saas-dev-billing-key"]
    assert google.secrets.versions["saas-dev-billing-key"] == []  # the value comes from `portable-fn secrets set`
    assert google.answer_problems == [] and google.secrets.answer_problems == []
    again = pipeline.plan(provider, saas, "dev").plan
    assert again.empty, [s.describe() for s in again.steps]
    desired = provider.desired(saas, "dev", provider.package(saas, "dev", tmp_path / "build", None))
    changes = grant_changes(grants(list(provider.read_remote(saas, "dev"))), grants(desired))
    assert (changes.added, changes.removed) == ((), ())  # what Google holds reads back as what deploy wanted


def test_only_billing_export_reads_billing_key(provider: Any, saas: App, google: Any, tmp_path: Path) -> None:
    pipeline.deploy(provider, saas, "dev")
    assert google.secrets.members("saas-dev-billing-key", ACCESSOR) == [MEMBER]
    assert [b for b in google.project_policy(PROJECT)["bindings"] if "secretmanager" in b["role"]] == []
    told = {}
    for spec in saas.functions:
        variables = google.functions[f"{FUNCTIONS}-{function_id(spec.name)}"]["serviceConfig"]["environmentVariables"]
        if "PORTABLE_FN_SECRETS" in variables:
            told[spec.name] = variables["PORTABLE_FN_SECRETS"]
    assert told == {"billing_export": f"projects/{PROJECT}/secrets/saas-dev-"}
    desired = provider.desired(saas, "dev", provider.package(saas, "dev", tmp_path / "build", None))
    granted = GcpProvider(provider.settings).grants(desired)
    assert sorted((g.function, g.resource, g.role) for g in granted if "/secrets/" in g.resource) == [
        ("billing_export", f"projects/{PROJECT}/secrets/saas-dev-billing-key", ACCESSOR)
    ]


def test_the_jwt_routes_are_open_at_the_edge_as_they_verify_their_callers(
    provider: Any, saas: App, google: Any
) -> None:
    pipeline.deploy(provider, saas, "dev")
    invokers = {path.removeprefix(SERVICES): policy.get("bindings", []) for path, policy in google.policies.items()}
    for name in ("create_project", "get_project", "list_projects", "get_activity", "create_tenant"):
        assert invokers[function_id(name)] == [{"role": "roles/run.invoker", "members": ["allUsers"]}], name
