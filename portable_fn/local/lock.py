"""One local host per state directory: two on one journal would both deliver its messages.

A running host holds an advisory lock on `<state_dir>/host.lock` (`fcntl.flock` on POSIX,
`msvcrt.locking` on Windows). The operating system lets it go when the host closes the file or its
process dies, even by SIGKILL, so there is never a stale lock to remove by hand. The file holds the
holder's process id and URL (JSON), for the error the next host gives.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from ..runtime.errors import PortableFnError

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

LOCK_FILE = "host.lock"
# Windows locks a byte range that other handles cannot read, so lock one byte far past the holder's note.
WINDOWS_LOCK_OFFSET = 1 << 30


class StateDirInUseError(PortableFnError):
    """Another local host holds this state directory; `holder` is its note (`pid`, `url`), when written."""

    def __init__(self, message: str, holder: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.holder = holder or {}


class StateLock:
    """The lock on one state directory, held from `acquire` until `release` (or the process ends)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, url: str) -> None:
        """Hold the state directory for the host at `url`, or raise StateDirInUseError naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd)
        except (BlockingIOError, PermissionError):
            holder = _read_holder(fd)
            os.close(fd)
            raise StateDirInUseError(_in_use(self.path.parent, holder), holder) from None
        _write_holder(fd, {"pid": os.getpid(), "url": url})
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.ftruncate(fd, 0)  # the next reader finds no holder rather than this one
        _unlock(fd)
        os.close(fd)


def _in_use(state_dir: Path, holder: dict[str, Any]) -> str:
    pid, url = holder.get("pid"), holder.get("url")
    who = f"process {pid}" if pid else "a host that has not written its process id yet"
    if pid == os.getpid():
        who += " (this one)"
    if url:
        who += f", serving {url}"
    return (
        f"portable-fn dev: the state directory {state_dir} is in use by another dev host ({who}). "
        "Stop that host, or give this one another --state-dir."
    )


def _read_holder(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        holder = json.loads(os.read(fd, 4096) or b"{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _write_holder(fd: int, holder: dict[str, Any]) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(holder).encode())


if sys.platform == "win32":

    def _lock(fd: int) -> None:
        os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
