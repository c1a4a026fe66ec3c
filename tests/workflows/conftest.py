"""Fixtures for the workflow tests: the contract app (tests/apps/flow), loaded once per test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app

FLOW_DIR = Path(__file__).resolve().parents[1] / "apps" / "flow"


@pytest.fixture
def flow_app() -> App:
    return load_app(FLOW_DIR)


@pytest.fixture
def flow(flow_app: App) -> Any:
    import sys

    return sys.modules["flow"]


from ..local.conftest import dev_process, wait_for  # noqa: E402, F401 - the dev host fixtures, shared
