"""What `plan` says a change costs (`portable_fn.cost.plan_change`), priced from what the recording endpoint
holds after a real deploy of the shop: a plan that changes nothing changes no cost; a larger memory shows its
delta (and the larger vCPU that comes with it)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.provider import GcpProvider

from portable_fn.app import App
from portable_fn.deploy import pipeline

from ....cost_contract import check_no_change, edited, on, priced

SHOP_GROSS = Decimal("27.60157149797070634365081788")  # `portable-fn cost samples/shop --provider gcp --no-free-tier`


@pytest.fixture
def deployed(provider: Any, shop: App) -> GcpProvider:
    """The shop deployed to the recording endpoint; the GcpProvider `plan` would use, on the same deploy side."""
    pipeline.deploy(provider, shop, "dev")
    return on(GcpProvider, provider)


def test_a_plan_that_changes_nothing_changes_no_cost(deployed: GcpProvider, provider: Any, shop: App) -> None:
    change = priced(deployed, shop, shop.root / ".portable-fn" / "build", provider)
    check_no_change(change, SHOP_GROSS, "$27.60", "europe-west1")


def test_a_larger_memory_shows_its_delta(deployed: GcpProvider, provider: Any, shop: App, tmp_path: Path) -> None:
    bigger = edited(shop, tmp_path, "memory_mb=256, timeout_s=30, retries=2", "memory_mb=1024, timeout_s=30, retries=2")
    change = priced(deployed, bigger, tmp_path / "build", provider)
    # fulfil: 300,000 x 200 ms = 60,000 s at 0.583 vCPU instead of 0.167 (24,960 more vCPU-s at $0.000024) and
    # 1 GiB instead of 0.25 (45,000 more GiB-s at $0.0000025)
    assert (change.before, change.delta) == (SHOP_GROSS, Decimal("0.71154"))
    assert change.reasons == ["memory of fulfil 256 -> 1024 MB"]
    assert change.lines()[0].startswith("Cost: $27.60/month -> $28.31/month (+$0.71), memory of fulfil 256 -> 1024 MB")
    assert change.to_dict() == {
        "provider": "gcp",
        "region": "europe-west1",
        "before_usd": "27.60157149797070634365081788",
        "after_usd": "28.31311149797070634365081788",
        "delta_usd": "0.71154000000000000000000000",
        "reasons": ["memory of fulfil 256 -> 1024 MB"],
        "unavailable": None,
    }


def test_nothing_deployed_prices_every_function_as_new(provider: Any, shop: App, tmp_path: Path) -> None:
    change = priced(on(GcpProvider, provider), shop, tmp_path / "build", provider)
    assert (change.before, change.after) == (0, SHOP_GROSS)
    assert change.reasons[0] == "new function place_order-run (+$23.83)"
    assert len(change.reasons) == 9
