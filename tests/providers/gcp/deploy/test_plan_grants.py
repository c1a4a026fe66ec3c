"""The grants `plan` lists read back from Google Cloud (the recording endpoint, held to the Discovery
documents) equal to what deploy made: after a deploy no grant is added or taken away; a use going from
read to write changes exactly that one binding."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.deploy.grants import grants

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.deploy.grants import grant_changes

PROJECT = "shop-project"
ACCOUNT = "stateful-runtime@shop-project.iam.gserviceaccount.com"
STATEFUL = Path(__file__).with_name("apps") / "stateful"


@pytest.fixture
def app(tmp_path: Path) -> App:
    return load_app(shutil.copytree(STATEFUL, tmp_path / "stateful", ignore=shutil.ignore_patterns("__pycache__")))


@pytest.fixture
def provider(google: Any, google_server: Any, helpers: Any, app: App) -> Any:
    settings = {**app.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01}
    return helpers.RecordingProvider({**settings, "service_account": ACCOUNT}, google_server.url)


def planned_grants(provider: Any, app: App) -> Any:
    desired = provider.desired(app, "dev", pipeline.package(provider, app, "dev").artifact)
    return grant_changes(grants(list(provider.read_remote(app, "dev"))), grants(desired))


def test_what_deploy_granted_reads_back_unchanged(provider: Any, app: App) -> None:
    before = planned_grants(provider, app)
    assert before.kept == () and len(before.added) >= 2
    pipeline.deploy(provider, app, "dev")
    after = planned_grants(provider, app)
    assert (after.added, after.removed) == ((), ())
    assert sorted(after.kept, key=repr) == sorted(before.added, key=repr)


def test_a_use_going_from_read_to_write_changes_that_binding_only(provider: Any, app: App) -> None:
    pipeline.deploy(provider, app, "dev")
    copy = shutil.copytree(app.root, app.root.with_name("changed"), ignore=shutil.ignore_patterns("__pycache__"))
    source = copy / "gcp_stateful_functions.py"
    text = source.read_text()
    assert "audit.read()" in text
    source.write_text(text.replace("audit.read()", "audit.write()"))
    changes = planned_grants(provider, load_app(copy))
    assert [(g.role, g.resource) for g in changes.removed] == [
        ("roles/datastore.viewer", f"projects/{PROJECT}/databases/stateful-dev-audit")
    ]
    assert [(g.role, g.resource) for g in changes.added] == [
        ("roles/datastore.user", f"projects/{PROJECT}/databases/stateful-dev-audit")
    ]
