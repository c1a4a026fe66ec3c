"""`portable_fn.emulators`: a child process is up once its URL answers, and a failure names its log."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from portable_fn.emulators import Emulator, EmulatorError

pytestmark = pytest.mark.slow  # every test here starts a child process, as the emulators are


def test_an_emulator_is_up_once_it_answers_and_stopped_on_exit(tmp_path: Path) -> None:
    import urllib.request

    command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "{port}"]
    with Emulator(command, "http://127.0.0.1:{port}/", tmp_path, "http-server") as emulator:
        with urllib.request.urlopen(emulator.url + "/", timeout=5) as answer:
            assert answer.status == 200
        process = emulator._process
    assert process is not None and process.poll() is not None


def test_an_emulator_that_exits_names_its_log(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; print('bad flag'); sys.exit(3)"]
    with pytest.raises(EmulatorError, match=r"exited with 3; see .*broken\.log"):
        Emulator(command, "http://127.0.0.1:{port}/", tmp_path, "broken").start()
    assert "bad flag" in (tmp_path / "broken.log").read_text()


def test_an_emulator_that_never_answers_is_stopped(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    emulator = Emulator(command, "http://127.0.0.1:{port}/", tmp_path, "silent", timeout_s=1)
    with pytest.raises(EmulatorError, match="did not answer"):
        emulator.start()
    assert emulator._process is None
