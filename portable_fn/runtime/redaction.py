"""Redaction: every secret value fetched in this process, taken out of any text that leaves it.

`secrets` remembers each value it fetches (`remember`); `redact` replaces them in a handler's failure reason
(`dispatch.failure_of`, on every failed event) and in every JSON log line (`log_format`). A module of its own,
importing nothing of the runtime, so the pipeline reaches it without the secrets machinery (which imports
the pipeline).
"""

from __future__ import annotations

import re
import threading

__all__ = ["MIN_REDACTED", "REDACTIONS", "redact", "remember"]

MIN_REDACTED = 4  # characters; a shorter value would turn ordinary words of a log line into markers

# Every value fetched in this process (MIN_REDACTED characters or more) -> what replaces it in text. Checked
# for emptiness by the JSON logger on every line, so a function that never reads a secret pays nothing more.
REDACTIONS: dict[str, str] = {}
_pattern: re.Pattern[str] | None = None
_remembering = threading.Lock()


def remember(name: str, value: str) -> None:
    """Have `redact` replace `value` by `[secret NAME]` from now on in this process."""
    if len(value) < MIN_REDACTED or REDACTIONS.get(value) == _marker(name):
        return
    global _pattern
    with _remembering:
        for shown in _shown(value):
            REDACTIONS[shown] = _marker(name)
        longest_first = sorted(REDACTIONS, key=len, reverse=True)  # a value inside another is not cut in two
        _pattern = re.compile("|".join(re.escape(v) for v in longest_first))


def _shown(value: str) -> set[str]:
    """The ways text shows `value`: as it is, escaped by repr() (`%r`, a dict or a KeyError holding it) and by
    JSON (a handler logging JSON it made); they differ for a value with quotes, backslashes or newlines."""
    import json

    return {value, repr(value)[1:-1], json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def redact(text: str) -> str:
    """`text` with each secret value fetched in this process replaced by `[secret NAME]`."""
    pattern = _pattern
    if pattern is None:
        return text
    return pattern.sub(_replacement, text)


def _replacement(match: re.Match[str]) -> str:
    return REDACTIONS.get(match.group(0), "[secret]")


def _marker(name: str) -> str:
    return f"[secret {name}]"
