"""Packaging never ships the local secrets file: a secret set with `--provider local` lives in the app's
`.portable-fn/local/secrets.json`, and no artifact of any provider holds that file or the value."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import load_app
from portable_fn.local.provider import LocalProvider

from ..test_package_credentials import build_all, shipped

VALUE = "sk_live_PackagingNeverShipsThis0001"


def _pins(requirements: Sequence[str], target: Any) -> list[str]:
    """What the resolver would pin, without asking pip: each requirement at a fixed version."""
    return [f"{re.split(r'[<>=!~ ]', r, maxsplit=1)[0]}==3.10.2" if "==" not in r else r for r in requirements]


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_no_artifact_holds_the_local_secrets_file_or_its_value(keyed: Path, tmp_path: Path) -> None:
    app = load_app(keyed)
    LocalProvider().secret_store(app, "dev").set("stripe-key", VALUE)
    LocalProvider().secret_store(app, "qa").set("webhook-key", VALUE + "-qa")
    assert (keyed / ".portable-fn" / "local" / "secrets.json").read_text().count(VALUE) == 2

    zips = build_all(keyed, tmp_path / "out", resolve=_pins)
    assert sorted(zips) == ["aws", "azure", "gcp", "local"] and all(zips.values())
    for provider, paths in zips.items():
        for path in paths:
            files = shipped(path)
            assert "keyed_api.py" in files, (provider, path)
            assert not [name for name in files if "secrets.json" in name or ".portable-fn" in name], (provider, path)
            assert not [name for name, data in files.items() if VALUE.encode() in data], (provider, path)
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert written and not [p for p in written if VALUE.encode() in p.read_bytes()]
