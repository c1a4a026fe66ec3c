"""What `portable_fn.cost` prices on Google Cloud, read from deploy's resources: each function's memory as its
Cloud Function resource says (desired, or as found)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from portable_fn.cost import Sizing

from .deploy.naming import Names
from .deploy.resources import Function

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.deploy import Resource


def sizing(app: App, stage: str, resources: Sequence[Resource]) -> dict[str, Sizing]:
    """Each of the app's functions that has a Cloud Function in `resources`, sized as that says."""
    functions = {r.name: r for r in resources if isinstance(r, Function)}
    names = Names(app.name, stage, project="", region="")  # a function's id needs neither
    out = {}
    for spec in app.functions:
        found = functions.get(names.function_id(spec.name))
        if found is not None:
            out[spec.name] = Sizing(found.memory_mb)
    return out
