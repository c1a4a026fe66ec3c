"""samples/shop priced on each cloud for the traffic table in its pyproject.toml, in exact Decimals, and the
rules each cloud's estimate follows (rounding, minimums, the vCPU a memory size gets, schedules)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from portable_fn.app import App, load_app
from portable_fn.cost import CLOUDS, estimate, money
from portable_fn.cost.estimate import schedule_ticks
from portable_fn.cost.gcp import vcpu

SHOP = Path(__file__).resolve().parents[2] / "samples" / "shop"
SINGLE = Path(__file__).with_name("apps") / "single"


@pytest.fixture(scope="module")
def shop() -> App:
    return load_app(SHOP)


def test_the_shop_on_aws(shop: App) -> None:
    result = estimate(CLOUDS["aws"], shop, "dev")
    assert result.region == "eu-west-1"  # [tool.portable-fn.aws] region
    assert (result.gross, result.total) == (Decimal("18.28577802867"), Decimal("15.51276900000"))
    get_order = result.row("get_order")
    assert get_order is not None  # 1.5M requests at $0.20/M; 1.5M x 40 ms x 0.25 GB = 15,000 GB-s
    assert (get_order.requests, get_order.gb_s, get_order.resources) == (Decimal("0.3"), Decimal(15000), 0)
    fulfil = result.row("fulfil")
    assert fulfil is not None and fulfil.resources == Decimal("0.36")  # 300,000 x (send, receive, delete)
    assert fulfil.details == ["SQS requests (orders): 900000 units"]
    assert [(tier.name, credit) for tier, credit in result.free_tiers] == [
        ("lambda.request", Decimal("0.2")),
        ("lambda.gb_second", Decimal("2.01433902867")),
        ("sqs.request", Decimal("0.4")),
        ("scheduler.invocation", Decimal("0.00867")),
        ("sns.publish", Decimal("0.15")),
    ]


def test_the_shop_on_gcp(shop: App) -> None:
    result = estimate(CLOUDS["gcp"], shop, "dev")
    assert result.region == "europe-west1"
    assert result.gross == Decimal("27.60157149797070634365081788")
    assert money(result.total) == "$23.19"
    sweep = result.row("sweep")
    assert sweep is not None  # every 5 minutes for 30 days; one Cloud Scheduler job
    assert (sweep.invocations, sweep.details[0]) == (8640, "Cloud Scheduler job: 1 units")
    get_order = result.row("get_order")
    assert get_order is not None  # 40 ms billed as 100 ms: 1.5M x 0.1 s x 0.25 GiB
    assert get_order.gb_s == Decimal(37500)
    assert get_order.compute == Decimal("0.694950000")  # + 1.5M x 0.1 s x 0.167 vCPU x $0.000024


def test_the_shop_on_azure(shop: App) -> None:
    result = estimate(CLOUDS["azure"], shop, "dev")
    assert result.region == "westeurope"
    assert (result.gross, result.total) == (Decimal("7.2871756000"), Decimal("4.6270140000"))
    notify = result.row("notify")
    assert notify is not None and notify.details == ["Event Grid operations (topic order-events): 600000 units"]
    sweep = result.row("sweep")
    assert sweep is not None and sweep.resources == 0  # a timer costs nothing beyond its execution


def test_no_free_tier_leaves_the_gross(shop: App) -> None:
    result = estimate(CLOUDS["aws"], shop, "dev", free_tier=False)
    assert (result.free_tiers, result.total) == ([], Decimal("18.28577802867"))


def test_arm64_is_priced_at_the_arm_rate(app_with: Callable[..., App]) -> None:
    traffic = {"work": {"invocations": 1_000_000, "duration_ms": 100}}
    x86 = estimate(CLOUDS["aws"], app_with(SINGLE, traffic, aws={"region": "us-east-1"}), "dev", free_tier=False)
    assert x86.functions[0].compute == Decimal("0.8333350")  # 50,000 GB-s at $0.0000166667
    arm64 = app_with(SINGLE, traffic, aws={"region": "us-east-1"}, defaults={"architecture": "arm64"})
    arm = estimate(CLOUDS["aws"], arm64, "dev", free_tier=False)
    assert arm.functions[0].compute == Decimal("0.6666700")  # at $0.0000133334


@pytest.mark.parametrize(
    ("memory_mb", "cpu"),
    [
        (128, "0.083"),
        (256, "0.167"),
        (512, "0.333"),
        (1024, "0.583"),
        (1536, "1"),
        (2048, "1"),
        (4096, "2"),
        (8192, "2"),
        (32768, "8"),
    ],
)
def test_gcp_gives_the_vcpu_of_the_memory_size(memory_mb: int, cpu: str) -> None:
    assert vcpu(memory_mb) == Decimal(cpu)


def test_azure_consumption_rounds_memory_up_to_128_mb_and_time_to_100_ms(app_with: Callable[..., App]) -> None:
    app = app_with(SINGLE, {"work": {"invocations": 1000, "duration_ms": 20}}, azure={"location": "eastus"})
    row = estimate(CLOUDS["azure"], app, "dev", free_tier=False).functions[0]
    assert (row.memory_mb, row.gb_s) == (512, Decimal(50))  # 1000 x 0.1 s x 0.5 GB


def test_a_cron_runs_as_often_as_it_says(shop: App) -> None:
    assert schedule_ticks(shop.function("nightly_report")) == 30  # 03:00 daily, 30 days
    assert schedule_ticks(shop.function("sweep")) == 8640
    assert schedule_ticks(shop.function("get_order")) is None


def test_functions_with_no_traffic_are_named(app_with: Callable[..., App]) -> None:
    result = estimate(CLOUDS["gcp"], app_with(SINGLE), "dev")
    assert result.total == 0
    assert result.notes[-1] == (
        "No traffic declared for work: estimated at 0 invocations. Add [tool.portable-fn.traffic.default] "
        "(or a table per function)."
    )


def test_the_price_lists_carry_their_sources_and_dates() -> None:
    for cloud in CLOUDS:
        result = estimate(CLOUDS[cloud], load_app(SHOP), "dev")
        assert result.prices_read_on == "2026-12-06"
        assert all(url.startswith("https://") for url in result.sources.values())
