"""What an export is: the files a provider writes for an infrastructure-as-code tool, and what it left out.

`portable-fn export` writes an `Export` (`write_export`): its text files, the zips they refer to copied
beside them, and its notes printed, so a team can take an app over into its own pipeline.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..runtime.errors import ProviderError


@dataclass(frozen=True)
class Export:
    """One app and stage as files for one tool (`format`): `files` maps a path relative to the output
    directory to its text, `artifacts` a relative path the files refer to (a function's zip) to the built
    file copied there, and `notes` say what could not be exported and why (the files say it too)."""

    provider: str
    format: str
    files: dict[str, str]
    artifacts: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "format": self.format,
            "files": sorted(self.files),
            "artifacts": sorted(self.artifacts),
            "notes": self.notes,
        }


def write_export(export: Export, out_dir: Path) -> list[Path]:
    """Write the export's files and copy its artifacts under `out_dir`; return what was written, sorted.
    Files from an earlier export that this one does not write are left alone."""
    written: list[Path] = []
    for relative, text in export.files.items():
        written.append(_place(out_dir, relative))
        written[-1].write_text(text, encoding="utf-8")
    for relative, source in export.artifacts.items():
        written.append(_place(out_dir, relative))
        shutil.copyfile(source, written[-1])
    return sorted(written)


def _place(out_dir: Path, relative: str) -> Path:
    path = out_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def unsupported_format(provider: str, fmt: str, formats: Sequence[str]) -> ProviderError:
    """The error for a format `provider` does not export, naming those it does (or what to use instead)."""
    if not formats:
        return ProviderError(
            f"Provider {provider!r} has nothing to export as infrastructure as code: its functions run on "
            "this machine. Export for a cloud instead: portable-fn export --provider aws|gcp|azure "
            "--format terraform."
        )
    return ProviderError(
        f"Provider {provider!r} cannot export --format {fmt}; it exports {', '.join(formats)}. "
        f"Run portable-fn export --provider {provider} --format {formats[0]}."
    )
