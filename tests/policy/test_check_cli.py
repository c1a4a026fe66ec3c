"""`portable-fn check`: one line per finding, `--json`, `--sarif FILE` valid against the official SARIF 2.1.0
schema (tests/policy/data, see its NOTICE), and the exit code: 1 while a violation is not waived, else 0."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from portable_fn.app import App, load_app
from portable_fn.cli import main
from portable_fn.policy import evaluate
from portable_fn.provider import load_provider

from .conftest import APPS

SCHEMA = json.loads((Path(__file__).with_name("data") / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
REPO = Path(__file__).resolve().parents[2]
RISKY, CLEAN = APPS / "risky", APPS / "clean"


def sarif_of(path: Path) -> dict[str, Any]:
    log = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    return log


def test_a_clean_app_passes_with_exit_code_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(CLEAN)]) == 0
    assert capsys.readouterr().out == "Policy: 0 violation(s), 0 waived (9 rules, local, stage dev)\n"


def test_a_violation_prints_one_line_per_finding_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(RISKY)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "PFN001 public-http [export_report]: HTTP function 'export_report' is declared public=True but is not in "
        "the policy's public_functions. Fix: Declare http(..., public=True) only on functions meant for anyone, "
        "list them in [tool.portable-fn.policy] public_functions, declare auth=jwt(...) or auth=api_key(...), or "
        "leave public out so callers need IAM or a key."
    )
    assert [line.split(" ", 1)[0] for line in out] == [
        "PFN001", "PFN002", "PFN003", "PFN003", "PFN003", "PFN004", "PFN005", "PFN006", "PFN008", "Policy:",
    ]  # fmt: skip
    assert out[-1] == "Policy: 9 violation(s), 0 waived (9 rules, local, stage dev)"


def test_json_holds_the_rules_the_violations_and_the_waived(
    app_copy: Callable[..., App], capsys: pytest.CaptureFixture[str]
) -> None:
    app = app_copy("risky", '\n[[tool.portable-fn.policy.waivers]]\nrule = "PFN006"\nreason = "tagged by the org"\n')
    assert main(["check", str(app.root), "--json", "--provider", "local", "--stage", "dev"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert (data["app"], data["provider"], data["stage"], data["ok"]) == ("risky", "local", "dev", False)
    assert len(data["rules"]) == 9 and len(data["violations"]) == 8
    assert data["waived"] == [
        {
            "rule": "PFN006",
            "rule_name": "required-tags",
            "function": None,
            "message": "tags lack cost-center (stage dev).",
            "fix": "Add the missing keys to [tool.portable-fn] tags (or the stage's tags), with a value each.",
            "key": "tool.portable-fn.tags",
            "file": str(app.root / "pyproject.toml"),
            "line": 10,
            "reason": "tagged by the org",
        }
    ]


def test_everything_waived_exits_0(app_copy: Callable[..., App], capsys: pytest.CaptureFixture[str]) -> None:
    rules = ["PFN001", "PFN002", "PFN003", "PFN004", "PFN005", "PFN006", "PFN008"]
    waivers = "".join(f'\n[[tool.portable-fn.policy.waivers]]\nrule = "{r}"\nreason = "accepted"\n' for r in rules)
    app = app_copy("risky", waivers)
    assert main(["check", str(app.root)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Policy: 0 violation(s), 9 waived (9 rules, local, stage dev)"


@pytest.mark.usefixtures("no_aws_login")
def test_sarif_is_valid_and_points_at_the_lines(tmp_path: Path) -> None:
    out = tmp_path / "policy.sarif"
    assert main(["check", str(RISKY), "--provider", "aws", "--sarif", str(out)]) == 1
    log = sarif_of(out)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [f"PFN00{n}" for n in range(1, 10)]
    assert rules[2]["help"]["text"].startswith("Keep the secret in the cloud's secret store")
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": REPO.as_uri() + "/"}}
    by_rule = {(r["ruleId"], r.get("properties", {}).get("function")): r for r in run["results"]}
    notify = by_rule[("PFN003", "notify")]["locations"][0]["physicalLocation"]
    assert notify == {
        "artifactLocation": {"uri": "tests/policy/apps/risky/risky_app/functions.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 17},
    }
    region = by_rule[("PFN007", None)]["locations"][0]["physicalLocation"]
    assert region["artifactLocation"]["uri"] == "tests/policy/apps/risky/pyproject.toml"
    lines = (RISKY / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    assert lines[region["region"]["startLine"] - 1] == 'region = "us-east-1"'
    assert all(r["level"] == "error" and r["ruleIndex"] == int(r["ruleId"][-1]) - 1 for r in run["results"])


def test_a_workflow_s_findings_point_at_its_decorator_in_the_app(shop_copy: Path, tmp_path: Path) -> None:
    """A workflow's runner and starter are portable-fn's own functions: the finding is placed at the app's
    `@workflow`, a line code scanning can show, not in portable_fn's installed sources."""
    pyproject = shop_copy / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8") + "\n[tool.portable-fn.policy]\nmemory_mb = { max = 128 }\n"
    )
    out = tmp_path / "shop.sarif"
    assert main(["check", str(shop_copy), "--sarif", str(out)]) == 1
    run = sarif_of(out)["runs"][0]
    where = {r["properties"]["function"]: r["locations"][0]["physicalLocation"] for r in run["results"]}
    runner = where["place_order-run"]
    assert runner["artifactLocation"] == {"uri": "shop/functions.py", "uriBaseId": "%SRCROOT%"}
    lines = (shop_copy / "shop" / "functions.py").read_text(encoding="utf-8").splitlines()
    assert lines[runner["region"]["startLine"] - 1].startswith("@workflow(")
    assert all(w["artifactLocation"].get("uriBaseId") == "%SRCROOT%" for w in where.values()), where


def test_sarif_carries_a_waiver_as_a_suppression_and_the_teams_own_rule_ids(tmp_path: Path) -> None:
    out = tmp_path / "custom.sarif"
    assert main(["check", str(APPS / "custom"), "--sarif", str(out)]) == 1
    run = sarif_of(out)["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]][-3:] == [
        "ACME001",
        "custom_app.team_rules:http_needs_owner",
        "ACME002",
    ]
    waived = [r for r in run["results"] if "suppressions" in r]
    assert [(r["ruleId"], r["suppressions"]) for r in waived] == [
        (
            "ACME002",
            [{"kind": "external", "status": "accepted", "justification": "retired in March; owner left the team"}],
        )
    ]


def test_a_rule_that_cannot_be_loaded_fails_the_check_with_the_config_error(
    app_copy: Callable[..., App], capsys: pytest.CaptureFixture[str]
) -> None:
    app = app_copy("clean")
    pyproject = app.root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace("[tool.portable-fn.policy]\n", '[tool.portable-fn.policy]\nrules = ["nope:x"]\n'))
    assert main(["check", str(app.root)]) == 1
    err = capsys.readouterr().err
    assert (
        "[tool.portable-fn.policy] rules: 'nope:x' cannot be imported (ModuleNotFoundError: No module named 'nope')"
        in err
    )


def test_check_lists_itself_with_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--help"]) == 0
    text = capsys.readouterr().out
    assert "Check the app against the team's policy; changes nothing." in text
    for option in ("--provider", "--stage", "--json", "--sarif FILE", "portable-fn check shop --provider aws"):
        assert option in text


def test_the_report_the_cli_prints_is_the_one_evaluate_returns(capsys: pytest.CaptureFixture[str]) -> None:
    app = load_app(RISKY)
    provider = load_provider("local", {}, None)
    desired = provider.desired(app, "dev", _placeholder(app))
    assert main(["check", str(RISKY)]) == 1
    assert capsys.readouterr().out.splitlines() == evaluate(provider, app, "dev", desired).lines()


def _placeholder(app: App) -> Any:
    from portable_fn.deploy import Artifact

    return Artifact(app.root / "placeholder.zip", "0" * 64, 0, 0)
