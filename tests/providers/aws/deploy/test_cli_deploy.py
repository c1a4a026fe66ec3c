"""The CLI as a user runs it against AWS (a moto server): real packaging for Lambda, deploy, redeploy,
info, remove. Packaging downloads the sample's wheels for manylinux/cp311 (cached after the first run)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from portable_fn.cli import main

from ....app_copy import copy_app

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture
def shop_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = copy_app(REPO / "samples" / "shop", tmp_path)
    monkeypatch.setenv("SHOP_DATA_DIR", str(tmp_path / "shop-data"))
    return target


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else out), err


def test_deploy_redeploy_info_remove_with_the_cli(capsys, endpoint: str, shop_dir: Path, boto: Any) -> None:
    common = ("--provider", "aws", "--app", str(shop_dir), "--endpoint-url", endpoint)
    code, first, err = cli(capsys, "deploy", *common, "--json")
    assert code == 0, err
    assert first["applied"] == len(first["plan"]["steps"]) > 20
    assert "Packaging 'shop' for aws" in err and "[1/" in err
    names = {f["FunctionName"] for f in boto.lambda_.list_functions()["Functions"]}
    assert {"shop-dev-create_order", "shop-dev-fulfil", "shop-dev-notify"} <= names
    config = boto.lambda_.get_function(FunctionName="shop-dev-fulfil")["Configuration"]
    assert config["Handler"] == "portable_fn_entry.fulfil" and config["Runtime"] == "python3.11"

    code, second, err = cli(capsys, "deploy", *common, "--json")
    assert code == 0, err
    assert second["applied"] == 0 and second["plan"]["steps"] == []
    assert second["artifact"]["sha256"] == first["artifact"]["sha256"]

    code, info, _ = cli(capsys, "info", *common, "--json")
    assert code == 0 and "create_order" in json.dumps(info)

    code, plan, _ = cli(capsys, "plan", *common, "--json")
    assert code == 0 and plan["plan"]["summary"].startswith("0 to create, 0 to update, 0 to delete")

    code, removed, err = cli(capsys, "remove", *common, "--json")
    assert code == 0, err
    assert removed["applied"] == first["applied"]
    assert not [f for f in boto.lambda_.list_functions()["Functions"] if f["FunctionName"].startswith("shop-dev-")]


def test_with_a_low_direct_upload_limit_the_cli_deploys_through_the_deployment_bucket(
    capsys, endpoint: str, tmp_path: Path, boto: Any
) -> None:
    app_dir = shutil.copytree(REPO / "tests/providers/aws/deploy/apps/gateway", tmp_path / "gateway")
    pyproject = app_dir / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('http = "http-api"\n', 'http = "http-api"\ndirect_upload_limit_mb = 0\n')
    )
    common = ("--provider", "aws", "--app", str(app_dir), "--endpoint-url", endpoint)
    code, first, err = cli(capsys, "deploy", *common, "--json")
    assert code == 0, err
    assert "so it is uploaded through S3" in err and first["artifact"]["via_s3"] is True
    bucket = first["outputs"]["deployment_bucket"]
    objects = boto.s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(o["Key"].split("/")[0] for o in objects) == ["files", "get_item", "list_items", "put_item"]

    code, plan, _ = cli(capsys, "plan", *common, "--json")
    assert code == 0 and plan["plan"]["steps"] == []
    code, removed, err = cli(capsys, "remove", *common, "--json")
    assert code == 0, err
    assert removed["applied"] == first["applied"]  # what deploy made, the bucket and its zips among it
    assert bucket not in [b["Name"] for b in boto.s3.list_buckets()["Buckets"]]
