"""Reloading under `portable-fn dev`: the app is imported afresh when one of its files changes.

`SourceWatcher` polls the modification time and size of the files the app ships (the same selection
as packaging, `ShipRules`, so tests, caches and virtualenvs are not watched) and of its
pyproject.toml. A change is acted on once the files have stayed the same for two polls in a row, so a
file still being saved is not imported half-written. Polling keeps this dependency-free and the same on
every OS.

`load_afresh` imports the app into new module objects (its old modules are dropped from sys.modules
first, and put back when the import fails, so the code still serving keeps finding what it imported).
The host then swaps its functions for the new ones (`LocalHost.swap_app`) and keeps its journal:
queued and retrying messages are delivered to the new code. An import or declaration error is logged
with its file and line, and the previous code keeps serving until the next change.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Protocol

from ..app import App, load_app
from ..packaging import ShipRules, import_closure
from ..runtime.errors import PortableFnError

Log = Callable[[str], None]
Stamp = tuple[int, int]  # (mtime_ns, size)


class Reloadable(Protocol):
    """What the watcher needs of the host: the app serving now, and a way to serve another one."""

    app: App

    def swap_app(self, app: App) -> list[str]: ...


def ship_rules(app: App) -> ShipRules:
    """What of the app's source directory ships, as packaging decides it (see `packaging`)."""
    modules = frozenset(import_closure(app.source_dir, app.config.modules))
    try:
        return ShipRules.of(app, modules)
    except PortableFnError:  # a bad include/exclude glob: packaging says so; watch by the default rules
        return ShipRules(modules=modules)


def watched_files(app: App, rules: ShipRules, skip: Path | None = None) -> list[Path]:
    """The app's pyproject.toml and every file of its source directory that ships (none inside `skip`)."""
    return [app.root / "pyproject.toml", *(path for _, path in rules.select(app.source_dir, skip))]


def stamps(files: list[Path]) -> dict[Path, Stamp]:
    """(mtime_ns, size) of each file that exists."""
    found = {}
    for path in files:
        try:
            status = path.stat()
        except OSError:  # removed between the listing and now: missing, like a file never there
            continue
        found[path] = (status.st_mtime_ns, status.st_size)
    return found


def app_modules(source_dir: Path) -> dict[str, ModuleType]:
    """The imported modules whose file lies in the app's source directory (not in a hidden folder,
    such as a virtualenv `.venv` kept there)."""
    found = {}
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None)
        if not location:
            continue
        path = Path(location).resolve()
        if path.is_relative_to(source_dir):
            parts = path.relative_to(source_dir).parts
            if not any(p.startswith(".") or p == "site-packages" for p in parts):
                found[name] = module
    return found


def load_afresh(old: App, changed: list[Path]) -> App:
    """The app at `old.root` imported again, into new module objects; on an error the old modules are
    back in sys.modules and the error is raised."""
    for path in changed:  # a .pyc is trusted on mtime in seconds and size: an edit within the same
        if path.suffix == ".py":  # second that keeps the size would import the old code
            Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)
    saved = app_modules(old.source_dir)
    for name in saved:
        del sys.modules[name]
    importlib.invalidate_caches()
    try:
        return load_app(old.root)
    except BaseException:
        for name in app_modules(old.source_dir):
            del sys.modules[name]
        sys.modules.update(saved)
        raise


def describe_failure(exc: BaseException, source_dir: Path) -> str:
    """What went wrong and where (file:line of the app's innermost frame; the line itself for a syntax
    error), for the dev log."""
    cause = exc.__cause__ if isinstance(exc, PortableFnError) and exc.__cause__ is not None else exc
    if isinstance(cause, SyntaxError):
        return "".join(traceback.format_exception_only(cause)).rstrip()
    text = str(exc) if isinstance(exc, PortableFnError) else f"{type(cause).__name__}: {cause}"
    frames = [
        f"{f.filename}:{f.lineno}"
        for f in traceback.extract_tb(cause.__traceback__)
        if Path(f.filename).resolve().is_relative_to(source_dir)
    ]
    return f"{frames[-1]}: {text}" if frames and frames[-1] not in text else text


class SourceWatcher:
    """Polls the app's files every `interval_s` and reloads it into `host` when they changed."""

    def __init__(self, host: Reloadable, log: Log, interval_s: float = 0.2, skip: Path | None = None) -> None:
        self.host = host
        self.log = log
        self.interval_s = interval_s
        self.skip = skip  # the host's state directory, when it lies in the source directory
        self.reloads = 0  # reloads tried (done or failed), for whoever waits on one
        self._rules = ShipRules()  # the app's, read again at each load (reading its imports takes a parse)
        self._loaded: dict[Path, Stamp] = {}  # the files as they were at the last (tried) load
        self._seen: dict[Path, Stamp] = {}  # the files at the previous poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-reload", daemon=True)

    def start(self) -> None:
        self.watch()
        self._thread.start()

    def watch(self) -> None:
        """Take the files as they are now as the ones loaded (`start` does, then polls in a thread)."""
        self._rules = ship_rules(self.host.app)
        self._loaded = self._seen = self._scan()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)  # an import under way finishes first

    def poll(self) -> bool:
        """One look at the files; reloads (and returns True) when they changed and have settled."""
        now = self._scan()
        settled, self._seen = now == self._seen, now
        if now == self._loaded or not settled:
            return False
        changed = [p for p in now.keys() | self._loaded.keys() if now.get(p) != self._loaded.get(p)]
        self._loaded = now
        self.reload(sorted(changed))
        return True

    def reload(self, changed: list[Path]) -> None:
        """Import the app again and have the host serve it; on an error, log it and keep the old code."""
        old = self.host.app
        started = time.perf_counter()
        try:
            new = load_afresh(old, changed)
            notes = self.host.swap_app(new)
        except Exception as exc:
            self.log(
                f"portable-fn dev: reload failed; the previous code keeps serving until this is fixed:\n"
                f"{_indent(describe_failure(exc, old.source_dir))}"
            )
        else:
            elapsed_ms = (time.perf_counter() - started) * 1000
            shown = ", ".join(_shown(p, old.root) for p in changed[:3]) + (", ..." if len(changed) > 3 else "")
            self.log(
                f"portable-fn dev: reloaded {len(new.functions)} functions in {elapsed_ms:.0f} ms ({shown} changed)"
            )
            for note in notes:
                self.log(f"  {note}")
        finally:
            # A file these rules bring into the watch (a module in tests/ the app imports now) is taken
            # for a change at the next poll: one more reload, rather than a file saved meanwhile missed.
            self._rules = ship_rules(self.host.app)
            self.reloads += 1

    def _scan(self) -> dict[Path, Stamp]:
        return stamps(watched_files(self.host.app, self._rules, self.skip))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.poll()
            except Exception as exc:  # a watcher bug must not end reloading silently
                self.log(f"portable-fn dev: watching for changes failed ({type(exc).__name__}: {exc})")


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
