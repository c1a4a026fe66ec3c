"""What `plan` says a change costs (`portable_fn.cost.plan_change`), priced from what moto holds after a real
deploy of the shop: a plan that changes nothing changes no cost; a larger memory shows its delta."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.provider import AwsProvider

from portable_fn.app import App
from portable_fn.deploy import pipeline

from ....cost_contract import check_no_change, edited, on, priced

SHOP_GROSS = Decimal("18.28577802867")  # `portable-fn cost samples/shop --provider aws --no-free-tier`


@pytest.fixture
def deployed(provider: Any, shop: App) -> AwsProvider:
    """The shop deployed to moto; the AwsProvider `plan` would use, on the same deploy side."""
    pipeline.deploy(provider, shop, "dev")
    return on(AwsProvider, provider)


def test_a_plan_that_changes_nothing_changes_no_cost(deployed: AwsProvider, provider: Any, shop: App) -> None:
    change = priced(deployed, shop, shop.root / ".portable-fn" / "build", provider)
    check_no_change(change, SHOP_GROSS, "$18.29", "eu-west-1")


def test_a_larger_memory_shows_its_delta(deployed: AwsProvider, provider: Any, shop: App, tmp_path: Path) -> None:
    bigger = edited(shop, tmp_path, "memory_mb=256, timeout_s=30, retries=2", "memory_mb=1024, timeout_s=30, retries=2")
    change = priced(deployed, bigger, tmp_path / "build", provider)
    # fulfil: 300,000 x 200 ms at 1 GB instead of 0.25 GB: 45,000 more GB-s at $0.0000166667
    assert (change.before, change.delta) == (SHOP_GROSS, Decimal("0.7500015000"))
    assert change.reasons == ["memory of fulfil 256 -> 1024 MB"]
    assert change.lines()[0].startswith("Cost: $18.29/month -> $19.04/month (+$0.75), memory of fulfil 256 -> 1024 MB")
    assert change.to_dict() == {
        "provider": "aws",
        "region": "eu-west-1",
        "before_usd": "18.28577802867",
        "after_usd": "19.03577952867",
        "delta_usd": "0.75000150000",
        "reasons": ["memory of fulfil 256 -> 1024 MB"],
        "unavailable": None,
    }


def test_nothing_deployed_prices_every_function_as_new(provider: Any, shop: App, tmp_path: Path) -> None:
    change = priced(on(AwsProvider, provider), shop, tmp_path / "build", provider)
    assert (change.before, change.after) == (0, SHOP_GROSS)
    assert change.reasons[0] == "new function place_order-run (+$15.83)"
    assert len(change.reasons) == 9
