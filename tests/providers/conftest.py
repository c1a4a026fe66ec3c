"""Fixtures shared by the providers' packaging tests: real wheel downloads into one session cache, and a
fake pip for the tests about what happens around a download (caching, unpacking, size limits, remote
builds), which counts its calls.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from portable_fn.wheels import Target


class FakePip:
    """A `PipDownload` that "downloads" wheels it builds itself, recording each call."""

    def __init__(self, wheels: dict[str, dict[str, bytes]] | None = None) -> None:
        self.wheels = wheels if wheels is not None else {"tinydep-1.0-py3-none-any.whl": TINYDEP}
        self.calls: list[tuple[tuple[str, ...], Target]] = []

    def __call__(self, arguments: Sequence[str], target: Target, dest: Path) -> None:
        self.calls.append((tuple(arguments), target))
        for filename, files in self.wheels.items():
            with zipfile.ZipFile(dest / filename, "w") as archive:
                for name, data in files.items():
                    archive.writestr(name, data)


TINYDEP = {
    "tinydep/__init__.py": b"VALUE = 'pong'\n",
    "tinydep/__pycache__/__init__.cpython-312.pyc": b"\x00stale bytecode",
    "tinydep/compiled.pyc": b"\x00more bytecode",
    "tinydep-1.0.data/purelib/tinydep_extra.py": b"EXTRA = True\n",
    "tinydep-1.0.data/scripts/tinydep-cli": b"#!python\n",
    "tinydep-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n",
    "tinydep-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    "tinydep-1.0.dist-info/RECORD": b"",
}


@pytest.fixture
def fake_pip() -> FakePip:
    return FakePip()


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory this run's xdist workers all share (each worker's base temporary directory is a folder of
    it): for caches that are safe to share between processes, as a user's are between two builds."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


@pytest.fixture(scope="session")
def real_wheel_cache(run_dir: Path) -> Path:
    """One wheel cache for the run, shared by its workers: PyPI is asked once per requirement set and
    platform (shared by the providers that vendor wheels, which key their caches by their own targets).
    Entries are renamed into place whole, and one that is there is kept (`portable_fn.wheels.resolve`)."""
    cache = run_dir / "wheel-cache"
    cache.mkdir(exist_ok=True)
    return cache


@pytest.fixture
def private_copy(tmp_path: Path) -> Callable[[Path], Path]:
    """A copy of a run-wide cache for a test that changes its files (touches them), leaving out the entries
    other workers are still writing (hidden staging names): the copy is the test's alone."""

    def copy(cache: Path) -> Path:
        return Path(shutil.copytree(cache, tmp_path / f"copy-of-{cache.name}", ignore=shutil.ignore_patterns(".*")))

    return copy
