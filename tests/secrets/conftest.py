"""Fixtures for the secrets tests: the keyed test app (a private copy), a clock tests move by hand, a fake
secret store that counts its reads, and a runtime whose secret backends are put back after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portable_fn.runtime import secrets as runtime_secrets
from portable_fn.runtime.secrets import not_found

from ..app_copy import copy_app

KEYED = Path(__file__).resolve().parent / "apps" / "keyed"


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Store:
    """A secret store in memory: `values` by name, each with a version; `reads` counts fetches;
    `failure`, when set, is raised by the next fetches."""

    where = "the test store"

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = {name: (value, "1") for name, value in (values or {}).items()}
        self.reads: list[str] = []
        self.failure: Exception | None = None

    def rotate(self, name: str, value: str) -> None:
        version = int(self.values[name][1]) + 1 if name in self.values else 1
        self.values[name] = (value, str(version))

    def fetch(self, name: str) -> tuple[str, str]:
        self.reads.append(name)
        if self.failure is not None:
            raise self.failure
        if name not in self.values:
            raise not_found(name, self.where)
        return self.values[name]


@pytest.fixture(autouse=True)
def fresh_backends() -> Iterator[None]:
    """Each test starts with the default backends, nothing held, and leaves them so."""
    previous = runtime_secrets.use_backends(None)
    yield
    runtime_secrets.use_backends(previous)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> Iterator[Store]:
    """A Store serving every secret (through `use_backends`, as a provider's backend would)."""
    serving = Store()
    runtime_secrets.use_backends(lambda locator: serving)
    yield serving


@pytest.fixture
def keyed(tmp_path: Path) -> Path:
    """A private copy of tests/secrets/apps/keyed (the local store writes into the app directory)."""
    return copy_app(KEYED, tmp_path)
