"""The policy tests' apps (tests/policy/apps: `clean` keeps every built-in rule with every rule configured,
`risky` breaks each once, `custom` brings the team's own rules) and a way to run one with more policy."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from portable_fn.app import App, load_app

APPS = Path(__file__).with_name("apps")
ENVIRON: dict[str, str] = {}  # no region from the environment unless a test gives one


@pytest.fixture
def app_copy(tmp_path: Path) -> Callable[..., App]:
    """`app_copy("risky", extra)`: a private copy of the app, `extra` TOML appended to its pyproject.toml."""

    def copy(name: str, extra: str = "") -> App:
        target = tmp_path / name
        shutil.copytree(APPS / name, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
        pyproject = target / "pyproject.toml"
        pyproject.write_text(pyproject.read_text(encoding="utf-8") + extra, encoding="utf-8")
        return load_app(target)

    return copy


@pytest.fixture
def no_aws_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS credentials anywhere, and no instance metadata lookup (which would leave 127.0.0.1)."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
