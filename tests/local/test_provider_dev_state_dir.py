"""The local provider reads what `portable-fn dev --state-dir DIR` keeps once told DIR (`use_dev_state_dir`,
`commands.dev_state`): its kept logs, its secrets; a cloud provider refuses --state-dir."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from portable_fn.app import load_app
from portable_fn.cli import UsageError
from portable_fn.commands.dev_state import use_state_dir
from portable_fn.local.function_logs import KEPT
from portable_fn.local.provider import LocalProvider
from portable_fn.logread import LogsError
from portable_fn.provider import load_provider

from ..app_copy import copy_app

SHOP = Path(__file__).resolve().parents[2] / "samples" / "shop"
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


def test_the_local_provider_reads_the_state_dir_it_is_given(tmp_path: Path) -> None:
    app = load_app(copy_app(SHOP, tmp_path))
    state = tmp_path / "elsewhere"
    state.mkdir()
    line = {"time": "2026-12-01T10:00:00.000Z", "function": "fulfil", "stage": "dev", "level": "INFO", "message": "m"}
    (state / KEPT).write_text(json.dumps(line) + "\n", encoding="utf-8")
    provider = LocalProvider()
    with pytest.raises(LogsError, match="has kept no logs in "):
        provider.read_logs(app, "dev", [app.function("fulfil")], EPOCH)  # the app's own directory: nothing
    use_state_dir(provider, str(state))
    assert provider.dev_dir(app) == state
    assert [e.message for e in provider.read_logs(app, "dev", [app.function("fulfil")], EPOCH)] == ["m"]
    store = provider.secret_store(app, "dev")
    store.set("stripe-key", "sk_test")
    assert store.path == state / "secrets.json" and store.path.exists()


def test_a_cloud_provider_refuses_a_state_dir(tmp_path: Path) -> None:
    provider = load_provider("aws", {"region": "eu-west-1"})
    with pytest.raises(UsageError, match="^--state-dir names a dev host's state directory.*aws keeps it in the cloud"):
        use_state_dir(provider, str(tmp_path))
    use_state_dir(provider, None)  # no --state-dir: nothing to refuse
