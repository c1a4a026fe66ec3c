"""Running the policy: the rules to run (built-in, less the disabled, plus the team's own), their findings
split by the waivers, each placed at the file and line it is about.

`plan` and `deploy` call `evaluate` with the desired resources they built; `portable-fn check` with the
desired resources it could build without the cloud, or None (the grants rule is then skipped, and says so).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..runtime.errors import ConfigError, PortableFnError
from ..runtime.function import FunctionSpec, spec_of
from ..runtime.workflow import WorkflowDef
from .model import Check, Finding, PolicyContext, PolicyReport, Rule, RuleSkipped
from .rules import BUILTIN_RULES
from .settings import PolicyConfig, Waiver

if TYPE_CHECKING:
    from ..app import App
    from ..deploy.models import Resource
    from ..provider import Provider

POLICY_TABLE = "tool.portable-fn.policy"


def evaluate(
    provider: Provider,
    app: App,
    stage: str,
    desired: Sequence[Resource] | None,
    environ: Mapping[str, str] | None = None,
    no_desired: str | None = None,
) -> PolicyReport:
    """Run the app's policy for `provider` and `stage` over the `desired` resources (None: they could not
    be built, for the reason `no_desired`, so the rules that read them are skipped, saying why). `environ`
    is where the provider's region comes from when its settings leave it out (default: os.environ)."""
    policy = policy_of(app)
    rules = rules_for(app, policy)
    check_waivers(app, policy, rules)
    context = PolicyContext(
        app,
        provider.name,
        stage,
        app.config.provider_settings(provider.name, stage),
        desired,
        None if desired is None else provider.grants(desired),
        policy,
        dict(os.environ if environ is None else environ),
        no_desired,
    )
    report = PolicyReport(app.name, provider.name, stage, rules)
    found = [finding for each in rules for finding in _run(each, context, report)]
    used = [_split(report, finding, policy.waivers) for finding in found]
    report.unused_waivers = [_waiver_text(w) for w in policy.waivers if w not in used]
    return report


def _run(each: Rule, context: PolicyContext, report: PolicyReport) -> list[Finding]:
    """The rule's findings, each placed at its file and line; none when it cannot run (noted as skipped)."""
    try:
        return [locate(context.app, f) for f in each(context)]
    except RuleSkipped as skipped:
        report.skipped.append(f"{each.id} {each.name}: {skipped}")
        return []


def _split(report: PolicyReport, finding: Finding, waivers: Sequence[Waiver]) -> Waiver | None:
    """File `finding` as waived (with the first waiver covering it, returned) or as a violation."""
    waiver = next((w for w in waivers if _covers(w, finding)), None)
    if waiver is None:
        report.violations.append(finding)
    else:
        report.waived.append(_replace(finding, reason=waiver.reason))
    return waiver


def policy_of(app: App) -> PolicyConfig:
    """The app's `[tool.portable-fn.policy]` (a plain table validated here when config gave one)."""
    policy = app.config.policy
    return policy if isinstance(policy, PolicyConfig) else PolicyConfig.model_validate(policy)


def rules_for(app: App, policy: PolicyConfig) -> list[Rule]:
    """The built-in rules less the disabled ones, then the team's own, in the order listed."""
    known = {key for r in BUILTIN_RULES for key in (r.id, r.name)}
    unknown = [name for name in policy.disable if name not in known]
    if unknown:
        raise ConfigError(
            f"{_pyproject(app)}: [{POLICY_TABLE}] disable names unknown rule(s) {unknown}; the rules are "
            f"{', '.join(f'{r.id} ({r.name})' for r in BUILTIN_RULES)}."
        )
    rules = [r for r in BUILTIN_RULES if not {r.id, r.name} & set(policy.disable)]
    return rules + [load_rule(app, ref) for ref in policy.rules]


def load_rule(app: App, ref: str) -> Rule:
    """The team's rule `module:callable`, imported as the app's modules are (its source directory first)."""
    module_name, _, attribute = ref.partition(":")
    where = f"{_pyproject(app)}: [{POLICY_TABLE}] rules"
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except ImportError as exc:
        raise ConfigError(
            f"{where}: {ref!r} cannot be imported ({type(exc).__name__}: {exc}). Put {module_name} under "
            f"{app.source_dir} or install the package that holds it."
        ) from None
    except AttributeError:
        raise ConfigError(f"{where}: module {module_name!r} has no {attribute!r}; check the name after ':'.") from None
    if isinstance(target, Rule):
        return target
    if not callable(target):
        raise ConfigError(f"{where}: {ref!r} is a {type(target).__name__}, not a callable taking a PolicyContext.")
    doc = (inspect.getdoc(target) or ref).splitlines()[0]
    fix = f"See the rule's documentation in {module_name}."
    return Rule(ref, attribute, doc, fix, _guarded(ref, target), own_ids=True)


def _guarded(ref: str, check: Check) -> Check:
    """A team's rule whose own failure is reported as the rule's, not as a traceback."""

    def run(context: PolicyContext) -> Iterable[Finding]:
        try:
            found = list(check(context))
        except (PortableFnError, RuleSkipped):
            raise
        except Exception as exc:  # the team's code: any failure of it is the same error to the user
            raise PortableFnError(f"Policy rule {ref!r} failed: {type(exc).__name__}: {exc}. Fix the rule.") from exc
        wrong = [f for f in found if not isinstance(f, Finding)]
        if wrong:
            raise PortableFnError(
                f"Policy rule {ref!r} returned {type(wrong[0]).__name__}; a rule returns "
                "portable_fn.policy.Finding objects."
            )
        return found

    return run


def check_waivers(app: App, policy: PolicyConfig, rules: Sequence[Rule]) -> None:
    """Each waiver names a rule that runs and, when it names one, a function of the app. (A plain callable's
    findings name their own rule ids, known only once it runs: with one, a waiver that matches nothing is
    reported as unused instead.)"""
    known = {key for r in rules for key in (r.id, r.name)}
    open_ids = any(r.own_ids for r in rules)
    functions = {spec.name for spec in app.functions}
    for number, waiver in enumerate(policy.waivers, 1):
        where = f"{_pyproject(app)}: waiver {number} ([[{POLICY_TABLE}.waivers]], rule {waiver.rule!r})"
        if waiver.rule not in known and not open_ids:
            raise ConfigError(f"{where} names no rule that runs; the rules are {sorted(r.id for r in rules)}.")
        if waiver.function is not None and waiver.function not in functions:
            raise ConfigError(f"{where}: the app has no function {waiver.function!r}; it has {sorted(functions)}.")


def _covers(waiver: Waiver, finding: Finding) -> bool:
    return waiver.rule in (finding.rule, finding.rule_name) and waiver.function in (None, finding.function)


def _waiver_text(waiver: Waiver) -> str:
    target = f" for {waiver.function!r}" if waiver.function else ""
    return f"{waiver.rule}{target} ({waiver.reason}) matched no finding; remove it."


def _replace(finding: Finding, **changes: Any) -> Finding:
    return dataclasses.replace(finding, **changes)


# -- where a finding is: the setting's line in pyproject.toml, else the function's decorator ------------------


def locate(app: App, finding: Finding) -> Finding:
    """`finding` with the file and line it is about."""
    if finding.file is not None:
        return finding
    if finding.key is not None or finding.function is None:
        path = _pyproject(app)
        return _replace(finding, file=str(path), line=config_line(path, finding.key or POLICY_TABLE))
    try:
        written = _written(app.function(finding.function))
        return _replace(finding, file=inspect.getsourcefile(written), line=inspect.getsourcelines(written)[1])
    except (PortableFnError, OSError, TypeError):  # a grant of a function the app does not know by that name
        path = _pyproject(app)
        return _replace(finding, file=str(path), line=1)


def _written(spec: FunctionSpec) -> Callable[..., Any]:
    """The function the user wrote for `spec`: its handler, or, for a workflow's starter or runner (whose
    handlers are portable-fn's own), the decorated workflow, so a finding points into the app's code."""
    module = sys.modules.get(spec.module)
    for value in vars(module).values() if module is not None else ():
        if isinstance(value, WorkflowDef) and spec in (spec_of(value), spec_of(value.runner)):
            return value.fn
    return spec.handler


def config_line(path: Path, key: str) -> int:
    """The line of `key` ("tool.portable-fn.aws.region") in `path`: its own line, else its table's header,
    else that of the nearest table above it that is written out; 1 when none is."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 1
    parts = key.split(".")
    for cut in range(len(parts), 0, -1):
        table, rest = ".".join(parts[:cut]), parts[cut:]
        header = next((i for i, line in enumerate(lines) if _is_header(line, table)), None)
        if header is None:
            continue
        if rest:
            found = _key_line(lines, header + 1, rest[0])
            return (found if found is not None else header) + 1
        return header + 1
    return 1


def _is_header(line: str, table: str) -> bool:
    return re.fullmatch(r"\s*\[\[?\s*" + re.escape(table) + r"\s*\]\]?\s*(#.*)?", line) is not None


def _key_line(lines: list[str], start: int, key: str) -> int | None:
    """The line of `key = ...` in the table starting at `start` (up to the next header)."""
    for i in range(start, len(lines)):
        if lines[i].lstrip().startswith("["):
            return None
        if re.match(r"\s*\"?" + re.escape(key) + r"\"?\s*=", lines[i]):
            return i
    return None


def _pyproject(app: App) -> Path:
    return app.root / "pyproject.toml"


# -- desired resources without packaging, for `portable-fn check` ---------------------------------------------

PLACEHOLDER_SHA256 = "0" * 64  # no package is built: the rules read configuration, never code


def offline_desired(provider: Provider, app: App, stage: str) -> tuple[list[Resource] | None, str | None]:
    """The provider's desired resources for a stand-in artifact, and None; or None and why they could not be
    built here (AWS asks STS for the account id, so it needs credentials or an endpoint)."""
    from ..deploy.models import Artifact

    artifact = Artifact(app.root / ".portable-fn" / "check" / "placeholder.zip", PLACEHOLDER_SHA256, 0, 0)
    try:
        return provider.offline_desired(app, stage, artifact), None
    except Exception as exc:  # whatever the cloud's SDK raises without a login means the same here
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, (
            f"{provider.name}'s desired resources, which hold the grants, could not be built without the cloud "
            f"({detail}); `portable-fn plan` and `deploy` run this rule with credentials"
        )
