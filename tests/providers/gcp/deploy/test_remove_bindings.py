"""No binding is left to an account deploy made once it is deleted, whatever the app's triggers: `remove` (and a
deploy that drops a function, so its account) takes every project binding naming the account back before the
account goes, a role granted it by hand included, reading the project's policy once (never when no account goes).
Google would otherwise keep such a binding as `deleted:serviceAccount:EMAIL?uid=ID` (the fake does, as the
Discovery documents' `Binding.members` describe). An account the user named (`service_account`) keeps what deploy
did not grant it. Against the recording endpoint and its fakes, held to the Discovery documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import DeployError

from ....app_copy import copy_app

PROJECT = "shop-project"
POLICY = f"projects/{PROJECT}"
GET, SET = f"/v3/{POLICY}:getIamPolicy", f"/v3/{POLICY}:setIamPolicy"
NO_STORAGE = Path(__file__).with_name("apps") / "no_storage"  # an HTTP function and a queue consumer: no state
PING = f"nostore-dev-ping@{PROJECT}.iam.gserviceaccount.com"
WORK = f"nostore-dev-work@{PROJECT}.iam.gserviceaccount.com"
SHARED = f"nostore-runtime@{PROJECT}.iam.gserviceaccount.com"
OWNER = {"role": "roles/owner", "members": ["user:owner@example.com"]}
OTHERS = "serviceAccount:someone-else@shop-project.iam.gserviceaccount.com"
CONDITION = {"title": "reports", "expression": 'resource.name.startsWith("projects/_/buckets/reports")'}


@pytest.fixture
def app(tmp_path: Path) -> App:
    return load_app(copy_app(NO_STORAGE, tmp_path))


def provider(helpers: Any, google_server: Any, app: App, account: str = "") -> Any:
    settings = {**app.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01}
    named = {"service_account": account} if account else {}
    return helpers.RecordingProvider({**settings, **named}, google_server.url)


def by_hand(google: Any, *emails: str) -> None:
    """Roles a user granted the accounts outside portable-fn: one shared with another member, one under a
    condition."""
    first, *rest = emails
    google.project_policy(PROJECT)["bindings"] += [
        {"role": "roles/cloudsql.client", "members": [f"serviceAccount:{first}", OTHERS]},
        {"role": "roles/storage.objectViewer", "members": [f"serviceAccount:{e}" for e in rest or [first]]},
        {"role": "roles/storage.objectViewer", "members": [f"serviceAccount:{first}"], "condition": CONDITION},
    ]


def project_iam(google: Any) -> list[str]:
    return [r.path for r in google.project_iam_calls()]


def test_remove_takes_back_roles_granted_by_hand_before_it_deletes_the_accounts(
    google: Any, google_server: Any, helpers: Any, app: App
) -> None:
    deployer = provider(helpers, google_server, app)
    pipeline.deploy(deployer, app, "dev")
    assert project_iam(google) == []  # no state, no storage trigger: deploy never reads the project's policy
    by_hand(google, PING, WORK)
    messages: list[str] = []
    outcome = pipeline.remove(deployer, app, "dev", messages.append)
    assert [s.describe() for s in outcome.plan.steps if "service account" in s.describe()] == [
        "- delete service account nostore-dev-work",
        "- delete service account nostore-dev-ping",
    ]
    assert google.project_policy(PROJECT)["bindings"] == [OWNER, {"role": "roles/cloudsql.client", "members": [OTHERS]}]
    assert project_iam(google) == [GET, SET, SET]  # one read for both accounts, one write for each
    sent = [(r.method, r.path) for r in google.requests]
    deletes = [i for i, (method, path) in enumerate(sent) if method == "DELETE" and "/serviceAccounts/" in path]
    writes = [i for i, (_, path) in enumerate(sent) if path == SET]
    assert len(deletes) == 2 and writes[0] < deletes[0] and writes[1] < deletes[1]  # each account's, before it goes
    assert [m.strip() for m in messages if "took back" in m] == [
        f"took back roles/storage.objectViewer on project {PROJECT} from {WORK} before deleting it",
        f"took back roles/cloudsql.client, roles/storage.objectViewer on project {PROJECT} from {PING} "
        "before deleting it",
    ]
    google.requests.clear()
    again = pipeline.remove(deployer, app, "dev")
    assert again.plan.empty and google.mutating() == [] and project_iam(google) == []  # nothing left to read


def test_a_remove_a_concurrent_policy_change_stops_converges_when_run_again(
    google: Any, google_server: Any, helpers: Any, app: App
) -> None:
    deployer = provider(helpers, google_server, app)
    pipeline.deploy(deployer, app, "dev")
    by_hand(google, PING)
    google.concurrent_writes = 1  # another tool sets the project policy between remove's read and its write
    with pytest.raises(DeployError, match="ABORTED|concurrent policy changes"):
        pipeline.remove(deployer, app, "dev")
    assert PING in google.tasks.accounts  # stopped before the account went, so a rerun still finds it
    pipeline.remove(deployer, app, "dev")
    assert google.project_policy(PROJECT)["bindings"] == [OWNER, {"role": "roles/cloudsql.client", "members": [OTHERS]}]
    assert google.tasks.accounts == {}
    google.requests.clear()
    assert pipeline.remove(deployer, app, "dev").plan.empty and google.mutating() == []


def test_a_remove_refused_the_project_policy_deletes_the_accounts_and_says_what_to_grant(
    google: Any, google_server: Any, helpers: Any, app: App
) -> None:
    deployer = provider(helpers, google_server, app)
    pipeline.deploy(deployer, app, "dev")
    by_hand(google, PING)
    google.refuse = {"getIamPolicy"}
    messages: list[str] = []
    pipeline.remove(deployer, app, "dev", messages.append)
    assert google.tasks.accounts == {}  # as before: the accounts go
    said = [m.strip() for m in messages if m.strip().startswith("!")]
    assert [m.split(" may stay")[0].rsplit(" ", 1)[-1] for m in said] == [WORK, PING]  # each account, by name
    assert all(
        f"Google refused resourcemanager.projects.getIamPolicy on project {PROJECT!r} (Forbidden)" in m
        and "grant the deploying principal roles/resourcemanager.projectIamAdmin" in m
        and f"gcloud projects remove-iam-policy-binding {PROJECT} --member='deleted:serviceAccount:" in m
        for m in said
    )
    unique_id = next(iter(google.project_policy(PROJECT)["bindings"][1]["members"])).split("?uid=")[1]
    assert google.project_policy(PROJECT)["bindings"][1] == {
        "role": "roles/cloudsql.client",
        "members": [f"deleted:serviceAccount:{PING}?uid={unique_id}", OTHERS],
    }  # what Google keeps of it


def test_a_deploy_that_drops_a_function_lists_and_takes_back_its_accounts_bindings(
    google: Any, google_server: Any, helpers: Any, app: App, tmp_path: Path
) -> None:
    deployer = provider(helpers, google_server, app)
    pipeline.deploy(deployer, app, "dev")
    by_hand(google, WORK)
    source = app.root / "no_storage_functions.py"
    source.write_text(source.read_text().split("@function(trigger=queue")[0])
    dropped = load_app(copy_app(app.root, tmp_path / "dropped"))
    planned = pipeline.plan(deployer, dropped, "dev").plan
    assert [s.describe() for s in planned.steps if "binding" in s.describe() or "account" in s.describe()] == [
        "- delete leftover project binding nostore-dev-work/roles/storage.objectViewer/reports",
        "- delete leftover project binding nostore-dev-work/roles/storage.objectViewer",
        "- delete leftover project binding nostore-dev-work/roles/cloudsql.client",
        "- delete service account nostore-dev-work",
    ]
    google.requests.clear()
    pipeline.deploy(deployer, dropped, "dev")
    assert google.project_policy(PROJECT)["bindings"] == [OWNER, {"role": "roles/cloudsql.client", "members": [OTHERS]}]
    assert list(google.tasks.accounts) == [PING]
    assert project_iam(google) == [GET, GET, SET, SET, SET]  # the plan's read, the run's: none for the account's
    google.requests.clear()
    assert pipeline.plan(deployer, dropped, "dev").plan.empty and project_iam(google) == []


def test_the_users_own_account_keeps_what_deploy_did_not_grant_it(
    google: Any, google_server: Any, helpers: Any, app: App
) -> None:
    shared = provider(helpers, google_server, app, SHARED)
    pipeline.deploy(shared, app, "dev")
    by_hand(google, SHARED)
    before = google.project_policy(PROJECT)["bindings"]
    pipeline.remove(shared, app, "dev")
    assert google.project_policy(PROJECT)["bindings"] == before and project_iam(google) == []


def test_a_plan_that_may_not_read_the_project_policy_names_the_account_that_may_keep_bindings(
    google: Any, google_server: Any, helpers: Any, app: App, tmp_path: Path
) -> None:
    deployer = provider(helpers, google_server, app)
    pipeline.deploy(deployer, app, "dev")
    by_hand(google, WORK)
    source = app.root / "no_storage_functions.py"
    source.write_text(source.read_text().split("@function(trigger=queue")[0])
    dropped = load_app(copy_app(app.root, tmp_path / "dropped"))
    google.refuse = {"getIamPolicy"}
    planned = pipeline.plan(deployer, dropped, "dev").plan
    assert planned.kept_lines() == [
        "= keep unread project bindings of nostore-dev-work: Google refused deploy "
        f"resourcemanager.projects.getIamPolicy on project {PROJECT!r}, so a role granted {WORK} by hand is not "
        f"seen, and may stay in the project's IAM policy as deleted:serviceAccount:{WORK}?uid=... once the account "
        "is deleted; grant the deploying principal roles/resourcemanager.projectIamAdmin on the project to have "
        "them taken back"
    ]
    messages: list[str] = []
    pipeline.deploy(deployer, dropped, "dev", messages.append)
    assert planned.kept_lines()[0] in [m.strip() for m in messages]  # deploy says it before it applies
    assert list(google.tasks.accounts) == [PING]  # the account went, as before
    google.refuse = set()
    google.requests.clear()
    assert pipeline.plan(deployer, dropped, "dev").plan.empty and project_iam(google) == []
