"""No binding is left to an account deploy made once it is deleted, whatever the app's triggers: `remove` (and a
deploy that drops a function, so its account) takes every project binding naming the account back before the
account goes, a role granted it by hand included, and its plan lists each one before anything changes (the CLI's
`--json` and a protected stage's question too); the project's policy is read once for the plan and once for the
run (never when no account goes). Google would otherwise keep such a binding as
`deleted:serviceAccount:EMAIL?uid=ID` (the fake does, as the Discovery documents' `Binding.members` describe). An
account the user named (`service_account`) keeps what deploy did not grant it. Against the recording endpoint
and its fakes, held to the Discovery documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app
from portable_fn.cli import main
from portable_fn.deploy import pipeline
from portable_fn.deploy.planner import Plan
from portable_fn.runtime.errors import DeployError

from ....app_copy import copy_app
from ....test_cli_protected import answered

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


def unread(email: str) -> str:
    """The line a plan keeps for an account going whose project bindings Google refused deploy to read."""
    return (
        f"= keep unread project bindings of {email.split('@')[0]}: Google refused deploy "
        f"resourcemanager.projects.getIamPolicy on project {PROJECT!r}, so a role granted {email} by hand is not "
        f"seen, and may stay in the project's IAM policy as deleted:serviceAccount:{email}?uid=... once the account "
        "is deleted; grant the deploying principal roles/resourcemanager.projectIamAdmin on the project to have "
        "them taken back"
    )


def project_iam(google: Any) -> list[str]:
    return [r.path for r in google.project_iam_calls()]


def test_remove_takes_back_roles_granted_by_hand_before_it_deletes_the_accounts(
    google: Any, google_server: Any, helpers: Any, app: App
) -> None:
    deployer = provider(helpers, google_server, app)
    pipeline.deploy(deployer, app, "dev")
    assert project_iam(google) == []  # no state, no storage trigger: deploy never reads the project's policy
    by_hand(google, PING, WORK)
    granted = google.project_policy(PROJECT)["bindings"]
    confirmed: list[list[str]] = []

    def confirm(plan: Plan) -> None:  # what a protected stage asks about, before anything changes
        assert google.project_policy(PROJECT)["bindings"] == granted and PING in google.tasks.accounts
        confirmed.append([s.describe() for s in plan.steps if "binding" in s.describe() or "account" in s.describe()])

    messages: list[str] = []
    pipeline.remove(deployer, app, "dev", messages.append, confirm)
    assert confirmed == [
        [
            "- delete leftover project binding nostore-dev-ping/roles/storage.objectViewer/reports",
            "- delete leftover project binding nostore-dev-work/roles/storage.objectViewer",
            "- delete leftover project binding nostore-dev-ping/roles/cloudsql.client",
            "- delete service account nostore-dev-work",
            "- delete service account nostore-dev-ping",
        ]
    ]
    assert google.project_policy(PROJECT)["bindings"] == [OWNER, {"role": "roles/cloudsql.client", "members": [OTHERS]}]
    assert project_iam(google) == [GET, GET, SET, SET, SET]  # the plan's read, the run's; a write for each binding
    sent = [(r.method, r.path) for r in google.requests]
    deletes = [i for i, (method, path) in enumerate(sent) if method == "DELETE" and "/serviceAccounts/" in path]
    writes = [i for i, (_, path) in enumerate(sent) if path == SET]
    assert len(deletes) == 2 and writes[-1] < deletes[0]  # every binding taken back before an account goes
    assert [m for m in messages if "took back" in m] == []  # the plan's steps took them: none left at the delete
    google.requests.clear()
    again = pipeline.remove(deployer, app, "dev")
    assert again.plan.empty and google.mutating() == [] and project_iam(google) == []  # nothing left to read


def test_a_binding_granted_after_the_plan_is_taken_back_when_its_account_goes(
    google: Any, google_server: Any, helpers: Any, app: App
) -> None:
    deployer = provider(helpers, google_server, app)
    pipeline.deploy(deployer, app, "dev")
    messages: list[str] = []
    pipeline.remove(deployer, app, "dev", messages.append, confirm=lambda plan: by_hand(google, PING, WORK))
    assert google.project_policy(PROJECT)["bindings"] == [OWNER, {"role": "roles/cloudsql.client", "members": [OTHERS]}]
    assert project_iam(google) == [GET, GET, SET, SET]  # the plan saw none; the run reads once, writes per account
    assert [m.strip() for m in messages if "took back" in m] == [
        f"took back roles/storage.objectViewer on project {PROJECT} from {WORK} before deleting it",
        f"took back roles/cloudsql.client, roles/storage.objectViewer on project {PROJECT} from {PING} "
        "before deleting it",
    ]


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
    outcome = pipeline.remove(deployer, app, "dev", messages.append)
    assert outcome.plan.kept_lines() == [unread(WORK), unread(PING)]
    lines = [m.strip() for m in messages]
    assert lines.index(unread(PING)) < next(i for i, m in enumerate(lines) if m.startswith("[1/"))  # said first
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
    assert planned.kept_lines() == [unread(WORK)]
    messages: list[str] = []
    pipeline.deploy(deployer, dropped, "dev", messages.append)
    assert planned.kept_lines()[0] in [m.strip() for m in messages]  # deploy says it before it applies
    assert list(google.tasks.accounts) == [PING]  # the account went, as before
    google.refuse = set()
    google.requests.clear()
    assert pipeline.plan(deployer, dropped, "dev").plan.empty and project_iam(google) == []


def cli_app(app: App, google_server: Any, monkeypatch: pytest.MonkeyPatch, protected: bool = False) -> list[str]:
    """The arguments naming `app` on the recording endpoint, as a user passes them (the project from the
    environment), its operations polled as the tests' provider polls them; stage dev `protected` if asked."""
    pyproject = app.root / "pyproject.toml"
    text = pyproject.read_text().replace("[tool.portable-fn.gcp]\n", "[tool.portable-fn.gcp]\npoll_s = 0.01\n")
    if protected:
        text = text.replace("[tool.portable-fn.stages.dev]\n", "[tool.portable-fn.stages.dev]\nprotected = true\n")
    pyproject.write_text(text)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    return ["--provider", "gcp", "--app", str(app.root), "--endpoint-url", google_server.url]


def test_remove_json_lists_the_bindings_it_takes_back(
    capsys: pytest.CaptureFixture[str],
    google: Any,
    google_server: Any,
    helpers: Any,
    app: App,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    common = cli_app(app, google_server, monkeypatch)
    pipeline.deploy(provider(helpers, google_server, app), app, "dev")
    by_hand(google, WORK)
    assert main(["remove", *common, "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)["plan"]["steps"]
    assert [s["name"] for s in steps if s["kind"] == "leftover project binding"] == [
        "nostore-dev-work/roles/storage.objectViewer/reports",
        "nostore-dev-work/roles/storage.objectViewer",
        "nostore-dev-work/roles/cloudsql.client",
    ]
    assert google.project_policy(PROJECT)["bindings"] == [OWNER, {"role": "roles/cloudsql.client", "members": [OTHERS]}]


@pytest.mark.slow  # the CLI in a process of its own, on a terminal
def test_a_protected_stage_asks_about_the_bindings_remove_takes_back(
    google: Any, google_server: Any, helpers: Any, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    common = cli_app(app, google_server, monkeypatch, protected=True)
    pipeline.deploy(provider(helpers, google_server, app), app, "dev")
    by_hand(google, WORK)
    granted = google.project_policy(PROJECT)["bindings"]
    declined = answered("n", "remove", *common)
    assert declined.returncode == 1, declined.stderr
    asked = declined.stderr.split("Go ahead?")[0]
    assert "- delete leftover project binding nostore-dev-work/roles/cloudsql.client" in asked
    assert "- delete leftover project binding nostore-dev-work/roles/storage.objectViewer/reports" in asked
    assert "not confirmed, so nothing was changed" in declined.stderr
    assert google.project_policy(PROJECT)["bindings"] == granted and WORK in google.tasks.accounts
