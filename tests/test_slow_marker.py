"""`pytest -m "not slow"` is the fast inner loop: a test that starts an emulator, a process of any kind or
downloads from a registry is marked `slow`, by tests/conftest.py from the fixtures or the `registry` mark it
has, or by its own `@pytest.mark.slow`; a test not marked `slow` that starts a process fails, naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FILES = [
    "tests/providers/aws/deploy/test_moto_deploy.py",
    "tests/providers/aws/packaging/test_wheels.py",
    "tests/providers/gcp/packaging/test_pins.py",
    "tests/local/test_local_state.py",
    "tests/portability/test_portability.py",
]
PROBE = "tests/test_slow_marker.py::test_the_probe_starts_what_it_is_told"


def pytest_in_a_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n0", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def collected(selection: str) -> set[str]:
    """Node ids in FILES that `pytest -m SELECTION` runs."""
    done = pytest_in_a_process("--collect-only", "-q", "-m", selection, *FILES)
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
    assert f"{FILES[1]}::test_a_second_build_takes_the_wheels_from_the_cache" in slow  # compiles bytecode
    assert f"{FILES[1]}::test_platforms_stop_at_the_glibc_of_the_runtime" in fast
    assert f"{FILES[2]}::test_real_pip_pins_the_shop_for_python_311" in slow  # marked registry("pypi")
    assert f"{FILES[2]}::test_a_pip_report_becomes_one_sorted_pin_per_distribution" in fast
    assert f"{FILES[3]}::test_state_survives_portable_fn_dev_stopped_and_started_again" in slow  # dev_process
    assert f"{FILES[3]}::test_each_state_dir_has_its_own_states" in fast
    portability = [node for node in slow | fast if node.startswith(FILES[4])]
    assert portability and set(portability) <= slow  # every test there reads what the emulated clouds delivered


def test_the_probe_starts_what_it_is_told() -> None:
    """Run by the test below, in a pytest of its own; here, told nothing, it starts nothing."""
    program = os.environ.get("PORTABLE_FN_TEST_PROBE")
    if program == "python":
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    elif program == "git":
        subprocess.run(["git", "--version"], check=True, capture_output=True)


@pytest.mark.slow  # runs pytest in a process of its own
def test_a_test_not_marked_slow_that_starts_a_process_fails_the_fast_loop_naming_it() -> None:
    started = pytest_in_a_process("-m", "not slow", PROBE, env={"PORTABLE_FN_TEST_PROBE": "python"})
    assert started.returncode == 1, started.stdout + started.stderr
    assert f"this test is not marked slow but started 1 process(es): {sys.executable} -c pass." in started.stdout
    assert "mark the test `@pytest.mark.slow  # <what it starts>`" in started.stdout

    quick = pytest_in_a_process("-m", "not slow", PROBE, env={"PORTABLE_FN_TEST_PROBE": "git"})
    assert quick.returncode == 0, quick.stdout + quick.stderr  # git is quick
    whole = pytest_in_a_process(PROBE, env={"PORTABLE_FN_TEST_PROBE": "python"})  # the whole suite does not watch
    assert whole.returncode == 0, whole.stdout + whole.stderr
