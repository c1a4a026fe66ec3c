"""Flex Consumption held to what Azure publishes: Microsoft.Web 2025-05-01 (an excerpt of its openapi.json and
its Flex example, in tests/data/azure/azure-rest-api-specs) for the site's update, and the documented release
of a package (the zip POSTed to the app's SCM host's `/api/publish`, its deployment polled until Kudu says it
succeeded or failed), which `az functionapp deployment source config-zip` and Core Tools use for Flex apps.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from portable_fn_azure.deploy.client import SCM_SCOPE

from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import DeployError

GROUP = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/shop-dev-rg"
SPEC = (
    Path(__file__).resolve().parents[3]
    / "data/azure/azure-rest-api-specs/specification/web/resource-manager"
    / "Microsoft.Web/AppService/stable/2025-05-01"
)


def flex(shop: Any, arm: Any, certificate: Any, azurite: str, helpers: Any, **extra: Any) -> Any:
    return helpers.ArmProvider(
        helpers.settings_for(shop, "dev", certificate, azurite, plan_sku="FC1", **extra), arm.url
    )


def site_path(provider: Any, shop: Any) -> str:
    return f"{GROUP}/providers/Microsoft.Web/sites/{provider.deployer.names(shop, 'dev').function_app}"


def the_zip(shop: Any) -> bytes:
    return (shop.root / ".portable-fn/build/azure/dev/app.zip").read_bytes()


def server(arm: Any) -> Any:
    """The fake ARM's module (its schema checks)."""
    return sys.modules[type(arm).__module__]


# -- the site's update ---------------------------------------------------------------------------------
def test_the_spec_defines_function_app_config_for_the_sites_put_only() -> None:
    spec = json.loads((SPEC / "openapi.excerpt.json").read_text())
    definitions = spec["definitions"]
    assert "functionAppConfig" in definitions["SiteProperties"]["properties"]
    assert "functionAppConfig" not in definitions["SitePatchResourceProperties"]["properties"]
    site = spec["paths"][next(p for p in spec["paths"] if p.endswith("/sites/{name}"))]
    assert site["patch"]["parameters"][0]["schema"] == {"$ref": "#/definitions/SitePatchResource"}
    assert site["put"]["parameters"][0]["schema"] == {"$ref": "#/definitions/Site"}


def test_the_fake_takes_the_specs_flex_example_and_refuses_function_app_config_in_a_patch(
    arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    example = json.loads((SPEC / "examples/CreateOrUpdateFunctionAppFlexConsumption.json").read_text())
    server(arm).check_body(server(arm).SITE_OPERATION, "put", example["parameters"]["siteEnvelope"])  # accepted
    provider = flex(shop, arm, certificate, azurite, helpers)
    pipeline.deploy(provider, shop, "dev")
    n = provider.deployer.names(shop, "dev")
    scale = {"scaleAndConcurrency": {"instanceMemoryMB": 4096, "maximumInstanceCount": 100}}
    with pytest.raises(HttpResponseError) as refused:
        provider.deployer.client.web.web_apps.update(
            n.resource_group, n.function_app, {"properties": {"functionAppConfig": scale}}
        )
    assert refused.value.status_code == 400
    assert (
        "Could not find member 'functionAppConfig' on object of type 'SitePatchResourceProperties'. "
        "Path 'properties.functionAppConfig'"
    ) in str(refused.value)
    config = arm.get(site_path(provider, shop))["properties"]["functionAppConfig"]
    assert config["scaleAndConcurrency"]["instanceMemoryMB"] == 2048  # nothing applied


def test_a_flex_memory_change_reaches_the_site_by_put_keeping_the_rest_and_the_next_plan_is_empty(
    arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    pipeline.deploy(flex(shop, arm, certificate, azurite, helpers), shop, "dev")
    bigger = flex(shop, arm, certificate, azurite, helpers, instance_memory_mb=4096)
    path = site_path(bigger, shop)
    before = arm.get(path)
    before["tags"]["owner"] = "ops"  # set outside deploy, as the portal or a policy would
    before["properties"]["functionAppConfig"]["siteUpdateStrategy"] = {"type": "RollingUpdate"}
    settings = dict(arm.get(path + "/config/appsettings")["properties"])
    principal, release = before["identity"]["principalId"], before["tags"]["portable-fn-release"]
    sent = len(arm.state.requests)

    outcome = pipeline.deploy(bigger, shop, "dev")
    assert [s.describe() for s in outcome.plan.steps] == [
        f"~ update function app {bigger.deployer.names(shop, 'dev').function_app} (instance_memory_mb)"
    ]
    to_site = [
        (r.method, r.status) for r in arm.state.requests[sent:] if r.path.lower() == path.lower() and r.method != "GET"
    ]
    assert to_site == [("PUT", 202)]
    put = next(r.body for r in arm.state.requests[sent:] if r.method == "PUT" and r.path.lower() == path.lower())
    assert "defaultHostName" not in put["properties"] and "principalId" not in put["identity"]  # read-only: not sent
    after = arm.get(path)
    config = after["properties"]["functionAppConfig"]
    assert config["scaleAndConcurrency"] == {"instanceMemoryMB": 4096, "maximumInstanceCount": 100}
    assert config["siteUpdateStrategy"] == {"type": "RollingUpdate"}
    assert after["tags"]["owner"] == "ops" and after["tags"]["portable-fn-release"] == release
    assert after["identity"]["principalId"] == principal
    assert arm.get(path + "/config/appsettings")["properties"] == settings
    bigger.deployer.client.calls.clear()
    assert pipeline.deploy(bigger, shop, "dev").plan.empty
    assert bigger.deployer.client.mutating_calls() == []


# -- the package's release -----------------------------------------------------------------------------
def test_the_old_one_deploy_body_is_refused_as_the_operation_takes_none(
    arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    provider = flex(shop, arm, certificate, azurite, helpers)
    pipeline.deploy(provider, shop, "dev")
    url = site_path(provider, shop) + "/extensions/onedeploy"
    client = provider.deployer.client
    with pytest.raises(HttpResponseError) as refused:
        client.arm_request(
            "PUT",
            url,
            {"properties": {"packageUri": "https://example.invalid/app.zip", "remoteBuild": False}},
            api="web",
        )
    assert refused.value.status_code == 400
    assert "WebApps_CreateOneDeployOperation takes no request body" in str(refused.value)
    assert client.arm_request("PUT", url, None, api="web").status_code == 200  # what the spec defines


def test_flex_releases_by_publishing_the_zip_to_its_scm_host_and_a_failed_release_converges(
    arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    provider = flex(shop, arm, certificate, azurite, helpers)
    pipeline.deploy(provider, shop, "dev")
    site = arm.get(site_path(provider, shop))
    scm = next(s["name"] for s in site["properties"]["hostNameSslStates"] if s["hostType"] == "Repository")
    assert scm == site["properties"]["defaultHostName"].replace(".", ".scm.", 1)
    published = [r for r in arm.state.requests if r.path == "/api/publish"]
    assert [(r.method, r.status, r.query) for r in published] == [
        ("POST", 202, {"RemoteBuild": "false", "Deployer": "portable-fn"})
    ]
    assert published[0].headers["Host"] == scm and published[0].headers["Content-Type"] == "application/zip"
    assert published[0].body == the_zip(shop)
    assert (SCM_SCOPE,) in provider.credential.scopes
    polls = [r for r in arm.state.requests if r.path.startswith("/api/deployments/")]
    assert polls and all(r.method == "GET" and r.status == 200 for r in polls)
    assert not any(r.path.lower().endswith("/extensions/onedeploy") for r in arm.state.requests)

    sent = len(arm.state.requests)  # unchanged: not released again
    assert pipeline.deploy(provider, shop, "dev").plan.empty
    assert not [r for r in arm.state.requests[sent:] if r.path.startswith("/api/")]

    arm.state.failed_deployments = 1  # Kudu takes the zip, then the deployment fails
    provider.code = "# the handlers changed\n"
    with pytest.raises(DeployError, match=r"publishing the package to .* failed: Deployment failed.*/api/deployments/"):
        pipeline.deploy(provider, shop, "dev")
    old = arm.get(site_path(provider, shop))["tags"]["portable-fn-release"]
    left = [s.describe() for s in pipeline.plan(provider, shop, "dev").plan.steps]
    assert left[0] == f"~ update package release {site['name']} (package)"  # then the old blob's deletion
    pipeline.deploy(provider, shop, "dev")
    new = hashlib.sha256(the_zip(shop)).hexdigest()
    assert arm.state.deployed[site["id"].lower()][-1] == new
    assert arm.get(site_path(provider, shop))["tags"]["portable-fn-release"] != old
    assert len([r for r in arm.state.requests if r.path == "/api/publish"]) == 3
    assert pipeline.plan(provider, shop, "dev").plan.empty
