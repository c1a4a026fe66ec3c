"""An unknown key of `[tool.portable-fn]` with no close match is one sentence, then the valid keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from portable_fn.app import load_app
from portable_fn.runtime.errors import PortableFnError


def test_an_unknown_key_with_nothing_close_ends_its_sentence_before_the_valid_keys(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.portable-fn]\napp = "typo"\nmodules = ["m"]\nzzz = 3\n')
    with pytest.raises(PortableFnError) as raised:
        load_app(tmp_path)
    assert "tool.portable-fn.zzz: unknown key. Valid keys: app, aws, azure, cors, " in str(raised.value)
