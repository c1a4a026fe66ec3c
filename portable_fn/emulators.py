"""Local emulators as child processes, for tests: the Pub/Sub emulator, gcp-storage-emulator, moto
server, Azurite. One way to start one on 127.0.0.1 at a free port, wait until it answers, and stop it,
with its output kept in a log file that errors point to.

    with Emulator([sys.executable, "-m", "gcp_storage_emulator", "start", "--port", "{port}"],
                  ready="http://127.0.0.1:{port}/", log_dir=tmp) as emulator:
        use(emulator.url)

`{port}` in the command and in `ready` is replaced by the chosen port. Not shipped inside functions.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from .runtime.errors import PortableFnError


class EmulatorError(PortableFnError):
    """An emulator exited or did not answer in time (the message names its log)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Emulator:
    """A child process serving on 127.0.0.1:`port`, up once `ready` answers any HTTP status."""

    def __init__(
        self,
        command: Sequence[str],
        ready: str,
        log_dir: Path,
        name: str = "",
        timeout_s: float = 60.0,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.command = [part.replace("{port}", str(self.port)) for part in command]
        self.ready = ready.replace("{port}", str(self.port))
        self.name = name or Path(self.command[0]).name
        self.log_path = log_dir / f"{self.name}.log"
        self.timeout_s = timeout_s
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait()
        except BaseException:
            self.stop()
            raise

    def _wait(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.timeout_s
        while True:
            if self._process.poll() is not None:
                raise EmulatorError(f"{self.name} exited with {self._process.returncode}; see {self.log_path}")
            try:
                urllib.request.urlopen(self.ready, timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answered
            except OSError:
                if time.monotonic() > deadline:
                    raise EmulatorError(
                        f"{self.name} did not answer on {self.ready} within {self.timeout_s:.0f} s; see {self.log_path}"
                    ) from None
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the process and everything it started. gcloud's emulators are shell scripts that start Java
        as their child: ending the script alone would leave the Java server running with no parent. The
        emulator runs in a session of its own (`start_new_session`), so its process group is exactly what it
        started: the group gets SIGTERM, and SIGKILL for whatever is left 10 s after the script ended."""
        process, self._process = self._process, None
        if process is None:
            return
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _signal_group(process, 0) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> bool:
    """Send `sig` to the process group the emulator leads (signal 0 asks whether any of it is alive);
    False once the group is gone. Where there are no process groups, only the process itself is signalled."""
    if not hasattr(os, "killpg"):
        if sig and process.poll() is None:
            process.terminate()
        return process.poll() is None
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return False
    return True
