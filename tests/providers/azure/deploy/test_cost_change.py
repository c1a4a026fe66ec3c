"""What `plan` says a change costs (`portable_fn.cost.plan_change`), priced from what the fake ARM holds after a
real deploy of the shop: a plan that changes nothing changes no cost; on Flex Consumption a larger instance
memory shows its delta (on Consumption, Y1, Azure bills the memory it observes: nothing deploy sets)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from portable_fn_azure.provider import AzureProvider

from portable_fn.app import App
from portable_fn.deploy import pipeline

from ....cost_contract import check_no_change, on, priced

Y1_GROSS = Decimal("7.2871756000")  # `portable-fn cost samples/shop --provider azure --no-free-tier`


def test_a_plan_that_changes_nothing_changes_no_cost(provider: Any, shop: App, tmp_path: Path) -> None:
    pipeline.deploy(provider, shop, "dev")
    change = priced(on(AzureProvider, provider), shop, tmp_path / "build", provider)
    check_no_change(change, Y1_GROSS, "$7.29", "westeurope")


def test_a_larger_flex_instance_shows_its_delta(
    shop: App, arm: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any, tmp_path: Path
) -> None:
    flex = helpers.ArmProvider(helpers.settings_for(shop, "dev", certificate, azurite, plan_sku="FC1"), arm.url)
    pipeline.deploy(flex, shop, "dev")
    settings = helpers.settings_for(shop, "dev", certificate, azurite, plan_sku="FC1", instance_memory_mb=4096)
    bigger = helpers.ArmProvider(settings, arm.url)
    change = priced(on(AzureProvider, bigger), shop, tmp_path / "build", bigger)
    # 483,440.4 s of executions: 966,880.8 GB-s at 2 GB, twice that at 4 GB, at $0.000026 a GB-s; 4,518,670
    # executions at $0.40 a million and $3.98328 of queue, table and Event Grid operations either way
    assert (change.before, change.after) == (Decimal("30.9296488000"), Decimal("56.0685496000"))
    assert change.delta == Decimal("25.1389008")
    assert change.reasons == [
        "memory of place_order-run, create_order, get_order, confirm_payment, fulfil, sweep, nightly_report, "
        "on_upload, notify 2048 -> 4096 MB"
    ]
