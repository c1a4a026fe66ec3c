"""samples/saas through the whole pipeline on the local cloud (`--provider local`): deploy makes its functions,
channels, state stores and each function's grant on the states it declares; a second deploy changes nothing."""

from __future__ import annotations

from pathlib import Path

from portable_fn.app import load_app
from portable_fn.deploy import pipeline
from portable_fn.local.provider import LocalCloud, LocalDeployer, LocalProvider

from ..app_copy import copy_app

SAAS = Path(__file__).resolve().parents[2] / "samples" / "saas"
KINDS = ("local state", "local grant")


def test_the_saas_sample_deploys_to_the_local_cloud_and_a_second_deploy_changes_nothing(tmp_path: Path) -> None:
    target = copy_app(SAAS, tmp_path)
    app = load_app(target)
    cloud_dir = tmp_path / "local-cloud"
    first = pipeline.deploy(LocalProvider({"state_dir": str(cloud_dir)}), app, "dev")
    assert first.plan is not None and first.report is not None
    names = {kind: sorted(s.resource.name for s in first.plan.steps if s.resource.kind == kind) for kind in KINDS}
    assert names["local state"] == sorted(f"saas-dev-{s.name}" for s in app.states)
    grants = names["local grant"]
    assert [g for g in grants if g.startswith("saas-dev-billing_export ")] == [
        "saas-dev-billing_export reads saas-dev-tenants"  # no grant for the secret: locally, a file
    ]
    assert [g for g in grants if g.endswith(" saas-dev-projects")] == [
        "saas-dev-create_project writes saas-dev-projects",
        "saas-dev-get_project reads saas-dev-projects",
        "saas-dev-list_projects reads saas-dev-projects",
        "saas-dev-onboard_tenant-run writes saas-dev-projects",
    ]
    assert first.outputs["functions"]["create_project"]["url"] == "http://127.0.0.1:8080/projects"

    cloud = LocalCloud(cloud_dir)
    local = LocalProvider({"state_dir": str(cloud_dir)})
    local.deployer = LocalDeployer(local.settings, client=cloud)
    second = pipeline.deploy(local, app, "dev")
    assert second.plan is not None and second.plan.empty
    assert cloud.mutations == 0
