"""The providers' own published worked examples, priced by `portable_fn.cost` to the cent.

Each example is a JSON file in examples/: where it was published and when it was read, its inputs, the prices
it uses when they differ from today's, and the figures it publishes.

There is none for GCP: no worked example with a total that Google publishes for Cloud Run functions (2nd gen,
what the calculator prices) was found on 2026-12-06. Searched: the stored copies of https://cloud.google.com/run/pricing
(pricing tables, no example), https://cloud.google.com/functions/pricing and /functions/pricing-1stgen (their
examples price 1st gen GHz-seconds with 1st gen free tiers, which the calculator does not model), the Cloud Run and
Cloud Run functions docs (docs.cloud.google.com, Markdown copies included), and cloud.google.com blog, codelab and
Firebase pages for "Cloud Run functions"/"Cloud Run" cost examples; every worked Cloud Run total found was a third
party's (calculator sites, blogs), not Google's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App
from portable_fn.cost import CLOUDS, CloudEstimate, PriceBook, estimate, money
from portable_fn.cost.prices import price_data

EXAMPLES = sorted(Path(__file__).with_name("examples").glob("*.json"))
AWS_EXAMPLE, AZURE_EXAMPLE = (
    Path(__file__).with_name("examples") / f for f in ("aws_lambda_example_1.json", "azure_flex_cpu_bound.json")
)
SINGLE = Path(__file__).with_name("apps") / "single"


def example_prices(example: dict[str, Any]) -> PriceBook:
    """The shipped price list for the example's region, with the prices the example itself uses."""
    data = copy.deepcopy(price_data(example["provider"]))
    for name, price in example["prices"].items():
        data["prices"][name]["regions"][example["region"]] = price
    return PriceBook(data, example["region"])


def priced(example: dict[str, Any], app_with: Callable[..., App]) -> CloudEstimate:
    inputs = example["inputs"]
    traffic = {"work": {"invocations": inputs["invocations"], "duration_ms": inputs["duration_ms"]}}
    app = app_with(SINGLE, traffic, **{example["provider"]: inputs["settings"]})
    assert app.options(app.function("work")).memory_mb == inputs["memory_mb"]
    return estimate(
        CLOUDS[example["provider"]], app, "dev", free_tier=example["free_tier"], prices=example_prices(example)
    )


def net(result: CloudEstimate, column: str, free: list[str]) -> Decimal:
    """A column of the one function's row, less the free tiers that cover it."""
    credits = sum((credit for tier, credit in result.free_tiers if tier.name in free), Decimal(0))
    return Decimal(getattr(result.functions[0], column)) - credits


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_published_figures_to_the_cent(path: Path, app_with: Callable[..., App]) -> None:
    example = json.loads(path.read_text(encoding="utf-8"))
    result = priced(example, app_with)
    published = example["published"]
    for column in ("compute", "requests"):
        figure = published[column]
        assert money(net(result, column, figure["free"])) == money(Decimal(figure["usd"])), column
    assert money(result.total) == money(Decimal(published["total"]["usd"]))


def test_aws_example_1_step_by_step(app_with: Callable[..., App]) -> None:
    example = json.loads(AWS_EXAMPLE.read_text(encoding="utf-8"))
    result = priced(example, app_with)
    row = result.functions[0]
    assert row.gb_s == Decimal(1_500_000)
    assert row.compute == Decimal("25.00500")  # 1,500,000 GB-s at $0.00001667
    assert row.requests == Decimal("0.60")
    assert [(tier.name, credit) for tier, credit in result.free_tiers] == [
        ("lambda.request", Decimal("0.20")),
        ("lambda.gb_second", Decimal("6.66800")),  # 400,000 GB-s
    ]
    assert result.total == Decimal("18.73700")


def test_azure_flex_example_exactly(app_with: Callable[..., App]) -> None:
    example = json.loads(AZURE_EXAMPLE.read_text(encoding="utf-8"))
    result = priced(example, app_with)
    row = result.functions[0]
    assert (row.memory_mb, row.gb_s) == (2048, Decimal(72_000))  # 10 instances x 2 GB x 3600 s
    assert (row.compute, row.requests, result.total) == (Decimal("1.872"), Decimal("0.0576"), Decimal("1.9296"))
