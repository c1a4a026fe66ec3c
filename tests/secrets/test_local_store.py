"""The local secret store (`portable-fn secrets set --provider local` writes it, mode 0600, replaced whole)
and the local backend the dev host's functions read it through, per stage, seeing a change at once."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from portable_fn.app import load_app
from portable_fn.local.provider import LocalProvider
from portable_fn.provider import Provider
from portable_fn.runtime.errors import ProviderError
from portable_fn.runtime.secrets import Secret, SecretError, SecretNotFoundError
from portable_fn.runtime.secrets_file import FileBackend
from portable_fn.secrets import LocalSecretStore, SecretInfo

from .conftest import Clock

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")


@pytest.fixture
def local_env(monkeypatch: pytest.MonkeyPatch, keyed: Path) -> Path:
    """The environment the dev host gives the keyed app's functions (stage dev); its state directory."""
    state_dir = keyed / ".portable-fn" / "local"
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "local")
    monkeypatch.setenv("PORTABLE_FN_STAGE", "dev")
    monkeypatch.setenv("PORTABLE_FN_STATE_DIR", str(state_dir))
    monkeypatch.delenv("PORTABLE_FN_SECRETS", raising=False)
    return state_dir


def test_the_local_provider_keeps_secrets_in_the_dev_state_directory(keyed: Path) -> None:
    store = LocalProvider().secret_store(load_app(keyed), "dev")
    assert isinstance(store, LocalSecretStore)
    assert (store.path, store.stage) == (keyed / ".portable-fn" / "local" / "secrets.json", "dev")


def test_each_set_is_a_new_version_in_a_file_only_its_owner_reads(keyed: Path) -> None:
    store = LocalSecretStore.of(load_app(keyed), "dev")
    assert [store.set("stripe-key", "sk_live_one"), store.set("stripe-key", "sk_live_two")] == ["1", "2"]
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    document = json.loads(store.path.read_text())
    entry = document["stages"]["dev"]["stripe-key"]
    assert (document["format"], entry["value"], entry["version"]) == (1, "sk_live_two", "2")
    assert ISO_UTC.match(entry["updated"])
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["secrets.json"]  # no temporary file left


def test_list_shows_names_versions_and_times_never_values(keyed: Path) -> None:
    store = LocalSecretStore.of(load_app(keyed), "dev")
    store.set("webhook-key", "wh_secret_1")
    store.set("stripe-key", "sk_live_one")
    listed = store.list()
    assert [(i.name, i.version) for i in listed] == [("stripe-key", "1"), ("webhook-key", "1")]
    assert all(isinstance(i, SecretInfo) and ISO_UTC.match(i.updated or "") for i in listed)
    assert "sk_live_one" not in repr(listed)


def test_stages_are_kept_apart(keyed: Path) -> None:
    app = load_app(keyed)
    LocalSecretStore.of(app, "qa").set("stripe-key", "sk_test_qa")
    assert LocalSecretStore.of(app, "dev").list() == []
    assert [i.name for i in LocalSecretStore.of(app, "qa").list()] == ["stripe-key"]


def test_remove_deletes_the_secret_and_says_whether_there_was_one(keyed: Path) -> None:
    store = LocalSecretStore.of(load_app(keyed), "dev")
    store.set("stripe-key", "sk_live_one")
    assert store.remove("stripe-key") is True
    assert store.remove("stripe-key") is False
    assert store.list() == []
    assert json.loads(store.path.read_text())["stages"] == {}


def test_a_function_reads_the_value_set_and_a_new_one_once_max_age_passed(keyed: Path, local_env: Path) -> None:
    store, clock = LocalSecretStore.of(load_app(keyed), "dev"), Clock()
    store.set("stripe-key", "sk_live_one")
    key = Secret("stripe-key", max_age=60, clock=clock)
    assert (key.value, key.version) == ("sk_live_one", "1")
    store.set("stripe-key", "sk_live_two")
    assert key.value == "sk_live_one"
    clock.advance(60)
    assert (key.value, key.version) == ("sk_live_two", "2")


def test_the_backend_reads_the_file_again_only_when_it_changed(keyed: Path, local_env: Path) -> None:
    store = LocalSecretStore.of(load_app(keyed), "dev")
    store.set("stripe-key", "sk_live_one")
    backend = FileBackend()
    assert backend.fetch("stripe-key") == ("sk_live_one", "1")
    seen = dict(backend._seen)
    assert backend.fetch("stripe-key") == ("sk_live_one", "1")
    assert backend._seen == seen  # the same document, not read again
    store.set("stripe-key", "sk_live_two")
    assert backend.fetch("stripe-key") == ("sk_live_two", "2")


def test_a_secret_set_for_another_stage_is_not_found(keyed: Path, local_env: Path) -> None:
    LocalSecretStore.of(load_app(keyed), "qa").set("stripe-key", "sk_test_qa")
    with pytest.raises(SecretNotFoundError) as raised:
        Secret("stripe-key").value  # noqa: B018
    assert str(raised.value) == (
        f"Secret 'stripe-key' has no value in the local secrets file {local_env / 'secrets.json'} (stage 'dev'). "
        "Set it with `portable-fn secrets set stripe-key --provider local --stage dev` (the value is read from "
        "stdin or a prompt); the function reads it on its next attempt."
    )


def test_portable_fn_secrets_names_another_file(
    tmp_path: Path, local_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = LocalSecretStore(tmp_path / "elsewhere" / "secrets.json", "dev")
    elsewhere.set("stripe-key", "sk_live_elsewhere")
    monkeypatch.setenv("PORTABLE_FN_SECRETS", str(elsewhere.path))
    assert Secret("stripe-key").value == "sk_live_elsewhere"


def test_a_file_no_store_wrote_is_an_error_that_shows_none_of_it(local_env: Path) -> None:
    local_env.mkdir(parents=True)
    (local_env / "secrets.json").write_text('{"stripe-key": "sk_live_typed_by_hand"')
    with pytest.raises(SecretError) as raised:
        Secret("stripe-key").value  # noqa: B018
    assert "sk_live_typed_by_hand" not in str(raised.value)
    assert str(raised.value).startswith(f"The local secrets file {local_env / 'secrets.json'} cannot be read (")


def test_a_provider_without_a_store_says_so(keyed: Path) -> None:
    class Bare(Provider):
        name = "bare"

    with pytest.raises(ProviderError) as raised:
        Bare().secret_store(load_app(keyed), "dev")
    assert str(raised.value) == (
        "Provider 'bare' keeps no secrets. Give --provider local, aws, gcp or azure, or a provider that "
        "implements `secret_store`."
    )
