"""Waivers (a finding accepted with a reason is reported as waived, not as a violation), the team's own
rules, turning rules off, and the policy table's errors, each naming the file, the key and the fix."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from portable_fn.app import App, load_app
from portable_fn.policy import PolicyViolationError, evaluate
from portable_fn.provider import load_provider
from portable_fn.runtime.errors import ConfigError, PortableFnError

from .conftest import APPS, ENVIRON

LOCAL = load_provider("local", {}, None)
AppCopy = Callable[..., App]


def waiver(rule: str, reason: str, function: str | None = None) -> str:
    named = f'function = "{function}"\n' if function else ""
    return f'\n[[tool.portable-fn.policy.waivers]]\nrule = "{rule}"\n{named}reason = "{reason}"\n'


def test_a_waived_finding_is_reported_with_its_reason_not_as_a_violation(app_copy: AppCopy) -> None:
    app = app_copy(
        "risky", waiver("PFN003", "test-mode token, rotated daily", "notify") + waiver("memory-bounds", "a big report")
    )
    report = evaluate(LOCAL, app, "dev", [], environ=ENVIRON)
    assert [(f.rule, f.function, f.reason) for f in report.waived] == [
        ("PFN003", "notify", "test-mode token, rotated daily"),
        ("PFN004", "export_report", "a big report"),
    ]
    assert ("PFN003", "notify") not in [(f.rule, f.function) for f in report.violations]
    assert [(f.rule, f.function) for f in report.violations if f.rule == "PFN003"] == [
        ("PFN003", None),
        ("PFN003", None),
    ]
    assert "waived PFN003 no-secret-env [notify]: @function env SLACK_TOKEN holds a Slack token. Fix: " in "\n".join(
        report.lines()
    )
    assert report.to_dict()["waived"][0] == {
        "rule": "PFN003",
        "rule_name": "no-secret-env",
        "function": "notify",
        "message": "@function env SLACK_TOKEN holds a Slack token.",
        "fix": report.waived[0].fix,
        "key": None,
        "file": str(app.root / "risky_app" / "functions.py"),
        "line": 17,
        "reason": "test-mode token, rotated daily",
    }


def test_a_waiver_without_a_function_covers_the_rule_everywhere_and_one_that_matches_nothing_is_said(
    app_copy: AppCopy,
) -> None:
    app = app_copy("risky", waiver("PFN003", "all known") + waiver("PFN002", "not this one", "export_report"))
    report = evaluate(LOCAL, app, "dev", [], environ=ENVIRON)
    assert [f.rule for f in report.waived] == ["PFN003", "PFN003", "PFN003"]
    assert report.unused_waivers == ["PFN002 for 'export_report' (not this one) matched no finding; remove it."]


def test_enforce_refuses_naming_each_violation_and_how_to_waive_it() -> None:
    report = evaluate(LOCAL, load_app(APPS / "risky"), "dev", [], environ=ENVIRON)
    with pytest.raises(PolicyViolationError) as refused:
        report.enforce("deploy")
    text = str(refused.value)
    assert text.startswith("Refusing to deploy 'risky' (stage dev) on local: the policy found 9 violation(s):\n")
    assert all(f"  {f.line_text()}" in text for f in report.violations)
    assert '  [[tool.portable-fn.policy.waivers]]\n  rule = "PFN001"\n  function = "export_report"\n' in text
    assert text.endswith("Run `portable-fn check --provider local --stage dev` to see them again.")
    evaluate(LOCAL, load_app(APPS / "clean"), "dev", [], environ=ENVIRON).enforce("deploy")  # no violation: no error


def test_the_teams_own_rules_run_beside_the_built_in_ones_and_a_rule_can_be_turned_off() -> None:
    report = evaluate(LOCAL, load_app(APPS / "custom"), "dev", [], environ=ENVIRON)
    assert [r.id for r in report.rules] == [
        "PFN001", "PFN002", "PFN003", "PFN005", "PFN006", "PFN007", "PFN008", "PFN009",
        "ACME001", "custom_app.team_rules:http_needs_owner",
    ]  # fmt: skip
    assert [(f.rule, f.rule_name, f.function, f.message, f.fix) for f in report.violations] == [
        ("ACME001", "no-big-memory", "crunch", "crunch asks for 2048 MB.", "Split the work or lower memory_mb.")
    ]
    assert [(f.rule, f.function, f.reason) for f in report.waived] == [
        ("ACME002", "legacy", "retired in March; owner left the team")
    ]
    assert report.rules[-1].description == "Every HTTP function names its owning team in env OWNER."


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (
            'rules = ["custom_app.missing:rule"]',
            "[tool.portable-fn.policy] rules: 'custom_app.missing:rule' cannot be imported (ModuleNotFoundError: "
            "No module named 'custom_app.missing'). Put custom_app.missing under",
        ),
        (
            'rules = ["custom_app.team_rules:nothing"]',
            "[tool.portable-fn.policy] rules: module 'custom_app.team_rules' has no 'nothing'; check the name "
            "after ':'.",
        ),
        (
            'rules = ["custom_app.team_rules:rule"]',  # `rule` is the decorator imported there: callable, not a Rule
            None,
        ),
        ('disable = ["PFN999"]', "[tool.portable-fn.policy] disable names unknown rule(s) ['PFN999']; the rules are "),
    ],
)
def test_a_rule_that_cannot_be_loaded_is_a_config_error(app_copy: AppCopy, extra: str, says: str | None) -> None:
    app = app_copy("clean", "")
    text = (app.root / "pyproject.toml").read_text(encoding="utf-8")
    (app.root / "pyproject.toml").write_text(
        text.replace('public_functions = ["status"]', f'public_functions = ["status"]\n{extra}')
    )
    (app.root / "custom_app").mkdir()
    (app.root / "custom_app" / "__init__.py").write_text("")
    (app.root / "custom_app" / "team_rules.py").write_text(
        (APPS / "custom" / "custom_app" / "team_rules.py").read_text()
    )
    app = load_app(app.root)
    if says is None:  # loads, and fails when run, as the rule's own error
        with pytest.raises(PortableFnError) as failed:
            evaluate(LOCAL, app, "dev", [], environ=ENVIRON)
        assert "Policy rule 'custom_app.team_rules:rule' failed: " in str(failed.value)
        return
    with pytest.raises(ConfigError) as refused:
        evaluate(LOCAL, app, "dev", [], environ=ENVIRON)
    assert str(refused.value).startswith(f"{app.root / 'pyproject.toml'}: ")
    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ("\n[tool.portable-fn.policy.extra]\n", "tool.portable-fn.policy.extra: unknown key"),
        ("\n[tool.portable-fn.policy]\nmemory = 5\n", "did you mean 'memory_mb'?"),
        ("\n[tool.portable-fn.policy]\nmemory_mb = { min = 512, max = 256 }\n", "min (512) is larger than max (256)"),
        ('\n[tool.portable-fn.policy]\nrules = ["no_colon"]\n', "'no_colon' is not a rule reference like"),
        (waiver("PFN003", " "), "tool.portable-fn.policy.waivers.0.reason: must say why the finding is accepted"),
        (
            '\n[[tool.portable-fn.policy.waivers]]\nrule = "PFN003"\n',
            "tool.portable-fn.policy.waivers.0.reason: is required",
        ),
    ],
)
def test_the_policy_table_is_checked_when_the_app_loads(tmp_path: Path, extra: str, says: str) -> None:
    shutil.copytree(APPS / "custom" / "custom_app", tmp_path / "custom_app")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.portable-fn]\napp = "custom"\nmodules = ["custom_app.functions"]\n' + extra, encoding="utf-8"
    )
    with pytest.raises(ConfigError) as refused:
        load_app(tmp_path)
    assert "[tool.portable-fn] is invalid" in str(refused.value) and says in str(refused.value)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (waiver("PFN404", "no such rule"), "waiver 2 ([[tool.portable-fn.policy.waivers]], rule 'PFN404')"),
        (
            waiver("PFN003", "gone", "nobody"),
            "the app has no function 'nobody'; it has ['export_report', 'notify', 'sync']",
        ),
    ],
)
def test_a_waiver_must_name_a_rule_that_runs_and_a_function_the_app_has(
    app_copy: AppCopy, extra: str, says: str
) -> None:
    app = app_copy("risky", waiver("PFN001", "fine") + extra)
    with pytest.raises(ConfigError) as refused:
        evaluate(LOCAL, app, "dev", [], environ=ENVIRON)
    assert says in str(refused.value)
