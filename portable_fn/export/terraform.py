"""A Terraform document being built from a provider's desired resources: what every provider's exporter shares.

A provider's builder subclasses `TerraformBuilder`. It declares resources by Terraform type and label (`add`),
data sources and outputs, keeps the notes, and turns the literal ids its resources name each other by into
Terraform references (`ids`, `ref`), so Terraform orders the resources itself; `document` assembles them in
the shape of Terraform's JSON syntax, which `hcl.render` writes as `main.tf`. A label is the resource's name
in snake case (`identifier`) less what every name of the app holds (the provider's `short`), stable per name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..runtime.errors import DeployError
from .hcl import COMMENT, TerraformDocument

if TYPE_CHECKING:
    from ..deploy import Resource

Body = dict[str, Any]
NOT_IDENTIFIER = re.compile(r"[^a-z0-9_]+")
Builder = TypeVar("Builder", bound="TerraformBuilder")


def identifier(short: str) -> str:
    """A Terraform label (letters, digits, underscores; a letter first) from a short name, in snake case."""
    label = NOT_IDENTIFIER.sub("_", short.lower()).strip("_") or "app"
    return label if label[0].isalpha() else f"r_{label}"


@dataclass(kw_only=True)
class TerraformBuilder:
    """The document being built: resources and data sources by type and label, outputs, notes, and the
    literal ids of what is in it (`ids`), so a value naming one becomes a reference."""

    resources: dict[str, dict[str, Body]] = field(default_factory=dict)
    data: dict[str, dict[str, Body]] = field(default_factory=dict)
    outputs: dict[str, Body] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # literal id, URL or marker -> its reference
    labels_of: dict[tuple[str, str], str] = field(default_factory=dict)  # (Terraform type, name) -> its label

    def short(self, tf_type: str, name: str) -> str:
        """What of `name` its label is made of; a provider drops what every name of the app holds."""
        return name

    def label(self, tf_type: str, name: str) -> str:
        """The Terraform label of `name` among `tf_type`'s: its `short` in snake case, with a short hash when
        another name folds to the same; the same label every time it is asked."""
        if (tf_type, name) in self.labels_of:
            return self.labels_of[(tf_type, name)]
        label = identifier(self.short(tf_type, name))
        if label in {taken for (kind, _), taken in self.labels_of.items() if kind == tf_type}:
            label = f"{label}_{hashlib.sha256(name.encode()).hexdigest()[:6]}"
        self.labels_of[(tf_type, name)] = label
        return label

    def stem(self, tf_type: str, name: str) -> str:
        """The reference stem (`type.label`) of the resource named `name`."""
        return f"{tf_type}.{self.label(tf_type, name)}"

    def add(self, tf_type: str, name: str, body: Body, what: str = "") -> str:
        """Declare the resource named `name`, `what` it is as a comment; return its reference stem."""
        return self.declare(tf_type, self.label(tf_type, name), body, what)

    def declare(self, tf_type: str, label: str, body: Body, what: str = "") -> str:
        """Declare a resource under `label`; return its reference stem (`type.label`)."""
        self.resources.setdefault(tf_type, {})[label] = {COMMENT: [what], **body} if what else body
        return f"{tf_type}.{label}"

    def source(self, tf_type: str, label: str) -> str:
        """A data source with no arguments; its reference stem (`data.type.label`)."""
        self.data.setdefault(tf_type, {})[label] = {}
        return f"data.{tf_type}.{label}"

    def ref(self, value: str) -> str:
        """`value` with an id, URL or marker of the document replaced by its reference, also where it starts a
        longer value (followed by `/`, or ending in `/` or `:` itself), the longest first."""
        for literal in sorted(self.ids, key=len, reverse=True):
            if value == literal or (value.startswith(literal) and (literal[-1] in "/:" or value[len(literal)] == "/")):
                return self.ids[literal] + value[len(literal) :]
        return value

    def write(
        self: Builder,
        resources: Iterable[Resource],
        exporters: Mapping[type[Resource], Callable[[Builder, Any], None]],
        *,
        where: str,
        table: str,
    ) -> None:
        """Each resource through the exporter of its type; a type without one is an error saying `where` it
        happened and naming the `table` of exporters (so a new kind of resource cannot be left out unnoticed)."""
        for resource in resources:
            exporter = exporters.get(type(resource))
            if exporter is None:
                raise DeployError(
                    f"{where}: resources of kind {resource.kind!r} have no exporter. Add one to {table} "
                    "(or a note saying why it cannot be exported)."
                )
            exporter(self, resource)

    def document(
        self, provider: str, source: Body, configuration: Body, variables: Body | None = None
    ) -> TerraformDocument:
        """The document for the Terraform provider `provider` of `source` (its registry address and version),
        configured by `configuration`: then the variables, data sources, resources and outputs, in that order."""
        document: TerraformDocument = {
            "terraform": {"required_providers": [{provider: dict(source)}]},
            "provider": {provider: configuration},
        }
        if variables:
            document["variable"] = variables
        if self.data:
            document["data"] = self.data
        document["resource"] = self.resources
        if self.outputs:
            document["output"] = self.outputs
        return document
