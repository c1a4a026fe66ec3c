"""Packaging never ships credentials: on every provider, what ships is the app's modules and data files
and what it includes on purpose; credential-shaped files stay out by name, or stop the build by content.

The app (tests/apps/vault) has no third-party dependencies, so nothing is downloaded: AWS has no wheels to
fetch, Azure builds remotely, and the Cloud Functions pins come from a fake resolver. The key material is
made at test time (cryptography) or is a fixed fake string; every planted file carries a `PLANTED-` marker
so a test can prove that no byte of any of them reached any zip.

What the app imports always ships: tests/apps/splits imports `ab_test.py` and modules named `test_*.py`
next to its own tests and conftest.py; each zip, unpacked, imports the function with nothing else on the path.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from portable_fn_aws.packaging import build_package as build_aws
from portable_fn_azure.packaging import build_package as build_azure
from portable_fn_gcp.packaging import build_package as build_gcp

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.local.provider import LocalProvider
from portable_fn.packaging import app_files
from portable_fn.runtime.errors import ConfigError, DeployError

from .app_copy import copy_app

VAULT = Path(__file__).parent / "apps" / "vault"
SPLITS = Path(__file__).parent / "apps" / "splits"
FAKE_AWS_PAIR = (
    "aws_access_key_id = AKIAZ3PLANTEDFAKE1XY\naws_secret_access_key = q8Vd2/PlantedFakeSecretKey+0123456789aBc\n"
)


def _openssh_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()


def _pkcs8_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _service_account() -> str:
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "planted-project",
            "private_key_id": "0" * 40,
            "private_key": _pkcs8_key(),
            "client_email": "x@planted-project.iam.gserviceaccount.com",
        }
    )


# Files the name rules keep out, whatever they hold (each a path under the app's source directory).
BY_NAME: dict[str, Callable[[], str]] = {
    ".ssh/id_ed25519": _openssh_key,
    "id_rsa": _pkcs8_key,
    "id_rsa.pub": lambda: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlanted planted@host\n",
    "keys/id_ecdsa": _pkcs8_key,
    ".netrc": lambda: "machine api.example.com login me password planted-netrc-pw\n",
    "_netrc": lambda: "machine api.example.com login me password planted-netrc-pw\n",
    ".git-credentials": lambda: "https://me:planted-token@github.com\n",
    ".git/config": lambda: '[remote "origin"]\n\turl = https://me:planted-token@github.com/me/vault\n',
    "service-account.json": _service_account,
    "service-account-prod.json": _service_account,
    "service_account.json": _service_account,
    "vault/data/serviceAccountKey.json": _service_account,
    "secrets.json.bak": lambda: '{"db_password": "planted"}\n',
    "deploy/prod.kubeconfig": lambda: "users:\n- name: admin\n  user:\n    token: planted\n",
    "vault.PublishSettings": lambda: '<publishData userPWD="planted"/>\n',
    "client_secret_1234.apps.googleusercontent.com.json": lambda: '{"installed": {"client_secret": "x"}}',
    ".streamlit/secrets.toml": lambda: 'db_password = "planted"\n',
    "secrets.json": lambda: '{"db_password": "planted"}\n',
    "vault/data/secrets.toml": lambda: 'api_key = "planted"\n',
    "credentials": lambda: FAKE_AWS_PAIR,
    "credentials.csv": lambda: "User name,Access key ID,Secret access key\nme,AKIA...,...\n",
    ".aws/credentials": lambda: "[default]\n" + FAKE_AWS_PAIR,
    ".azure/msal_token_cache.json": lambda: '{"AccessToken": {}}',
    ".docker/config.json": lambda: '{"auths": {"ghcr.io": {"auth": "bWU6cGxhbnRlZA=="}}}',
    ".env": lambda: "DATABASE_URL=postgres://me:planted@db/vault\n",
    ".env.production": lambda: "STRIPE_KEY=planted\n",
    "local.settings.json": lambda: '{"Values": {"AzureWebJobsStorage": "AccountKey=planted"}}',
    "deploy-key.pem": _pkcs8_key,
    "tls/server.key": _pkcs8_key,
    "tls/server.KEY": _pkcs8_key,
    "terraform.tfstate": lambda: '{"resources": [{"secret": "planted"}]}',
    "infra/terraform.tfstate.backup": lambda: '{"resources": []}',
    "infra/prod.tfvars": lambda: 'db_password = "planted"\n',
    "infra/.terraform/terraform.tfstate": lambda: "{}",
    "infra/terraform.tfstate.d/prod/terraform.tfstate": lambda: "{}",
    "Pulumi.prod.yaml": lambda: "config:\n  vault:password:\n    secure: planted\n",
    "cdk.out/manifest.json": lambda: "{}",
    "tests/test_api.py": lambda: "def test_it():\n    assert True\n",
    "test/fixtures/event.json": lambda: "{}",
    "conftest.py": lambda: "import pytest\n",
    "vault/test_formatting.py": lambda: "def test_title():\n    pass\n",
    "vault/formatting_test.py": lambda: "def test_title():\n    pass\n",
    ".venv/lib/python3.12/site-packages/x.py": lambda: "x = 1\n",
    "myenv/pyvenv.cfg": lambda: "home = /usr/bin\n",
    "myenv/lib/python3.12/site-packages/y.py": lambda: "y = 1\n",
    ".idea/workspace.xml": lambda: "<project/>\n",
    ".vscode/settings.json": lambda: "{}",
    "vault/__pycache__/api.cpython-312.pyc": lambda: "stale",
    "build/lib/vault/api.py": lambda: "x = 1\n",
    "dist/vault-0.1.tar.gz": lambda: "x",
    "vault.egg-info/PKG-INFO": lambda: "Name: vault\n",
    "node_modules/left-pad/index.js": lambda: "module.exports = 1\n",
    ".DS_Store": lambda: "x",
    # the dotfiles of package managers and databases without their dot, and folders named for what they hold
    "npmrc": lambda: "//registry.npmjs.org/:_authToken=planted\n",
    "pypirc": lambda: "[pypi]\nusername = __token__\npassword = planted\n",
    "pgpass": lambda: "db.internal:5432:*:app:planted\n",
    "docker/dockercfg": lambda: '{"ghcr.io": {"auth": "planted"}}',
    "gcloud/application_default_credentials.json": lambda: '{"type": "authorized_user"}',
    "secrets/db.txt": lambda: "planted\n",
    "vault/credentials/api.yaml": lambda: "token: planted\n",
    # environment files without their dot, a singular `secret/` folder, JSON Web Key sets
    "config/prod.env": lambda: "DB_PASSWORD=planted\n",
    "docker.env": lambda: "DB_PASSWORD=planted\n",
    "env.local": lambda: "DB_PASSWORD=planted\n",
    "env": lambda: "DB_PASSWORD=planted\n",
    "secret/db.txt": lambda: "planted\n",
    "vault/data/signing.jwks": lambda: '{"keys": [{"kty": "oct", "k": "planted"}]}',
    "dev.log": lambda: "GET /login?token=planted -> 200\n",  # output written beside the app
    # names that only look like a credential's: a Cyrillic i, fullwidth letters, a Cyrillic s in a folder's name
    "vault/data/\u0456d_rsa": _pkcs8_key,
    "vault/data/\uff49\uff44\uff3f\uff52\uff53\uff41": _pkcs8_key,
    "vault/\u0455ecrets/db.txt": lambda: "planted\n",
}
BINARY_BY_NAME = {
    "keystore.p12": b"0\x82\x05\x00planted",
    "cert.pfx": b"0\x82\x05\x00planted",
    "release.jks": b"\xfe\xed\xfe\xedplanted",
}

# Files with harmless names that hold a credential: the content check refuses them, naming the file.
BY_CONTENT: dict[str, tuple[Callable[[], str], str]] = {
    "config/settings.txt": (_pkcs8_key, "PEM private key"),
    "notes.md": (lambda: f"Our keys, do not share:\n{FAKE_AWS_PAIR}", "AWS access key"),
    "deploy.json": (_service_account, "service-account"),
    "vault/data/hosts.txt": (lambda: "machine db.internal\n  login app\n  password planted-hosts-pw\n", "netrc"),
    "vault/data/mirror.cfg": (
        lambda: "index = https://builder:planted-pw@pypi.example.com/simple\n",
        "password in a URL",
    ),
    "vault/data/storage.ini": (
        lambda: (
            "conn = DefaultEndpointsProtocol=https;AccountName=vault;AccountKey="
            "PlantedFakeKey0123456789abcdefghijABCDEFGHIJ0123456789abcdefgh==;"
        ),
        "Azure",
    ),
    "vault/keys.py": (lambda: 'SIGNING_KEY = """' + _openssh_key() + '"""\n', "PEM private key"),
    "vault/data/gcp-key.txt": (_service_account, "service-account"),
    "vault/data/ops.yaml": (lambda: "ssh_key: |\n  PuTTY-User-Key-File-3: ssh-ed25519\n  Encryption: none\n", "PuTTY"),
    # Shapes a key takes in code and data, which each slipped through once:
    "vault/split_key.py": (lambda: "KEY = (\n" + _as_python_pieces(_pkcs8_key()) + ")\n", "PEM private key"),
    "vault/data/key_lines.json": (lambda: json.dumps({"lines": _pkcs8_key().splitlines()}), "PEM private key"),
    "vault/data/nested.json": (lambda: json.dumps({"google_credentials": _service_account()}), "service-account"),
    "vault/data/gcloud_user.json": (
        lambda: json.dumps({"type": "authorized_user", "client_id": "x", "client_secret": "y", "refresh_token": "z"}),
        "Google user credential",
    ),
    "vault/data/cache.cfg": (lambda: "url = redis://:planted-redis-pw@cache.internal:6379/0\n", "password in a URL"),
    "kube/config": (lambda: "users:\n- user:\n    client-key-data: " + _b64(_pkcs8_key()) + "\n", "in base64"),
    "k8s/tls-secret.yaml": (lambda: "data:\n  tls.key: " + _b64(_pkcs8_key()) + "\n", "in base64"),
    "vault/data/sa.b64": (lambda: _b64(_service_account()), "service-account"),
    "vault/data/gitlab.cfg": (lambda: "token = glpat-PlantedFake0123456789ab\n", "GitLab"),
    "vault/data/maps.js": (lambda: 'const key = "AIzaSyPlantedFake0123456789abcdefghijklm";\n', "Google API key"),
    "vault/data/hook.txt": (
        lambda: "https://hooks.slack.com/services/T0PLANTED/B0PLANTED/PlantedFake0123456789ab\n",
        "Slack webhook",
    ),
    "vault/data/blob.url": (
        lambda: (
            "https://a.blob.core.windows.net/c/b?sv=2022-11-02&se=2030-01-01&sig=PlantedFake0123456789abcdefghijklmn%3D\n"
        ),
        "shared access signature",
    ),
    "vault/data/registry.cfg": (lambda: "//npm.example.com/:_authToken=planted-npm-token\n", "npm token"),
    "docker/config.json": (lambda: '{"auths": {"ghcr.io": {"auth": "bWU6cGxhbnRlZA=="}}}', "registry login"),
    "vault/data/vault.json": (lambda: '{"token": "hvs.PlantedFake0123456789abcdef"}', "Vault token"),
    # Shapes the third round of probes shipped:
    "vault/data/jwk.json": (lambda: _jwk(), "JSON Web Key"),
    "vault/data/key.b64": (lambda: base64.encodebytes(_pkcs8_key().encode()).decode(), "in base64"),  # 76 columns
    "vault/data/sa_escaped.json": (lambda: _service_account().replace("-", "\\u002d"), "service-account"),
    "vault/keyconst.py": (lambda: 'KEY = "' + _pkcs8_key().replace("\n", "\\n\\\n") + '"\n', "PEM private key"),
    "vault/data/ai.txt": (lambda: "OPENAI_API_KEY=sk-proj-PlantedFake0123456789abcdef\n", "OpenAI"),
    "vault/data/mail.txt": (lambda: "SENDGRID=SG.PlantedFake0123456789a." + "x" * 43 + "\n", "SendGrid"),
    "vault/data/npm.ini": (lambda: "//npm.example.com/:_password=UGxhbnRlZEZha2U=\n", "npm password"),
    "vault/data/registry.json": (lambda: '{"auths": {"r.io": {"identitytoken": "PlantedFake01"}}}', "identity token"),
    "vault/data/db.config": (
        lambda: "Server=db;Database=vault;User Id=app;Password=PlantedFakePw1;\n",
        "connection string",
    ),
}
# Text that is not UTF-8 (Windows PowerShell 5 writes UTF-16; UTF-32 too), a key inside a binary (a NUL in
# front, a tar) and one at the end of a file too large to read whole: read all the same.
BY_CONTENT_BYTES: dict[str, tuple[Callable[[], bytes], str]] = {
    "vault/data/key16.txt": (lambda: _pkcs8_key().encode("utf-16"), "PEM private key"),
    "vault/data/aws16.ini": (lambda: FAKE_AWS_PAIR.encode("utf-16-le"), "AWS access key"),
    "vault/data/key32.txt": (lambda: _pkcs8_key().encode("utf-32"), "PEM private key"),
    "vault/data/key32le.txt": (lambda: _pkcs8_key().encode("utf-32-le"), "PEM private key"),
    "vault/data/notes.yaml": (lambda: b"\0" + _pkcs8_key().encode(), "private key inside a binary"),
    "vault/data/bundle.tar": (
        lambda: _tar({"id": _pkcs8_key().encode()}),
        "bundle.tar!id: looks like a PEM private key",
    ),
    "vault/data/big.json": (lambda: b" " * (2 * 1024 * 1024) + _service_account().encode(), "service-account"),
    # The fourth round: inside archives (named `archive!member`), hex-encoded, split into Python string pieces.
    "vault/data/backup.tar.gz": (
        lambda: _tar({".aws/credentials": FAKE_AWS_PAIR.encode()}, "w:gz"),
        "backup.tar.gz!.aws/credentials: looks like an AWS access key",
    ),
    "vault/data/keys.zip": (lambda: _zip({"home/.ssh/id_ed25519": _openssh_key()}), "keys.zip!home/.ssh/id_ed25519"),
    "vault/data/key.hex": (lambda: _pkcs8_key().encode().hex().encode(), "hex-encoded"),
    "vault/data/split_begin.py": (
        lambda: (
            'KEY = ("-----BEGIN " "PRIVATE KEY-----\\n"\n' + _as_python_pieces(_pkcs8_key().split("\n", 1)[1]) + ")\n"
        ).encode(),
        "private key",
    ),
}


def _jwk() -> str:
    """An EC private key as a JSON Web Key (RFC 7517): its private part is "d"."""
    numbers = ec.generate_private_key(ec.SECP256R1()).private_numbers()

    def b64url(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()

    x, y = numbers.public_numbers.x, numbers.public_numbers.y
    jwk = {"kty": "EC", "crv": "P-256", "x": b64url(x), "y": b64url(y), "d": b64url(numbers.private_value)}
    return json.dumps({"keys": [jwk], "note": "PLANTED"})


def _tar(members: dict[str, bytes], mode: Literal["w", "w:gz"] = "w") -> bytes:
    import io
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _zip(members: dict[str, str]) -> bytes:
    import io

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return out.getvalue()


def _as_python_pieces(pem: str) -> str:
    """A PEM block as a Python string split into one literal per line, as keys get pasted into code."""
    return "".join(f"    {line + chr(10)!r}\n" for line in pem.splitlines())


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# What the vault app ships of its own, on every provider.
OWN_FILES = {
    "pyproject.toml",
    "vault/__init__.py",
    "vault/api.py",
    "vault/formatting.py",
    "vault/jobs.py",
    "vault/data/prices.json",
    "templates/page.html",
}


def _no_download(*args: Any) -> None:
    raise AssertionError(f"an app with no dependencies downloaded something: {args!r}")


def _pins(requirements: Sequence[str], target: Any) -> list[str]:
    assert list(requirements) == ["functions-framework==3.10.2"], requirements
    return ["functions-framework==3.10.2"]


def _quiet(message: str) -> None:
    pass


def build_all(
    app_dir: Path, out: Path, resolve: Callable[[Sequence[str], Any], list[str]] = _pins
) -> dict[str, list[Path]]:
    """Every provider's zips of the app at `app_dir`, built as deploy builds them (no network; `resolve` pins
    what the Google package needs, in place of pip)."""
    app = load_app(app_dir)
    aws = build_aws(app, "dev", out / "aws", _quiet, pip_download=_no_download, cache_dir=out / "wheels")
    gcp = build_gcp(app, "dev", out / "gcp", _quiet, resolve=resolve, cache_dir=out / "pins")
    azure = build_azure(app, "dev", out / "azure", _quiet, pip_download=_no_download, cache_dir=out / "wheels")
    local = LocalProvider().package(app, "dev", out / "local", _quiet)
    return {
        "aws": [z.path for _, z in aws.functions] or [aws.path],
        "gcp": [gcp.path],
        "azure": [azure.path],
        "local": [local.path],
    }


def builders(app_dir: Path, out: Path) -> dict[str, Callable[[], Any]]:
    """Each provider's packaging of the app at `app_dir` into `out`, as deploy runs it (no network)."""
    app = load_app(app_dir)
    return {
        "aws": lambda: build_aws(app, "dev", out, _quiet, pip_download=_no_download, cache_dir=out / "w"),
        "gcp": lambda: build_gcp(app, "dev", out, _quiet, resolve=_pins, cache_dir=out / "p"),
        "azure": lambda: build_azure(app, "dev", out, _quiet, pip_download=_no_download, cache_dir=out / "w"),
        "local": lambda: LocalProvider().package(app, "dev", out, _quiet),
    }


def plant(app_dir: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = app_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(f"# PLANTED-{name}\n{content}")


def configure(app_dir: Path, source: Path = VAULT, **globs: list[str]) -> None:
    """Set `include` / `exclude` under [tool.portable-fn] of the app's pyproject.toml (and only those) to
    those of the test app at `source`."""
    pyproject = app_dir / "pyproject.toml"
    lines = "".join(f"{key} = {json.dumps(value)}\n" for key, value in globs.items())
    pyproject.write_text(
        (source / "pyproject.toml").read_text().replace('python = "3.12"\n', f'python = "3.12"\n{lines}')
    )


def shipped(zip_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def user_files(zip_path: Path) -> set[str]:
    """The archive names in a zip that came from the app's source directory (not generated, not ours,
    not the bytecode packaging compiles)."""
    return {
        name
        for name in shipped(zip_path)
        if not name.startswith(OURS)
        and "__pycache__/" not in name
        and name not in GENERATED
        and "/" + name not in GENERATED
    }


# What portable-fn adds to a zip: the runtime, the shims, the generated entry points.
OURS = ("portable_fn/", "portable_fn_aws/", "portable_fn_gcp/", "portable_fn_azure/")
GENERATED = {
    "portable_fn_entry.py",
    "main.py",
    "requirements.txt",
    "function_app.py",
    "host.json",
    "portable_fn_manifest.json",
}


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return copy_app(VAULT, tmp_path)


@pytest.fixture
def splits(tmp_path: Path) -> Path:
    return copy_app(SPLITS, tmp_path)


@pytest.fixture
def planted(vault: Path) -> Path:
    """The vault app with every credential-shaped file planted, by name and by content."""
    plant(vault, {name: make() for name, make in BY_NAME.items()})
    plant(vault, dict(BINARY_BY_NAME))
    plant(vault, {name: make() for name, (make, _) in BY_CONTENT.items()})
    plant(vault, {name: make() for name, (make, _) in BY_CONTENT_BYTES.items()})
    return vault


def test_more_than_twenty_credential_shaped_files_are_planted() -> None:
    assert len(BY_NAME) + len(BINARY_BY_NAME) + len(BY_CONTENT) >= 20
    assert len(BY_CONTENT) >= 6


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_no_planted_file_reaches_any_artifact(planted: Path, tmp_path: Path) -> None:
    configure(planted, exclude=sorted([*BY_CONTENT, *BY_CONTENT_BYTES]))  # the content check: the next test's
    for provider, zips in build_all(planted, tmp_path / "out").items():
        for zip_path in zips:
            contents = shipped(zip_path)
            leaked = sorted(name for name, data in contents.items() if b"PLANTED" in data or b"planted" in data)
            assert leaked == [], f"{provider}: {zip_path.name} ships {leaked}"
            assert user_files(zip_path) <= OWN_FILES, f"{provider}: {zip_path.name}"
            assert {"vault/__init__.py", "vault/data/prices.json", "templates/page.html"} <= user_files(zip_path)


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
@pytest.mark.parametrize("builder", ["aws", "gcp", "azure", "local"])
def test_a_file_that_looks_like_a_credential_stops_the_build_naming_it(
    planted: Path, tmp_path: Path, builder: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(DeployError) as caught:
        builders(planted, out)[builder]()
    message = str(caught.value)
    for name, (_, looks_like) in {**BY_CONTENT, **BY_CONTENT_BYTES}.items():
        line = next((line for line in message.splitlines() if name in line), "")
        assert looks_like in line, f"{name} is not named as {looks_like!r} in:\n{message}"
    assert "exclude" in message and "include" in message and "[tool.portable-fn]" in message
    assert not [secret for secret in ("PLANTED", "planted-", "PlantedFake", "AKIA") if secret in message]
    assert not list(out.glob("*.zip"))


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_an_exact_include_ships_a_flagged_or_hidden_file_and_a_glob_does_not_waive_the_check(
    planted: Path, tmp_path: Path
) -> None:
    others = sorted(set(BY_CONTENT) - {"config/settings.txt"} | set(BY_CONTENT_BYTES))
    plant(planted, {".well-known/security.txt": "Contact: mailto:security@example.com\n"})
    configure(planted, include=["config/settings.txt", ".well-known/security.txt"], exclude=others)
    for provider, zips in build_all(planted, tmp_path / "out").items():
        names = set().union(*(user_files(z) for z in zips))
        assert names == OWN_FILES | {"config/settings.txt", ".well-known/security.txt"}, provider

    configure(planted, include=["config/*.txt"])
    with pytest.raises(DeployError, match=r"config/settings\.txt: .*PEM private key"):
        app_files(load_app(planted))


def test_include_puts_back_what_the_names_leave_out_and_exclude_removes_more(vault: Path) -> None:
    plant(
        vault,
        {
            "certs/ca-bundle.pem": "not a key\n",
            "tests/fixture.json": "{}\n",
            "docs/guide.md": "hi\n",
            "vault/data/big.csv": "a,b\n",
        },
    )
    configure(vault, include=["certs/*.pem", "tests/**"], exclude=["docs", "**/*.csv", "templates/"])
    names = {name for name, _ in app_files(load_app(vault))}
    assert names == (OWN_FILES - {"templates/page.html"}) | {"certs/ca-bundle.pem", "tests/fixture.json"}


@pytest.mark.parametrize(
    ("key", "glob", "why"),
    [
        ("include", "../secrets.json", "outside"),
        ("exclude", "/etc/passwd", "relative"),
        ("include", "data\\x.json", "/"),
        ("exclude", "", "empty"),
        ("include", "a**/b", "whole"),
        ("exclude", "[abc", "["),
    ],
)
def test_a_bad_glob_is_refused_naming_the_key(vault: Path, key: str, glob: str, why: str) -> None:
    configure(vault, **{key: [glob]})
    with pytest.raises(ConfigError) as caught:
        app_files(load_app(vault))
    assert f"{key} = " in str(caught.value) and repr(glob) in str(caught.value) and why in str(caught.value)


def test_a_module_the_app_declares_ships_from_a_tests_folder(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "smoke.py").write_text(
        "from portable_fn import Request, Response, function, http\n\n\n"
        "@function(trigger=http('GET', '/smoke'))\ndef smoke(request: Request) -> Response:\n"
        "    return Response.json({})\n"
    )
    (tmp_path / "tests" / "test_smoke.py").write_text("def test_it():\n    pass\n")
    (tmp_path / "pyproject.toml").write_text('[tool.portable-fn]\napp = "smoke"\nmodules = ["tests.smoke"]\n')
    assert {name for name, _ in app_files(load_app(tmp_path))} == {
        "pyproject.toml",
        "tests/__init__.py",
        "tests/smoke.py",
    }


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_the_shop_sample_ships_the_same_files_as_before(shop_copy: Path, tmp_path: Path) -> None:
    before = ["pyproject.toml", "shop/__init__.py", "shop/functions.py", "shop/models.py"]
    app = load_app(shop_copy)
    assert [name for name, _ in app_files(app)] == before
    out = tmp_path / "out"
    zips = [  # its dependency (pydantic) is not the subject: fakes that download nothing
        build_aws(app, "dev", out / "aws", _quiet, pip_download=lambda *a: None, cache_dir=out / "w").path,
        build_gcp(app, "dev", out / "gcp", _quiet, resolve=lambda r, t: ["pydantic==2.5.0"], cache_dir=out / "p").path,
        build_azure(app, "dev", out / "azure", _quiet, remote_build=True).path,
        LocalProvider().package(app, "dev", out / "local", _quiet).path,
    ]
    assert [sorted(user_files(zip_path)) for zip_path in zips] == [before] * 4


def _names_by_zip(data: dict[str, Any]) -> dict[str, list[str]]:
    return {Path(path).name: names for path, names in data["shipped"].items()}


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_package_list_shows_every_file_of_every_zip(vault: Path, capsys: Any) -> None:
    assert main(["package", str(vault), "--provider", "aws", "--list"]) == 0
    out = capsys.readouterr().out
    sections = dict(part.split(":\n", 1) for part in out.strip().split("\n\n"))
    listed = {Path(zip_path).name: body.split() for zip_path, body in sections.items()}
    assert set(listed) == {"vault-aws-prices.zip", "vault-aws-run_job.zip"}
    assert "vault/formatting.py" in listed["vault-aws-prices.zip"]
    assert "vault/formatting.py" not in listed["vault-aws-run_job.zip"]
    for zip_name, names in listed.items():
        zip_path = vault / ".portable-fn" / "build" / "aws" / "dev" / zip_name
        assert names == sorted(zipfile.ZipFile(zip_path).namelist())

    assert main(["package", str(vault), "--provider", "azure", "--list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (names,) = _names_by_zip(data).values()
    assert data["artifact"]["path"] in data["shipped"]
    assert {"function_app.py", "host.json", "vault/data/prices.json", "templates/page.html"} <= set(names)


def test_package_list_refuses_what_would_leak(planted: Path, capsys: Any) -> None:
    assert main(["package", str(planted), "--list"]) == 1
    err = capsys.readouterr().err
    assert "config/settings.txt" in err and "include" in err


# What the splits app ships: its modules, with those named like tests that they import; not its tests.
SPLITS_FILES = {
    "pyproject.toml",
    "ab_test.py",
    "splits/__init__.py",
    "splits/functions.py",
    "splits/test_data.py",
    "splits/test_fixtures.py",
}
SPLITS_TESTS = {"conftest.py", "tests/test_functions.py", "splits/functions_test.py"}
# Run in the unpacked zip with nothing else on the path (no site-packages): the function's module imports.
IMPORT_PROBE = (
    "import sys; sys.path.insert(0, sys.argv[1]); import splits.functions as f; print(f.assign(f.PREVIEW_USER))"
)


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_a_module_the_app_imports_ships_on_every_provider_whatever_its_name(splits: Path, tmp_path: Path) -> None:
    for provider, zips in build_all(splits, tmp_path / "out").items():
        for zip_path in zips:
            assert user_files(zip_path) == SPLITS_FILES, f"{provider}: {zip_path.name}"
            assert not user_files(zip_path) & SPLITS_TESTS
            unpacked = tmp_path / "unpacked" / provider / zip_path.stem
            zipfile.ZipFile(zip_path).extractall(unpacked)
            run = subprocess.run(
                [sys.executable, "-I", "-S", "-c", IMPORT_PROBE, str(unpacked)],
                capture_output=True,
                text=True,
                check=False,
            )
            assert (run.returncode, run.stdout.strip()) == (0, "one-page"), f"{provider}: {run.stderr}"


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
@pytest.mark.parametrize("builder", ["aws", "gcp", "azure", "local"])
def test_an_imported_module_that_exclude_leaves_out_stops_the_build_naming_the_import(
    splits: Path, tmp_path: Path, builder: str
) -> None:
    configure(splits, SPLITS, exclude=["splits/test_*.py", "tests"])
    out = tmp_path / "out"
    with pytest.raises(DeployError) as caught:
        builders(splits, out)[builder]()
    message = str(caught.value)
    assert f"Packaging 'splits' for {builder}" in message and "ModuleNotFoundError" in message
    assert "splits/test_fixtures.py, imported by splits/functions.py line 9" in message
    assert "splits/test_data.py, imported by ab_test.py line 7" in message
    assert '`exclude` has "splits/test_*.py"; remove it from `exclude`' in message
    assert "tests/" not in message and "[tool.portable-fn]" in message
    assert not list(out.glob("*.zip"))


def test_an_imported_module_a_default_rule_leaves_out_stops_the_build_until_included(tmp_path: Path) -> None:
    (tmp_path / "jobs" / "build").mkdir(parents=True)
    (tmp_path / "jobs" / "__init__.py").write_text("")
    (tmp_path / "jobs" / "build" / "__init__.py").write_text("")
    (tmp_path / "jobs" / "build" / "steps.py").write_text("STEPS = ['compile']\n")
    (tmp_path / "jobs" / "run.py").write_text(
        "from portable_fn import CloudEvent, function, queue\n\nfrom .build.steps import STEPS\n\n\n"
        "@function(trigger=queue('jobs'))\ndef run(event: CloudEvent) -> None:\n    print(STEPS)\n"
    )
    (tmp_path / "pyproject.toml").write_text('[tool.portable-fn]\napp = "jobs"\nmodules = ["jobs.run"]\n')
    with pytest.raises(DeployError) as caught:
        app_files(load_app(tmp_path))
    assert (
        "jobs/build/__init__.py, imported by jobs/run.py line 3: the default rules leave it out; "
        'add "jobs/build/__init__.py" to `include`'
    ) in str(caught.value)
    assert "jobs/build/steps.py, imported by jobs/run.py line 3" in str(caught.value)

    (tmp_path / "pyproject.toml").write_text(
        '[tool.portable-fn]\napp = "jobs"\nmodules = ["jobs.run"]\ninclude = ["jobs/build"]\n'
    )
    assert {name for name, _ in app_files(load_app(tmp_path))} == {
        "pyproject.toml",
        "jobs/__init__.py",
        "jobs/run.py",
        "jobs/build/__init__.py",
        "jobs/build/steps.py",
    }


# -- what packaging writes and says ------------------------------------------------------------------------

TOKEN_INDEX = "--extra-index-url https://__token__:glpat-PlantedFake0123456789ab@gitlab.example.com/pypi/simple"


def test_an_index_token_in_the_requirements_reaches_no_log_and_no_zip(vault: Path, tmp_path: Path) -> None:
    # The token was printed in the "dependencies: resolving ..." line (so in CI logs) and shipped in the
    # requirements.txt of the Cloud Functions and Azure zips, Azure's even with the dependencies bundled.
    (vault / ".ci").mkdir()
    (vault / ".ci" / "requirements.txt").write_text(f"{TOKEN_INDEX}\n")  # hidden: the app's own copy stays out
    configure(vault, requirements=".ci/requirements.txt")
    app, said = load_app(vault), []

    def resolve(requirements: Sequence[str], target: Any) -> list[str]:
        assert TOKEN_INDEX in requirements  # pip itself gets the index, token and all
        return ["functions-framework==3.10.2"]

    with pytest.raises(DeployError) as caught:
        build_gcp(app, "dev", tmp_path / "gcp", said.append, resolve=resolve, cache_dir=tmp_path / "pins")
    assert "the generated requirements.txt would hold a password in a URL" in str(caught.value)
    assert "PIP_EXTRA_INDEX_URL" in str(caught.value) and not list((tmp_path / "gcp").glob("*.zip"))

    downloads: list[Sequence[str]] = []

    def download(arguments: Sequence[str], target: Any, into: Path) -> None:
        downloads.append(arguments)  # no wheel: the zip is all this test reads

    cache = tmp_path / "wheels"
    bundled = build_azure(
        app, "dev", tmp_path / "az", said.append, remote_build=False, pip_download=download, cache_dir=cache
    )
    assert b"gitlab" not in shipped(bundled.path)["requirements.txt"]  # nothing installs from it
    assert TOKEN_INDEX.split()[1] in downloads[0]  # but pip downloads from the index, token and all
    with pytest.raises(DeployError, match="requirements.txt would hold a password in a URL"):
        build_azure(
            app, "dev", tmp_path / "az2", said.append, remote_build=True, pip_download=download, cache_dir=cache
        )

    logged = "\n".join(said)
    assert "https://__token__:***@gitlab.example.com/pypi/simple" in logged
    assert "glpat-" not in logged and "glpat-" not in str(caught.value)


def test_a_symbolic_link_ships_only_what_lies_in_the_app(vault: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "npm.txt").write_text("registry token, kept beside the app\n")
    (vault / "vault" / "data" / "token.txt").symlink_to(outside / "npm.txt")
    (vault / "vault" / "data" / "gone.txt").symlink_to(tmp_path / "nowhere")
    (vault / "vault" / "data" / "prices-link.json").symlink_to(vault / "vault" / "data" / "prices.json")
    with pytest.raises(DeployError) as caught:
        app_files(load_app(vault))
    message = str(caught.value)
    assert "vault/data/token.txt: looks like a symbolic link to a file outside the app" in message
    assert "vault/data/gone.txt: looks like a symbolic link to nothing" in message  # was: No such file
    assert "prices-link.json" not in message

    configure(vault, include=["vault/data/token.txt"], exclude=["vault/data/gone.txt"])
    names = {name for name, _ in app_files(load_app(vault))}
    assert {"vault/data/token.txt", "vault/data/prices-link.json"} <= names and "vault/data/gone.txt" not in names


def test_a_credential_typed_into_a_setting_is_not_repeated_by_its_error(vault: Path, capsys: Any) -> None:
    key = "DefaultEndpointsProtocol=https;AccountName=v;AccountKey=PlantedFakeKey0123456789abcdefghij=="
    pyproject = vault / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("remote_build = true", f'storage_auth = "{key}"'))
    assert main(["plan", "--provider", "azure", str(vault)]) != 0
    err = capsys.readouterr().err
    assert "storage_auth" in err and "looks like a credential" in err and "PlantedFake" not in err


def test_a_link_inside_the_app_to_what_does_not_ship_a_loop_or_a_fifo_stops_the_build(vault: Path) -> None:
    """A link named like data shipped the app's own `.env` and `.git/config`; a loop was a traceback and a
    FIFO hung the build, waiting to be read."""
    plant(vault, {".env": "DB_PASSWORD=planted\n", "infra/terraform.tfstate": "{}"})
    data = vault / "vault" / "data"
    (data / "settings.txt").symlink_to(vault / ".env")
    (data / "state.json").symlink_to(vault / "infra" / "terraform.tfstate")
    (data / "loop").symlink_to(data / "loop")
    os.mkfifo(data / "pipe")
    with pytest.raises(DeployError) as caught:
        app_files(load_app(vault))
    message = str(caught.value)
    assert "vault/data/settings.txt: looks like a symbolic link to .env, which does not ship" in message
    assert "vault/data/state.json: looks like a symbolic link to infra/terraform.tfstate" in message
    assert "vault/data/loop: looks like a symbolic link to nothing, or one that loops" in message
    assert "vault/data/pipe: looks like no regular file" in message and "planted" not in message


def test_a_double_star_include_does_not_enter_the_folders_the_rules_leave_out(vault: Path) -> None:
    """`include = ["**/*.py"]` (one module the imports miss) shipped every .py of `.venv` and `.git`."""
    plant(vault, {".venv/lib/site.py": "x = 1\n", ".git/hooks/hook.py": "x = 1\n", "extra/tool.py": "x = 1\n"})
    configure(vault, include=["**/*.py"])
    names = {name for name, _ in app_files(load_app(vault))}
    assert "extra/tool.py" in names and not [n for n in names if n.startswith((".venv", ".git"))]
    configure(vault, include=[".git/hooks/*.py"])  # named: entered
    assert ".git/hooks/hook.py" in {name for name, _ in app_files(load_app(vault))}


@pytest.mark.parametrize(
    "line",
    [
        "--extra-index-url https://PlantedFakeToken0123456789@pkgs.example.com/simple",  # a token alone
        "acme-lib @ https://PlantedFakeToken0123456789@pkgs.example.com/acme-1.0-py3-none-any.whl",
    ],
)
def test_a_token_alone_in_a_url_never_reaches_a_generated_requirements_file(
    vault: Path, tmp_path: Path, line: str
) -> None:
    (vault / "requirements.txt").write_text(f"{line}\n")
    configure(vault, requirements="requirements.txt")
    app = load_app(vault)

    def resolve(requirements: Sequence[str], target: Any) -> list[str]:
        return ["functions-framework==3.10.2", *[r for r in requirements if "@ https" in r]]

    with pytest.raises(DeployError, match=r"requirements\.txt would hold a credential in a URL") as caught:
        build_gcp(app, "dev", tmp_path / "gcp", _quiet, resolve=resolve, cache_dir=tmp_path / "pins")
    assert "PlantedFake" not in str(caught.value)


def test_a_nested_requirements_file_s_error_does_not_repeat_its_password(vault: Path) -> None:
    (vault / ".ci").mkdir()  # hidden: the file itself stays out of the zip
    (vault / ".ci" / "requirements.txt").write_text("-r https://admin:PlantedFakePass@pkgs.example.com/reqs.txt\n")
    configure(vault, requirements=".ci/requirements.txt")
    with pytest.raises(DeployError) as caught:
        build_aws(load_app(vault), "dev", vault / "out", _quiet, pip_download=_no_download)
    assert "admin:***@pkgs.example.com" in str(caught.value) and "PlantedFakePass" not in str(caught.value)
