"""What `plan` says a change costs (`portable_fn.cost.plan_change`), priced from what moto holds after a real
deploy of the shop: a plan that changes nothing changes no cost; a larger memory shows its delta."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.provider import AwsProvider

from portable_fn.app import App, load_app
from portable_fn.cost import plan_change
from portable_fn.deploy import pipeline

SHOP_GROSS = Decimal("18.28577802867")  # `portable-fn cost samples/shop --provider aws --no-free-tier`


@pytest.fixture
def deployed(provider: Any, shop: App) -> AwsProvider:
    """The shop deployed to moto; the AwsProvider `plan` would use, on the same deploy side."""
    pipeline.deploy(provider, shop, "dev")
    aws = AwsProvider(provider.settings, provider.endpoint_url)
    aws.deployer = provider.deployer
    return aws


def sides(aws: AwsProvider, app: App, build: Path, stand_in: Any) -> tuple[list[Any], list[Any]]:
    """What a plan of `app` compares: its desired resources (for the deployed zip) and what moto holds."""
    artifact = stand_in.package(app, "dev", build, lambda _: None)
    return aws.desired(app, "dev", artifact), list(aws.read_remote(app, "dev"))


def edited(shop: App, tmp_path: Path, old: str, new: str) -> App:
    """The shop with one change to its functions, from a directory of its own (a fresh import)."""
    target = tmp_path / "shop-edited"
    shutil.copytree(shop.root, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    source = target / "shop" / "functions.py"
    text = source.read_text(encoding="utf-8")
    assert old in text
    source.write_text(text.replace(old, new), encoding="utf-8")
    return load_app(target)


def test_a_plan_that_changes_nothing_changes_no_cost(deployed: AwsProvider, provider: Any, shop: App) -> None:
    desired, remote = sides(deployed, shop, shop.root / ".portable-fn" / "build", provider)
    change = plan_change(deployed, shop, "dev", desired, remote)
    assert (change.before, change.after, change.delta, change.reasons) == (SHOP_GROSS, SHOP_GROSS, 0, [])
    assert change.lines() == [
        "Cost: $18.29/month -> $18.29/month (+$0.00) (list prices in eu-west-1, before free tiers; "
        "`portable-fn cost` shows each function)."
    ]


def test_a_larger_memory_shows_its_delta(deployed: AwsProvider, provider: Any, shop: App, tmp_path: Path) -> None:
    bigger = edited(shop, tmp_path, "memory_mb=256, timeout_s=30, retries=2", "memory_mb=1024, timeout_s=30, retries=2")
    desired, remote = sides(deployed, bigger, tmp_path / "build", provider)
    change = plan_change(deployed, bigger, "dev", desired, remote)
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
    aws = AwsProvider(provider.settings, provider.endpoint_url)
    aws.deployer = provider.deployer
    desired, remote = sides(aws, shop, tmp_path / "build", provider)
    change = plan_change(aws, shop, "dev", desired, remote)
    assert (change.before, change.after) == (0, SHOP_GROSS)
    assert change.reasons[0] == "new function place_order-run (+$15.83)"
    assert len(change.reasons) == 9
