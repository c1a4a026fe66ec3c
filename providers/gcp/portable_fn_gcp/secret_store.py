"""`SecretManagerStore`: where `portable-fn secrets set|list|remove --provider gcp` keeps an app's secret values.

Provider side, never shipped. Each secret is the Secret Manager secret the functions read
(`<app>-<stage>-<name>`, `portable_fn_gcp.secrets`), with automatic replication and the app's and stage's
labels; a value set is a new version of it, the version number what `set` returns. `list` names the secrets of
the app and stage that hold a version (found with the filter `name:<app>-<stage>-`, each checked for the
prefix and labels), with their latest version and when it was added; `remove` deletes the secret with every
version. Every call goes through deploy's `GcpClient`, so `--verbose` logs it, never a value.
"""

from __future__ import annotations

import builtins
from typing import Any

from portable_fn.secrets import SecretInfo

from .deploy.client import AlreadyExists, GcpClient, NotFound
from .deploy.naming import Names, has_labels, labels
from .deploy.routes import short

AUTOMATIC: dict[str, Any] = {"automatic": {}}  # replicated by Google, without restrictions


class SecretManagerStore:
    """An app and stage's secrets in one project, through one `GcpClient`."""

    def __init__(self, gcp: GcpClient, names: Names) -> None:
        self.gcp = gcp
        self.names = names

    @property
    def where(self) -> str:
        return f"Secret Manager in project {self.names.project} (secrets {self.names.secret('')}*)"

    def set(self, name: str, value: str) -> str:
        path = self.ensure(name)
        request = {"parent": path, "payload": {"data": value.encode("utf-8")}}
        added = self.gcp.call("secretmanager", "add_secret_version", request=request)
        return version_of(added)

    def ensure(self, name: str) -> str:
        """The secret's path, made (labelled, replicated automatically) unless it exists."""
        secret = self.names.secret(name)
        body = {"replication": AUTOMATIC, "labels": labels(self.names.app, self.names.stage)}
        request = {"parent": f"projects/{self.names.project}", "secret_id": secret, "secret": body}
        try:
            self.gcp.call("secretmanager", "create_secret", request=request)
        except AlreadyExists:
            pass
        return self.names.secret_path(secret)

    def list(self) -> builtins.list[SecretInfo]:
        prefix = self.names.secret("")
        request = {"parent": f"projects/{self.names.project}", "filter": f"name:{prefix}"}
        found = self.gcp.pages("secretmanager", "list_secrets", request=request)
        out = []
        for secret in found:
            if short(secret.name).startswith(prefix) and has_labels(
                dict(secret.labels), self.names.app, self.names.stage
            ):
                latest = self.latest(short(secret.name))
                if latest is not None:
                    out.append(
                        SecretInfo(short(secret.name)[len(prefix) :], version_of(latest), iso(latest.create_time))
                    )
        return sorted(out, key=lambda info: info.name)

    def latest(self, secret: str) -> Any:
        """The latest version of `secret` (None without one)."""
        try:
            path = f"{self.names.secret_path(secret)}/versions/latest"
            return self.gcp.call("secretmanager", "get_secret_version", request={"name": path})
        except NotFound:
            return None

    def remove(self, name: str) -> bool:
        path = self.names.secret_path(self.names.secret(name))
        try:
            self.gcp.call("secretmanager", "delete_secret", request={"name": path})
        except NotFound:
            return False
        return True


def version_of(found: Any) -> str:
    """A version's number, from its name (`projects/N/secrets/S/versions/3`)."""
    return short(str(found.name))


def iso(when: Any) -> str | None:
    """A version's create time as the stores say it: ISO 8601, UTC, seconds."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else None
