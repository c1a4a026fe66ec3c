"""What a reviewer sees before and after an AWS deploy, through the CLI on the moto server: the account,
region and caller the plan targets, old -> new for a changed field, the cost change for the declared
traffic, `--detailed-exitcode`, and the audit record `history` lists afterwards."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from portable_fn.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_deploy_and_history_as_a_reviewer_sees_them(
    capsys: pytest.CaptureFixture[str], endpoint: str, shop_copy: Path
) -> None:
    common = ("--provider", "aws", "--app", str(shop_copy), "--endpoint-url", endpoint)
    code, out, err = run(capsys, "plan", *common, "--detailed-exitcode")
    assert code == 2, err
    first = out.splitlines()[0]
    assert re.fullmatch(r"Target: aws account \d{12}, region eu-west-1, as arn:aws:(iam|sts)::\d{12}:\S+", first)

    code, out, err = run(capsys, "deploy", *common, "--json")
    assert code == 0, err
    deployed = json.loads(out)
    assert deployed["target"]["scope"] == "account" and deployed["target"]["region"] == "eu-west-1"
    assert deployed["audit"]["location"].startswith("s3://shop-dev-audit-")
    assert run(capsys, "plan", *common, "--detailed-exitcode")[0] == 0

    pyproject = shop_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("memory_mb = 256\n", "memory_mb = 1024\n", 1))
    code, out, err = run(capsys, "plan", *common, "--detailed-exitcode")
    assert code == 2, err
    lines = out.splitlines()
    assert "~ lambda function shop-dev-fulfil" in lines
    assert "    memory_mb: 256 -> 1024" in lines
    cost = next(line for line in lines if line.startswith("Cost: "))
    assert re.match(r"Cost: \$[\d.]+/month -> \$[\d.]+/month \(\+\$[\d.]+\)", cost), cost

    code, out, err = run(capsys, "history", *common, "--json")
    assert code == 0, err
    records = json.loads(out)["records"]
    assert [r["verb"] for r in records] == ["deploy"]
    assert records[0]["outcome"] == "succeeded" and records[0]["digest"] == deployed["audit"]["digest"]
