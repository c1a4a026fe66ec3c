"""A month of an app on one cloud, priced: the charges each function's traffic makes, summed per function,
less the cloud's free tiers.

Each cloud's module (`aws`, `gcp`, `azure`) says what one function's month charges there (`Charge`s: so many
units of a meter at a unit price); this module turns the traffic table into each function's workload, adds the
charges up and applies the free tiers, once per cloud, in the order of the app's functions. Money stays a
Decimal throughout; it is rounded to the cent only where it is shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..runtime.errors import ConfigError
from ..runtime.state import State
from ..runtime.triggers import Queue, Schedule
from .prices import FreeTier, PriceBook, price_book
from .traffic import DEFAULT, FunctionTraffic, read_traffic

if TYPE_CHECKING:
    from ..app import App
    from ..runtime.function import FunctionSpec

MONTH_S = 30 * 86400  # a schedule's month: 30 days
RUNS = "pfn-wf-"  # the queue of a workflow's runner (`runtime.workflow.WorkflowDef.channel`)
REQUESTS, COMPUTE, RESOURCES = "requests", "compute", "resources"


@dataclass(frozen=True)
class Sizing:
    """What one function runs with on a cloud, as deploy sets it: its memory, architecture and, on Azure,
    the plan of its function app (Y1, FC1, EP1...)."""

    memory_mb: int
    architecture: str = "x86_64"
    plan: str = ""


@dataclass(frozen=True)
class Workload:
    """One function's month: its traffic and where that figure came from (`traffic.NAME`, `traffic.default`,
    `schedule`, or `none` when nothing says)."""

    spec: FunctionSpec
    traffic: FunctionTraffic
    source: str

    @property
    def invocations(self) -> int:
        return self.traffic.invocations


@dataclass(frozen=True)
class Charge:
    """`units` of `meter` at `unit_price` each, in one column of one function's row; `free` names the free
    tier that covers the meter, if one does."""

    function: str
    column: str
    meter: str
    units: Decimal
    unit_price: Decimal
    what: str
    free: str | None = None
    memory_seconds: bool = False  # the meter counts GB-seconds of memory (the row's GB-s column)

    @property
    def amount(self) -> Decimal:
        return self.units * self.unit_price


@dataclass
class FunctionCost:
    """One function's row: its invocations, GB-seconds, and what its requests, compute and the resources
    its trigger and state stores use cost before free tiers."""

    function: str
    invocations: int
    memory_mb: int
    gb_s: Decimal
    requests: Decimal
    compute: Decimal
    resources: Decimal
    source: str
    details: list[str] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return self.requests + self.compute + self.resources

    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "invocations": self.invocations,
            "memory_mb": self.memory_mb,
            "gb_seconds": str(self.gb_s),
            "requests_usd": str(self.requests),
            "compute_usd": str(self.compute),
            "resources_usd": str(self.resources),
            "total_usd": str(self.total),
            "traffic": self.source,
            "details": self.details,
        }


@dataclass
class CloudEstimate:
    """An app's month on one cloud: a row per function, the free tiers applied (each a credit, with whose
    allowance it is), the notes that say what is assumed or left out, and the prices' provenance."""

    provider: str
    region: str
    functions: list[FunctionCost]
    free_tiers: list[tuple[FreeTier, Decimal]]
    notes: list[str]
    prices_read_on: str
    sources: dict[str, str]

    @property
    def gross(self) -> Decimal:
        return sum((row.total for row in self.functions), Decimal(0))

    @property
    def free_credit(self) -> Decimal:
        return sum((credit for _, credit in self.free_tiers), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.gross - self.free_credit

    def row(self, function: str) -> FunctionCost | None:
        return next((row for row in self.functions if row.function == function), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "region": self.region,
            "currency": "USD",
            "functions": [row.to_dict() for row in self.functions],
            "gross_usd": str(self.gross),
            "free_tiers": [
                {
                    "name": tier.name,
                    "allowance": f"{tier.amount} {tier.unit}",
                    "scope": tier.scope,
                    "credit_usd": str(c),
                }
                for tier, c in self.free_tiers
            ],
            "total_usd": str(self.total),
            "notes": self.notes,
            "prices_read_on": self.prices_read_on,
            "sources": self.sources,
        }


@dataclass(frozen=True)
class Cloud:
    """What one cloud's module gives the estimate: its region for the app's settings, each function's sizing
    as the app declares it, the charges of one function's month, and the notes every estimate carries."""

    name: str
    region: Callable[[Mapping[str, Any]], str | None]
    declared: Callable[[App, FunctionSpec, Mapping[str, Any]], Sizing]
    charges: Callable[[Pricing, Workload, Sizing], list[Charge]]
    notes: Callable[[App, Mapping[str, Any]], list[str]]
    default_timeout_s: float


@dataclass(frozen=True)
class Pricing:
    """What a cloud's `charges` reads beside the workload: the app, its provider settings and the prices."""

    app: App
    settings: Mapping[str, Any]
    book: PriceBook

    def charge(
        self,
        work: Workload,
        column: str,
        meter: str,
        units: Decimal | int,
        what: str,
        free: str | None = None,
        memory_seconds: bool = False,
    ) -> Charge:
        """`units` of `meter` at this region's price, in `column` of the function's row."""
        price = self.book.unit_price(meter)
        return Charge(work.spec.name, column, meter, Decimal(units), price, what, free, memory_seconds)


def estimate(
    cloud: Cloud,
    app: App,
    stage: str,
    sizes: Mapping[str, Sizing] | None = None,
    free_tier: bool = True,
    prices: PriceBook | None = None,
) -> CloudEstimate:
    """`app`'s month on `cloud` in `stage`, for the traffic its config declares. `sizes`: each function's sizing
    as deployed (a function missing from it is not deployed and costs nothing); default: as the app declares
    them. With `free_tier` False, the free tiers are left out (they are per account, shared with the rest).
    `prices`: another price list than the shipped one for the stage's region (a worked example's)."""
    settings = app.config.provider_settings(cloud.name, stage)
    book = prices or price_book(cloud.name, cloud.region(settings))
    pricing = Pricing(app, settings, book)
    rows, charges = [], []
    for work in workloads(app, cloud.default_timeout_s):
        name = work.spec.name
        sizing = cloud.declared(app, work.spec, settings) if sizes is None else sizes.get(name)
        if sizing is None:
            continue
        mine = cloud.charges(pricing, work, sizing)
        charges += mine
        rows.append(_row(work, sizing, mine))
    notes = cloud.notes(app, settings) + _traffic_notes(rows)
    tiers = _free_tiers(pricing.book, charges) if free_tier else []
    return CloudEstimate(
        cloud.name, pricing.book.region, rows, tiers, notes, pricing.book.read_on, pricing.book.sources()
    )


def workloads(app: App, default_timeout_s: float) -> list[Workload]:
    """Each function's month from `[tool.portable-fn.traffic]`: its own table, else `default`, else (for a
    schedule) its schedule, else no traffic; a mean duration past the function's timeout is a ConfigError."""
    where = str(app.root / "pyproject.toml")
    table = read_traffic(app.config.traffic, [s.name for s in app.functions], where)
    out = []
    for spec in app.functions:
        work = _workload(spec, table)
        timeout_s = app.options(spec).timeout_s or default_timeout_s
        if work.traffic.duration_ms > timeout_s * 1000:
            origin = work.source if work.source.startswith("traffic.") else f"traffic.{DEFAULT}"
            raise ConfigError(
                f"{where}: the mean duration of {spec.name!r} in [tool.portable-fn.{origin}] is "
                f"{work.traffic.duration_ms:g} ms, past its timeout of {timeout_s:g} s: it would time out. Lower "
                f"duration_ms, or raise the function's timeout_s."
            )
        out.append(work)
    return out


def _workload(spec: FunctionSpec, table: Mapping[str, FunctionTraffic]) -> Workload:
    if spec.name in table:
        return Workload(spec, table[spec.name], f"traffic.{spec.name}")
    ticks = schedule_ticks(spec)
    default = table.get(DEFAULT)
    if ticks is not None:
        base = default or FunctionTraffic(invocations=0)
        return Workload(spec, base.model_copy(update={"invocations": ticks}), "schedule")
    if default is not None:
        return Workload(spec, default, f"traffic.{DEFAULT}")
    return Workload(spec, FunctionTraffic(invocations=0), "none")


def schedule_ticks(spec: FunctionSpec) -> int | None:
    """How often a scheduled function runs in a 30-day month (None: it is not scheduled). A cron is
    counted over the 30 days from 1 January 2025, 00:00 UTC."""
    trigger = spec.trigger
    if not isinstance(trigger, Schedule):
        return None
    if trigger.every_s:
        return MONTH_S // trigger.every_s
    cron = trigger.cron_expression()
    assert cron is not None
    start = datetime(2025, 1, 1, tzinfo=timezone.utc) - timedelta(minutes=1)
    end, count, moment = start + timedelta(seconds=MONTH_S), 0, cron.next_after(start)
    while moment <= end:
        count += 1
        moment = cron.next_after(moment)
    return count


def _row(work: Workload, sizing: Sizing, charges: Sequence[Charge]) -> FunctionCost:
    def column(name: str) -> Decimal:
        return sum((c.amount for c in charges if c.column == name), Decimal(0))

    return FunctionCost(
        function=work.spec.name,
        invocations=work.invocations,
        memory_mb=sizing.memory_mb,
        gb_s=sum((c.units for c in charges if c.memory_seconds), Decimal(0)),
        requests=column(REQUESTS),
        compute=column(COMPUTE),
        resources=column(RESOURCES),
        source=work.source,
        details=[f"{c.what}: {c.units.normalize():f} units" for c in charges if c.column == RESOURCES],
    )


def _free_tiers(book: PriceBook, charges: Sequence[Charge]) -> list[tuple[FreeTier, Decimal]]:
    """Each free tier's credit: its allowance used up by the charges it covers, in order, each at its price."""
    out = []
    for name in dict.fromkeys(c.free for c in charges if c.free):
        assert name is not None
        tier, credit = book.free(name), Decimal(0)
        left = tier.amount
        for charge in (c for c in charges if c.free == name):
            used = min(left, charge.units)
            credit, left = credit + used * charge.unit_price, left - used
        out.append((tier, credit))
    return out


def _traffic_notes(rows: Sequence[FunctionCost]) -> list[str]:
    silent = [row.function for row in rows if row.source == "none"]
    if not silent:
        return []
    return [
        f"No traffic declared for {', '.join(silent)}: estimated at 0 invocations. Add "
        "[tool.portable-fn.traffic.default] (or a table per function)."
    ]


def billed_seconds(work: Workload, step_ms: int = 1, minimum_ms: int = 0) -> Decimal:
    """The month's billed seconds of `work`: each invocation's duration rounded up to `step_ms`."""
    steps = math.ceil(Decimal(str(work.traffic.duration_ms)) / step_ms)
    per_call_ms = max(Decimal(steps * step_ms), Decimal(minimum_ms))
    return Decimal(work.invocations) * per_call_ms / 1000


def chunks(size_bytes: int, chunk_bytes: int) -> int:
    """How many billing chunks a payload takes (at least one)."""
    return max(1, math.ceil(size_bytes / chunk_bytes))


def state_uses(work: Workload) -> list[tuple[str, Decimal, Decimal]]:
    """Each state store the function uses, with the month's reads and writes of it (a read of each state used
    and a write of each state written per invocation, unless the traffic says how many)."""
    traffic, n = work.traffic, work.invocations
    reads = Decimal(str(traffic.state_reads if traffic.state_reads is not None else 1))
    writes = Decimal(str(traffic.state_writes if traffic.state_writes is not None else 1))
    return [
        (use.resource.name, n * reads, n * writes if use.writes else Decimal(0))
        for use in work.spec.options.uses
        if isinstance(use.resource, State)
    ]


def workflow_notes(app: App, not_counted: str) -> list[str]:
    """What an estimate says of the app's workflows: their runners' traffic is their steps and wakes, and what
    of their machinery the cloud's estimate leaves out (`not_counted`)."""
    runners = [s.name for s in app.functions if isinstance(s.trigger, Queue) and s.trigger.name.startswith(RUNS)]
    if not runners:
        return []
    return [
        f"Workflows: each step and wake of {', '.join(runners)} is one invocation (give its traffic as instances "
        f"times steps, with its state reads and writes); {not_counted}."
    ]
