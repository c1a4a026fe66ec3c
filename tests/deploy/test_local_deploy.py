"""The whole pipeline against the local cloud: plan, deploy, no-op redeploy, code change, remove."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from portable_fn.app import App, load_app
from portable_fn.deploy import Deployer, Executor, RemoteState, Resource, pipeline
from portable_fn.local.provider import (
    LocalBucket,
    LocalChannel,
    LocalCloud,
    LocalDeployer,
    LocalFunction,
    LocalGrant,
    LocalProvider,
    LocalStateStore,
)
from portable_fn.runtime.errors import DeployError
from portable_fn.runtime.state import Record
from portable_fn.runtime.state_sqlite import SqliteBackend


@pytest.fixture
def cloud_dir(tmp_path: Path) -> Path:
    return tmp_path / "local-cloud"


def provider(cloud_dir: Path, cloud: LocalCloud | None = None) -> LocalProvider:
    """The local provider on `cloud_dir`, or on `cloud` (a LocalCloud a test watches) when given."""
    local = LocalProvider({"state_dir": str(cloud_dir)})
    if cloud is not None:
        local.deployer = LocalDeployer(local.settings, client=cloud)
    return local


def test_plan_changes_nothing(shop_copy: Path, cloud_dir: Path) -> None:
    outcome = pipeline.plan(provider(cloud_dir), load_app(shop_copy), "dev")
    assert outcome.plan is not None and outcome.plan.count("create") == 25
    assert not (cloud_dir / "resources.json").exists()


def test_deploy_then_redeploy_makes_zero_mutations(shop_copy: Path, cloud_dir: Path) -> None:
    app = load_app(shop_copy)
    first = pipeline.deploy(provider(cloud_dir), app, "dev")
    assert first.report is not None and len(first.report.applied) == 25
    assert first.outputs["functions"]["create_order"]["url"] == "http://127.0.0.1:8080/orders"
    cloud = LocalCloud(cloud_dir)
    second = pipeline.deploy(provider(cloud_dir, cloud), app, "dev")
    assert second.plan is not None and second.plan.empty
    assert cloud.mutations == 0


def test_a_code_change_updates_the_functions_code_only(shop_copy: Path, cloud_dir: Path) -> None:
    pipeline.deploy(provider(cloud_dir), load_app(shop_copy), "dev")
    source = shop_copy / "shop" / "models.py"
    source.write_text(source.read_text() + "\n# a change\n")
    outcome = pipeline.plan(provider(cloud_dir), load_app(shop_copy), "dev")
    assert outcome.plan is not None
    assert {s.action for s in outcome.plan.steps} == {"update"}
    assert {s.changes for s in outcome.plan.steps} == {("code_sha256",)}
    assert outcome.plan.count("update") == 9


def test_remove_deletes_only_this_apps_stage(shop_copy: Path, cloud_dir: Path) -> None:
    app = load_app(shop_copy)
    pipeline.deploy(provider(cloud_dir), app, "dev")
    pipeline.deploy(provider(cloud_dir), app, "prod")
    removed = pipeline.remove(provider(cloud_dir), app, "dev")
    assert removed.plan is not None and removed.plan.count("delete") == 25
    remaining = LocalCloud(cloud_dir).records()
    assert len(remaining) == 25 and {r["tags"]["stage"] for r in remaining} == {"prod"}
    assert pipeline.info(provider(cloud_dir), app, "dev").outputs["functions"] == {}


def test_remove_reads_through_a_plugins_own_read_remote(shop_copy: Path, cloud_dir: Path) -> None:
    """A provider plugin that overrides `read_remote` alone has `remove` plan from it too."""
    app = load_app(shop_copy)
    pipeline.deploy(provider(cloud_dir), app, "dev")
    reads: list[str] = []

    class Plugin(LocalProvider):
        def read_remote(self, app: App, stage: str) -> RemoteState:
            reads.append(stage)
            remote = super().read_remote(app, stage)
            return RemoteState([r for r in remote if r.kind != "local function"])

    removed = pipeline.remove(Plugin({"state_dir": str(cloud_dir)}), app, "dev")
    assert reads == ["dev"]
    assert removed.plan is not None and removed.plan.count("delete") == 25 - len(app.functions)


def test_a_deploy_reads_the_app_again_for_its_outputs_only_when_it_changed_something(
    shop_copy: Path, cloud_dir: Path
) -> None:
    """Outputs name what is deployed: after applying a plan the app is read again; a deploy that changes nothing
    reports from the read its plan was made from."""
    app = load_app(shop_copy)
    reads: list[str] = []

    class Counting(LocalProvider):
        def read_remote(self, app: App, stage: str) -> RemoteState:
            reads.append(stage)
            return super().read_remote(app, stage)

    first = pipeline.deploy(Counting({"state_dir": str(cloud_dir)}), app, "dev")
    assert reads == ["dev", "dev"]  # the plan's, then the outputs' after 25 steps
    reads.clear()
    again = pipeline.deploy(Counting({"state_dir": str(cloud_dir)}), app, "dev")
    assert again.plan is not None and again.plan.empty
    assert reads == ["dev"]
    assert again.outputs == first.outputs and again.outputs["functions"]["create_order"]["url"]


def test_a_deploy_that_fails_half_way_converges_when_rerun(shop_copy: Path, cloud_dir: Path) -> None:
    app = load_app(shop_copy)
    broken = provider(cloud_dir, FullDisk(cloud_dir, fail_on_put=5))
    with pytest.raises(DeployError, match=r"step 5 of 25.*disk full.*again to converge"):
        pipeline.deploy(broken, app, "dev")
    assert len(LocalCloud(cloud_dir).records()) == 4
    rerun = pipeline.deploy(provider(cloud_dir), app, "dev")
    assert rerun.plan is not None and rerun.plan.count("create") == 21
    assert pipeline.plan(provider(cloud_dir), app, "dev").plan.empty  # type: ignore[union-attr]


class FullDisk(LocalCloud):
    """A local cloud whose disk fills up on the `fail_on_put`-th write."""

    def __init__(self, root: Path, fail_on_put: int) -> None:
        super().__init__(root)
        self.fail_on_put = fail_on_put
        self.puts = 0

    def put(self, resource: Resource, app: str, stage: str) -> None:
        self.puts += 1
        if self.puts == self.fail_on_put:
            raise OSError("disk full")
        super().put(resource, app, stage)


def test_the_local_provider_is_built_on_the_shared_deploy_core(shop_copy: Path, cloud_dir: Path) -> None:
    """Its deployer fills in the same base as a cloud's, and the shared Executor applies its plans."""
    local = provider(cloud_dir)
    executor = local.executor(load_app(shop_copy), "dev")
    assert isinstance(local.deployer, Deployer) and type(executor) is Executor
    assert executor.provider == "local"
    assert set(executor.appliers) == {LocalFunction, LocalChannel, LocalStateStore, LocalBucket, LocalGrant}


# -- state stores and grants --------------------------------------------------------------------------

STATEFUL = Path(__file__).resolve().parents[1] / "local" / "apps" / "stateful"


@pytest.fixture
def stateful(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the stateful test app (packaging writes into the app directory), imported afresh."""
    monkeypatch.delitem(sys.modules, "local_stateful", raising=False)
    return Path(shutil.copytree(STATEFUL, tmp_path / "stateful", ignore=shutil.ignore_patterns(".portable-fn")))


def test_plan_lists_each_state_store_and_each_functions_grants(stateful: Path, cloud_dir: Path) -> None:
    outcome = pipeline.plan(provider(cloud_dir), load_app(stateful), "dev")
    assert outcome.plan is not None
    created = {(s.resource.kind, s.resource.name): s.resource for s in outcome.plan.steps}
    store = created["local state", "stateful-dev-counters"]
    assert isinstance(store, LocalStateStore)
    assert store.path == str(cloud_dir / "states" / "stateful-dev-counters.sqlite3")
    grants = {(r.function, r.state, r.access) for r in created.values() if isinstance(r, LocalGrant)}
    assert grants == {
        ("stateful-dev-count", "stateful-dev-counters", "write"),
        ("stateful-dev-read_count", "stateful-dev-counters", "read"),
        ("stateful-dev-noted", "stateful-dev-counters", "write"),
        ("stateful-dev-gated", "stateful-dev-counters", "write"),
        ("stateful-dev-tally", "stateful-dev-counters", "write"),
        ("stateful-dev-tally", "stateful-dev-pfn-idempotency", "write"),  # idempotent=True
    }  # `peek` touches state("secrets") undeclared: no store, no grant
    assert ("local state", "stateful-dev-secrets") not in created
    assert ("local state", "stateful-dev-pfn-idempotency") in created  # portable-fn's own, provisioned alike
    kinds = [s.resource.kind for s in outcome.plan.steps]
    assert kinds.index("local state") < kinds.index("local function") < kinds.index("local grant")


def test_remove_keeps_a_store_holding_data_unless_told_to_delete_it(stateful: Path, cloud_dir: Path) -> None:
    app = load_app(stateful)
    pipeline.deploy(provider(cloud_dir), app, "dev")
    path = cloud_dir / "states" / "stateful-dev-counters.sqlite3"
    SqliteBackend(str(path)).write(Record("apples", "3", "v1"))

    said: list[str] = []
    kept = pipeline.remove(provider(cloud_dir), app, "dev", said.append)
    assert kept.plan is not None and [r.name for r in kept.plan.kept] == ["stateful-dev-counters"]
    assert path.is_file() and SqliteBackend(str(path)).read("apples") is not None
    assert any(
        "keep local state stateful-dev-counters: it holds data; `portable-fn remove --delete-data`" in line
        for line in said
    )
    assert [r["kind"] for r in LocalCloud(cloud_dir).records()] == ["local state"]

    deleted = pipeline.remove(provider(cloud_dir), app, "dev", delete_data=True)
    assert deleted.plan is not None and deleted.plan.count("delete") == 1 and not deleted.plan.kept
    assert not path.exists() and LocalCloud(cloud_dir).records() == []


def test_remove_deletes_an_empty_store(stateful: Path, cloud_dir: Path) -> None:
    app = load_app(stateful)
    pipeline.deploy(provider(cloud_dir), app, "dev")
    path = cloud_dir / "states" / "stateful-dev-counters.sqlite3"
    assert path.is_file()
    removed = pipeline.remove(provider(cloud_dir), app, "dev")
    assert removed.plan is not None and not removed.plan.kept
    assert not path.exists()


def test_a_redeploy_with_data_in_a_store_changes_nothing(stateful: Path, cloud_dir: Path) -> None:
    app = load_app(stateful)
    pipeline.deploy(provider(cloud_dir), app, "dev")
    SqliteBackend(str(cloud_dir / "states" / "stateful-dev-counters.sqlite3")).write(Record("k", "1", "v1"))
    cloud = LocalCloud(cloud_dir)
    again = pipeline.deploy(provider(cloud_dir, cloud), app, "dev")
    assert again.plan is not None and again.plan.empty and cloud.mutations == 0


def test_a_grant_narrowed_to_read_is_replaced_in_the_plan(stateful: Path, cloud_dir: Path) -> None:
    pipeline.deploy(provider(cloud_dir), load_app(stateful), "dev")
    source = stateful / "local_stateful.py"
    source.write_text(
        source.read_text().replace(
            '"/count/{name}"), uses=[counters.write()]', '"/count/{name}"), uses=[counters.read()]'
        )
    )
    del sys.modules["local_stateful"]  # imported again, changed
    outcome = pipeline.plan(provider(cloud_dir), load_app(stateful), "dev")
    assert outcome.plan is not None
    grants = {(s.action, s.resource.name) for s in outcome.plan.steps if s.resource.kind == "local grant"}
    assert grants == {
        ("create", "stateful-dev-count reads stateful-dev-counters"),
        ("delete", "stateful-dev-count writes stateful-dev-counters"),
    }
