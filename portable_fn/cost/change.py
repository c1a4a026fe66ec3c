"""What a plan changes in an app's monthly cost: the same traffic priced on what is deployed (the remote
resources) and on what the plan wants (the desired ones), for `plan` to show beside its steps.

Free tiers are left out of both sides: they are per account and shared, so they would hide a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..runtime.errors import ConfigError
from .clouds import CLOUDS
from .estimate import CloudEstimate, Sizing, estimate

if TYPE_CHECKING:
    from ..app import App
    from ..deploy import Resource
    from ..provider import Provider

CENT = Decimal("0.01")


def money(amount: Decimal, sign: bool = False) -> str:
    """`amount` in dollars, rounded to the cent: "$12.40" ("+$6.50" / "-$1.00" with `sign`)."""
    cents = amount.quantize(CENT)
    text = f"${abs(cents):,.2f}"
    if cents < 0:
        return f"-{text}"
    return f"+{text}" if sign else text


@dataclass
class CostChange:
    """The monthly cost before and after a plan (None when it cannot be estimated, `unavailable` says why),
    and what in the plan changes it."""

    provider: str
    before: Decimal | None
    after: Decimal | None
    reasons: list[str] = field(default_factory=list)
    unavailable: str | None = None
    region: str = ""

    @property
    def delta(self) -> Decimal | None:
        return None if self.before is None or self.after is None else self.after - self.before

    def lines(self) -> list[str]:
        """What `plan` prints: "Cost: $12.40/month -> $18.90/month (+$6.50), memory of resize 512 -> 1024 MB"."""
        if self.before is None or self.after is None or self.delta is None:
            return [f"Cost: not estimated ({self.unavailable})."]
        head = f"Cost: {money(self.before)}/month -> {money(self.after)}/month ({money(self.delta, sign=True)})"
        tail = f", {', '.join(self.reasons)}" if self.reasons else ""
        where = f"list prices in {self.region}, before free tiers; `portable-fn cost` shows each function"
        return [f"{head}{tail} ({where})."]

    def to_dict(self) -> dict[str, Any]:
        def text(amount: Decimal | None) -> str | None:
            return None if amount is None else str(amount)

        return {
            "provider": self.provider,
            "region": self.region,
            "before_usd": text(self.before),
            "after_usd": text(self.after),
            "delta_usd": text(self.delta),
            "reasons": self.reasons,
            "unavailable": self.unavailable,
        }


def plan_change(
    provider: Provider, app: App, stage: str, desired: Iterable[Resource], remote: Iterable[Resource]
) -> CostChange:
    """The cost change of the plan from `remote` (the RemoteState read) to `desired` (the resources the plan
    wants), for the app's declared traffic. Never raises for want of prices or traffic: it says so instead."""
    cloud = CLOUDS.get(provider.name)
    if cloud is None:
        return CostChange(provider.name, None, None, unavailable=f"portable-fn has no prices for {provider.name}")
    try:
        before_sizes = provider.cost_sizing(app, stage, list(remote))
        after_sizes = provider.cost_sizing(app, stage, list(desired))
        before = estimate(cloud, app, stage, before_sizes, free_tier=False)
        after = estimate(cloud, app, stage, after_sizes, free_tier=False)
    except ConfigError as exc:
        return CostChange(provider.name, None, None, unavailable=str(exc))
    if not app.config.traffic:
        reason = "no traffic declared: add [tool.portable-fn.traffic.default] with `invocations = 100000` (a month)"
        return CostChange(provider.name, None, None, unavailable=reason, region=after.region)
    reasons = _reasons(before_sizes, after_sizes, before, after)
    return CostChange(provider.name, before.total, after.total, reasons, region=after.region)


def _reasons(
    before: Mapping[str, Sizing], after: Mapping[str, Sizing], old: CloudEstimate, new: CloudEstimate
) -> list[str]:
    """What changes the cost, in the app's order; functions with the same change are named together."""
    changed: dict[tuple[str, str, str], list[str]] = {}
    out = []
    for row in new.functions:
        name, was, now = row.function, before.get(row.function), after[row.function]
        if was is None:
            out.append(f"new function {name} ({money(row.total, sign=True)})")
            continue
        for what, a, b, unit in (
            ("memory", was.memory_mb, now.memory_mb, " MB"),
            ("architecture", was.architecture, now.architecture, ""),
            ("plan", was.plan, now.plan, ""),
        ):
            if a != b:
                changed.setdefault((what, f"{a}", f"{b}{unit}"), []).append(name)
    out += [f"{what} of {', '.join(names)} {a} -> {b}" for (what, a, b), names in changed.items()]
    for row in old.functions:
        if row.function not in after:
            out.append(f"{row.function} removed ({money(-row.total, sign=True)})")
    return out
