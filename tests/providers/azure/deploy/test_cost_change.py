"""What `plan` says a change costs (`portable_fn.cost.plan_change`), priced from what the fake ARM holds after a
real deploy of the shop: a plan that changes nothing changes no cost; on Flex Consumption a larger instance
memory shows its delta (on Consumption, Y1, Azure bills the memory it observes: nothing deploy sets)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from portable_fn_azure.provider import AzureProvider

from portable_fn.app import App
from portable_fn.cost import plan_change
from portable_fn.deploy import pipeline

Y1_GROSS = Decimal("7.2871756000")  # `portable-fn cost samples/shop --provider azure --no-free-tier`


def on(stand_in: Any) -> AzureProvider:
    """The AzureProvider `plan` would use, with the stand-in's settings and deploy side."""
    azure = AzureProvider(stand_in.settings, stand_in.endpoint_url)
    azure.deployer = stand_in.deployer
    return azure


def sides(azure: AzureProvider, app: App, build: Path, stand_in: Any) -> tuple[list[Any], list[Any]]:
    artifact = stand_in.package(app, "dev", build, lambda _: None)
    return azure.desired(app, "dev", artifact), list(azure.read_remote(app, "dev"))


def test_a_plan_that_changes_nothing_changes_no_cost(provider: Any, shop: App, tmp_path: Path) -> None:
    pipeline.deploy(provider, shop, "dev")
    azure = on(provider)
    desired, remote = sides(azure, shop, tmp_path / "build", provider)
    change = plan_change(azure, shop, "dev", desired, remote)
    assert (change.before, change.after, change.delta, change.reasons) == (Y1_GROSS, Y1_GROSS, 0, [])
    assert change.lines() == [
        "Cost: $7.29/month -> $7.29/month (+$0.00) (list prices in westeurope, before free tiers; "
        "`portable-fn cost` shows each function)."
    ]


def test_a_larger_flex_instance_shows_its_delta(
    shop: App, arm: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any, tmp_path: Path
) -> None:
    flex = helpers.ArmProvider(helpers.settings_for(shop, "dev", certificate, azurite, plan_sku="FC1"), arm.url)
    pipeline.deploy(flex, shop, "dev")
    settings = helpers.settings_for(shop, "dev", certificate, azurite, plan_sku="FC1", instance_memory_mb=4096)
    bigger = helpers.ArmProvider(settings, arm.url)
    azure = on(bigger)
    desired, remote = sides(azure, shop, tmp_path / "build", bigger)
    change = plan_change(azure, shop, "dev", desired, remote)
    # 483,440.4 s of executions: 966,880.8 GB-s at 2 GB, twice that at 4 GB, at $0.000026 a GB-s; 4,518,670
    # executions at $0.40 a million and $3.98328 of queue, table and Event Grid operations either way
    assert (change.before, change.after) == (Decimal("30.9296488000"), Decimal("56.0685496000"))
    assert change.delta == Decimal("25.1389008")
    assert change.reasons == [
        "memory of place_order-run, create_order, get_order, confirm_payment, fulfil, sweep, nightly_report, "
        "on_upload, notify 2048 -> 4096 MB"
    ]
