"""The local secret backend: the JSON file `<PORTABLE_FN_STATE_DIR>/secrets.json`, for `dev` and `invoke`.

`portable-fn secrets set NAME --provider local` writes it (`portable_fn.secrets.LocalSecretStore`, the only
writer: mode 0600, replaced whole); the dev host points `PORTABLE_FN_STATE_DIR` at its state directory,
which is under the app's `.portable-fn/`, a hidden folder packaging never ships. `PORTABLE_FN_SECRETS`,
when set, names another file. One file holds every stage's secrets:

    {"format": 1,
     "stages": {"dev": {"stripe-key": {"value": "...", "version": "3", "updated": "2026-12-06T19:20:00Z"}}}}

The file is read again when it changed (its modification time, size or inode), so a value set while
`dev` runs is served once the function's `max_age` has passed.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from .secrets import SecretError, not_found

FILE_NAME = "secrets.json"
FORMAT = 1
DEFAULT_DIR = ".portable-fn/state"  # as `state_sqlite`, when no state directory is set
DEFAULT_STAGE = "dev"  # `portable_fn.config.DEFAULT_STAGE`, when PORTABLE_FN_STAGE is unset


def path_from_env(locator: str | None = None) -> str:
    """The secrets file: `locator` (PORTABLE_FN_SECRETS) when given, else `<PORTABLE_FN_STATE_DIR>/secrets.json`."""
    if locator:
        return locator
    return os.path.join(os.environ.get("PORTABLE_FN_STATE_DIR") or DEFAULT_DIR, FILE_NAME)


def load(path: str) -> dict[str, Any]:
    """The file's content (an empty document when there is none); SecretError when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except FileNotFoundError:
        return {"format": FORMAT, "stages": {}}
    except (OSError, ValueError) as exc:  # the message of a JSON error holds a position, never the text
        raise SecretError(
            f"The local secrets file {path} cannot be read ({exc}). Set each secret again with "
            "`portable-fn secrets set NAME --provider local` after moving the file away."
        ) from exc
    if not isinstance(document, dict) or not isinstance(document.get("stages"), dict):
        raise SecretError(
            f"The local secrets file {path} is not one `portable-fn secrets set` wrote. Move it away and set "
            "each secret again with `portable-fn secrets set NAME --provider local`."
        )
    return document


class FileBackend:
    """Secrets from the local secrets file, for the stage the function runs in (PORTABLE_FN_STAGE); the
    path and stage are read from the environment on each fetch, as the dev host sets them."""

    def __init__(self, locator: str | None = None) -> None:
        self.locator = locator
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}  # path -> (stat, document)

    @property
    def where(self) -> str:
        return f"the local secrets file {path_from_env(self.locator)} (stage {_stage()!r})"

    def fetch(self, name: str) -> tuple[str, str]:
        entry = self._document(path_from_env(self.locator))["stages"].get(_stage(), {}).get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
            raise not_found(name, self.where)
        return entry["value"], str(entry.get("version", ""))

    def _document(self, path: str) -> dict[str, Any]:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return {"stages": {}}
        signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        with self._lock:
            seen = self._seen.get(path)
            if seen is None or seen[0] != signature:
                seen = self._seen[path] = (signature, load(path))
            return seen[1]


def backend(locator: str | None) -> FileBackend:
    """The local backend (`runtime.secrets` opens it when PORTABLE_FN_PROVIDER is local or unset)."""
    return FileBackend(locator)


def _stage() -> str:
    return os.environ.get("PORTABLE_FN_STAGE") or DEFAULT_STAGE
