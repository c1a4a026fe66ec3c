"""The grants `plan` lists read back from Azure (the fake ARM held to the published specs, and Azurite) equal
to what deploy made: after a deploy no grant is added or taken away; a use going from read to write swaps
that table's role for the function app's identity and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient
from portable_fn_azure.deploy.grants import grants

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.deploy.grants import grant_changes

STATEFUL = Path(__file__).resolve().parents[1] / "apps" / "stateful"


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
    assert (changes.removed[0].role, changes.added[0].role) == (
        "Storage Table Data Reader",
        "Storage Table Data Contributor",
    )
