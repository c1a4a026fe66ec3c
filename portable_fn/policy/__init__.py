"""Policy: the team's rules over what an app deploys, checked before it is deployed.

`evaluate(provider, app, stage, desired)` runs the built-in rules (`rules.BUILTIN_RULES`, PFN001-PFN009)
and the team's own (`[tool.portable-fn.policy] rules`), splits the findings by the waivers, and returns a
`PolicyReport`; `portable-fn check` prints it (text, JSON, SARIF), `plan` shows it and `deploy` calls
`report.enforce("deploy")`, which raises `PolicyViolationError` on a violation.

A team's rule is a callable taking a `PolicyContext` and returning `Finding`s, best declared with `@rule`::

    from portable_fn.policy import Finding, rule

    @rule("ACME001", "no-big-memory", "No function over 1 GB.", "Lower memory_mb.")
    def no_big_memory(ctx):
        for spec in ctx.app.functions:
            if (ctx.app.options(spec).memory_mb or 0) > 1024:
                yield Finding("", f"{spec.name} asks for more than 1 GB.", spec.name)
"""

from __future__ import annotations

from .engine import evaluate
from .model import Finding, PolicyContext, PolicyReport, PolicyViolationError, Rule, RuleSkipped, rule
from .rules import BUILTIN_RULES
from .sarif import to_sarif
from .settings import Bounds, PolicyConfig, Waiver

__all__ = [
    "BUILTIN_RULES",
    "Bounds",
    "Finding",
    "PolicyConfig",
    "PolicyContext",
    "PolicyReport",
    "PolicyViolationError",
    "Rule",
    "RuleSkipped",
    "Waiver",
    "evaluate",
    "rule",
    "to_sarif",
]
