"""Read `main.tf` back with python-hcl2 into the Terraform JSON shape `portable_fn.export.hcl` renders from."""

from __future__ import annotations

from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

HEREDOC = "<<EOT\n"
OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
LABELS = {"terraform": 0, "locals": 0, "provider": 1, "variable": 1, "output": 1, "module": 1, "resource": 2, "data": 2}


def parse(text: str) -> dict[str, Any]:
    """HCL text as a Terraform JSON document: top-level blocks merged, comments dropped (python-hcl2 undoes
    string escapes itself)."""
    parsed = _heredocs(hcl2.loads(text, serialization_options=OPTIONS))
    document: dict[str, Any] = {}
    for block_type, blocks in parsed.items():
        for block in blocks:
            _merge(document.setdefault(block_type, {}), block, LABELS[block_type])
    return document


def _heredocs(node: Any) -> Any:
    """Each heredoc as the string it holds, its last newline included (python-hcl2 keeps the markers)."""
    if isinstance(node, dict):
        return {k: _heredocs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_heredocs(v) for v in node]
    if isinstance(node, str) and node.startswith(HEREDOC) and node.endswith("\nEOT"):
        return node[len(HEREDOC) : -len("EOT")]
    return node


def without_comments(value: Any) -> Any:
    """A document as the parser sees it: the "//" comment keys left out."""
    if isinstance(value, dict):
        return {k: without_comments(v) for k, v in value.items() if k != "//"}
    if isinstance(value, list):
        return [without_comments(v) for v in value]
    return value


def _merge(into: dict[str, Any], block: dict[str, Any], depth: int) -> None:
    if depth == 0:
        into.update(block)
        return
    for label, inner in block.items():
        _merge(into.setdefault(label, {}), inner, depth - 1)
