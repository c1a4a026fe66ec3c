"""Terraform documents written as HCL: the readable `main.tf` of a Terraform export.

Providers build a Terraform document as plain Python values in the shape of Terraform's JSON syntax
(https://developer.hashicorp.com/terraform/language/syntax/json, read 2026-12-06), so one renderer
serves every cloud:

    {"terraform": {"required_providers": [{"aws": {"source": "hashicorp/aws"}}]},
     "provider": {"aws": {"region": "${var.region}"}},
     "variable": {"region": {"default": "eu-west-1"}},
     "resource": {"aws_sqs_queue": {"orders": {"name": "shop-dev-orders", "tags": {...}}}},
     "output": {"orders_url": {"value": "${aws_sqs_queue.orders.url}"}}}

Inside a block's body a list of dicts is a sequence of nested blocks (`environment { ... }`), a dict is
a map or object attribute (`tags = { ... }`), and the key "//" holds comment lines. Strings are templates
as in the JSON syntax: a string that is one `${...}` reference is written bare (`role =
aws_iam_role.api.arn`), any other keeps its interpolations; a literal `${` is spelled `$${` by whoever
builds the document. A string of several lines ending in a newline (a JSON policy document) is written as
a heredoc, line for line.
"""

from __future__ import annotations

import json
import re
from typing import Any

TerraformDocument = dict[str, Any]

# How many labels each top-level block type has: `resource "type" "name" { ... }`.
LABELS = {"terraform": 0, "locals": 0, "provider": 1, "variable": 1, "output": 1, "module": 1, "resource": 2, "data": 2}
COMMENT = "//"
INDENT = "  "
INLINE_WIDTH = 80  # a list longer than this when written on one line gets a line per item
BARE = re.compile(r"^\$\{([A-Za-z_][^{}\"]*)\}$")  # one reference or call with no nested template
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
HEREDOC = "EOT"


def render(document: TerraformDocument) -> str:
    """The document as HCL, top-level blocks in the document's order, a blank line between blocks."""
    blocks: list[str] = []
    for block_type, content in document.items():
        if block_type not in LABELS:
            raise ValueError(f"Terraform has no top-level block {block_type!r}; known: {', '.join(LABELS)}")
        blocks += _labelled(block_type, [], content, LABELS[block_type])
    return "\n\n".join(blocks) + "\n"


def _labelled(block_type: str, labels: list[str], content: Any, depth: int) -> list[str]:
    if depth == 0:
        return [_block(block_type, labels, content, "")]
    out: list[str] = []
    for label, inner in content.items():
        out += _labelled(block_type, [*labels, label], inner, depth - 1)
    return out


def _block(block_type: str, labels: list[str], body: dict[str, Any], indent: str) -> str:
    head = " ".join([block_type, *(string(label) for label in labels)])
    inner = _body(body, indent + INDENT)
    return f"{indent}{head} {{\n{inner}{indent}}}" if inner else f"{indent}{head} {{}}"


def _body(body: dict[str, Any], indent: str) -> str:
    lines = [f"{indent}# {line}\n" for line in _comments(body.get(COMMENT))]
    attributes = {k: v for k, v in body.items() if k != COMMENT and not _is_blocks(v)}
    width = max((len(key_text(k)) for k in attributes), default=0)
    for key, value in body.items():
        if key == COMMENT:
            continue
        if _is_blocks(value):
            lines += [_block(key, [], block, indent) + "\n" for block in value]
        else:
            lines.append(f"{indent}{key_text(key).ljust(width)} = {expression(value, indent)}\n")
    return "".join(lines)


def _comments(value: Any) -> list[str]:
    if value is None:
        return []
    text = "\n".join(value) if isinstance(value, list) else str(value)
    return text.splitlines()


def _is_blocks(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def expression(value: Any, indent: str = "", heredocs: bool = True) -> str:
    """One value as an HCL expression; nested maps and long lists continue on lines indented past `indent`.
    A list item is never a heredoc (its closing line would hold the comma)."""
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        bare = BARE.match(value)
        if bare:
            return bare.group(1)
        return heredoc(value) if heredocs and is_heredoc(value) else string(value)
    if isinstance(value, (list, tuple)):
        return _sequence(list(value), indent)
    if isinstance(value, dict):
        return _object(value, indent)
    raise TypeError(f"a Terraform document holds no {type(value).__name__}: {value!r}")


def _sequence(items: list[Any], indent: str) -> str:
    inline = f"[{', '.join(expression(item, indent, heredocs=False) for item in items)}]"
    if len(inline) <= INLINE_WIDTH and "\n" not in inline:
        return inline
    inner = indent + INDENT
    return "[\n" + "".join(f"{inner}{expression(item, inner, heredocs=False)},\n" for item in items) + f"{indent}]"


def _object(value: dict[str, Any], indent: str) -> str:
    if not value:
        return "{}"
    inner = indent + INDENT
    width = max(len(key_text(k)) for k in value)
    lines = "".join(f"{inner}{key_text(k).ljust(width)} = {expression(v, inner)}\n" for k, v in value.items())
    return "{\n" + lines + indent + "}"


def key_text(key: str) -> str:
    """A map key or attribute name: bare when it is an identifier, else quoted."""
    return key if IDENTIFIER.match(key) else string(key)


def string(text: str) -> str:
    """A quoted HCL template string; interpolations (`${`, `%{`) are kept as they are."""
    return '"' + "".join(ESCAPES.get(char, char) for char in text) + '"'


def is_heredoc(text: str) -> bool:
    """Whether `text` reads better as a heredoc: several lines, the last one ended, none that would end it."""
    lines = text.split("\n")
    return len(lines) > 2 and lines[-1] == "" and "\r" not in text and HEREDOC not in (line.strip() for line in lines)


def heredoc(text: str) -> str:
    """`text` as an HCL heredoc: lines as they are (no escapes in a heredoc), interpolations kept."""
    return f"<<{HEREDOC}\n{text}{HEREDOC}"
