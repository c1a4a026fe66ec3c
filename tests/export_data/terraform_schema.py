"""Checks a Terraform document against a provider's recorded schema (`google.json`, `azurerm.json` here, written by
`record_schemas.py` from the provider release it names): every resource and data source type is one the
provider has; every argument set, at every depth of nested blocks, is in that block's schema, and every required
one is set; every `${...}` reference names a resource or data source of the document and an attribute its type
has. Each problem is one line naming the resource and what is wrong.

`evaluation_problems` has the rendered `main.tf` read by HashiCorp's own HCL parser and evaluated by trivy's
Terraform evaluator (PyPI `tfparse`, cloud-custodian's binding of it): no terraform binary or provider plugin
installs offline, so this is as close to `terraform validate` as runs here."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import tfparse

HERE = Path(__file__).resolve().parent
META = {"//", "depends_on", "lifecycle", "count", "for_each", "provider"}  # Terraform's own meta-arguments
TEMPLATE = re.compile(r"\$\{([^{}]*)\}")
TRAVERSAL = re.compile(r"(?<![\w.])(data\.)?([a-z][a-z0-9_]*)\.([A-Za-z_][\w-]*)((?:\.\w+|\[\d+\])*)")
BUILT_IN = {"path", "var", "local", "module", "each", "count", "self", "terraform"}


@cache
def schema(provider: str) -> dict[str, Any]:
    return dict(json.loads((HERE / f"{provider}.json").read_text(encoding="utf-8")))


def problems(document: dict[str, Any], provider: str) -> list[str]:
    """Everything in `document` the recorded schema of `provider` does not allow."""
    recorded = schema(provider)
    found: list[str] = []
    declared = {
        (prefix, tf_type, label)
        for prefix, section in (("", "resource"), ("data.", "data"))
        for tf_type, blocks in document.get(section, {}).items()
        for label in blocks
    }
    for prefix, section, known in (("", "resource", "resource_types"), ("data.", "data", "data_source_types")):
        for tf_type, blocks in document.get(section, {}).items():
            where = f"{prefix}{tf_type}"
            if tf_type not in recorded[known]:
                found.append(f"{where}: not a {section} type of {recorded['provider']} {recorded['version']}")
                continue
            if where not in recorded["schemas"]:
                found.append(f"{where}: its schema is not recorded (add it to record_schemas.WANTED)")
                continue
            for label, body in blocks.items():
                found += _block(f"{where}.{label}", body, recorded["schemas"][where])
    for text in _strings(document):
        for expression in TEMPLATE.findall(text):
            found += _references(expression, declared, recorded)
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
        elif nested.get("arguments"):
            found.append(f"{where}: {name} is a block, written as a value")
    return found


def _references(expression: str, declared: set[tuple[str, str, str]], recorded: dict[str, Any]) -> list[str]:
    found = []
    for prefix, tf_type, label, rest in TRAVERSAL.findall(expression):
        if not prefix and tf_type in BUILT_IN:
            continue
        if (prefix, tf_type, label) not in declared:
            found.append(f"${{{expression}}}: {prefix}{tf_type}.{label} is not declared")
            continue
        attribute = re.split(r"[.\[]", rest.lstrip("."), maxsplit=1)[0]
        readable = recorded["schemas"].get(f"{prefix}{tf_type}", {}).get("attributes", [])
        if attribute and attribute not in readable:
            found.append(f"${{{expression}}}: {prefix}{tf_type} has no attribute {attribute}")
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() if k != "//" for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def evaluation_problems(main_tf: str, document: dict[str, Any], directory: Path, provider: str) -> list[str]:
    """What tfparse finds wrong in `main_tf` (written into `directory`): a resource or data source of `document` it
    did not read (a syntax error reads as nothing at all), and a reference it left unresolved that is not an
    attribute known only after apply (one `provider`'s schema has and the configuration does not set)."""
    (directory / "main.tf").write_text(main_tf, encoding="utf-8")
    loaded = tfparse.load_from_path(str(directory))
    read = {item["__tfmeta"]["path"] for items in loaded.values() for item in items}
    wanted = {
        f"{prefix}{tf_type}.{label}"
        for prefix, section in (("", "resource"), ("data.", "data"))
        for tf_type, blocks in document.get(section, {}).items()
        for label in blocks
    }
    found = [f"{path}: not read from main.tf" for path in sorted(wanted - read)]
    for path in sorted(set(re.findall(r'"__attribute__": "([^"]+)"', json.dumps(loaded, default=str)))):
        found += _unresolved(path, document, schema(provider))
    return found


def _unresolved(path: str, document: dict[str, Any], recorded: dict[str, Any]) -> list[str]:
    """A problem unless `path` (`type.label.attr[.[0].nested]`) ends in a value the configuration leaves to the
    cloud: its first attribute is one the type has, and somewhere down the path a key is not set."""
    parts = path.split(".")
    prefix, parts = ("data.", parts[1:]) if parts[0] == "data" else ("", parts)
    tf_type, label, steps = parts[0], parts[1], [step for step in parts[2:] if not step.startswith("[")]
    node: Any = document.get("data" if prefix else "resource", {}).get(tf_type, {}).get(label)
    if node is None:
        return [f"{path}: unresolved, and {prefix}{tf_type}.{label} is not declared"]
    if not steps or steps[0] not in recorded["schemas"][f"{prefix}{tf_type}"]["attributes"]:
        return [f"{path}: unresolved, and not an attribute of {prefix}{tf_type}"]
    for step in steps:
        node = node[0] if isinstance(node, list) and node else node
        if not isinstance(node, dict) or step not in node:
            return []  # known only after apply
        node = node[step]
    return [f"{path}: unresolved, though main.tf sets it"]
