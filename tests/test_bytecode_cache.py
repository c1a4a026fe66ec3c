"""The suite's bytecode cache (tests/conftest.py `use_bytecode_cache`): what it sets for the interpreters the
suite starts, and that a run of `portable-fn` under it writes nothing next to the sources."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import prune_mirror, use_bytecode_cache


@pytest.fixture
def interpreter_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """This interpreter's own settings, put back after the test."""
    monkeypatch.setattr(sys, "pycache_prefix", sys.pycache_prefix)
    monkeypatch.setattr(sys, "dont_write_bytecode", sys.dont_write_bytecode)


@pytest.mark.usefixtures("interpreter_settings")
def test_the_cache_replaces_dont_write_bytecode_for_every_interpreter_started(tmp_path: Path) -> None:
    environ = {"PYTHONDONTWRITEBYTECODE": "1", "PYTEST_XDIST_WORKER": "gw0"}
    use_bytecode_cache(tmp_path / "pycache", environ)
    assert environ == {"PYTHONPYCACHEPREFIX": str(tmp_path / "pycache"), "PYTEST_XDIST_WORKER": "gw0"}
    assert (sys.pycache_prefix, sys.dont_write_bytecode) == (str(tmp_path / "pycache"), False)


@pytest.mark.usefixtures("interpreter_settings")
def test_a_prefix_the_user_set_is_kept(tmp_path: Path) -> None:
    environ = {"PYTHONPYCACHEPREFIX": str(tmp_path / "mine"), "PYTEST_XDIST_WORKER": "gw1"}
    use_bytecode_cache(tmp_path / "pycache", environ)
    assert environ["PYTHONPYCACHEPREFIX"] == str(tmp_path / "mine")
    assert sys.pycache_prefix == str(tmp_path / "mine")


@pytest.mark.usefixtures("interpreter_settings")
def test_the_cache_can_be_turned_off(tmp_path: Path) -> None:
    environ = {"PYTHONDONTWRITEBYTECODE": "1", "PORTABLE_FN_TEST_BYTECODE": "0"}
    before = (sys.pycache_prefix, sys.dont_write_bytecode)
    use_bytecode_cache(tmp_path / "pycache", environ)
    assert environ == {"PYTHONDONTWRITEBYTECODE": "1", "PORTABLE_FN_TEST_BYTECODE": "0"}
    assert (sys.pycache_prefix, sys.dont_write_bytecode) == before


@pytest.mark.slow  # starts an interpreter
@pytest.mark.usefixtures("interpreter_settings")
def test_an_interpreter_started_under_the_cache_writes_nothing_beside_the_sources(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "handlers.py").write_text("VALUE = 1\n")
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
    environ |= {"PYTHONDONTWRITEBYTECODE": "1", "PYTEST_XDIST_WORKER": "gw9"}
    use_bytecode_cache(tmp_path / "cache", environ)
    run = [sys.executable, "-c", "import handlers; print(handlers.VALUE)"]
    done = subprocess.run(run, cwd=app, env=environ, capture_output=True, text=True, check=False)
    assert done.stdout == "1\n", done.stderr
    assert sorted(p.name for p in app.iterdir()) == ["handlers.py"]  # no __pycache__ beside the source
    cached = Path(tmp_path / "cache", *app.resolve().parts[1:], f"handlers.{sys.implementation.cache_tag}.pyc")
    assert cached.is_file()


def test_a_run_clears_the_mirror_of_gone_directories_and_keeps_a_live_runs(tmp_path: Path) -> None:
    real, cache = tmp_path / "tmp", tmp_path / "cache"
    live = real / "pytest-of-me" / "pytest-8" / "popen-gw0" / "venv"  # another run, going on
    live.mkdir(parents=True)
    mirrored = {
        "live": cache.joinpath(*live.parts[1:], "site.cpython-311.pyc"),
        "gone run": cache.joinpath(*real.parts[1:], "pytest-of-me", "pytest-5", "app", "mod.cpython-311.pyc"),
        "gone dir": cache.joinpath(*real.parts[1:], "tmpab12cd", "mod.cpython-311.pyc"),
    }
    for pyc in mirrored.values():
        pyc.parent.mkdir(parents=True, exist_ok=True)
        pyc.write_bytes(b"")
    prune_mirror(cache, real)
    assert {name for name, pyc in mirrored.items() if pyc.exists()} == {"live"}
    assert not cache.joinpath(*real.parts[1:], "pytest-of-me", "pytest-5").exists()
