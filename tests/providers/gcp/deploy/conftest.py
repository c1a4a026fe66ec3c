"""The Google control plane offline: a recording endpoint for the REST APIs and gcp-storage-emulator.

`gcp-storage-emulator` runs as one subprocess for the session (in memory, with the upload bucket made
at start) and takes the zip PUT to the signed URL the recording endpoint hands out; the recording
endpoint (`google_api.py`) runs in a thread and is emptied before each test. The official clients reach
both over plain http with anonymous credentials. Packaging belongs to its own module, so these tests
build a small deterministic zip themselves: the control plane only needs its bytes and hash.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import importlib.util
import sys
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import google_crc32c
import pytest
from google.auth.credentials import AnonymousCredentials
from portable_fn_gcp.deploy import GcpClient, GcpDeployer
from portable_fn_gcp.deploy.audit import audit_bucket
from portable_fn_gcp.deploy.naming import Names

from portable_fn.app import load_app
from portable_fn.deploy import Artifact
from portable_fn.emulators import Emulator
from portable_fn.provider import Provider

from ....app_copy import copy_app

PROJECT, REGION, UPLOAD_BUCKET = "shop-project", "europe-west1", "gcf-v2-uploads-123456789-europe-west1"
REPO = Path(__file__).resolve().parents[4]


def _load_google_api() -> Any:
    """google_api.py as a module of its own (tests run with --import-mode=importlib, no sys.path entry)."""
    path = Path(__file__).with_name("google_api.py")
    spec = importlib.util.spec_from_file_location("portable_fn_tests_google_api", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_google_api = _load_google_api()
GoogleApi, GoogleApiServer = _google_api.GoogleApi, _google_api.GoogleApiServer
UNSET = ("PUBSUB_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS")


@pytest.fixture(scope="session")
def storage_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of gcp-storage-emulator, holding the bucket upload URLs point into."""
    command = [
        sys.executable,
        "-m",
        "gcp_storage_emulator",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--in-memory",
        "--default-bucket",
        UPLOAD_BUCKET,
    ]
    with Emulator(
        command, "http://127.0.0.1:{port}/", tmp_path_factory.mktemp("gcs"), "gcp-storage-emulator", timeout_s=30
    ) as emulator:
        yield emulator.url


@pytest.fixture(scope="session")
def google_server(storage_emulator: str) -> Iterator[GoogleApiServer]:
    with GoogleApiServer(GoogleApi(storage_emulator, UPLOAD_BUCKET)) as server:
        yield server


@pytest.fixture
def google(google_server: GoogleApiServer, monkeypatch: pytest.MonkeyPatch) -> GoogleApi:
    """The recording endpoint's state, emptied, with no Google settings leaking in from the machine."""
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    google_server.api.reset()
    return google_server.api


def make_artifact(directory: Path, code: str) -> Artifact:
    """A deterministic zip standing in for the packaged app (fixed timestamps, one main.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "source.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("main.py", date_time=(1980, 1, 1, 0, 0, 0)), code)
    data = path.read_bytes()
    return Artifact(path, hashlib.sha256(data).hexdigest(), len(data), 1)


def audit_bucket_of(stage: str, app: str = "shop", project: str = PROJECT) -> str:
    """The audit trail's bucket of `app` and `stage`, as the product names it (deploy/audit.py)."""
    return audit_bucket(Names(app, stage, project, REGION))


def audit_trail(record: Any, stage: str = "dev", app: str = "shop", made: bool = False) -> list[tuple[Any, ...]]:
    """The requests writing `record` to the audit trail, as `GoogleApi.audit_writes()` lists them (each as
    `dataclasses.astuple`): its upload with ifGenerationMatch=0, the body's CRC32C that of the record's JSON,
    then the bucket's labels set to name it. The first record of a stage (`made`) finds no bucket: it makes
    the bucket (private, versioned, in the region, labelled for the stage) and uploads again."""
    bucket = audit_bucket_of(stage, app)
    checksum = base64.b64encode(google_crc32c.Checksum(record.body()).digest()).decode()
    upload = (
        "POST",
        f"/upload/storage/v1/b/{bucket}/o",
        {"uploadType": "multipart", "ifGenerationMatch": "0"},
        {"contentType": "application/json", "name": f"pfn-audit/{app}/{stage}/{record.name}", "crc32c": checksum},
    )
    labels = {"portable-fn-audit": f"{app}-{stage}"}
    create = (
        "POST",
        "/storage/v1/b",
        {"project": PROJECT, "prettyPrint": "false"},
        {
            "name": bucket,
            "location": REGION,
            "labels": labels,
            "versioning": {"enabled": True},
            "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": True}, "publicAccessPrevention": "enforced"},
        },
    )
    label = (
        "PATCH",
        f"/storage/v1/b/{bucket}",
        {"projection": "full", "prettyPrint": "false"},
        {"labels": {**labels, **record.tags()}},
    )
    return [upload, create, upload, label] if made else [upload, label]


def audit_writes(google: Any) -> list[tuple[Any, ...]]:
    """`google.audit_writes()` as tuples (method, path, query, body), to compare with `audit_trail`."""
    return [dataclasses.astuple(r) for r in google.audit_writes()]


class Call(tuple[str, str]):
    """A call as `GcpClient.calls` holds it, (service, method), that also knows the resource it named (what the
    API log line shows), so tests can tell the audit trail's calls from those on the app's resources."""

    resource: str

    def __new__(cls, service: str, method: str, resource: str) -> Call:
        call = super().__new__(cls, (service, method))
        call.resource = resource
        return call

    def on(self, bucket: str) -> bool:
        """Whether this call acts on `bucket` or an object in it."""
        return self.resource == bucket or self.resource.startswith(f"{bucket}/")


class NamingClient(GcpClient):
    """GcpClient recording each call as a `Call`: equal to the (service, method) pair tests compare with, and
    telling which of them are the audit trail's writes (`audit_calls`) and which change the app
    (`app_mutating_calls`)."""

    def record(self, service: str, method: str, resource: str) -> None:
        super().record(service, method, resource)
        self.calls[-1] = Call(service, method, resource)

    def audit_calls(self, bucket: str) -> list[tuple[str, str, str]]:
        """The mutating calls on the audit bucket `bucket` and its records: (service, method, resource)."""
        return [(*c, c.resource) for c in self.mutating_calls() if isinstance(c, Call) and c.on(bucket)]

    def app_mutating_calls(self, *audit: str) -> list[tuple[str, str]]:
        """`mutating_calls()` but those on the audit buckets named `audit`."""
        return [c for c in self.mutating_calls() if not (isinstance(c, Call) and any(c.on(b) for b in audit))]


class NamingDeployer(GcpDeployer):
    """GcpDeployer whose client is a `NamingClient`."""

    def make_client(self) -> NamingClient:
        config = self.config
        return NamingClient(
            self.endpoint_url, config.endpoints, self.credentials, config.poll_s, config.operation_timeout_s
        )


class RecordingProvider(Provider):
    """The GCP deploy side with a stand-in `package`: GcpDeployer does everything else."""

    name = "gcp"

    def __init__(self, settings: dict[str, Any] | None = None, endpoint_url: str | None = None) -> None:
        super().__init__(settings, endpoint_url)
        self.deployer = NamingDeployer(self.settings, endpoint_url, credentials=AnonymousCredentials())
        self.code = "# stand-in for the generated main.py\n"

    def check(self, app: Any) -> None:
        self.deployer.check(app)

    def package(self, app: Any, stage: str, out_dir: Path, progress: Any) -> Artifact:
        return make_artifact(out_dir, self.code)

    def desired(self, app: Any, stage: str, artifact: Artifact) -> list[Any]:
        return self.deployer.desired(app, stage, artifact)

    def read_remote(self, app: Any, stage: str) -> Any:
        return self.deployer.read_remote(app, stage)

    def read_remote_to_remove(self, app: Any, stage: str) -> Any:
        return self.deployer.read_remote_to_remove(app, stage)  # as GcpProvider's

    def executor(self, app: Any, stage: str) -> Any:
        return self.deployer.executor(app, stage)

    def outputs(self, app: Any, stage: str, remote: Any) -> dict[str, Any]:
        return self.deployer.outputs(app, stage, remote)


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """samples/shop, loaded from a private copy (deploys write their build directory into it)."""
    target = copy_app(REPO / "samples" / "shop", tmp_path)
    monkeypatch.setenv("SHOP_DATA_DIR", str(tmp_path / "shop-data"))
    return load_app(target)


@pytest.fixture
def provider(google: GoogleApi, google_server: GoogleApiServer, shop: Any) -> RecordingProvider:
    """The provider pointed at the recording endpoint, with the shop's settings for stage dev."""
    settings = {**shop.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01}
    return RecordingProvider(settings, google_server.url)


class ZipBuilder:
    """An app's zip built as deploy builds it into `out`, pip's resolver replaced: `asked` holds the requirements
    each build asked it to pin."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.asked: list[tuple[str, ...]] = []

    def resolve(self, requirements: Any, target: Any) -> list[str]:
        self.asked.append(tuple(requirements))
        return ["functions-framework==3.10.2"]

    def shipped(self, app: Any, name: str) -> set[str]:
        """The archive names of the app's zip, built in `out/name`."""
        from portable_fn_gcp.packaging import build_package

        where = self.out / name
        artifact = build_package(app, "dev", where, lambda m: None, cache_dir=where, resolve=self.resolve)
        return set(zipfile.ZipFile(artifact.path).namelist())


@pytest.fixture
def zips(tmp_path: Path) -> ZipBuilder:
    """A ZipBuilder writing into tmp_path."""
    return ZipBuilder(tmp_path)


@pytest.fixture
def helpers() -> types.SimpleNamespace:
    """Module-level helpers for the test modules (which cannot import this conftest)."""
    return types.SimpleNamespace(
        RecordingProvider=RecordingProvider,
        make_artifact=make_artifact,
        PROJECT=PROJECT,
        REGION=REGION,
        discovery_problems=_google_api.discovery_problems,
        audit_bucket_of=audit_bucket_of,
        audit_trail=audit_trail,
    )
