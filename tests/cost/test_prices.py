"""The price lists are data with provenance: every price names a source page, says whether its figure was read
on the list's date, and has a figure for every region the list prices (the cloud's default region among them)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portable_fn.cost import PRICED
from portable_fn.cost.prices import price_data


@pytest.mark.parametrize("provider", PRICED)
def test_every_price_has_its_source_and_every_region(provider: str) -> None:
    data = price_data(provider)
    assert (data["provider"], data["currency"], data["read_on"]) == (provider, "USD", "2026-12-06")
    regions = {region for price in data["prices"].values() for region in price["regions"]}
    assert data["default_region"] in regions and len(regions) >= 2
    for name, price in [*data["prices"].items(), *data["free"].items()]:
        assert data["sources"][price["source"]].startswith("https://"), name
        assert isinstance(price["checked"], bool), name
    for name, price in data["prices"].items():
        assert set(price["regions"]) == regions, name
        assert all(Decimal(figure) > 0 for figure in price["regions"].values()), name
    assert all(Decimal(tier["amount"]) > 0 and tier["scope"] for tier in data["free"].values())
