"""`portable-fn export` as a user runs it: real packaging for Lambda, the files and zips written where it
says, what it refuses and why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from portable_fn.cli import main

REPO = Path(__file__).resolve().parents[2]
SENDERS = REPO / "tests" / "providers" / "aws" / "deploy" / "apps" / "senders"  # no third-party dependencies


@pytest.fixture
def senders(tmp_path: Path) -> Path:
    target = tmp_path / "senders"
    shutil.copytree(SENDERS, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    return target


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.startswith("{") else out), err


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_export_writes_terraform_and_the_zip_under_the_app(capsys: pytest.CaptureFixture[str], senders: Path) -> None:
    code, out, err = cli(capsys, "export", str(senders), "--provider", "aws", "--format", "terraform", "--json")
    assert code == 0, err
    directory = senders / ".portable-fn" / "export" / "aws" / "test" / "terraform"
    assert out == {
        "app": "senders",
        "stage": "test",
        "provider": "aws",
        "format": "terraform",
        "directory": str(directory),
        "files": ["main.tf"],
        "artifacts": ["artifacts/senders-aws.zip"],
        "notes": [],
    }
    build = senders / ".portable-fn" / "build" / "aws" / "test" / "senders-aws.zip"
    assert (directory / "artifacts" / "senders-aws.zip").read_bytes() == build.read_bytes()
    assert 'resource "aws_lambda_function" "place"' in (directory / "main.tf").read_text()


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_export_prints_what_it_wrote_where_it_was_told(
    capsys: pytest.CaptureFixture[str], senders: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "infra"
    code, out, err = cli(
        capsys, "export", "--app", str(senders), "--provider", "aws", "--format", "cloudformation", "-o", str(out_dir)
    )
    assert code == 0, err
    assert out == f"Wrote 2 files to {out_dir}:\n  artifacts/senders-aws.zip\n  template.json\n"
    assert json.loads((out_dir / "template.json").read_text())["AWSTemplateFormatVersion"] == "2010-09-09"


def test_export_refuses_a_format_the_provider_lacks_before_packaging(
    capsys: pytest.CaptureFixture[str], senders: Path
) -> None:
    code, _, err = cli(capsys, "export", str(senders), "--provider", "aws", "--format", "pulumi")
    assert code == 1
    assert "Provider 'aws' cannot export --format pulumi; it exports cloudformation, terraform." in err
    assert not (senders / ".portable-fn").exists()


def test_export_for_the_local_provider_says_to_export_for_a_cloud(
    capsys: pytest.CaptureFixture[str], senders: Path
) -> None:
    code, _, err = cli(capsys, "export", str(senders), "--format", "terraform")
    assert code == 1
    assert "Provider 'local' has nothing to export as infrastructure as code" in err
    assert "portable-fn export --provider aws|gcp|azure --format terraform." in err


@pytest.mark.parametrize(
    ("provider", "unset", "said"),
    [
        ("gcp", ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"), "project"),
        ("azure", ("AZURE_SUBSCRIPTION_ID",), "subscription_id"),
    ],
)
def test_export_says_a_missing_setting_before_packaging(
    capsys: pytest.CaptureFixture[str],
    senders: Path,
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
    unset: Any,
    said: str,
) -> None:
    for name in unset:
        monkeypatch.delenv(name, raising=False)
    code, _, err = cli(capsys, "export", str(senders), "--provider", provider, "--format", "terraform")
    assert code == 1
    assert said in err and "Packaging" not in err
    assert not (senders / ".portable-fn" / "build").exists()  # nothing was packaged
