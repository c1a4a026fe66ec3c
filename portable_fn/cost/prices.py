"""The price lists `portable-fn cost` reads: `prices/<provider>.json`, one per cloud, each price with its
source page, the date it was read and its figure per region (see a file's `about`).

Prices are kept as strings and read as Decimals, so no figure passes through a float.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from ..runtime.errors import ConfigError

PRICED = ("aws", "gcp", "azure")


@dataclass(frozen=True)
class FreeTier:
    """A monthly allowance a cloud gives before it charges: how much, of what, and whose it is."""

    name: str
    amount: Decimal
    unit: str
    scope: str


class PriceBook:
    """One cloud's prices in one region (a `prices/<provider>.json` read for `region`)."""

    def __init__(self, data: dict[str, Any], region: str) -> None:
        self.data = data
        self.provider: str = data["provider"]
        regions = sorted({r for price in data["prices"].values() for r in price["regions"]})
        if region not in regions:
            raise ConfigError(
                f"portable-fn has no {self.provider} prices for region {region!r} (prices/{self.provider}.json "
                f"lists {', '.join(regions)}). Estimate with one of those (set the region in "
                f"[tool.portable-fn.{self.provider}]), or add the region's prices to that file with their source."
            )
        self.region = region

    def unit_price(self, name: str) -> Decimal:
        """The price of one unit of `name` (a price per million requests divided by a million)."""
        price = self.data["prices"][name]
        return Decimal(price["regions"][self.region]) / Decimal(price["per"])

    def free(self, name: str) -> FreeTier:
        entry = self.data["free"][name]
        return FreeTier(name, Decimal(entry["amount"]), entry["unit"], entry["scope"])

    def sources(self) -> dict[str, str]:
        """Each source's page, by the name the prices use."""
        return dict(self.data["sources"])

    @property
    def read_on(self) -> str:
        return str(self.data["read_on"])

    @property
    def default_region(self) -> str:
        return str(self.data["default_region"])


@cache
def price_data(provider: str) -> dict[str, Any]:
    """The parsed `prices/<provider>.json`."""
    text = resources.files(__package__).joinpath("prices", f"{provider}.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def price_book(provider: str, region: str | None) -> PriceBook:
    """`provider`'s prices in `region` (default: the region the price list names as the cloud's default)."""
    data = price_data(provider)
    return PriceBook(data, region or data["default_region"])
