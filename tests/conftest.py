"""Shared fixtures: paths to the repository, its sample and the test apps."""

from __future__ import annotations

from pathlib import Path

import pytest

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
