"""`portable-fn init`, as a new user runs it: the app's own tests pass with a plain `pytest`, its local state is
ignored by git, and what its handlers log shows in `portable-fn dev`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PYTEST = Path(sys.executable).parent / "pytest"  # the console script of this environment


def init(where: Path, name: str = "demo") -> Path:
    created = subprocess.run(["portable-fn", "init", name], cwd=where, capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    return where / name


def clean_env() -> dict[str, str]:
    """The environment without this repository's traces (no PYTHONPATH, no pytest options)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}


def test_a_plain_pytest_passes_in_the_new_app(tmp_path: Path) -> None:
    app = init(tmp_path)
    ran = subprocess.run([str(PYTEST), "-q", "-p", "no:cacheprovider"], cwd=app, capture_output=True, text=True,
                         env=clean_env())
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "3 passed" in ran.stdout


def test_git_ignores_the_local_state(tmp_path: Path) -> None:
    app = init(tmp_path)
    lines = (app / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".portable-fn/" in lines and "__pycache__/" in lines


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: object, what: str, limit_s: float = 120) -> None:
    """Poll `check()` until it is true; the limit only bounds a hang, it is not a speed requirement."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {limit_s} s")


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_the_handlers_logger_lines_show_in_dev(tmp_path: Path) -> None:
    app, port, log = init(tmp_path), free_port(), tmp_path / "dev.log"
    with log.open("wb") as out:
        dev = subprocess.Popen(["portable-fn", "dev", str(app), "--port", str(port), "--state-dir",
                                str(tmp_path / "state")], stdout=out, stderr=subprocess.STDOUT, env=clean_env())
    try:
        wait_for(lambda: answers(port) or dev.poll() is not None, "portable-fn dev listening")
        assert dev.poll() is None, log.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello/world", timeout=30) as response:
            assert response.status == 200
        wait_for(lambda: "greeting world" in log.read_text(errors="replace"), "the logger line in the dev log", 30)
    finally:
        dev.terminate()
        dev.wait(timeout=30)
