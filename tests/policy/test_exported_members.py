"""`portable_fn.policy`'s facade: `__all__` lists exactly what it binds on purpose, sorted as ruff sorts."""

from __future__ import annotations

import types

import portable_fn.policy


def test_the_facade_exports_what_it_binds() -> None:
    public = {
        name
        for name, value in vars(portable_fn.policy).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert sorted(portable_fn.policy.__all__) == sorted(public)
    assert portable_fn.policy.__all__ == sorted(
        portable_fn.policy.__all__, key=lambda n: (not n.isupper(), n[0].islower(), n)
    )
