"""What `plan` says a change costs (`portable_fn.cost.plan_change`), priced from what the recording endpoint
holds after a real deploy of the shop: a plan that changes nothing changes no cost; a larger memory shows its
delta (and the larger vCPU that comes with it)."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.provider import GcpProvider

from portable_fn.app import App, load_app
from portable_fn.cost import plan_change
from portable_fn.deploy import pipeline

SHOP_GROSS = Decimal("27.60157149797070634365081788")  # `portable-fn cost samples/shop --provider gcp --no-free-tier`


@pytest.fixture
def deployed(provider: Any, shop: App) -> GcpProvider:
    """The shop deployed to the recording endpoint; the GcpProvider `plan` would use, on the same deploy side."""
    pipeline.deploy(provider, shop, "dev")
    gcp = GcpProvider(provider.settings, provider.endpoint_url)
    gcp.deployer = provider.deployer
    return gcp


def sides(gcp: GcpProvider, app: App, build: Path, stand_in: Any) -> tuple[list[Any], list[Any]]:
    """What a plan of `app` compares: its desired resources (for the deployed zip) and what the endpoint holds."""
    artifact = stand_in.package(app, "dev", build, lambda _: None)
    return gcp.desired(app, "dev", artifact), list(gcp.read_remote(app, "dev"))


def edited(shop: App, tmp_path: Path, old: str, new: str) -> App:
    """The shop with one change to its functions, from a directory of its own (a fresh import)."""
    target = tmp_path / "shop-edited"
    shutil.copytree(shop.root, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    source = target / "shop" / "functions.py"
    text = source.read_text(encoding="utf-8")
    assert old in text
    source.write_text(text.replace(old, new), encoding="utf-8")
    return load_app(target)


def test_a_plan_that_changes_nothing_changes_no_cost(deployed: GcpProvider, provider: Any, shop: App) -> None:
    desired, remote = sides(deployed, shop, shop.root / ".portable-fn" / "build", provider)
    change = plan_change(deployed, shop, "dev", desired, remote)
    assert (change.before, change.after, change.delta, change.reasons) == (SHOP_GROSS, SHOP_GROSS, 0, [])
    assert change.lines() == [
        "Cost: $27.60/month -> $27.60/month (+$0.00) (list prices in europe-west1, before free tiers; "
        "`portable-fn cost` shows each function)."
    ]


def test_a_larger_memory_shows_its_delta(deployed: GcpProvider, provider: Any, shop: App, tmp_path: Path) -> None:
    bigger = edited(shop, tmp_path, "memory_mb=256, timeout_s=30, retries=2", "memory_mb=1024, timeout_s=30, retries=2")
    desired, remote = sides(deployed, bigger, tmp_path / "build", provider)
    change = plan_change(deployed, bigger, "dev", desired, remote)
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
    gcp = GcpProvider(provider.settings, provider.endpoint_url)
    gcp.deployer = provider.deployer
    desired, remote = sides(gcp, shop, tmp_path / "build", provider)
    change = plan_change(gcp, shop, "dev", desired, remote)
    assert (change.before, change.after) == (0, SHOP_GROSS)
    assert change.reasons[0] == "new function place_order-run (+$23.83)"
    assert len(change.reasons) == 9
