"""Holds the Terraform the exports write to what the provider release accepts: the one check of every export.

`problems(document, provider)` checks the document against the provider's schema recorded in `data/<provider>.json`
(`aws`, `google`, `azurerm`; written by `data/record_schemas.py`, which names the release and where it came from):
every resource and data source type is one the provider has; every argument set, at every depth of nested blocks,
is in that block's schema, a block is written as blocks and an attribute as a value, and every required argument
is set; every `${...}` reference names a variable, local, resource or data source of the document and an
attribute its type has. Each problem is one line naming the resource and what is wrong.

`evaluation_problems` has the rendered `main.tf` read by HashiCorp's own HCL parser and evaluated by trivy's
Terraform evaluator (PyPI `tfparse`, cloud-custodian's binding of it): no terraform binary or provider plugin
installs offline, so this is as close to `terraform validate` as runs here.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import tfparse

DATA = Path(__file__).resolve().parent / "data"
META = {"//", "depends_on", "lifecycle", "count", "for_each", "provider"}  # Terraform's own meta-arguments
TEMPLATE = re.compile(r"(?<!\$)\$\{([^{}]*)\}")  # `$${` is an escaped, literal `${`
TRAVERSAL = re.compile(r"(?<![\w.])(data\.)?([a-z][a-z0-9_]*)\.([A-Za-z_][\w-]*)((?:\.\w+|\[\d+\])*)")
BUILT_IN = {"path", "var", "local", "module", "each", "count", "self", "terraform"}
DECLARING = {"var": "variable", "local": "locals"}  # the top-level block a `var.x` or `local.x` must be set in
SECTIONS = (("", "resource"), ("data.", "data"))


@cache
def schema(provider: str) -> dict[str, Any]:
    return dict(json.loads((DATA / f"{provider}.json").read_text(encoding="utf-8")))


def problems(document: dict[str, Any], provider: str) -> list[str]:
    """Everything in `document` (the Terraform JSON shape) the recorded schema of `provider` does not allow."""
    recorded = schema(provider)
    found: list[str] = []
    for prefix, section in SECTIONS:
        known = recorded["data_source_types" if prefix else "resource_types"]
        for tf_type, blocks in document.get(section, {}).items():
            where = f"{prefix}{tf_type}"
            if tf_type not in known:
                found.append(f"{where}: not a {section} type of {recorded['provider']} {recorded['version']}")
            elif where not in recorded["schemas"]:
                found.append(f"{where}: its schema is not recorded (add it to data/record_schemas.py's WANTED)")
            else:
                for label, body in blocks.items():
                    found += _block(f"{where}.{label}", body, recorded["schemas"][where])
    for text in _strings(document):
        for expression in TEMPLATE.findall(text):
            found += _references(expression, document, recorded)
    return found


def _block(where: str, body: dict[str, Any], block: dict[str, Any]) -> list[str]:
    found = [f"{where}: {name} is required" for name in block["required"] if name not in body]
    for name, value in body.items():
        if name in META:
            continue
        if name not in block["arguments"]:
            found.append(f"{where}: {name} is not an argument of this block")
            continue
        nested = block["arguments"][name]
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            if "arguments" not in nested:
                found.append(f"{where}: {name} is an attribute, not a block")
                continue
            for index, item in enumerate(value):
                found += _block(f"{where}.{name}[{index}]", item, nested)
        elif "arguments" in nested and value != []:  # no block at all is `[]`
            found.append(f"{where}: {name} is a block, written as a value")
    return found


def _references(expression: str, document: dict[str, Any], recorded: dict[str, Any]) -> list[str]:
    found = []
    for prefix, tf_type, label, rest in TRAVERSAL.findall(expression):
        if not prefix and tf_type in DECLARING:
            if label not in document.get(DECLARING[tf_type], {}):
                found.append(f"${{{expression}}}: {tf_type}.{label} is not declared")
            continue
        if not prefix and tf_type in BUILT_IN:
            continue
        if label not in document.get("data" if prefix else "resource", {}).get(tf_type, {}):
            found.append(f"${{{expression}}}: {prefix}{tf_type}.{label} is not declared")
            continue
        attribute = re.split(r"[.\[]", rest.lstrip("."), maxsplit=1)[0]
        readable = recorded["schemas"].get(f"{prefix}{tf_type}", {}).get("attributes", [])
        if attribute and attribute not in readable:
            found.append(f"${{{expression}}}: {prefix}{tf_type} has no attribute {attribute}")
    return found


def _strings(value: Any) -> list[str]:
    """Every string of `value` Terraform evaluates (the "//" comments are not)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() if k != "//" for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def evaluation_problems(main_tf: str, document: dict[str, Any], directory: Path, provider: str) -> list[str]:
    """What tfparse finds wrong in `main_tf` (written into `directory`): a resource or data source of `document` it
    did not read (a syntax error reads as nothing at all); one whose references, as evaluated, are not the
    declared blocks the document's `${...}` name (a reference written as a literal string, or a literal read as a
    reference); and a reference it left unresolved that is not an attribute known only after apply (one
    `provider`'s schema has and the configuration does not set)."""
    (directory / "main.tf").write_text(main_tf, encoding="utf-8")
    loaded = {item["__tfmeta"]["path"]: item for items in tfparse.load_from_path(directory).values() for item in items}
    paths = {item["id"]: path for path, item in loaded.items()}
    declared = _declared(document)
    known = set(declared) | {f"variable.{name}" for name in document.get("variable", {})}  # undeclared: _unresolved
    found = []
    for path, body in sorted(declared.items()):
        if path not in loaded:
            found.append(f"{path}: not read from main.tf")
        else:
            written, evaluated = _written_references(body), _evaluated_references(loaded[path], paths)
            found += _misread(path, written & known, evaluated & known)
    for path in sorted(set(re.findall(r'"__attribute__": "([^"]+)"', json.dumps(loaded, default=str)))):
        found += _unresolved(path, document, schema(provider))
    return found


def _misread(path: str, written: set[str], evaluated: set[str]) -> list[str]:
    missed = [f"{path}: refers to {ref}, which tfparse did not read as a reference" for ref in written - evaluated]
    extra = [f"{path}: tfparse reads a reference to {ref} the document does not write" for ref in evaluated - written]
    return sorted(missed) + sorted(extra)


def _declared(document: dict[str, Any]) -> dict[str, Any]:
    """Each resource and data source of `document` by its address (`data.aws_region.current`), with its body."""
    return {
        f"{prefix}{tf_type}.{label}": body
        for prefix, section in SECTIONS
        for tf_type, blocks in document.get(section, {}).items()
        for label, body in blocks.items()
    }


def _written_references(body: Any) -> set[str]:
    """The addresses of what `body`'s `${...}` name, as tfparse spells them (`variable.region`,
    `aws_sqs_queue.orders`, `data.aws_region.current`; and `path.module`, which is none)."""
    written = set()
    for text in _strings(body):
        for expression in TEMPLATE.findall(text):
            for prefix, tf_type, label, _ in TRAVERSAL.findall(expression):
                written.add(f"variable.{label}" if not prefix and tf_type == "var" else f"{prefix}{tf_type}.{label}")
    return written


def _evaluated_references(node: Any, paths: dict[str, str]) -> set[str]:
    """The addresses of what tfparse read as references in a block and its nested blocks: those it resolved (by
    the id of the block they name) and those it left to apply (`{"__attribute__": "type.label.attr"}`)."""
    if isinstance(node, list):
        return {ref for item in node for ref in _evaluated_references(item, paths)}
    if not isinstance(node, dict):
        return set()
    if "__attribute__" in node:
        parts = node["__attribute__"].split(".")
        return {".".join(parts[: 3 if parts[0] == "data" else 2])}
    own = {paths.get(ref["id"], ref["id"]) for ref in node.get("__tfmeta", {}).get("references", [])}
    return own.union(*(_evaluated_references(v, paths) for k, v in node.items() if k != "__tfmeta"))


def _unresolved(path: str, document: dict[str, Any], recorded: dict[str, Any]) -> list[str]:
    """A problem unless `path` (`type.label.attr[.[0].nested]`) ends in a value the configuration leaves to the
    cloud: its first attribute is one the type has, and somewhere down the path a key is not set."""
    parts = path.split(".")
    prefix, parts = ("data.", parts[1:]) if parts[0] == "data" else ("", parts)
    tf_type, label, steps = parts[0], parts[1], [step for step in parts[2:] if not step.startswith("[")]
    node: Any = document.get("data" if prefix else "resource", {}).get(tf_type, {}).get(label)
    if node is None:
        return [f"{path}: unresolved, and {prefix}{tf_type}.{label} is not declared"]
    if not steps or steps[0] not in recorded["schemas"].get(f"{prefix}{tf_type}", {}).get("attributes", []):
        return [f"{path}: unresolved, and not an attribute of {prefix}{tf_type}"]
    for step in steps:
        node = node[0] if isinstance(node, list) and node else node
        if not isinstance(node, dict) or step not in node:
            return []  # known only after apply
        node = node[step]
    return [f"{path}: unresolved, though main.tf sets it"]
