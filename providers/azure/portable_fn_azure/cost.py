"""What `portable_fn.cost` prices on Azure, read from deploy's resources: the function app's plan (Y1, FC1,
EP...) and, on Flex Consumption, its instance memory; on Consumption each function's declared memory stands
in for the memory Azure observes (desired, or as found)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from portable_fn.cost import Sizing
from portable_fn.cost.azure import sizing as billed

from .deploy.resources import FunctionApp, FunctionPlan

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.deploy import Resource


def sizing(app: App, stage: str, resources: Sequence[Resource]) -> dict[str, Sizing]:
    """Every function of the app, when `resources` hold its function app (all its functions run there)."""
    site = next((r for r in resources if isinstance(r, FunctionApp)), None)
    plan = next((r for r in resources if isinstance(r, FunctionPlan)), None)
    if site is None or plan is None:
        return {}
    return {spec.name: billed(plan.sku, app.options(spec).memory_mb, site.instance_memory_mb) for spec in app.functions}
