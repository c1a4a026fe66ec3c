"""The Azure control plane offline: a local HTTPS ARM endpoint and Azurite, started by the suite itself.

- ARM: `arm_server.FakeArm` on 127.0.0.1 with a self-signed certificate made here (`cryptography`),
  handed to the official management clients as `connection_verify`; bearer tokens come from a static
  credential (azure-core refuses them over plain http, hence HTTPS). It is emptied before each test.
- Storage: Azurite (the `azurite` fixture of tests/providers/azure/conftest.py); the package upload goes
  there through the well-known `devstoreaccount1` connection string.

Packaging belongs to its own module, so these tests build a small deterministic zip themselves.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.util
import ipaddress
import shutil
import socket
import sys
import time
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.mgmt.web")
pytest.importorskip("azure.storage.blob")

from azure.core.credentials import AccessToken
from portable_fn_azure.deploy import AzureDeployer

from portable_fn.app import load_app
from portable_fn.deploy import Artifact
from portable_fn.provider import Provider

REPO = Path(__file__).resolve().parents[4]


def _load_arm_server() -> Any:
    """The fake ARM module beside this file (test directories are not packages here)."""
    path = Path(__file__).with_name("arm_server.py")
    spec = importlib.util.spec_from_file_location("portable_fn_tests_arm_server", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


FakeArm = _load_arm_server().FakeArm


def _load_keyvault_server() -> Any:
    """The fake Key Vault beside this file."""
    path = Path(__file__).with_name("keyvault_server.py")
    spec = importlib.util.spec_from_file_location("portable_fn_tests_keyvault_server", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


FakeKeyVault = _load_keyvault_server().FakeKeyVault
TOKEN = "portable-fn-test-token"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"


class StaticToken:
    """A TokenCredential that always answers the same bearer token (the fake ARM checks it)."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, its own CA, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portable-fn test ARM")])
    now = datetime.datetime.now(datetime.timezone.utc)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, False, False, False), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "arm.pem", directory / "arm-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def sdk_api_versions() -> dict[str, str]:
    """The api-version each official client sends by default: what the fake ARM insists on."""
    from azure.mgmt.eventgrid import EventGridManagementClient
    from azure.mgmt.keyvault import KeyVaultManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.storage import StorageManagementClient
    from azure.mgmt.web import WebSiteManagementClient

    made = {
        key: cls(StaticToken(), SUBSCRIPTION)
        for key, cls in {
            "resources": ResourceManagementClient,
            "microsoft.storage": StorageManagementClient,
            "microsoft.web": WebSiteManagementClient,
            "microsoft.eventgrid": EventGridManagementClient,
            "microsoft.keyvault": KeyVaultManagementClient,
        }.items()
    }
    versions = {key: client._config.api_version for key, client in made.items()}
    from azure.mgmt.authorization import AuthorizationManagementClient

    roles = AuthorizationManagementClient(StaticToken(), SUBSCRIPTION).role_assignments
    # Microsoft.ManagedIdentity: the api-version deploy sends (it has no SDK of that namespace)
    return {
        **versions,
        "microsoft.authorization": roles._config.api_version,
        "microsoft.managedidentity": "2023-01-31",
        "microsoft.servicebus": "2021-11-01",  # likewise Microsoft.ServiceBus (the entities' MaxDeliveryCount)
    }


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def arm_server(certificate: tuple[Path, Path]) -> Iterator[FakeArm]:
    server = FakeArm(str(certificate[0]), str(certificate[1]), TOKEN, sdk_api_versions()).start()
    try:
        yield server
    finally:
        server.stop()


def keyvault_api_version() -> str:
    """The api-version azure-keyvault-secrets sends by default: what the fake Key Vault insists on."""
    from azure.keyvault.secrets import SecretClient

    return str(SecretClient("https://any.vault.azure.net/", StaticToken()).api_version)


@pytest.fixture(scope="session")
def keyvault_server(certificate: tuple[Path, Path], arm_server: FakeArm) -> Iterator[FakeKeyVault]:
    server = FakeKeyVault(str(certificate[0]), str(certificate[1]), TOKEN, keyvault_api_version(), arm_server)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def keyvault(keyvault_server: FakeKeyVault, arm: FakeArm) -> FakeKeyVault:
    """The fake Key Vault data plane, emptied, serving the vaults the (emptied) fake ARM holds."""
    keyvault_server.reset()
    return keyvault_server


@pytest.fixture
def arm(arm_server: FakeArm) -> FakeArm:
    """The fake ARM, emptied: every test starts from a subscription with nothing in it."""
    arm_server.reset()
    return arm_server


@pytest.fixture
def blobs(azurite: str) -> Any:
    """A plain blob client on Azurite, emptied before the test."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite)
    for container in service.list_containers():
        service.delete_container(container["name"])
    return service


# -- the app and the provider ----------------------------------------------------------------------------
def make_artifact(directory: Path, code: str) -> Artifact:
    """A deterministic zip standing in for the packaged app (fixed timestamps, one module)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "app.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("function_app.py", date_time=(1980, 1, 1, 0, 0, 0)), code)
    data = path.read_bytes()
    return Artifact(path, hashlib.sha256(data).hexdigest(), len(data), 1)


class ArmProvider(Provider):
    """The Azure deploy side with a stand-in `package`: AzureDeployer does everything else."""

    name = "azure"

    def __init__(self, settings: dict[str, Any] | None = None, endpoint_url: str | None = None) -> None:
        # the fake ARM plays the sites' SCM (Kudu) hosts too
        super().__init__({"scm_endpoint": endpoint_url, **(settings or {})} if endpoint_url else settings, endpoint_url)
        self.credential = StaticToken()
        self.deployer = AzureDeployer(self.settings, endpoint_url, credential=self.credential)
        self.code = "# stand-in for the generated function_app.py\n"

    def check(self, app: Any) -> None:
        self.deployer.check(app)

    def package(self, app: Any, stage: str, out_dir: Path, progress: Any) -> Artifact:
        return make_artifact(out_dir, self.code)

    def desired(self, app: Any, stage: str, artifact: Artifact) -> list[Any]:
        return self.deployer.desired(app, stage, artifact)

    def read_remote(self, app: Any, stage: str) -> Any:
        return self.deployer.read_remote(app, stage)

    def executor(self, app: Any, stage: str) -> Any:
        return self.deployer.executor(app, stage)

    def outputs(self, app: Any, stage: str, remote: Any) -> dict[str, Any]:
        return self.deployer.outputs(app, stage, remote)

    def plan_notes(self, app: Any, stage: str) -> list[str]:
        from portable_fn_azure.provider import AzureProvider

        return AzureProvider(self.settings).plan_notes(app, stage)


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """samples/shop, loaded from a private copy (deploys write their build directory into it)."""
    target = tmp_path / "shop"
    shutil.copytree(REPO / "samples" / "shop", target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    monkeypatch.setenv("SHOP_DATA_DIR", str(tmp_path / "shop-data"))
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_MANAGER_URL", "AZURE_STORAGE_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    return load_app(target)


def settings_for(app: Any, stage: str, certificate: tuple[Path, Path], azurite: str, **extra: Any) -> dict[str, Any]:
    return {
        **app.config.provider_settings("azure", stage),
        "subscription_id": SUBSCRIPTION,
        "connection_verify": str(certificate[0]),
        "storage_connection_string": azurite,
        "polling_interval_s": 0.05,
        "lro_report_every_s": 0.02,
        **extra,
    }


@pytest.fixture
def provider(arm: FakeArm, blobs: Any, azurite: str, certificate: tuple[Path, Path], shop: Any) -> ArmProvider:
    """The provider pointed at the fake ARM and Azurite, with the shop's settings for stage dev."""
    return ArmProvider(settings_for(shop, "dev", certificate, azurite), arm.url)


def audit_trail(app: str, stage: str, resource_group: str | None = None) -> dict[str, dict[str, str]]:
    """The tags of what keeps the audit trail of `app` in `stage`, by ARM id in lowercase (as the fake ARM keys
    resources): its resource group `<app>-<stage>-audit-rg` (unless the settings name one, `resource_group`,
    which the trail only uses) and its storage account. The trail outlives the stage: `remove` leaves these."""
    from portable_fn_azure.deploy.audit import audit_account
    from portable_fn_azure.deploy.naming import Names

    group = f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{resource_group or f'{app}-{stage}-audit-rg'}"
    account = f"{group}/providers/microsoft.storage/storageaccounts/{audit_account(Names(app, stage, SUBSCRIPTION))}"
    tags = {"portable-fn-audit": f"{app}/{stage}"}
    return {**({} if resource_group else {group: tags}), account: tags}


def fake_az(directory: Path, token: str) -> Path:
    """An `az` that answers `az account get-access-token` with `token`, and records what it was asked."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "az"
    script.write_text(
        f"#!{sys.executable}\nimport json, sys, time\n"
        f"open({str(directory / 'calls')!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        f"print(json.dumps({{'accessToken': {token!r}, 'expires_on': int(time.time()) + 3600, "
        "'tokenType': 'Bearer'}))\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return directory


@pytest.fixture
def helpers() -> types.SimpleNamespace:
    """Module-level helpers for the test modules (which cannot import this conftest)."""
    return types.SimpleNamespace(
        ArmProvider=ArmProvider,
        StaticToken=StaticToken,
        settings_for=settings_for,
        make_artifact=make_artifact,
        audit_trail=audit_trail,
        fake_az=fake_az,
    )
