"""The providers' own published worked examples, priced by `portable_fn.cost` to the cent.

Each example is a JSON file in examples/: where it was published and when it was read, its inputs (the app of
tests/cost/apps it prices, `single` unless it names another), the prices it uses when they differ from today's,
and the figures it publishes.

GCP's are Cloud Scheduler's: Google publishes no worked example with a total for Cloud Run functions (2nd gen)
compute. Searched on 2026-12-06: the stored copies of https://cloud.google.com/run/pricing (pricing tables, no
example), https://cloud.google.com/functions/pricing and /functions/pricing-1stgen (their examples price 1st gen
GHz-seconds with 1st gen free tiers, which the calculator does not model), the Cloud Run and Cloud Run functions
docs (docs.cloud.google.com, Markdown copies included), and cloud.google.com blog, codelab and Firebase pages for
Cloud Run cost examples; every worked Cloud Run total found was a third party's (calculator sites, blogs).
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
AWS_EXAMPLE, AZURE_EXAMPLE, GCP_DAILY_JOB, GCP_TEN_JOBS = (
    Path(__file__).with_name("examples") / f
    for f in (
        "aws_lambda_example_1.json",
        "azure_flex_cpu_bound.json",
        "gcp_scheduler_daily_job.json",
        "gcp_scheduler_ten_jobs.json",
    )
)
APPS = Path(__file__).with_name("apps")
COLUMNS = ("compute", "requests", "resources")


def example_prices(example: dict[str, Any]) -> PriceBook:
    """The shipped price list for the example's region, with the prices the example itself uses."""
    data = copy.deepcopy(price_data(example["provider"]))
    for name, price in example["prices"].items():
        data["prices"][name]["regions"][example["region"]] = price
    return PriceBook(data, example["region"])


def priced(example: dict[str, Any], app_with: Callable[..., App]) -> CloudEstimate:
    """The example's app priced on its cloud: with a traffic table for its function when it gives invocations
    (else the app's schedules give the runs), and its provider settings."""
    inputs, function = example["inputs"], example.get("function", "work")
    traffic: dict[str, dict[str, Any]] = {}
    if "invocations" in inputs:
        traffic[function] = {"invocations": inputs["invocations"], "duration_ms": inputs["duration_ms"]}
    app = app_with(APPS / example.get("app", "single"), traffic, **{example["provider"]: inputs.get("settings", {})})
    if "memory_mb" in inputs:
        assert app.options(app.function(function)).memory_mb == inputs["memory_mb"]
    return estimate(
        CLOUDS[example["provider"]], app, "dev", free_tier=example["free_tier"], prices=example_prices(example)
    )


def net(result: CloudEstimate, column: str, free: list[str]) -> Decimal:
    """A column of the one function's row, less the free tiers that cover it."""
    credits = sum((credit for tier, credit in result.free_tiers if tier.name in free), Decimal(0))
    return Decimal(getattr(result.functions[0], column)) - credits


def scheduler_jobs(example: dict[str, Any], result: CloudEstimate) -> tuple[Decimal, Decimal]:
    """How many Cloud Scheduler jobs the estimate counts, and how many of them its free tier covers."""
    charges = [line for row in result.functions for line in row.details if line.startswith("Cloud Scheduler job:")]
    jobs = sum((Decimal(line.split(": ")[1].split()[0]) for line in charges), Decimal(0))
    credit = sum((credit for tier, credit in result.free_tiers if tier.name == "scheduler.job"), Decimal(0))
    return jobs, credit / example_prices(example).unit_price("scheduler.job")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_published_figures_to_the_cent(path: Path, app_with: Callable[..., App]) -> None:
    example = json.loads(path.read_text(encoding="utf-8"))
    result = priced(example, app_with)
    published = example["published"]
    assert published.keys() - {*COLUMNS, "total", "scheduler_jobs"} == set()
    for column in COLUMNS:
        if column in published:
            figure = published[column]
            assert money(net(result, column, figure["free"])) == money(Decimal(figure["usd"])), column
    if "total" in published:
        assert money(result.total) == money(Decimal(published["total"]["usd"]))
    if "scheduler_jobs" in published:
        jobs, free = scheduler_jobs(example, result)
        counts = published["scheduler_jobs"]
        assert (free, jobs - free) == (counts["free"], counts["paid"])


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


def test_gcp_daily_job_is_one_job_not_thirty_executions(app_with: Callable[..., App]) -> None:
    example = json.loads(GCP_DAILY_JOB.read_text(encoding="utf-8"))
    result = priced(example, app_with)
    inputs, row = example["inputs"], result.functions[0]
    assert str(row.function) == example["function"]
    assert (row.invocations, row.source) == (inputs["executions"], "schedule")  # 30 days of a daily cron
    assert app_with(APPS / example["app"]).function(row.function).trigger.expression == inputs["schedule"]
    assert scheduler_jobs(example, result) == (1, 0)  # billed by the job: $0.10, not 30 x $0.10 = $3
    assert row.details[0] == "Cloud Scheduler job: 1 units"
    assert money(row.resources) == "$0.10" and money(result.total) == "$0.10"


def test_gcp_ten_jobs_leave_seven_paid(app_with: Callable[..., App]) -> None:
    example = json.loads(GCP_TEN_JOBS.read_text(encoding="utf-8"))
    result = priced(example, app_with)
    assert [row.invocations for row in result.functions] == [30] * 10
    assert scheduler_jobs(example, result) == (10, 3)
    # the 300 runs' Cloud Run and Pub/Sub use stays inside their free tiers: only the 7 paid jobs are left
    assert money(result.total) == "$0.70"
