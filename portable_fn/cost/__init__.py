"""What an app costs a month on each cloud, from its declared memory, architecture and timeouts and the
traffic `[tool.portable-fn.traffic]` expects: `portable-fn cost` prints it, `plan` shows what a plan changes
in it (`plan_change`). It never calls a cloud: the prices are data files (`prices/<provider>.json`) with their
source pages, the date they were read, and a figure per region.
"""

from __future__ import annotations

from .change import CostChange, money, plan_change
from .clouds import CLOUDS
from .estimate import CloudEstimate, FunctionCost, Sizing, estimate
from .prices import PRICED, PriceBook, price_book
from .traffic import FunctionTraffic

__all__ = [
    "CLOUDS",
    "PRICED",
    "CloudEstimate",
    "CostChange",
    "FunctionCost",
    "FunctionTraffic",
    "PriceBook",
    "Sizing",
    "estimate",
    "money",
    "plan_change",
    "price_book",
]
