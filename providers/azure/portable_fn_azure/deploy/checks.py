"""The deploy settings of `[tool.portable-fn.azure]` that need checking, checked before anything is read
or written: each error says which setting to change and to what."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portable_fn.runtime.errors import UnsupportedTriggerError

if TYPE_CHECKING:
    from portable_fn.app import App

PLAN_TIERS = {"Y1": "Dynamic", "FC1": "FlexConsumption", "EP1": "ElasticPremium", "EP2": "ElasticPremium",
              "EP3": "ElasticPremium"}
FLEX_SKU = "FC1"
FLEX_MEMORY_MB = (512, 2048, 4096)  # the instance sizes Flex Consumption offers
FLEX_INSTANCES = (40, 1000)  # the range of its maximumInstanceCount


@dataclass(frozen=True)
class Flex:
    """Flex Consumption's scale settings: memory per instance and the most instances to scale out to."""

    instance_memory_mb: int = 2048
    maximum_instance_count: int = 100


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


def check_storage_auth(value: str) -> bool:
    """True for `identity` (the default), False for `connection_string`."""
    if value not in ("identity", "connection_string"):
        raise UnsupportedTriggerError(
            f"Deploying to azure: storage_auth {value!r} is not supported; use \"identity\" (the function app's "
            "managed identity, with role assignments on the storage account) or \"connection_string\" (a key "
            "in the app settings) under [tool.portable-fn.azure]."
        )
    return value == "identity"


def check_plan_sku(sku: str) -> str:
    if sku not in PLAN_TIERS:
        raise UnsupportedTriggerError(
            f"Deploying to azure: plan_sku {sku!r} is not supported; use one of {', '.join(PLAN_TIERS)} "
            "(Y1 is Linux Consumption, FC1 Flex Consumption) under [tool.portable-fn.azure]."
        )
    return sku


def check_flex(settings: dict[str, Any]) -> Flex | None:
    """The Flex settings (`instance_memory_mb`, `maximum_instance_count`) when `plan_sku` is FC1, else None."""
    if str(settings.get("plan_sku", "Y1")) != FLEX_SKU:
        return None
    memory = int(settings.get("instance_memory_mb", Flex.instance_memory_mb))
    count = int(settings.get("maximum_instance_count", Flex.maximum_instance_count))
    if memory not in FLEX_MEMORY_MB:
        raise UnsupportedTriggerError(
            f"Deploying to azure on Flex Consumption: instance_memory_mb = {memory} is not an instance size; use "
            f"one of {', '.join(map(str, FLEX_MEMORY_MB))} under [tool.portable-fn.azure]."
        )
    if not FLEX_INSTANCES[0] <= count <= FLEX_INSTANCES[1]:
        raise UnsupportedTriggerError(
            f"Deploying to azure on Flex Consumption: maximum_instance_count = {count} is out of range; use "
            f"{FLEX_INSTANCES[0]} to {FLEX_INSTANCES[1]} under [tool.portable-fn.azure]."
        )
    return Flex(memory, count)
