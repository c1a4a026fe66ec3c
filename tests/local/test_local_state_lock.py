"""One `portable-fn dev` host per state directory: a second one refuses to start, naming the holder.

Two hosts on one journal would both deliver its messages. The holder's lock is the operating system's,
so it goes with the holder: stopped, or killed with SIGKILL, the next host starts with no cleanup.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import load_app
from portable_fn.local.host import LocalHost
from portable_fn.local.lock import StateDirInUseError
from portable_fn.runtime.errors import PortableFnError

WORKERS = Path(__file__).resolve().parent / "apps" / "workers"
BANNER = re.compile(r"portable-fn dev: app 'workers' on (http://127\.0\.0\.1:\d+) ")
STARTUP_S = 120.0  # generous: the machine may be busy

Wait = Callable[..., Any]


def host(state_dir: Path) -> LocalHost:
    return LocalHost(load_app(WORKERS), port=0, state_dir=state_dir, log=lambda line: None)


def test_a_second_host_on_the_same_state_dir_names_the_holder_and_the_fix(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with host(state_dir) as first:
        second = host(state_dir)
        with pytest.raises(StateDirInUseError) as refused:
            second.start()
        message = str(refused.value)
        assert isinstance(refused.value, PortableFnError)
        assert str(state_dir) in message
        assert f"process {os.getpid()}" in message and first.url in message
        assert "stop that host" in message.lower() and "--state-dir" in message
        with host(tmp_path / "other") as elsewhere:  # another state dir is fine
            assert elsewhere.port != first.port
    with host(state_dir) as third:  # the first one stopped: its lock went with it
        assert third.port != 0


class Dev:
    """One `portable-fn dev` subprocess of the workers app; its output goes to a file."""

    def __init__(self, tmp_path: Path, state_dir: Path) -> None:
        self.output = tmp_path / "dev.log"
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                ["portable-fn", "dev", str(WORKERS), "--port", "0", "--state-dir", str(state_dir)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def url(self, wait_for: Wait) -> str:
        def banner() -> str | None:
            assert self.process.poll() is None, f"portable-fn dev exited:\n{self.output.read_text()}"
            found = BANNER.search(self.output.read_text())
            return found.group(1) if found else None

        return wait_for(banner, timeout=STARTUP_S, what="the dev host's banner")  # type: ignore[no-any-return]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    """`portable-fn dev` holding tmp_path/state; killed at teardown if still running."""
    process = Dev(tmp_path, tmp_path / "state")
    yield process
    process.kill()


@pytest.mark.slow  # `portable-fn dev` in a process of its own
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_second_dev_command_exits_1_and_a_killed_holder_leaves_nothing_to_clean(
    dev: Dev, wait_for: Wait, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    url = dev.url(wait_for)

    second = subprocess.run(
        ["portable-fn", "dev", str(WORKERS), "--port", "0", "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=STARTUP_S,
    )

    assert second.returncode == 1, second.stderr
    assert second.stderr.startswith("error: "), second.stderr
    assert str(state_dir) in second.stderr
    assert f"process {dev.process.pid}" in second.stderr and url in second.stderr
    assert "--state-dir" in second.stderr and "Traceback" not in second.stderr

    dev.kill()
    assert f'"pid": {dev.process.pid}' in (state_dir / "host.lock").read_text()  # left behind, as is
    with host(state_dir) as after_kill:  # no stale file to delete first
        assert after_kill.port != 0
