"""Fixtures for the Lambda packaging tests: the test apps (the fake pip and the wheel cache are shared,
in tests/providers/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app

APPS = Path(__file__).with_name("apps")


@pytest.fixture
def load_test_app() -> Any:
    def load(name: str) -> App:
        return load_app(APPS / name)

    return load
