"""Shared fixtures: paths to the repository, its sample and the test apps."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The suite must pass on a busy machine: no deadlines, no timing health checks, and a fixed seed so a
# run is repeatable (a failure prints its example and `@reproduce_failure` blob). The database is off
# so a run leaves nothing behind in the checkout.
settings.register_profile(
    "suite",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.load_profile("suite")

REPO = Path(__file__).resolve().parent.parent
APPS = Path(__file__).resolve().parent / "apps"


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def shop_dir() -> Path:
    return REPO / "samples" / "shop"


@pytest.fixture
def apps() -> Path:
    return APPS


@pytest.fixture
def shop_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of samples/shop (deploys write into the app directory), data kept in tmp."""
    import shutil

    target = tmp_path / "shop"
    shutil.copytree(REPO / "samples" / "shop", target,
                    ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    monkeypatch.setenv("SHOP_DATA_DIR", str(tmp_path / "shop-data"))
    return target
