"""Declared buckets on Azure, deployed: a container per bucket in the app's storage account (the one a
`storage(name)` trigger of that name watches; ARM's BlobContainers_Create, held to the spec by the fake ARM, and
made in Azurite's blob service too), each function's own identity granted the bucket reader or writer custom
role (`roles`) on exactly that container, `PORTABLE_FN_BUCKET_<NAME>` in the app settings, a function reading
and writing through them with those settings, and `remove` keeping a container that holds blobs (with its
account and group) unless `delete_data`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure.buckets import CONNECTION_ENV
from portable_fn_azure.deploy.naming import container_name
from portable_fn_azure.deploy.roles import BUCKET_READER, BUCKET_WRITER, definition_id

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.runtime.buckets import locator_env
from portable_fn.testing import invoke, make_event, make_request

from .test_state_deploy import SUB, account_of

GROUP = f"{SUB}/resourceGroups/filing-dev-rg"

FILING = Path(__file__).resolve().parents[1] / "apps" / "filing"
ROLE_TYPE = "Microsoft.Authorization/roleAssignments"
UPLOADS, REPORTS = container_name("uploads"), container_name("reports")


@pytest.fixture
def filing(tmp_path: Path) -> App:
    target = tmp_path / "filing"
    shutil.copytree(FILING, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    return load_app(target)


@pytest.fixture
def provider(arm: Any, blobs: Any, azurite: str, certificate: Any, filing: App, helpers: Any) -> Any:
    return helpers.ArmProvider(helpers.settings_for(filing, "dev", certificate, azurite), arm.url)


def container_roles(arm: Any, account: str, container: str) -> set[tuple[str, str]]:
    """(role definition id, principal id) of each role assignment on the container."""
    scope = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{account}/blobServices/default/containers/{container}"
    found = arm.children(f"{scope}/providers/Microsoft.Authorization/roleAssignments", ROLE_TYPE)
    return {(r["properties"]["roleDefinitionId"], r["properties"]["principalId"]) for r in found}


def own_principal(arm: Any, provider: Any, app: App, function: str) -> str:
    """The principal id of `function`'s own user-assigned identity, as the endpoint holds it."""
    identity = provider.deployer.names(app, "dev").identity(function)
    found = arm.get(f"{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}")
    return str(found["properties"]["principalId"])


def app_settings(arm: Any, provider: Any, app: App) -> dict[str, str]:
    site = provider.deployer.names(app, "dev").function_app
    found: dict[str, str] = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{site}/config/appsettings")["properties"]
    return found


def test_each_bucket_gets_its_container_its_setting_and_each_function_the_role_it_declared(
    provider: Any, filing: App, arm: Any, blobs: Any, azurite: str
) -> None:
    outcome = pipeline.deploy(provider, filing, "dev")
    account = account_of(provider, filing)
    made = {s.resource.name for s in outcome.plan.steps if s.resource.kind == "blob container"}
    assert {f"{account}/{UPLOADS}", f"{account}/{REPORTS}"} <= made  # reports: no trigger watches it
    for container in (UPLOADS, REPORTS):  # through ARM (private), and on Azurite's data plane
        found = arm.get(
            f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{account}/blobServices/default/containers/{container}"
        )
        assert found["properties"]["publicAccess"] == "None"
    assert {UPLOADS, REPORTS} <= {c["name"] for c in blobs.list_containers()}

    names = provider.deployer.names(filing, "dev")
    reader, writer = definition_id(names, BUCKET_READER), definition_id(names, BUCKET_WRITER)
    summarise, listing, upload = (own_principal(arm, provider, filing, f) for f in ("summarise", "listing", "upload"))
    assert container_roles(arm, account, UPLOADS) == {(reader, summarise), (reader, listing), (writer, upload)}
    assert container_roles(arm, account, REPORTS) == {(writer, summarise)}

    settings = app_settings(arm, provider, filing)
    endpoint = azurite.split("BlobEndpoint=")[1].split(";")[0]
    assert {k: v for k, v in settings.items() if k.startswith("PORTABLE_FN_BUCKET_")} == {
        locator_env("uploads"): f"{endpoint}/{UPLOADS}",
        locator_env("reports"): f"{endpoint}/{REPORTS}",
    }
    assert CONNECTION_ENV not in settings  # the identity reaches the containers
    remote = provider.deployer.read_remote(filing, "dev")
    assert provider.deployer.outputs(filing, "dev", remote)["buckets"] == {"uploads": UPLOADS, "reports": REPORTS}

    provider.deployer.client.calls.clear()
    assert pipeline.deploy(provider, filing, "dev").plan.empty
    assert provider.deployer.client.mutating_calls() == []


def test_a_function_reads_and_writes_the_deployed_buckets_with_the_settings_deploy_wrote(
    provider: Any, filing: App, arm: Any, blobs: Any, azurite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the function app runs it: its settings in the environment (Azurite's connection string standing in
    for the identity), each function refused what it did not declare."""
    pipeline.deploy(provider, filing, "dev")
    for key, value in app_settings(arm, provider, filing).items():
        if key.startswith(("PORTABLE_FN_BUCKET_", "PORTABLE_FN_PROVIDER")):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv(CONNECTION_ENV, azurite)
    functions = {s.name: s.handler for s in filing.functions}

    stored = invoke(functions["upload"], make_request("PUT", "/uploads/a", body=b"three short words"))
    assert stored.status == 201
    assert invoke(functions["summarise"], make_event({"bucket": "uploads", "key": "in/a"})).ok
    report = blobs.get_container_client(REPORTS).get_blob_client("a.txt")
    assert report.download_blob().readall() == b"3 words"
    assert report.get_blob_properties().content_settings.content_type == "text/plain"
    listed = invoke(functions["listing"], make_request("GET", "/uploads", headers={}))
    assert json.loads(listed.body) == {"keys": ["in/a"]}


def test_remove_keeps_a_bucket_holding_blobs_with_its_account_and_group_unless_told(
    provider: Any, filing: App, arm: Any, blobs: Any, helpers: Any
) -> None:
    pipeline.deploy(provider, filing, "dev")
    blobs.get_container_client(REPORTS).upload_blob("kept.txt", b"data")

    kept = pipeline.remove(provider, filing, "dev").plan
    account = account_of(provider, filing)
    assert {(r.kind, r.name) for r in kept.kept} == {
        ("blob container", f"{account}/{REPORTS}"),
        ("storage account", account),
        ("resource group", "filing-dev-rg"),
    }
    assert len(kept.kept_lines()) == 3 and all("--delete-data" in line for line in kept.kept_lines())
    assert [c["name"] for c in blobs.list_containers() if c["name"] in (UPLOADS, REPORTS)] == [REPORTS]
    assert blobs.get_container_client(REPORTS).get_blob_client("kept.txt").download_blob().readall() == b"data"

    gone = pipeline.remove(provider, filing, "dev", delete_data=True).plan
    assert not gone.kept
    assert [c["name"] for c in blobs.list_containers() if c["name"] in (UPLOADS, REPORTS)] == []
    assert {key: found["tags"] for key, found in arm.state.resources.items()} == helpers.audit_trail("filing", "dev")


def test_with_a_connection_string_the_buckets_get_it_and_no_role(
    arm: Any, blobs: Any, filing: App, certificate: Any, azurite: str, helpers: Any
) -> None:
    settings = helpers.settings_for(filing, "dev", certificate, azurite, storage_auth="connection_string")
    provider = helpers.ArmProvider(settings, arm.url)
    outcome = pipeline.deploy(provider, filing, "dev")
    assert not [
        s for s in outcome.plan.steps if s.resource.kind == "role assignment" and "/containers/" in s.resource.scope
    ]
    assert app_settings(arm, provider, filing)[CONNECTION_ENV] == azurite
    assert pipeline.plan(provider, filing, "dev").plan.empty  # read back as the marker, not a change
