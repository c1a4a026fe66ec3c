"""Where `portable-fn secrets set|list|remove` keeps an app's secret values: a `SecretStore` per provider
and stage (`Provider.secret_store(app, stage)`), written from this machine, read by the functions through
`portable_fn.runtime.secrets`.

Each cloud keeps values in its own secret service (SSM Parameter Store or Secrets Manager, Secret Manager,
Key Vault); locally, `LocalSecretStore` writes the dev host's secrets file (`runtime.secrets_file`), in the
app's `.portable-fn/local/` directory, which packaging never ships. A store never prints or returns a value.
"""

from __future__ import annotations

import builtins
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .runtime.secrets_file import FILE_NAME, FORMAT, load

if TYPE_CHECKING:
    from .app import App

__all__ = ["LocalSecretStore", "SecretInfo", "SecretStore", "now_iso"]


@dataclass(frozen=True)
class SecretInfo:
    """One secret as a store knows it: its name, its current version and when it was last set (ISO 8601,
    UTC), never its value."""

    name: str
    version: str | None
    updated: str | None


class SecretStore(Protocol):
    """An app's secrets for one provider and stage. A store may name where it keeps them for people in a
    `where` attribute; the CLI then shows it."""

    def set(self, name: str, value: str) -> str:
        """Store `value` as the secret's new current value; returns its version."""
        ...

    def list(self) -> builtins.list[SecretInfo]:
        """The secrets that hold a value, by name."""
        ...

    def remove(self, name: str) -> bool:
        """Delete the secret with every version of it; False when there was none."""
        ...


class LocalSecretStore:
    """The dev host's secrets file (`runtime.secrets_file`): `<app>/.portable-fn/local/secrets.json`,
    one section per stage, written whole (mode 0600) through a temporary file and a rename."""

    def __init__(self, path: Path, stage: str) -> None:
        self.path = path
        self.stage = stage

    @classmethod
    def of(cls, app: App, stage: str) -> LocalSecretStore:
        """The store `portable-fn dev` reads for `app` (its state directory) in `stage`."""
        from .local.host import dev_state_dir

        return cls(dev_state_dir(app) / FILE_NAME, stage)

    @property
    def where(self) -> str:
        return f"the local secrets file {self.path}"

    def set(self, name: str, value: str) -> str:
        document = load(str(self.path))
        stage = document["stages"].setdefault(self.stage, {})
        previous = stage.get(name) or {}
        version = str(_number(previous.get("version")) + 1)
        stage[name] = {"value": value, "version": version, "updated": now_iso()}
        self._write(document)
        return version

    def list(self) -> builtins.list[SecretInfo]:
        stage = load(str(self.path))["stages"].get(self.stage, {})
        return [SecretInfo(name, str(e.get("version")), e.get("updated")) for name, e in sorted(stage.items())]

    def remove(self, name: str) -> bool:
        document = load(str(self.path))
        stage = document["stages"].get(self.stage, {})
        if name not in stage:
            return False
        del stage[name]
        if not stage:
            del document["stages"][self.stage]
        self._write(document)
        return True

    def _write(self, document: dict[str, Any]) -> None:
        """Replace the file at once: a reader sees the old document or the new one, never half of one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".secrets.", suffix=".json")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({**document, "format": FORMAT}, f, indent=1, sort_keys=True)
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def now_iso() -> str:
    """The time now as a store records it: ISO 8601, UTC, seconds (`2026-12-06T19:20:00Z`)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(version: Any) -> int:
    try:
        return int(version)
    except (TypeError, ValueError):
        return 0
