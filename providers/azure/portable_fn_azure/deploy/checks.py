"""What an app must be for one function app to hold it, checked before anything is read or written (each
error says what to change), and the Flex Consumption settings. `AzureSettings` checks the settings' values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from portable_fn.runtime.errors import UnsupportedTriggerError

if TYPE_CHECKING:
    from portable_fn.app import App

    from ..settings import AzureSettings

PLAN_TIERS = {
    "Y1": "Dynamic",
    "FC1": "FlexConsumption",
    "EP1": "ElasticPremium",
    "EP2": "ElasticPremium",
    "EP3": "ElasticPremium",
}
FLEX_SKU = "FC1"


@dataclass(frozen=True)
class Flex:
    """Flex Consumption's scale settings: memory per instance and the most instances to scale out to."""

    instance_memory_mb: int
    maximum_instance_count: int


def check_env(app: App) -> None:
    """One function app has one set of settings: two functions must not set one variable differently."""
    seen: dict[str, tuple[str, str]] = {}
    for spec in app.functions:
        for key, value in spec.options.env.items():
            if key in seen and seen[key][1] != value:
                raise UnsupportedTriggerError(
                    f"Functions {seen[key][0]!r} and {spec.name!r} on azure set env {key!r} to different values, "
                    "but all functions of an app share one function app and its settings. Use one value, or "
                    "move the variable to [tool.portable-fn.defaults] env."
                )
            seen[key] = (spec.name, value)


def check_flex(settings: AzureSettings) -> Flex | None:
    """The Flex settings (`instance_memory_mb`, `maximum_instance_count`, held to Flex Consumption's sizes and
    range by `AzureSettings`) when `plan_sku` is FC1, else None."""
    if settings.plan_sku != FLEX_SKU:
        return None
    return Flex(settings.instance_memory_mb, settings.maximum_instance_count)
