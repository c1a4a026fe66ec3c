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


def test_stopping_an_emulator_ends_what_it_started(tmp_path: Path) -> None:
    """A launcher script that starts the server as its child (as gcloud's Firestore emulator starts Java)
    leaves no server behind once stopped."""
    import urllib.request

    pid_file = tmp_path / "server.pid"
    server = (
        "import http.server, os, sys; open(sys.argv[2], 'w').write(str(os.getpid())); "
        "http.server.test(http.server.SimpleHTTPRequestHandler, port=int(sys.argv[1]), bind='127.0.0.1')"
    )
    launcher = f'"{sys.executable}" -c "{server}" "$1" "{pid_file}"; echo "server ended"'
    with Emulator(["sh", "-c", launcher, "launcher", "{port}"], "http://127.0.0.1:{port}/", tmp_path, "launcher") as e:
        with urllib.request.urlopen(e.url + "/", timeout=5) as answer:
            assert answer.status == 200
        server_pid = int(pid_file.read_text())
    assert not running(server_pid)


def running(pid: int) -> bool:
    """Whether `pid` is a live process: a zombie (dead, waiting for whoever adopted it to reap it) is not."""
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
