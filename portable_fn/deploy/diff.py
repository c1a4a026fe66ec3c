"""Old -> new for every field a planned update changes, as `plan` shows it (the way Terraform does).

A resource field is a plain value, a tuple of pairs (environment variables, tags) or canonical JSON text
(an IAM policy document). Pairs and JSON objects are opened up, so a plan says which variable or which
statement changed rather than printing two long values. Values whose name says they are secret (a
`STRIPE_API_KEY` variable, a `password` field) are never printed: the line says the value changed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .planner import UPDATE, Step

SENSITIVE_NAME = re.compile(
    r"secret|passw(or)?d|token|api[_-]?key|private[_-]?key|access[_-]?key|credential|connection[_-]?string|"
    r"sas[_-]?url|signature",
    re.IGNORECASE,
)
HIDDEN = "(sensitive)"
ABSENT = "(none)"
SHOWN_CHARS = 80  # a longer value is cut, with its length said


@dataclass(frozen=True)
class FieldChange:
    """One changed value: its dotted path in the resource (`env.LOG_LEVEL`), old and new (`ABSENT` when
    the key is added or removed; `HIDDEN` for a sensitive value)."""

    path: str
    old: Any
    new: Any

    def describe(self) -> str:
        return f"{self.path}: {_shown(self.old)} -> {_shown(self.new)}"

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.path, "old": self.old, "new": self.new}


def step_dict(step: Step) -> dict[str, Any]:
    """`step.to_dict()` with the old and new value of every field an update changes (`fields`)."""
    out = step.to_dict()
    if changes := field_changes(step):
        out["fields"] = [change.to_dict() for change in changes]
    return out


def field_changes(step: Step) -> list[FieldChange]:
    """What an update changes, field by field (empty for a create or delete)."""
    if step.action != UPDATE or step.previous is None:
        return []
    old, new = step.previous.compared(), step.resource.compared()
    changes: list[FieldChange] = []
    for name in step.changes:
        changes.extend(_diff(name, _opened(old.get(name)), _opened(new.get(name)), _sensitive(name)))
    return changes


def _diff(path: str, old: Any, new: Any, sensitive: bool) -> list[FieldChange]:
    if old == new:
        return []
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[FieldChange] = []
        for key in sorted({*old, *new}, key=str):
            hidden = sensitive or _sensitive(str(key))
            out.extend(_diff(f"{path}.{key}", old.get(key, ABSENT), new.get(key, ABSENT), hidden))
        return out
    if isinstance(old, list) and isinstance(new, list):
        out = []
        for index in range(max(len(old), len(new))):
            before = old[index] if index < len(old) else ABSENT
            after = new[index] if index < len(new) else ABSENT
            out.extend(_diff(f"{path}[{index}]", before, after, sensitive))
        return out
    if sensitive:
        return [FieldChange(path, _hidden(old), _hidden(new))]
    return [FieldChange(path, old, new)]


def _opened(value: Any) -> Any:
    """A tuple of (key, value) pairs as a dict, JSON object text as its object; else the value."""
    if isinstance(value, tuple) and value and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        return {str(k): v for k, v in value}
    if isinstance(value, str) and value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, dict) else value
    return value


def _sensitive(name: str) -> bool:
    return bool(SENSITIVE_NAME.search(name))


def _hidden(value: Any) -> Any:
    return value if value == ABSENT else HIDDEN


def _shown(value: Any) -> str:
    if value in (ABSENT, HIDDEN):
        return str(value)
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else json.dumps(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[: SHOWN_CHARS - 1]}… ({len(text)} chars)"
