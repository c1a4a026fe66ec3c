"""The local provider's audit store: one JSON line per record in `<local cloud>/audit.jsonl`, appended to and
never rewritten. The local cloud has no resource to tag, by design (`NOTHING_TO_TAG`): its records are found by
their app and stage."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from ..audit import NOTHING_TO_TAG

AUDIT_FILE = "audit.jsonl"


class LocalAuditStore:
    """The records of one app and stage in the local cloud's shared JSON-lines file."""

    def __init__(self, root: Path, app: str, stage: str) -> None:
        self.path = root / AUDIT_FILE
        self.app, self.stage = app, stage

    @property
    def where(self) -> str:
        return str(self.path)

    def append(self, name: str, body: bytes) -> str:
        """One line, written with a single append (O_APPEND), so concurrent writers never interleave."""
        line = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        return f"{self.path} ({name.removesuffix('.json')})"

    def read(self) -> list[bytes]:
        if not self.path.is_file():
            return []
        lines = self.path.read_bytes().splitlines()
        return [line for line in lines if line.strip() and self._ours(json.loads(line))]

    def mark(self, tags: Mapping[str, str]) -> str:
        return NOTHING_TO_TAG

    def _ours(self, record: dict[str, object]) -> bool:
        return record.get("app") == self.app and record.get("stage") == self.stage
