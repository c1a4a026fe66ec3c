"""A dev host run with `--state-dir DIR` reads `DIR/secrets.json`: `portable-fn secrets set|list|remove
--state-dir DIR` keep the secrets there (the local provider only), and `portable-fn dev --state-dir DIR`
that finds none there but finds the app's default secrets file says so on start (`local.secrets_notice`)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from portable_fn.app import load_app
from portable_fn.cli import UsageError
from portable_fn.local import secrets_notice

from ..dev_process import DevProcess
from .test_cli import secrets_cli, stored
from .test_dev import call

VALUE = "sk_live_KeptInTheStateDir0001"


def in_dir(state_dir: Path, stage: str = "dev") -> dict[str, dict[str, str]]:
    document = json.loads((state_dir / "secrets.json").read_text())
    return dict(document["stages"].get(stage, {}))


def test_set_list_and_remove_keep_the_secret_in_the_state_dir_given(keyed: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    ran = secrets_cli("set", "stripe-key", str(keyed), "--provider", "local", "--state-dir", str(state), input=VALUE)
    assert (ran.exit_code, ran.out) == (0, "")
    assert ran.err == f"Set secret stripe-key (version 1) for keyed on local (dev), in {state / 'secrets.json'}\n"
    assert in_dir(state)["stripe-key"]["value"] == VALUE
    assert not (keyed / ".portable-fn" / "local" / "secrets.json").exists()  # not the app's default file
    listed = json.loads(secrets_cli("list", str(keyed), "--state-dir", str(state), "--json").out)
    assert listed["where"] == f"the local secrets file {state / 'secrets.json'}"
    assert [(s["name"], s["set"]) for s in listed["secrets"]] == [("stripe-key", True), ("webhook-key", False)]
    ran = secrets_cli("remove", "stripe-key", str(keyed), "--state-dir", str(state))  # no terminal to confirm on
    assert str(ran.exception).endswith(
        f"run `portable-fn secrets remove stripe-key {keyed} --provider local --stage dev --state-dir {state} --yes`."
    )
    assert secrets_cli("remove", "stripe-key", str(keyed), "--state-dir", str(state), "--yes").exit_code == 0
    assert in_dir(state) == {}


def test_state_dir_is_for_the_local_provider_only(keyed: Path, tmp_path: Path) -> None:
    ran = secrets_cli("list", str(keyed), "--provider", "gcp", "--state-dir", str(tmp_path))
    assert isinstance(ran.exception, UsageError)
    assert str(ran.exception) == (
        "--state-dir names a dev host's state directory, where the local provider keeps its data; gcp keeps it "
        "in the cloud. Drop --state-dir, or use --provider local."
    )


def test_the_notice_names_both_files_when_only_the_default_one_holds_secrets(keyed: Path, tmp_path: Path) -> None:
    app, state = load_app(keyed), tmp_path / "state"
    default = keyed / ".portable-fn" / "local"
    assert secrets_notice(app, state) is None  # no secrets anywhere: nothing to say
    assert secrets_cli("set", "stripe-key", str(keyed), input=VALUE).exit_code == 0
    assert stored(keyed)["stripe-key"]["value"] == VALUE
    assert secrets_notice(app, state) == (
        f"note: no secrets file in the state directory ({state / 'secrets.json'}), but {default / 'secrets.json'} "
        "holds the app's local secrets, which functions here will not find; set them for this directory with "
        f"`portable-fn secrets set NAME {keyed} --provider local --state-dir {state}` (or copy the file there)."
    )
    assert secrets_notice(app, default) is None  # the default directory itself
    assert secrets_cli("set", "stripe-key", str(keyed), "--state-dir", str(state), input=VALUE).exit_code == 0
    assert secrets_notice(app, state) is None  # the state directory has its own


@pytest.mark.slow  # `portable-fn dev` in a process of its own
def test_dev_with_a_state_dir_serves_the_secret_set_there(keyed: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert secrets_cli("set", "stripe-key", str(keyed), "--state-dir", str(state), input=VALUE).exit_code == 0
    dev = DevProcess(keyed, state, tmp_path / "dev.log", env={"NO_COLOR": "1"})
    try:
        digest = hashlib.sha256(VALUE.encode()).hexdigest()
        assert call(dev.url() + "/charge") == (200, {"sha256": digest, "version": "1"})
    finally:
        dev.stop()
    assert VALUE not in dev.text()


@pytest.mark.slow  # `portable-fn dev` in a process of its own
def test_dev_with_a_state_dir_without_secrets_says_where_the_apps_secrets_are(keyed: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert secrets_cli("set", "stripe-key", str(keyed), input=VALUE).exit_code == 0  # the app's default file
    dev = DevProcess(keyed, state, tmp_path / "dev.log", env={"NO_COLOR": "1"})
    try:
        dev.url()  # serving: the notice came before
    finally:
        dev.stop()
    notice = secrets_notice(load_app(keyed), state)
    assert notice is not None and notice in " ".join(dev.text().split())
    assert VALUE not in dev.text()
