"""What `portable_fn.cost` prices on AWS, read from deploy's resources: each function's memory and
architecture as its Lambda function resource says (desired, or as found)."""

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
    """Each of the app's functions that has a Lambda function in `resources`, sized as that says."""
    lambdas = {r.name: r for r in resources if isinstance(r, Function)}
    names = Names(app.name, stage)
    out = {}
    for spec in app.functions:
        found = lambdas.get(names.function(spec.name))
        if found is not None:
            out[spec.name] = Sizing(found.memory_mb, found.architecture)
    return out
