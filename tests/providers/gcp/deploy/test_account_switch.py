"""Switching the functions' runtime accounts between two deploys converges: whatever the app declares now is
granted, and no binding is left to an account deploy made or the app's old `service_account` (on the project,
conditional or not, on topics, the delay queue, secrets, Cloud Run services, the accounts themselves). `plan`
lists each grant added and each taken back; `remove` afterwards leaves no binding naming any of the app's
accounts. Against the recording endpoint and its fakes, held to the Discovery documents."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.deploy.grants import grants

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.deploy.grants import grant_changes

PROJECT, REGION = "shop-project", "europe-west1"
SHARED = "accounts-runtime@shop-project.iam.gserviceaccount.com"
OWN = {fn: f"accounts-dev-{fn.replace('_', '-')}@{PROJECT}.iam.gserviceaccount.com" for fn in ("place", "fulfil")}
OWN["on_upload"] = f"accounts-dev-on-upload@{PROJECT}.iam.gserviceaccount.com"
ACCOUNTS = Path(__file__).with_name("apps") / "accounts"
FUNCTIONS = f"projects/{PROJECT}/locations/{REGION}/functions/accounts-dev"
CONDITION = re.compile(r'resource\.name == "(.+)"')
P = f"projects/{PROJECT}"
# What the app's shared account holds once deployed: the union of what its functions declare and their triggers need.
SHARED_HOLDS = [
    (f"projects/-/serviceAccounts/{SHARED}", "roles/iam.serviceAccountUser", f"serviceAccount:{SHARED}"),
    (P, "roles/eventarc.eventReceiver", f"serviceAccount:{SHARED}"),
    (f"{P}/databases/accounts-dev-orders", "roles/datastore.user", f"serviceAccount:{SHARED}"),
    (f"{P}/databases/accounts-dev-pfn-outbox", "roles/datastore.user", f"serviceAccount:{SHARED}"),
    (f"{P}/locations/{REGION}/queues/accounts-dev-pfn-delays", "roles/cloudtasks.enqueuer", f"serviceAccount:{SHARED}"),
    (f"{P}/locations/{REGION}/services/accounts-dev-fulfil", "roles/run.invoker", f"serviceAccount:{SHARED}"),
    (f"{P}/locations/{REGION}/services/accounts-dev-on-upload", "roles/run.invoker", f"serviceAccount:{SHARED}"),
    (f"{P}/secrets/accounts-dev-api-key", "roles/secretmanager.secretAccessor", f"serviceAccount:{SHARED}"),
    (f"{P}/topics/accounts-dev-on_upload-dlq", "roles/pubsub.publisher", f"serviceAccount:{SHARED}"),
    (f"{P}/topics/accounts-dev-order-events", "roles/pubsub.publisher", f"serviceAccount:{SHARED}"),
    (f"{P}/topics/accounts-dev-orders-dlq", "roles/pubsub.publisher", f"serviceAccount:{SHARED}"),
    (f"{P}/topics/accounts-dev-shipments", "roles/pubsub.publisher", f"serviceAccount:{SHARED}"),
]
OTHERS = "serviceAccount:someone-else@shop-project.iam.gserviceaccount.com"


@pytest.fixture
def app(tmp_path: Path) -> App:
    return load_app(shutil.copytree(ACCOUNTS, tmp_path / "accounts", ignore=shutil.ignore_patterns("__pycache__")))


def provider(helpers: Any, google_server: Any, app: App, account: str = "") -> Any:
    settings = {**app.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01}
    return helpers.RecordingProvider(
        {**settings, **({"service_account": account} if account else {})}, google_server.url
    )


def changed(app: App, old: str, new: str) -> App:
    """The app with its source edited (a declaration or a function dropped), in a copy of its own: a module is
    imported once per path."""
    copy = app.root.with_name(f"accounts-{len(list(app.root.parent.iterdir()))}")
    shutil.copytree(app.root, copy, ignore=shutil.ignore_patterns("__pycache__", ".portable-fn"))
    source = copy / "gcp_account_functions.py"
    text = source.read_text()
    assert old in text
    source.write_text(text.replace(old, new))
    return load_app(copy)


def policies(google: Any) -> dict[str, dict[str, Any]]:
    """Every IAM policy the fakes hold, by resource: the project's, topics', subscriptions', Cloud Run services',
    the delay queue's, service accounts' and secrets'."""
    secrets = {f"projects/{PROJECT}/secrets/{secret}": policy for secret, policy in google.secrets.policies.items()}
    return {**google.projects, **google.policies, **google.tasks.policies, **secrets}


def on_project(held: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Those of `held` bound on the project (a state's, under its database's condition, among them)."""
    return [h for h in held if h[0] == P or h[0].startswith(f"{P}/databases/")]


def expression(binding: dict[str, Any]) -> str:
    return str(binding.get("condition", {}).get("expression", ""))


def holding(google: Any, *emails: str) -> list[tuple[str, str, str]]:
    """(resource, role, member) of each binding naming one of `emails`, sorted, a deleted account's too (as
    `deleted:serviceAccount:EMAIL?uid=ID`); a binding on the project under a condition naming one database is on
    that database (as `grants` says)."""
    members = {f"serviceAccount:{email}" for email in emails}
    return sorted(
        (on_database.group(1) if (on_database := CONDITION.fullmatch(expression(b))) else resource, b["role"], m)
        for resource, policy in policies(google).items()
        for b in policy.get("bindings", [])
        for m in b["members"]
        if m.removeprefix("deleted:").split("?uid=", 1)[0] in members
    )


def planned_grants(deployer: Any, app: App) -> Any:
    """The grants `plan` shows it adds and takes back (`pipeline._grants`: the GCP provider's `grants` of what is
    read against what is wanted)."""
    desired = deployer.desired(app, "dev", pipeline.package(deployer, app, "dev").artifact)
    return grant_changes(grants(list(deployer.read_remote(app, "dev"))), grants(desired))


def test_per_function_accounts_to_a_shared_one_takes_back_every_grant_then_deletes_them(
    google: Any, google_server: Any, helpers: Any, app: App
) -> None:
    pipeline.deploy(provider(helpers, google_server, app), app, "dev")
    by_hand = {"role": "roles/logging.logWriter", "members": [f"serviceAccount:{OWN['place']}", OTHERS]}
    condition = {"title": "by hand", "expression": 'resource.name.startsWith("projects/_/buckets/reports")'}
    conditional = {"role": "roles/storage.objectViewer", "members": [f"serviceAccount:{OWN['fulfil']}"]}
    google.project_policy(PROJECT)["bindings"] += [by_hand, {**conditional, "condition": condition}]  # not deploy's
    held = holding(google, *OWN.values())
    assert {r for r, _, _ in held} >= {f"projects/{PROJECT}", f"projects/{PROJECT}/topics/accounts-dev-order-events"}
    shared = provider(helpers, google_server, app, SHARED)
    changes = planned_grants(shared, app)
    assert sorted((g.principal, g.role, g.resource) for g in changes.removed) == sorted(
        (m, role, resource) for resource, role, m in held
    )
    assert {g.principal for g in changes.added} == {f"serviceAccount:{SHARED}"}
    own = {fn: {g.function for g in changes.removed if g.principal == f"serviceAccount:{e}"} for fn, e in OWN.items()}
    assert own == {fn: {fn} for fn in OWN}  # each taken from the function that ran as it
    start = len(google.requests)
    pipeline.deploy(shared, app, "dev")
    assert holding(google, *OWN.values()) == []
    assert google.tasks.accounts == {}
    sent = [(r.method, r.path) for r in google.requests[start:]]
    account_deletes = [i for i, (method, path) in enumerate(sent) if method == "DELETE" and "/serviceAccounts/" in path]
    policy_writes = [i for i, (_, path) in enumerate(sent) if path.endswith(":setIamPolicy")]
    assert len(account_deletes) == 3 and max(policy_writes) < min(account_deletes)  # every grant taken back first
    assert {"role": "roles/logging.logWriter", "members": [OTHERS]} in google.project_policy(PROJECT)["bindings"]
    assert holding(google, SHARED) == SHARED_HOLDS
    assert pipeline.plan(shared, app, "dev").plan.empty
    triggers = {fn: google.functions[f"{FUNCTIONS}-{fn}"]["eventTrigger"] for fn in ("fulfil", "on-upload")}
    assert {fn: t["serviceAccountEmail"] for fn, t in triggers.items()} == {"fulfil": SHARED, "on-upload": SHARED}
    pipeline.remove(shared, app, "dev", delete_data=True)
    assert holding(google, SHARED, *OWN.values()) == []


def test_a_shared_account_to_per_function_ones_takes_back_only_what_the_app_granted_it(
    google: Any, google_server: Any, helpers: Any, app: App
) -> None:
    shared = provider(helpers, google_server, app, SHARED)
    pipeline.deploy(shared, app, "dev")
    held = holding(google, SHARED)
    assert held == SHARED_HOLDS
    project = google.project_policy(PROJECT)
    project["bindings"].append({"role": "roles/logging.logWriter", "members": [f"serviceAccount:{SHARED}", OTHERS]})
    own = provider(helpers, google_server, app)
    changes = planned_grants(own, app)
    assert sorted((g.principal, g.role, g.resource) for g in changes.removed) == sorted(
        (m, role, r) for r, role, m in held
    )
    pipeline.deploy(own, app, "dev")
    assert holding(google, SHARED) == [(f"projects/{PROJECT}", "roles/logging.logWriter", f"serviceAccount:{SHARED}")]
    assert {m for _, _, m in holding(google, *OWN.values())} == {f"serviceAccount:{e}" for e in OWN.values()}
    assert pipeline.plan(own, app, "dev").plan.empty
    pipeline.remove(own, app, "dev", delete_data=True)
    assert holding(google, *OWN.values()) == []
    assert holding(google, SHARED) == [(f"projects/{PROJECT}", "roles/logging.logWriter", f"serviceAccount:{SHARED}")]


@pytest.mark.parametrize("account", ["", SHARED], ids=["own-accounts", "shared-account"])
def test_a_function_that_stops_declaring_the_state_loses_its_binding_on_the_project(
    google: Any, google_server: Any, helpers: Any, app: App, account: str
) -> None:
    deployer = provider(helpers, google_server, app, account)
    pipeline.deploy(deployer, app, "dev")
    app = changed(app, "uses=[orders.read(), shipments.send()]", "uses=[shipments.send()]")
    member = f"serviceAccount:{account or OWN['fulfil']}"
    changes = planned_grants(deployer, app)
    if not account:  # the shared account still writes the state for `place`: its binding stays
        assert [(g.principal, g.role) for g in changes.removed] == [(member, "roles/datastore.viewer")]
    pipeline.deploy(deployer, app, "dev")
    outbox = (f"{P}/databases/accounts-dev-pfn-outbox", "roles/datastore.user", member)  # it still sends later
    assert on_project(holding(google, account or OWN["fulfil"])) == (on_project(SHARED_HOLDS) if account else [outbox])
    assert pipeline.plan(deployer, app, "dev").plan.empty


@pytest.mark.parametrize("account", ["", SHARED], ids=["own-accounts", "shared-account"])
def test_no_state_used_and_the_storage_trigger_dropped_take_the_project_bindings_with_them(
    google: Any, google_server: Any, helpers: Any, app: App, account: str
) -> None:
    deployer = provider(helpers, google_server, app, account)
    pipeline.deploy(deployer, app, "dev")
    app = changed(app, "uses=[orders.write(), api_key, order_events.publish()]", "uses=[api_key]")
    app = changed(app, "uses=[orders.read(), shipments.send()]", "uses=[]")
    app = changed(app, '@function(trigger=storage("uploads"))\ndef on_upload', "def on_upload")
    pipeline.deploy(deployer, app, "dev")
    emails = [account] if account else list(OWN.values())
    assert on_project(holding(google, *emails)) == []
    assert pipeline.plan(deployer, app, "dev").plan.empty
    pipeline.remove(deployer, app, "dev", delete_data=True)
    assert holding(google, *emails) == []


def test_a_policy_changed_between_read_and_write_stops_the_deploy_and_a_rerun_converges(
    google: Any, google_server: Any, helpers: Any, app: App
) -> None:
    from portable_fn.runtime.errors import DeployError

    pipeline.deploy(provider(helpers, google_server, app), app, "dev")
    shared = provider(helpers, google_server, app, SHARED)
    google.concurrent_writes = 1  # someone else sets the project policy between deploy's read and its write
    with pytest.raises(DeployError, match="ABORTED|concurrent policy changes"):
        pipeline.deploy(shared, app, "dev")
    pipeline.deploy(shared, app, "dev")
    assert holding(google, *OWN.values()) == []
    assert pipeline.plan(shared, app, "dev").plan.empty


def test_one_shared_account_to_another_moves_every_grant(
    google: Any, google_server: Any, helpers: Any, app: App
) -> None:
    before = "accounts-before@shop-project.iam.gserviceaccount.com"
    pipeline.deploy(provider(helpers, google_server, app, before), app, "dev")
    assert len(holding(google, before)) == len(SHARED_HOLDS)
    shared = provider(helpers, google_server, app, SHARED)
    pipeline.deploy(shared, app, "dev")
    assert holding(google, before) == []
    assert holding(google, SHARED) == SHARED_HOLDS
    assert pipeline.plan(shared, app, "dev").plan.empty


def test_an_event_trigger_left_delivering_as_another_account_is_brought_back_to_the_functions(
    google: Any, google_server: Any, helpers: Any, app: App
) -> None:
    shared = provider(helpers, google_server, app, SHARED)
    pipeline.deploy(shared, app, "dev")
    fulfil = google.functions[f"{FUNCTIONS}-fulfil"]
    fulfil["eventTrigger"]["serviceAccountEmail"] = OWN["fulfil"]  # as an update of the service alone left it
    assert [s.describe() for s in pipeline.plan(shared, app, "dev").plan.steps] == [
        "~ update cloud function accounts-dev-fulfil (service_account)"
    ]
    pipeline.deploy(shared, app, "dev")
    assert google.functions[f"{FUNCTIONS}-fulfil"]["eventTrigger"]["serviceAccountEmail"] == SHARED
    assert pipeline.plan(shared, app, "dev").plan.empty
