"""`portable-fn cost`: what an app would cost a month on each cloud, for the traffic it declares."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import click

from ..cli import Target, _emit, _example, _json_option, cli
from ..console import Console

if TYPE_CHECKING:
    from ..app import App
    from ..cost import CloudEstimate

ALL = "all"
CLOUD_NAMES = ("aws", "gcp", "azure")


@cli.command(
    epilog=_example(
        "portable-fn cost samples/shop",
        "portable-fn cost shop --provider aws --stage prod",
        "portable-fn cost --provider all --no-free-tier --json",
    )
)
@click.argument("app_dir", required=False, metavar="[APP]")
@click.option("--app", "app", default=None, metavar="DIR", help="The app directory, named (the same as APP).")
@click.option(
    "--provider",
    type=click.Choice([*CLOUD_NAMES, ALL]),
    default=ALL,
    show_default=True,
    help="The cloud to price; all: every installed cloud (all three when none is), side by side.",
)
@click.option("--stage", default=None, help="The stage whose settings apply (default: the first declared, e.g. dev).")
@click.option(
    "--free-tier/--no-free-tier",
    default=True,
    show_default=True,
    help="Take off the clouds' monthly free tiers (per account, shared with everything else in it).",
)
@_json_option
@click.pass_obj
def cost(
    console: Console,
    app_dir: str | None,
    app: str | None,
    provider: str,
    stage: str | None,
    free_tier: bool,
    as_json: bool,
) -> int:
    """Estimate what the app costs a month on each cloud.

    Prices each function's requests, compute (GB-seconds) and what its trigger and state stores use, from its
    declared memory, architecture and timeout and the traffic in [tool.portable-fn.traffic]
    (invocations a month, mean duration_ms, payload_kb, per function or as `default`). Uses list
    prices per region shipped with portable-fn (each with its source and date); calls no cloud and needs no
    credentials. APP is the app directory (default: .).
    """
    from ..app import load_app
    from ..cost import CLOUDS, estimate

    loaded = load_app(Target(app_dir, app, "local", stage, None).directory)
    stage = stage or next(iter(loaded.config.stages))
    loaded.config.check_stage(stage, loaded.root / "pyproject.toml")
    estimates = [estimate(CLOUDS[name], loaded, stage, free_tier=free_tier) for name in _clouds(provider)]
    data = {"app": loaded.name, "stage": stage, "clouds": [e.to_dict() for e in estimates]}
    if as_json:
        _emit(console, True, data, "")
        return 0
    for each in estimates:
        _show(console, each)
    if len(estimates) > 1:
        _side_by_side(console, loaded, estimates)
    return 0


def _clouds(provider: str) -> list[str]:
    """The clouds to price: the one named, else every installed one (all three when none is)."""
    if provider != ALL:
        return [provider]
    from ..provider import available

    installed = [name for name in CLOUD_NAMES if name in available()]
    return installed or list(CLOUD_NAMES)


def _show(console: Console, estimate: CloudEstimate) -> None:
    """One cloud's table, its free tiers and its notes."""
    from ..cost import money

    console.result(f"{estimate.provider} ({estimate.region}; list prices read {estimate.prices_read_on}, USD/month)")
    rows = [
        (
            row.function,
            f"{row.invocations:,}",
            f"{row.gb_s.quantize(Decimal(1)):,}",
            money(row.requests),
            money(row.compute),
            money(row.resources),
            money(row.total),
        )
        for row in estimate.functions
    ]
    rows.append(("total before free tiers", "", "", "", "", "", money(estimate.gross)))
    applied = [(tier, credit) for tier, credit in estimate.free_tiers if credit]
    rows += [(f"free tier {tier.name}", "", "", "", "", "", money(-credit)) for tier, credit in applied]
    rows.append((f"total on {estimate.provider}", "", "", "", "", "", money(estimate.total)))
    console.table(("function", "invocations", "GB-s", "requests", "compute", "resources", "total"), rows)
    lines = [f"Free tier {tier.name}: {tier.amount:,f} {tier.unit}, {tier.scope}." for tier, _ in applied]
    console.result("\n".join(lines + [f"! {note}" for note in estimate.notes]) + "\n")


def _side_by_side(console: Console, app: App, estimates: list[CloudEstimate]) -> None:
    """The clouds' totals per function, then per cloud, in columns."""
    from ..cost import money

    names = [e.provider for e in estimates]
    rows = []
    for spec in app.functions:
        found = [e.row(spec.name) for e in estimates]
        rows.append((spec.name, *(money(row.total) if row else "-" for row in found)))
    rows.append(("free tiers", *(money(-e.free_credit) for e in estimates)))
    rows.append(("total", *(money(e.total) for e in estimates)))
    console.result("Side by side (USD/month):")
    console.table(("function", *names), rows)
