"""A policy report as SARIF 2.1.0, the format CI systems annotate code with (GitHub code scanning, GitLab,
Azure DevOps): one run of the `portable-fn` tool, its rules with their help, one result per finding at the
line of pyproject.toml or of the module it is about. A waived finding is a result with an external
suppression holding the waiver's reason.

Paths are relative to the repository holding the app (the nearest directory above it with `.git`), the
root CI checks out, else to the app's directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .model import Finding, PolicyReport

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
ROOT = "%SRCROOT%"


def to_sarif(report: PolicyReport, app_root: Path) -> dict[str, Any]:
    """The SARIF log of `report` for the app in `app_root`."""
    from .. import __version__

    root = source_root(app_root)
    rules = [r.describe() for r in report.rules] + _own_ids(report)
    index = {rule["id"]: number for number, rule in enumerate(rules)}
    results = [_result(f, index, root) for f in report.violations]
    results += [_result(f, index, root, suppressed=True) for f in report.waived]
    driver = {"name": "portable-fn", "version": __version__, "rules": [_rule(r) for r in rules]}
    run = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {ROOT: {"uri": root.as_uri() + "/"}},
        "results": results,
        "properties": {"app": report.app, "provider": report.provider, "stage": report.stage},
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def source_root(app_root: Path) -> Path:
    """The repository holding the app, else the app's directory."""
    app_root = app_root.resolve()
    return next((p for p in (app_root, *app_root.parents) if (p / ".git").exists()), app_root)


def _own_ids(report: PolicyReport) -> list[dict[str, str]]:
    """The rule ids that a team's plain callables gave their findings, described by the callable."""
    listed = {r.id for r in report.rules}
    out: dict[str, dict[str, str]] = {}
    for finding in [*report.violations, *report.waived]:
        if finding.rule not in listed and finding.rule not in out:
            maker = next((r for r in report.rules if r.own_ids and r.name == finding.rule_name), None)
            described = maker.describe() if maker is not None else {"description": finding.message}
            out[finding.rule] = {**described, "id": finding.rule, "name": finding.rule_name, "fix": finding.fix}
    return list(out.values())


def _rule(described: dict[str, str]) -> dict[str, Any]:
    return {
        "id": described["id"],
        "name": described["name"],
        "shortDescription": {"text": described["description"]},
        "help": {"text": described["fix"]},
        "defaultConfiguration": {"level": "error"},
    }


def _result(finding: Finding, index: dict[str, int], root: Path, suppressed: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": "error",
        "message": {"text": f"{finding.message} Fix: {finding.fix}"},
        "locations": [_location(finding, root)] if finding.file else [],
    }
    if finding.rule in index:
        result["ruleIndex"] = index[finding.rule]
    if finding.function:
        result["properties"] = {"function": finding.function}
    if suppressed:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": finding.reason}]
    return result


def _location(finding: Finding, root: Path) -> dict[str, Any]:
    path = Path(str(finding.file)).resolve()
    artifact: dict[str, Any] = {"uri": path.as_uri()}
    if path.is_relative_to(root):
        artifact = {"uri": path.relative_to(root).as_posix(), "uriBaseId": ROOT}
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if finding.line:
        physical["region"] = {"startLine": finding.line}
    return {"physicalLocation": physical}
