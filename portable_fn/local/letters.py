"""The dead letters of a dev host's state directory, for `portable-fn dead-letters --provider local`.

A running host owns its journal (see `lock`): its dead letters are read, and redriven, through its own
API (`GET /_local/dead-letters`, `POST /_local/dead-letters/{function}/redrive`, see `control`), so the
redriven messages reach its workers at once. With no host running, the journal is read directly, holding
the state directory's lock meanwhile so a host starting then waits for nothing half-written; the
messages redriven wait in the journal for the next `portable-fn dev`.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..runtime.errors import ProviderError
from .control import PREFIX
from .delivery import DeadLetters
from .journal import Journal
from .lock import StateDirInUseError, StateLock

JOURNAL = "journal.sqlite3"
TIMEOUT_S = 30.0


def dead_letters(state_dir: Path, function: str, redrive: bool = False) -> tuple[list[dict[str, Any]], str]:
    """`function`'s dead letters in `state_dir` (the journal's entries, oldest first), and where they were
    read from; with `redrive`, sent back to the function and removed."""
    if not state_dir.is_dir():
        return [], str(state_dir / JOURNAL)
    with running_host(state_dir) as url:
        if url is not None:
            return _through_host(url, function, redrive), f"{url}{PREFIX}/dead-letters"
        return _from_journal(state_dir / JOURNAL, function, redrive), str(state_dir / JOURNAL)


@contextlib.contextmanager
def running_host(state_dir: Path) -> Iterator[str | None]:
    """The URL of the dev host holding `state_dir`, to go through its API; or None, with the directory's
    lock held meanwhile (a host starting then waits for nothing half-written)."""
    lock = StateLock(state_dir)
    try:
        lock.acquire("")  # no URL: another reader finds nothing to call
    except StateDirInUseError as busy:
        url = busy.holder.get("url")
        if not url:
            raise ProviderError(
                f"The state directory {state_dir} is held by process {busy.holder.get('pid', '?')} (a dev host "
                "starting, or another command reading it); run the command again in a moment."
            ) from None
        yield str(url)
        return
    try:
        yield None
    finally:
        lock.release()


def _from_journal(path: Path, function: str, redrive: bool) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with Journal(path) as journal:
        letters = DeadLetters(journal)
        if redrive:
            return letters.redrive(function, lambda events: journal.add(function, events, None))
        return letters.entries(function)


def _through_host(url: str, function: str, redrive: bool) -> list[dict[str, Any]]:
    if redrive:
        answer = call_host(url, "POST", f"{PREFIX}/dead-letters/{function}/redrive")
        return list(answer["redriven"])
    return [e for e in call_host(url, "GET", f"{PREFIX}/dead-letters") if e.get("function") == function]


def call_host(url: str, method: str, path: str, body: bytes | None = None) -> Any:
    """Call a running dev host's `/_local` API; its JSON answer, or ProviderError with what it said."""
    data = body if body is not None else (b"" if method == "POST" else None)
    request = urllib.request.Request(url + path, data=data, method=method)
    if body is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            said = json.loads(exc.read()).get("error") or exc.reason
        except (ValueError, AttributeError):
            said = exc.reason
        raise ProviderError(f"The dev host at {url} refused {method} {path}: {said}") from None
    except OSError as exc:
        raise ProviderError(
            f"The dev host at {url} holds the state directory but did not answer ({exc}); "
            "wait for it to start, or stop it, and run the command again."
        ) from None
