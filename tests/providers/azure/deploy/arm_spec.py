"""The published API descriptions the fake ARM holds every request and answer to.

For each resource provider deploy calls there is an excerpt of its OpenAPI file from
Azure/azure-rest-api-specs, for the api-version the official client sends, in tests/data/azure (see the
NOTICE there for each file's source path, commit and what was left out). A request to a namespace is
matched to one of its excerpt's paths and methods (none: refused, so a call deploy starts making is not
served until its operation is added), its body is held to the operation's body parameter, and the fake's
answer to the operation's listed status codes and response schema.

A body is checked as ARM's deserializer and validation check it: a property its schema does not define is
refused ("Could not find member ..."), a value of the wrong JSON type or outside the schema's `enum` is
refused, and a property the schema lists in `required` must be there. Read-only properties are accepted
in requests (ARM ignores them) and `null` stands for "not given". A polymorphic definition (a
`discriminator`, such as an event subscription's `destination.endpointType`) is checked as the subtype its
value names. A `$ref` to a definition the excerpt does not hold is not looked into, and a definition
deriving from one lets members it does not list through: the NOTICE says which are left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPECS = Path(__file__).resolve().parents[3] / "data/azure/azure-rest-api-specs/specification"
# namespace, as the fake ARM names it -> the excerpt of the api-version the provider's client sends (or the
# excerpts, when upstream splits the namespace's operations into several files: read as one)
EXCERPTS: dict[str, str | tuple[str, ...]] = {
    "resources": "resources/resource-manager/Microsoft.Resources/resources/stable/2025-04-01/resources.excerpt.json",
    "microsoft.storage": "storage/resource-manager/Microsoft.Storage/Storage/stable/2026-09-01/openapi.excerpt.json",
    "microsoft.web": "web/resource-manager/Microsoft.Web/AppService/stable/2025-05-01/openapi.excerpt.json",
    "microsoft.authorization": (
        "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/"
        "authorization-RoleAssignmentsCalls.excerpt.json",
        "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/"
        "authorization-RoleDefinitionsCalls.excerpt.json",
    ),
    "microsoft.eventgrid": (
        "eventgrid/resource-manager/Microsoft.EventGrid/EventGrid/stable/2025-02-15/openapi.excerpt.json"
    ),
    "microsoft.keyvault": (
        "keyvault/resource-manager/Microsoft.KeyVault/KeyVault/stable/2026-05-15/openapi.excerpt.json"
    ),
    "microsoft.servicebus": (
        "servicebus/resource-manager/Microsoft.ServiceBus/stable/2021-11-01/servicebus.excerpt.json"
    ),
    "microsoft.managedidentity": (
        "msi/resource-manager/Microsoft.ManagedIdentity/stable/2023-01-31/ManagedIdentity.excerpt.json"
    ),
}
# common-types/resource-management/v5/types.json, which the excerpts' resources derive from
COMMON = {
    "TrackedResource": {
        "properties": {
            "id": {"type": "string", "readOnly": True},
            "name": {"type": "string", "readOnly": True},
            "type": {"type": "string", "readOnly": True},
            "systemData": {"type": "object", "readOnly": True},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            "location": {"type": "string"},
        },
        "required": ["location"],
    },
    "ProxyResource": {
        "properties": {
            "id": {"type": "string", "readOnly": True},
            "name": {"type": "string", "readOnly": True},
            "type": {"type": "string", "readOnly": True},
            "systemData": {"type": "object", "readOnly": True},
        }
    },
}
COMMON["Resource"] = COMMON["ProxyResource"]
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "array": (list,),
    "object": (dict,),
}


class SpecViolation(Exception):
    """A request the published description refuses: `code` and `message` as ARM would answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Operation:
    namespace: str
    template: str
    method: str
    spec: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.spec["operationId"])


class Spec:
    """One namespace's excerpt: its paths as patterns, and its definitions."""

    def __init__(self, namespace: str, *paths: Path) -> None:
        self.namespace = namespace
        self.document = json.loads(paths[0].read_text())
        for more in paths[1:]:  # the namespace's other files: their paths and definitions beside the first's
            other = json.loads(more.read_text())
            self.document["paths"].update(other["paths"])
            self.document["definitions"].update(other["definitions"])
        self.patterns = [
            (re.compile(pattern_of(template), re.IGNORECASE), template) for template in self.document["paths"]
        ]

    def operation(self, method: str, path: str) -> Operation:
        for pattern, template in self.patterns:
            if pattern.fullmatch(path):
                found = self.document["paths"][template].get(method.lower())
                if found is None:
                    raise SpecViolation(405, "MethodNotAllowed", f"The spec defines no {method} on {template}.")
                return Operation(self.namespace, template, method.lower(), found)
        raise SpecViolation(
            404,
            "NoRegisteredProviderFound",
            f"{method} {path} is not an operation of the {self.namespace} excerpt ({self.version}).",
        )

    @property
    def version(self) -> str:
        return str(self.document["info"]["version"])

    def definition(self, ref: str) -> dict[str, Any] | None:
        name = ref.rsplit("/", 1)[-1]
        if not ref.startswith("#/"):
            return COMMON.get(name)
        found = self.document["definitions"].get(name)
        return None if found is None else dict(found, name=name)


def pattern_of(template: str) -> str:
    """A path template as a regular expression: `{scope}` is any path, other parameters one segment."""
    parts = re.split(r"(\{[^}]+\})", template)
    return "".join((".+" if p == "{scope}" else "[^/]+") if p.startswith("{") else re.escape(p) for p in parts if p)


_LOADED: dict[str, Spec] = {}


def spec(namespace: str) -> Spec | None:
    if namespace not in EXCERPTS:
        return None
    if namespace not in _LOADED:
        files = EXCERPTS[namespace]
        _LOADED[namespace] = Spec(namespace, *(SPECS / f for f in ((files,) if isinstance(files, str) else files)))
    return _LOADED[namespace]


def check_request(operation: Operation, body: Any) -> None:
    """The request body held to the operation's body parameter (none: no body at all)."""
    owner = spec(operation.namespace)
    assert owner is not None
    parameter = next((p for p in operation.spec.get("parameters", []) if p.get("in") == "body"), None)
    if parameter is None:
        if body is not None:
            given = sorted(body) if isinstance(body, dict) else type(body).__name__
            raise SpecViolation(
                400,
                "InvalidRequestContent",
                f"{operation.operation_id} takes no request body "
                "(the spec defines no body parameter); the request had "
                f"{given}.",
            )
        return
    if body is None:
        if parameter.get("required"):
            raise SpecViolation(
                400,
                "InvalidRequestContent",
                f"{operation.operation_id} needs a request body ('{parameter['name']}' is required).",
            )
        return
    Checker(owner, request=True).value(body, parameter["schema"], "")


def check_response(operation: Operation, status: int, body: Any) -> None:
    """The fake's own answer held to the operation's responses: a listed status, a body of its schema."""
    owner = spec(operation.namespace)
    assert owner is not None
    responses = operation.spec["responses"]
    if str(status) not in responses:
        listed = sorted(k for k in responses if k != "default")
        raise SpecViolation(
            500,
            "FakeAnswerNotInSpec",
            f"The fake answered {operation.operation_id} with {status}; the spec lists {listed}.",
        )
    schema = responses[str(status)].get("schema")
    if schema and body is not None:
        try:
            Checker(owner, request=False).value(body, schema, "")
        except SpecViolation as exc:
            raise SpecViolation(
                500,
                "FakeAnswerNotInSpec",
                f"The fake's answer to {operation.operation_id} is not of its schema: {exc.message}",
            ) from None


class Checker:
    """Walks a value along its schema. Requests are held to `required` too; answers only to names and types."""

    def __init__(self, owner: Spec, request: bool) -> None:
        self.owner = owner
        self.request = request

    def value(self, value: Any, schema: dict[str, Any], where: str) -> None:
        if value is None:
            return
        if "$ref" in schema:
            definition = self.owner.definition(schema["$ref"])
            if definition is not None:
                self.value(value, {**{k: v for k, v in schema.items() if k != "$ref"}, **definition}, where)
            return
        kind = schema.get("type") or ("object" if "properties" in schema or "allOf" in schema else None)
        if kind and not (
            isinstance(value, JSON_TYPES[kind]) and not (kind in ("integer", "number") and isinstance(value, bool))
        ):
            raise SpecViolation(
                400,
                "InvalidRequestContent",
                (
                    f"The request content was invalid and could not be deserialized: 'Error converting value "
                    f"{json.dumps(value)} to type '{kind}'. Path '{where.rstrip('.')}'.'"
                ),
            )
        if "enum" in schema and value not in schema["enum"]:
            raise SpecViolation(
                400,
                "InvalidRequestContent",
                (
                    f"The value {json.dumps(value)} at '{where.rstrip('.')}' is not one of the values the spec allows "
                    f"for {schema.get('x-ms-enum', {}).get('name') or schema.get('name') or 'it'}: "
                    f"{', '.join(schema['enum'])}."
                ),
            )
        if kind == "array":
            for index, item in enumerate(value):
                self.value(item, schema.get("items") or {}, f"{where.rstrip('.')}[{index}].")
        elif kind == "object":
            self.object(value, schema, where)

    def object(self, value: dict[str, Any], schema: dict[str, Any], where: str) -> None:
        if "discriminator" in schema:
            schema, held = self.subtype(schema, value.get(schema["discriminator"]))
        else:
            held = True
        properties, required, complete = self.members(schema)
        extra = schema.get("additionalProperties")
        name = schema.get("name") or "object"
        for key, item in value.items():
            if key in properties:
                self.value(item, properties[key], f"{where}{key}.")
            elif isinstance(extra, dict):
                self.value(item, extra, f"{where}{key}.")
            elif properties and extra is not True and complete and held:
                raise SpecViolation(
                    400,
                    "InvalidRequestContent",
                    (
                        "The request content was invalid and could not be deserialized: 'Could not find member "
                        f"'{key}' on object of type '{name}'. Path '{where}{key}'.'"
                    ),
                )
        if self.request:
            for key in required:
                if value.get(key) is None and not properties.get(key, {}).get("readOnly"):
                    raise SpecViolation(
                        400,
                        "InvalidRequestContent",
                        (
                            f"The request body has no '{where}{key}', which {name} requires (the spec lists it in "
                            "`required`)."
                        ),
                    )

    def subtype(self, schema: dict[str, Any], kind: Any) -> tuple[dict[str, Any], bool]:
        """The definition deriving from `schema` whose `x-ms-discriminator-value` is `kind`, and whether the
        excerpt holds it (if not, only the base's own members are checked)."""
        base = f"#/definitions/{schema.get('name')}"
        for name, found in self.owner.document["definitions"].items():
            if found.get("x-ms-discriminator-value") == kind and {"$ref": base} in found.get("allOf", []):
                return dict(found, name=name), True
        return schema, False

    def members(self, schema: dict[str, Any]) -> tuple[dict[str, Any], list[str], bool]:
        """A schema's properties and required names, its own and its allOf parents', and whether the excerpt
        holds every parent (if not, members it does not list are let through: they may be the parent's)."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        complete = True
        for parent in schema.get("allOf", []):
            definition = self.owner.definition(parent["$ref"]) if "$ref" in parent else parent
            if definition is None:
                complete = False
                continue
            more, needed, whole = self.members(definition)
            properties.update(more)
            required += needed
            complete = complete and whole
        return ({**properties, **schema.get("properties", {})}, required + list(schema.get("required", [])), complete)
