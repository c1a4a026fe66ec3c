"""A/B testing: which variant of an experiment a user sees (a module, not a test, despite its name)."""

from __future__ import annotations

import hashlib

from splits import test_data


def assign(user: str, experiment: str = "checkout") -> str:
    """The variant `user` sees, the same on every call."""
    weights = test_data.WEIGHTS[experiment]
    point = int(hashlib.sha256(f"{experiment}:{user}".encode()).hexdigest(), 16) % sum(weights.values())
    for variant, weight in sorted(weights.items()):
        if point < weight:
            return variant
        point -= weight
    raise AssertionError("unreachable")
