"""`portable-fn secrets` against a cloud it cannot sign in to: an error naming what failed and how to sign in,
exit 1, no traceback (as plan and info say it). Credentials are emptied from the environment and every
place the SDKs would look further points at nothing, so nothing leaves this machine."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from portable_fn.cli import main

from ..app_copy import copy_app
from ..providers.test_credentials import ADVICE, CLOSED, FIX, bare_environment

SAAS = Path(__file__).resolve().parents[2] / "samples" / "saas"


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    for name, value in bare_environment(tmp_path).items():
        if name != "PATH":
            monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    "provider",
    ["aws", pytest.param("gcp", marks=pytest.mark.slow)],  # google-auth retries the metadata server: 3 s
)
@pytest.mark.parametrize("command", ["set", "list"])
def test_secrets_without_credentials_say_how_to_sign_in(
    no_credentials: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    provider: str,
    command: str,
) -> None:
    app = copy_app(SAAS, tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("bk_test_value"))
    named = ["billing-key"] if command == "set" else []
    args = ["secrets", command, *named, str(app), "--provider", provider, "--endpoint-url", f"https://{CLOSED}"]
    assert main(args) == 1
    err = capsys.readouterr().err
    doing = "Setting secret billing-key of saas" if command == "set" else "Listing the secrets of saas"
    assert f"{doing} on {provider} (dev) failed: {ADVICE[provider]}" in err
    assert FIX[provider] in err and "Traceback" not in err and "bk_test_value" not in err


def test_history_without_credentials_says_how_to_sign_in(
    no_credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = copy_app(SAAS, tmp_path)
    assert main(["history", str(app), "--provider", "aws", "--endpoint-url", f"https://{CLOSED}"]) == 1
    err = capsys.readouterr().err
    assert f"Reading the audit trail of 'saas' (stage 'dev') on aws failed: {ADVICE['aws']}" in err
    assert FIX["aws"] in err and "Traceback" not in err
