"""The portability contract's fixtures: the probe app, and one runner per cloud (local, AWS, GCP, Azure),
each built once for the session and fed every logical event of portability_contract/events.py.

A runner lives in `portability_contract/<cloud>.py` and exposes `open_runner(app, seen, tmp_path_factory)`,
a context manager yielding the runner. `PORTABILITY_CLOUDS=local,aws` runs only those (for working on one).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the suite's own package, portability_contract (importlib mode adds nothing)

from portable_fn.app import App, load_app  # noqa: E402

PROBE = HERE / "apps" / "contract"
CLOUDS = ("local", "aws", "gcp", "azure")


def chosen_clouds() -> list[str]:
    asked = os.environ.get("PORTABILITY_CLOUDS")
    return [c.strip() for c in asked.split(",")] if asked else list(CLOUDS)


@pytest.fixture(scope="session")
def probe_app() -> App:
    return load_app(PROBE)  # puts the app's directory on sys.path: `contract_probe` is importable


@pytest.fixture(scope="session")
def seen(probe_app: App) -> list[dict[str, Any]]:
    import contract_probe

    return contract_probe.SEEN  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def unavailable() -> dict[str, str]:
    """cloud -> why its runner could not start here (an emulator missing): that cloud alone is skipped."""
    return {}


# Module scope: a runner sets the environment its cloud gives a function (credentials, dead-letter
# targets, the function's own variables); it is all put back when the contract's test module ends, before
# any other test module runs in this process.
@pytest.fixture(scope="module")
def runners(
    probe_app: App, seen: list[dict[str, Any]], unavailable: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    before = dict(os.environ)
    with contextlib.ExitStack() as stack:
        opened = {}
        for cloud in chosen_clouds():
            module = importlib.import_module(f"portability_contract.{cloud}")
            try:
                opened[cloud] = stack.enter_context(module.open_runner(probe_app, seen, tmp_path_factory))
            except pytest.skip.Exception as reason:
                unavailable[cloud] = str(reason)
        yield opened
    changed = sorted(
        k
        for k in before.keys() | os.environ.keys()
        if before.get(k) != os.environ.get(k) and k != "PYTEST_CURRENT_TEST"
    )  # pytest's own
    assert changed == [], f"the runners left these environment variables changed: {changed}"
