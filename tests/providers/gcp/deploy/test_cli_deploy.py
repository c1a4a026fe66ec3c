"""The CLI as a user runs it against Google (the recording endpoint): the real source package with its
pinned requirements, deploy, no-op redeploy, info, remove, and the history of the three in the stage's audit
bucket, which remove leaves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from portable_fn.audit import AuditRecord
from portable_fn.cli import main

from .conftest import PROJECT, REPO, audit_bucket_of

RECORDS = f"gs://{audit_bucket_of('dev')}/pfn-audit/shop/dev/"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else out), err


def test_deploy_redeploy_info_remove_with_the_cli(
    capsys, google, google_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = tmp_path / "shop"
    shutil.copytree(REPO / "samples" / "shop", app, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    monkeypatch.setenv("SHOP_DATA_DIR", str(tmp_path / "shop-data"))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    common = ("--provider", "gcp", "--app", str(app), "--endpoint-url", google_server.url)

    code, first, err = cli(capsys, "deploy", *common, "--json")
    assert code == 0, err
    assert first["applied"] == len(first["plan"]["steps"]) > 7
    assert "Packaging 'shop' for gcp" in err
    assert first["audit"]["location"].startswith(RECORDS) and first["audit"]["notes"] == []

    code, second, err = cli(capsys, "deploy", *common, "--json")
    assert code == 0, err
    assert second["applied"] == 0 and second["artifact"]["sha256"] == first["artifact"]["sha256"]
    assert second["audit"]["location"].startswith(RECORDS) and second["audit"]["notes"] == []

    code, info, _ = cli(capsys, "info", *common, "--json")
    assert code == 0 and "create_order" in json.dumps(info)

    code, removed, err = cli(capsys, "remove", *common, "--json")
    assert code == 0, err
    assert removed["applied"] == first["applied"] - 1  # all but the project-wide grant, which is kept
    assert [k["kind"] for k in removed["plan"]["kept"]] == ["storage agent publisher grant"]
    assert "= keep storage agent publisher grant" in err and "remove-iam-policy-binding" in err
    assert google.app_buckets() == [] and google.audit_buckets() == [audit_bucket_of("dev")]

    code, history, err = cli(capsys, "history", *common, "--json")
    assert code == 0, err
    assert history["where"] == RECORDS
    assert [(r["verb"], r["summary"], r["outcome"]) for r in history["records"]] == [
        ("remove", removed["plan"]["summary"], "succeeded"),
        ("deploy", second["plan"]["summary"], "succeeded"),
        ("deploy", first["plan"]["summary"], "succeeded"),
    ]
    assert [RECORDS + name for name in names(history)] == [
        removed["audit"]["location"],
        second["audit"]["location"],
        first["audit"]["location"],
    ]


def names(history: dict[str, Any]) -> list[str]:
    """Each record's file name, as `AuditRecord.name` makes it from its time and digest."""
    return [AuditRecord.from_dict(r).name for r in history["records"]]
