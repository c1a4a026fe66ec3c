"""The policy engine's contract, in one place: a rule is a callable taking a `PolicyContext` and returning
`Finding`s; `@rule(...)` gives it an id, a name, a description and how to fix what it finds. The built-in
rules are written exactly as a team's own are (`[tool.portable-fn.policy] rules = ["mod:callable"]`).

    PortableFnError
    └── PolicyViolationError      `deploy` refused: a rule found something not waived
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..runtime.errors import PortableFnError

if TYPE_CHECKING:
    from ..app import App
    from ..deploy.grants import Grant
    from ..deploy.models import Resource
    from ..runtime.function import FunctionOptions
    from .settings import PolicyConfig


class PolicyViolationError(PortableFnError):
    """A deploy refused because the policy found violations that are not waived."""


class RuleSkipped(Exception):
    """Raised by a rule that cannot run on what it was given (the grants of a provider whose desired
    resources need the cloud); the report lists the rule as skipped, with this message as why."""


@dataclass(frozen=True)
class Finding:
    """What a rule found: `rule` (its id), `function` (None: the app or stage as a whole), `message` (what
    is wrong) and `fix` (how to fix it). `key` names the setting it is about ("tool.portable-fn.aws.region")
    when it is one; the engine fills in `rule_name`, `file` and `line`, and `reason` when a waiver covers it."""

    rule: str
    message: str
    function: str | None = None
    fix: str = ""
    key: str | None = None
    rule_name: str = ""
    file: str | None = None
    line: int | None = None
    reason: str | None = None

    def line_text(self) -> str:
        """One line: rule, function, what, how to fix (and why it is accepted, when waived)."""
        where = f" [{self.function}]" if self.function else ""
        text = f"{self.rule} {self.rule_name}{where}: {self.message} Fix: {self.fix}"
        return text if self.reason is None else f"{text} (waived: {self.reason})"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


Check = Callable[["PolicyContext"], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    """A rule with its metadata; calling it runs `check` and stamps its id and fix on what it finds."""

    id: str
    name: str
    description: str
    fix: str
    check: Check
    own_ids: bool = False  # a plain callable's rule: its findings name their own rule ids

    def __call__(self, context: PolicyContext) -> list[Finding]:
        return [
            dataclasses.replace(f, rule=f.rule or self.id, rule_name=self.name, fix=f.fix or self.fix)
            for f in self.check(context)
        ]

    def describe(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "description": self.description, "fix": self.fix}


def rule(id: str, name: str, description: str, fix: str) -> Callable[[Check], Rule]:
    """Declare a policy rule: `id` ("ACME001"), `name` ("no-big-memory"), a one-line `description` and the
    `fix` every finding of it shows unless it gives its own. The decorated function takes a
    `PolicyContext` and returns (or yields) `Finding`s; `Finding.rule` may be left "" for this id."""

    def declare(check: Check) -> Rule:
        return Rule(id, name, description, fix, check)

    return declare


@dataclass(frozen=True)
class PolicyContext:
    """What every rule reads: the app, the provider and stage, the provider's settings for the stage, the
    desired resources and their grants (None when they could not be built without the cloud), and the
    policy settings. No I/O."""

    app: App
    provider: str
    stage: str
    settings: Mapping[str, Any]
    desired: Sequence[Resource] | None
    grants: Sequence[Grant] | None
    policy: PolicyConfig
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    no_desired: str | None = None  # why `desired` is None

    def options(self, name: str) -> FunctionOptions:
        """A function's options with the app's defaults filled in."""
        return self.app.options(self.app.function(name))


@dataclass
class PolicyReport:
    """The findings of one evaluation: `violations` (not waived), `waived` (each with its reason), and
    `skipped` (rules that could not run, each with why)."""

    app: str
    provider: str
    stage: str
    rules: list[Rule]
    violations: list[Finding] = field(default_factory=list)
    waived: list[Finding] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unused_waivers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        counts = f"{len(self.violations)} violation(s), {len(self.waived)} waived"
        return f"Policy: {counts} ({len(self.rules)} rules, {self.provider}, stage {self.stage})"

    def lines(self) -> list[str]:
        """One line per finding (violations first), then what was skipped and the summary."""
        out = [f.line_text() for f in self.violations]
        out += [f"waived {f.line_text()}" for f in self.waived]
        out += [f"skipped {note}" for note in self.skipped]
        out += [f"unused waiver: {note}" for note in self.unused_waivers]
        return [*out, self.summary()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "provider": self.provider,
            "stage": self.stage,
            "ok": self.ok,
            "rules": [r.describe() for r in self.rules],
            "violations": [f.to_dict() for f in self.violations],
            "waived": [f.to_dict() for f in self.waived],
            "skipped": list(self.skipped),
            "unused_waivers": list(self.unused_waivers),
        }

    def enforce(self, verb: str) -> None:
        """Raise PolicyViolationError naming each violation and how to waive one, when there is any."""
        if self.ok:
            return
        first = self.violations[0]
        waiver = [
            "  [[tool.portable-fn.policy.waivers]]",
            f'  rule = "{first.rule}"',
            *([f'  function = "{first.function}"'] if first.function else []),
            '  reason = "why the team accepts it"',
        ]
        raise PolicyViolationError(
            "\n".join(
                [
                    f"Refusing to {verb} {self.app!r} (stage {self.stage}) on {self.provider}: the policy found "
                    f"{len(self.violations)} violation(s):",
                    *(f"  {f.line_text()}" for f in self.violations),
                    "Fix them, or waive one in pyproject.toml with a reason, like:",
                    *waiver,
                    f"Run `portable-fn check --provider {self.provider} --stage {self.stage}` to see them again.",
                ]
            )
        )
