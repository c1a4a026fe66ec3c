"""Infrastructure as code from the resources the planner deploys: `portable-fn export`.

A provider's `export(app, stage, artifact, fmt)` returns an `Export`; Terraform exports build a
`TerraformDocument` with a `TerraformBuilder` and write it with `render` as `main.tf` (`terraform_export`).
"""

from __future__ import annotations

from pathlib import Path

from .hcl import TerraformDocument, render
from .models import Export, unsupported_format, write_export
from .terraform import TerraformBuilder

TERRAFORM = "terraform"
TERRAFORM_FILE = "main.tf"

__all__ = [
    "TERRAFORM",
    "TERRAFORM_FILE",
    "Export",
    "TerraformBuilder",
    "TerraformDocument",
    "render",
    "terraform_export",
    "unsupported_format",
    "write_export",
]


def terraform_export(
    provider: str, document: TerraformDocument, artifacts: dict[str, Path] | None = None, notes: list[str] | None = None
) -> Export:
    """An export of one Terraform document as `main.tf`, with the zips it refers to and its notes."""
    return Export(provider, TERRAFORM, {TERRAFORM_FILE: render(document)}, dict(artifacts or {}), list(notes or []))
