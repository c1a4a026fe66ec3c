"""`pytest -m "not slow"` is the fast inner loop: a test that starts an emulator or downloads from a
registry is marked `slow` by tests/conftest.py from the fixtures or the `registry` mark it has."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FILES = [
    "tests/providers/aws/deploy/test_moto_deploy.py",
    "tests/providers/aws/packaging/test_wheels.py",
    "tests/providers/gcp/packaging/test_pins.py",
]


def collected(selection: str) -> set[str]:
    """Node ids in FILES that `pytest -m SELECTION` runs."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n0",
            "-m",
            selection,
            *FILES,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 5), done.stdout + done.stderr  # 5: nothing selected
    return {line for line in done.stdout.splitlines() if "::" in line}


@pytest.mark.slow  # collects in a pytest of its own
def test_emulator_and_registry_tests_are_slow_and_the_rest_are_not() -> None:
    slow, fast = collected("slow"), collected("not slow")
    assert not slow & fast
    assert {node.split("::")[0] for node in slow} == set(FILES)
    moto = [node for node in slow | fast if node.startswith(FILES[0])]
    assert moto and set(moto) <= slow  # every test there uses the moto server
    assert f"{FILES[1]}::test_arm64_functions_get_aarch64_wheels" in slow  # the real wheel cache
    assert f"{FILES[1]}::test_a_second_build_takes_the_wheels_from_the_cache" in fast  # a fake pip
    assert f"{FILES[2]}::test_real_pip_pins_the_shop_for_python_311" in slow  # marked registry("pypi")
    assert f"{FILES[2]}::test_a_pip_report_becomes_one_sorted_pin_per_distribution" in fast
