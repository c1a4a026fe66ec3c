"""`portable_fn.cost` exports exactly what its `__all__` lists, in ruff's RUF022 order."""

from __future__ import annotations

import types

import portable_fn.cost


def test_all_is_what_the_facade_binds() -> None:
    module = portable_fn.cost
    public = {n for n, v in vars(module).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    public.discard("annotations")  # `from __future__ import annotations`
    assert set(module.__all__) == public
    kinds = [(0 if n.isupper() else 1 if n[0].isupper() else 2, n) for n in module.__all__]
    assert kinds == sorted(kinds)
