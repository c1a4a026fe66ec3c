"""`plan` shows the policy's findings, `deploy` refuses on a violation before anything changes, and a
waiver with its reason lets it through (the reason shown as it deploys)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portable_fn.cli import main

BOUND = "\n[tool.portable-fn.policy]\nmemory_mb = { max = 128 }\n"
WAIVER = '\n[[tool.portable-fn.policy.waivers]]\nrule = "PFN004"\nreason = "the shop needs 256 MB to resize images"\n'


@pytest.fixture
def shop(shop_copy: Path, tmp_path: Path) -> Path:
    pyproject = shop_copy / "pyproject.toml"
    cloud = (tmp_path / "cloud").as_posix()
    pyproject.write_text(pyproject.read_text() + f'\n[tool.portable-fn.local]\nstate_dir = "{cloud}"\n' + BOUND)
    return shop_copy


def test_plan_shows_a_violation_and_deploy_refuses_changing_nothing(
    capsys: pytest.CaptureFixture[str], shop: Path
) -> None:
    assert main(["plan", str(shop), "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert {v["rule"] for v in planned["policy"]["violations"]} == {"PFN004"}

    assert main(["deploy", str(shop)]) == 1
    err = capsys.readouterr().err
    assert "PFN004" in err and "waiver" in err
    assert main(["info", str(shop), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deployed"] is False


def test_a_waiver_with_its_reason_lets_deploy_go_ahead(capsys: pytest.CaptureFixture[str], shop: Path) -> None:
    pyproject = shop / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + WAIVER)
    assert main(["deploy", str(shop), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "waived" in err and "the shop needs 256 MB to resize images" in err
    waived = json.loads(out)["policy"]["waived"]
    assert {w["rule"] for w in waived} == {"PFN004"}
    assert {w["reason"] for w in waived} == {"the shop needs 256 MB to resize images"}
