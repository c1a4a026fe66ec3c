"""Fixtures for the Cloud Functions packaging tests: the test apps, a fake resolver, real pins.

`FakeResolve` stands in for pip where the test is about what happens around it (caching, the zip's
contents) and counts its calls. The shop sample is pinned for real (pip's resolver, PyPI) once per
session into a private cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp._pins import Target

from portable_fn.app import App, load_app

APPS = Path(__file__).with_name("apps")
DATA = Path(__file__).with_name("data")


class FakeResolve:
    """A `Resolve` that pins every requirement it is given to a fixed list, recording each call."""

    def __init__(self, pins: Sequence[str] = ("tinydep==1.0", "functions-framework==3.10.2")) -> None:
        self.pins = list(pins)
        self.calls: list[tuple[tuple[str, ...], Target]] = []

    def __call__(self, requirements: Sequence[str], target: Target) -> list[str]:
        self.calls.append((tuple(requirements), target))
        return list(reversed(self.pins))  # unsorted on purpose: the package sorts


@pytest.fixture
def fake_resolve() -> FakeResolve:
    return FakeResolve()


@pytest.fixture
def make_resolve() -> type[FakeResolve]:
    """`FakeResolve` itself, for a test that wants other pins."""
    return FakeResolve


@pytest.fixture(scope="session")
def real_pin_cache(run_dir: Path) -> Path:
    """One pin cache for the run, shared by its workers: PyPI is asked once per requirement set and Python
    version (an entry is one file, renamed into place whole)."""
    cache = run_dir / "pin-cache"
    cache.mkdir(exist_ok=True)
    return cache


@pytest.fixture
def load_test_app() -> Any:
    def load(name: str) -> App:
        return load_app(APPS / name)

    return load
