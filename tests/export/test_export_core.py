"""The export core: its public names, writing an export, and the error of a provider without formats."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

import portable_fn.export
from portable_fn.export import terraform_export, write_export
from portable_fn.provider import Provider
from portable_fn.runtime.errors import ProviderError


def test_all_lists_exactly_the_public_names() -> None:
    module = portable_fn.export
    public = {n for n, v in vars(module).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    assert set(module.__all__) == public - {"annotations", "Path"}
    assert module.__all__ == sorted(module.__all__, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))


def test_write_export_writes_the_files_and_copies_the_zips(tmp_path: Path) -> None:
    zip_path = tmp_path / "built.zip"
    zip_path.write_bytes(b"PK\x05\x06" + bytes(18))
    export = terraform_export("aws", {"resource": {}}, {"artifacts/shop.zip": zip_path}, ["the queue's delay"])
    written = write_export(export, tmp_path / "out")
    assert written == [tmp_path / "out" / "artifacts" / "shop.zip", tmp_path / "out" / "main.tf"]
    assert (tmp_path / "out" / "artifacts" / "shop.zip").read_bytes() == zip_path.read_bytes()
    assert (tmp_path / "out" / "main.tf").read_text() == "\n"
    assert export.to_dict() == {
        "provider": "aws",
        "format": "terraform",
        "files": ["main.tf"],
        "artifacts": ["artifacts/shop.zip"],
        "notes": ["the queue's delay"],
    }


class Formats(Provider):
    name = "formats"
    export_formats = ("terraform", "pulumi")


def test_a_provider_without_formats_says_what_to_use_instead() -> None:
    with pytest.raises(ProviderError) as raised:
        Provider().export(None, "dev", None, "terraform")  # type: ignore[arg-type]
    assert str(raised.value) == (
        "Provider '' has nothing to export as infrastructure as code: its functions run on this machine. "
        "Export for a cloud instead: portable-fn export --provider aws|gcp|azure --format terraform."
    )


def test_an_unknown_format_names_the_provider_s_formats() -> None:
    with pytest.raises(ProviderError, match=r"^Provider 'formats' cannot export --format cdk; it exports "):
        Formats().export(None, "dev", None, "cdk")  # type: ignore[arg-type]
