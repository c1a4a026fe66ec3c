"""Local buckets: one folder per bucket, watched by polling, changes reported as (change, object).

Polling keeps this dependency-free and identical on every OS. A file is reported once it has stayed
the same (size and modification time) for two polls in a row, so a file still being copied in is not
reported half-written. Names starting with '.' (temporary files, editor swap files) are ignored, and
files present when watching starts are not changes. An object written or deleted through the dev host's
own API (`PUT /_local/buckets/...`) is reported at once (`report`), before the host answers: its event is
in the journal when the client sees the 201, so a host stopped a moment later loses nothing.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

Stamp = tuple[int, int]  # (mtime_ns, size)


@dataclass(frozen=True)
class ObjectInfo:
    """What the watcher knows about one object."""

    bucket: str
    key: str
    size: int
    etag: str


OnChange = Callable[[str, ObjectInfo], None]  # change is "created" or "deleted"


class BucketWatcher:
    """Polls `<root>/<bucket>/` for every bucket and calls `on_change` for each settled change."""

    def __init__(self, root: Path, buckets: Iterable[str], on_change: OnChange, interval_s: float = 0.2) -> None:
        self.root = root
        self.buckets = sorted(set(buckets))
        self.on_change = on_change
        self.interval_s = interval_s
        self._known: dict[tuple[str, str], tuple[Stamp, ObjectInfo]] = {}
        self._seen: dict[tuple[str, str], Stamp] = {}  # stamps from the previous poll
        self._lock = threading.Lock()  # the poller's thread and `report` (a request's thread) take turns
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-buckets", daemon=True)
        self.polls = 0  # polls finished by the watcher's thread (what "nothing more came" is checked after)

    def folder(self, bucket: str) -> Path:
        return self.root / bucket

    def prepare(self) -> None:
        """Create the folders and take the files already there as the starting state (no events)."""
        for bucket in self.buckets:
            self.folder(bucket).mkdir(parents=True, exist_ok=True)
        self._seen = self._scan()
        self._known = {k: (stamp, self._info(k)) for k, stamp in self._seen.items()}

    def start(self) -> None:
        self.prepare()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def report(self, bucket: str, key: str) -> None:
        """Report the object at `key` now, as created or, when its file is gone, deleted (a change made through
        the dev host), and take it as known, so that no poll reports it again."""
        name = (bucket, key)
        with self._lock:
            try:
                st = (self.folder(bucket) / key).stat()
            except FileNotFoundError:
                if name in self._known:
                    _, info = self._known.pop(name)
                    self._seen.pop(name, None)
                    self.on_change("deleted", info)
                return
            stamp = (st.st_mtime_ns, st.st_size)
            known = self._known.get(name)
            if known is not None and known[0] == stamp:
                return  # a poll reported it already
            info = self._info(name)
            self._known[name], self._seen[name] = (stamp, info), stamp
            self.on_change("created", info)

    def poll(self) -> None:
        """One scan: report settled new or changed files, and files that are gone."""
        with self._lock:
            self._poll()

    def _poll(self) -> None:
        current = self._scan()
        for key, stamp in current.items():
            known = self._known.get(key)
            settled = self._seen.get(key) == stamp
            if settled and (known is None or known[0] != stamp):
                info = self._info(key)
                self._known[key] = (stamp, info)
                self.on_change("created", info)
        for key in [k for k in self._known if k not in current]:
            _, info = self._known.pop(key)
            self.on_change("deleted", info)
        self._seen = current

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.poll()
            except OSError:
                continue  # a folder vanished or is unreadable for a moment: try again next poll
            self.polls += 1

    def _scan(self) -> dict[tuple[str, str], Stamp]:
        found: dict[tuple[str, str], Stamp] = {}
        for bucket in self.buckets:
            base = self.folder(bucket)
            for folder, dirs, files in os.walk(base):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in files:
                    if name.startswith("."):
                        continue
                    path = Path(folder, name)
                    try:
                        st = path.stat()
                    except FileNotFoundError:  # removed between listing and stat
                        continue
                    found[(bucket, path.relative_to(base).as_posix())] = (st.st_mtime_ns, st.st_size)
        return found

    def _info(self, key: tuple[str, str]) -> ObjectInfo:
        bucket, name = key
        return object_info(bucket, name, self.folder(bucket) / name)


def object_info(bucket: str, key: str, path: Path) -> ObjectInfo:
    """Size and MD5 etag of the file at `path` (empty when it vanished meanwhile)."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        pass
    return ObjectInfo(bucket, key, size, digest.hexdigest())
