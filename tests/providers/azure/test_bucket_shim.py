"""Declared buckets through the Azure shim: with the settings deploy writes (its `desired` app settings, the
storage connection string standing in for the identity), the functions of the generated function_app.py, called
as the host calls them, write and read the bucket's container on Azurite's blob service."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.storage.blob import BlobServiceClient
from portable_fn_azure.deploy import AzureDeployer
from portable_fn_azure.deploy.naming import container_name
from portable_fn_azure.deploy.resources import STORAGE_CONNECTION, AppSettings

from portable_fn.app import App, load_app
from portable_fn.deploy import Artifact
from portable_fn.runtime.buckets import use_stores

from .host_objects import HostContext

FILING = Path(__file__).resolve().parent / "apps" / "filing"


def deployed_settings(app: App, azurite: str) -> dict[str, str]:
    """The function app's portable-fn settings as deploy writes them with `storage_auth = "connection_string"`,
    the storage account being Azurite."""
    settings = {"subscription_id": "11111111-2222-3333-4444-555555555555", "location": "westeurope"}
    deployer = AzureDeployer({**settings, "storage_auth": "connection_string", "storage_connection_string": azurite})
    artifact = Artifact(Path("/tmp/app.zip"), "ab" * 32, 10, 1)
    written = next(r for r in deployer.desired(app, "dev", artifact) if isinstance(r, AppSettings))
    return {k: azurite if v == STORAGE_CONNECTION else v for k, v in written.settings if k.startswith("PORTABLE_FN_")}


@pytest.fixture
def filing() -> Iterator[App]:
    """The app loaded afresh, its module put back as it was after the test."""
    before = sys.modules.get("filing")
    try:
        yield load_app(FILING)
    finally:
        sys.modules.pop("filing", None)
        if before is not None:
            sys.modules["filing"] = before


@pytest.fixture
def service(filing: App, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The settings in the environment, the buckets' containers fresh on Azurite, the stores opened anew."""
    for key, value in deployed_settings(filing, azurite).items():
        monkeypatch.setenv(key, value)
    blobs = BlobServiceClient.from_connection_string(azurite)
    for bucket in filing.buckets:
        if blobs.get_container_client(container_name(bucket.name)).exists():
            blobs.delete_container(container_name(bucket.name))
        blobs.create_container(container_name(bucket.name))
    previous = use_stores(None)
    try:
        yield blobs
    finally:
        use_stores(previous)
        for bucket in filing.buckets:
            blobs.delete_container(container_name(bucket.name))


@pytest.fixture
def functions(filing: App, indexed: Callable[[App], dict[str, Any]]) -> dict[str, Callable[..., Any]]:
    found = indexed(filing)
    return {name: lambda *a, _f=fn, _n=name: _f.get_user_function()(*a, HostContext(_n)) for name, fn in found.items()}


def test_the_deployed_settings_name_each_buckets_container_and_the_connection(filing: App, azurite: str) -> None:
    settings = deployed_settings(filing, azurite)
    endpoint = azurite.split("BlobEndpoint=")[1].split(";")[0]
    assert settings["PORTABLE_FN_BUCKET_UPLOADS"] == f"{endpoint}/{container_name('uploads')}"
    assert settings["PORTABLE_FN_BUCKET_REPORTS"] == f"{endpoint}/{container_name('reports')}"
    assert settings["PORTABLE_FN_BLOBS_CONNECTION"] == azurite and settings["PORTABLE_FN_PROVIDER"] == "azure"


def test_an_http_function_writes_the_container_and_another_lists_it_through_the_shim(
    service: Any, functions: dict[str, Callable[..., Any]]
) -> None:
    put = func.HttpRequest(
        "PUT", "https://filing.azurewebsites.net/uploads/a", body=b"one two", route_params={"name": "a"}
    )
    stored = functions["upload"](put)
    assert stored.status_code == 201, stored.get_body()
    blob = service.get_container_client(container_name("uploads")).get_blob_client("in/a")
    assert blob.download_blob().readall() == b"one two"
    assert blob.get_blob_properties().content_settings.content_type == "text/plain"

    listed = functions["listing"](func.HttpRequest("GET", "https://filing.azurewebsites.net/uploads", body=b""))
    assert listed.status_code == 200 and json.loads(listed.get_body()) == {"keys": ["in/a"]}
