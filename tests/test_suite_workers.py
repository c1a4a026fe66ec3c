"""How many xdist workers the suite's `-n auto` starts (tests/conftest.py `pytest_xdist_auto_num_workers`)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from .conftest import pytest_xdist_auto_num_workers


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 3), (4, 6), (16, 24)])
def test_three_workers_for_every_two_cores(monkeypatch: pytest.MonkeyPatch, cores: int, workers: int) -> None:
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    config: Any = None  # the hook does not read the configuration
    assert pytest_xdist_auto_num_workers(config) == workers


def test_xdist_s_own_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "5")
    config: Any = None
    assert pytest_xdist_auto_num_workers(config) is None  # xdist's own hook then reads the variable
