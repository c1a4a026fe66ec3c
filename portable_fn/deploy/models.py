"""Deploy models: what a provider wants to exist, and what it found. Plain values, no I/O."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class Resource:
    """One cloud resource. Subclasses add fields; all fields but `name` are compared by the planner.

    `kind` is a short human label ("lambda function", "sqs queue"); `(kind, name)` identifies it.
    Fields listed in `ignore_on_compare` are outputs the cloud fills in (ARNs, URLs) and never cause
    an update. A create or update of it waits for the creates and updates, in the same plan, of the kinds in
    `waits_for_kinds` (a package release waits for the roles it needs; see `planner`).
    """

    kind: ClassVar[str] = "resource"
    ignore_on_compare: ClassVar[frozenset[str]] = frozenset()
    waits_for_kinds: ClassVar[frozenset[str]] = frozenset()
    name: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)

    def compared(self) -> dict[str, Any]:
        """The fields whose difference means the resource must be updated."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "name" and f.name not in self.ignore_on_compare
        }

    def changed_fields(self, remote: Resource) -> tuple[str, ...]:
        """Names of the compared fields that differ from `remote`."""
        mine, theirs = self.compared(), remote.compared()
        return tuple(k for k in mine if mine[k] != theirs.get(k))

    def kept_because(self) -> str | None:
        """Why no plan ever deletes this resource once found (it is shared beyond the app and stage, say a
        project-wide grant), said where `remove` would have deleted it; None: deleted when not wanted."""
        return None

    def holds_data(self) -> bool:
        """True for a store found holding data (a state table with items): `remove` keeps it unless told
        `--delete-data`, and says so."""
        return False

    def reason_kept(self, delete_data: bool = False) -> str | None:
        """Why a plan that no longer wants this resource keeps it, or None when it is deleted."""
        why = self.kept_because()
        if why is None and self.holds_data() and not delete_data:
            why = "it holds data; `portable-fn remove --delete-data` deletes it with its data"
        return why

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}


class RemoteState:
    """The resources of one app and stage as found in the cloud (by tag or label), keyed by (kind, name)."""

    def __init__(self, resources: Iterable[Resource] = ()) -> None:
        self._by_key: dict[tuple[str, str], Resource] = {r.key: r for r in resources}

    def get(self, key: tuple[str, str]) -> Resource | None:
        return self._by_key.get(key)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key


@dataclass(frozen=True)
class Artifact:
    """A built package: where it is, its SHA-256 (what decides re-uploads), size and file count."""

    path: Path
    sha256: str
    size: int
    files: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "size": self.size, "files": self.files}


@dataclass(frozen=True)
class DeployTarget:
    """Where a provider's deploy acts and as whom, as the cloud says: `scope` names what `scope_id` is
    ("account" on AWS, "project" on GCP, "subscription" on Azure, "directory" locally), `principal` the
    identity making the calls (an IAM role ARN, a service account, an Azure object id), when known."""

    provider: str
    scope: str
    scope_id: str
    region: str
    principal: str | None = None

    def describe(self) -> str:
        """One line for `plan` and `deploy`: "aws account 123456789012, region eu-west-1"."""
        return f"{self.provider} {self.scope} {self.scope_id}, region {self.region}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
