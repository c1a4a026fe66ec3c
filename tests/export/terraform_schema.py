"""What a Terraform provider accepts, recorded from its prebuilt CDKTF bindings, and a check against it.

No Terraform binary or provider plugin can be fetched here, but PyPI serves the CDK for Terraform's
prebuilt providers (`cdktf-cdktf-provider-aws`, `-google`, `-azurerm`), generated from each provider's
own schema: their jsii assembly names every resource type, its arguments, nested blocks and attributes.
`record` keeps what the exports use in a small JSON file (the wheel is 60 MB, so the tests read the file):

    pip download --no-deps -d /tmp/wheels cdktf-cdktf-provider-aws==21.22.1
    python -m tests.export.terraform_schema /tmp/wheels/cdktf_cdktf_provider_aws-21.22.1-py3-none-any.whl \\
        tests/export/data/hashicorp_aws.json aws_lambda_function aws_sqs_queue ...

`problems(document, schema)` lists what a Terraform document uses that the provider does not have: a
resource or data source type, an argument or nested block, or an attribute a reference reads.
"""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

REGISTRY_DOC = re.compile(
    r"registry\.terraform\.io/providers/([^/]+/[^/]+)/([^/]+)/docs/(resources|data-sources)/(\w+)"
)
REFERENCE = re.compile(r"\$\{([^{}]*)\}")
ADDRESS = re.compile(r"^(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)(?:\.([a-z0-9_]+))?")
META = {"depends_on", "count", "for_each", "provider", "lifecycle"}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def assembly(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as outer:
        inner = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(inner))) as tar:
            member = tar.extractfile("package/.jsii")
            assert member is not None
            return dict(json.load(member))


def record(wheel: Path, out: Path, used: list[str]) -> None:
    """Write the provider's type names, and the arguments and attributes of the `used` types, to `out`."""
    types = assembly(wheel)["types"]
    found: dict[tuple[str, str], str] = {}  # (resources|data-sources, type) -> fqn of its class
    provider = version = ""
    for fqn, spec in types.items():
        match = REGISTRY_DOC.search(spec.get("docs", {}).get("summary", ""))
        if spec.get("kind") == "class" and match and fqn + "Config" in types:
            provider, version = match.group(1), match.group(2)
            found[(match.group(3), f"{provider.split('/')[1]}_{match.group(4)}")] = fqn
    detail = {}
    for (section, name), fqn in sorted(found.items()):
        if name in used:
            attributes = [snake(p["name"]) for p in types[fqn].get("properties", []) if not p["name"].endswith("Input")]
            detail[f"{section}/{name}"] = {
                "arguments": _arguments(types, fqn + "Config"),
                "attributes": sorted(set(attributes) - {"tf_resource_type"}),
            }
    data = {
        "source": f"the jsii assembly of the PyPI wheel {wheel.name} (CDK for Terraform's prebuilt provider), "
        f"generated from the {provider} {version} provider schema; https://registry.terraform.io/providers/"
        f"{provider}/{version}/docs",
        "provider": provider,
        "version": version,
        "resources": sorted(n for s, n in found if s == "resources"),
        "data_sources": sorted(n for s, n in found if s == "data-sources"),
        "detail": detail,
    }
    out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _arguments(types: dict[str, Any], fqn: str) -> dict[str, Any]:
    """Argument name -> None, or the arguments of its nested block."""
    out: dict[str, Any] = {}
    for prop in types[fqn].get("properties", []):
        block = _block_fqn(prop["type"])
        out[snake(prop["name"])] = _arguments(types, block) if block and block in types else None
    return out


def _block_fqn(kind: dict[str, Any]) -> str | None:
    if "fqn" in kind and not kind["fqn"].startswith("cdktf."):
        return str(kind["fqn"])
    for inner in kind.get("union", {}).get("types", []) + [kind.get("collection", {}).get("elementtype", {})]:
        if inner and (found := _block_fqn(inner)):
            return found
    return None


def problems(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """What `document` (Terraform JSON shape) uses that the recorded provider does not have."""
    out: list[str] = []
    declared = {("resources", t, n) for t, by in document.get("resource", {}).items() for n in by}
    declared |= {("data-sources", t, n) for t, by in document.get("data", {}).items() for n in by}
    for section, key, known in (("resources", "resource", "resources"), ("data-sources", "data", "data_sources")):
        for kind, by_name in document.get(key, {}).items():
            if kind not in schema[known]:
                out.append(f"{key} type {kind} is not one of {schema['provider']} {schema['version']}'s")
                continue
            detail = schema["detail"].get(f"{section}/{kind}")
            for name, body in by_name.items():
                where = f"{kind}.{name}"
                if detail is None:
                    out.append(f"{where}: no recorded arguments for {kind}; record it")
                    continue
                out += _unknown(body, detail["arguments"], where)
    for text in _strings(document):
        for expression in REFERENCE.findall(text):
            out += _reference(expression, declared, document, schema)
    return out


def _unknown(body: dict[str, Any], arguments: dict[str, Any], where: str) -> list[str]:
    out = []
    for name, value in body.items():
        if name in META or name == "//":
            continue
        if name not in arguments:
            out.append(f"{where}: {name} is not an argument or block of it")
        elif arguments[name] is not None and not isinstance(value, list):
            out.append(f"{where}: {name} is a nested block, written as a value")
        elif arguments[name] is not None:
            for block in value:
                out += _unknown(block, arguments[name], f"{where}.{name}")
    return out


def _reference(
    expression: str, declared: set[tuple[str, str, str]], document: dict[str, Any], schema: dict[str, Any]
) -> list[str]:
    if expression.startswith(("var.", "path.", "local.")):
        head = expression.split(".")[1]
        if expression.startswith("var.") and head not in document.get("variable", {}):
            return [f"${{{expression}}}: no variable {head}"]
        return []
    match = ADDRESS.match(expression)
    if not match:
        return [f"${{{expression}}}: not a reference this check reads"]
    section = "data-sources" if match.group(1) else "resources"
    kind, name, attribute = match.group(2), match.group(3), match.group(4)
    if (section, kind, name) not in declared:
        return [f"${{{expression}}}: {kind}.{name} is not declared"]
    detail = schema["detail"].get(f"{section}/{kind}")
    if attribute and detail and attribute not in detail["attributes"]:
        return [f"${{{expression}}}: {kind} has no attribute {attribute}"]
    return []


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


if __name__ == "__main__":
    record(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
