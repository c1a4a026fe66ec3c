"""`portable-fn secrets set|list|remove --provider gcp` (`GcpProvider.secret_store`): the official Secret Manager
client against the recording endpoint, which holds every request to secretmanager.v1's Discovery document. A
set makes the secret once (replicated automatically, labelled) and adds a version; list reads the app and stage's
secrets with their latest version; remove deletes the secret; the function reads what was set."""

from __future__ import annotations

import io
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.provider import GcpProvider
from portable_fn_gcp.secrets import ENDPOINT_ENV, SecretManagerBackend

from portable_fn.cli import main
from portable_fn.secrets import SecretInfo

PROJECT = "shop-project"
SECRETIVE = Path(__file__).with_name("apps") / "secretive"


@pytest.fixture
def store(google: Any, google_server: Any, shop: Any) -> Any:
    provider = GcpProvider({"project": PROJECT, "region": "europe-west1"}, google_server.url)
    return provider.secret_store(shop, "dev")


def test_set_makes_the_secret_once_and_adds_a_version_each_time(store: Any, google: Any) -> None:
    assert store.set("stripe-key", "sk_test_1") == "1"
    assert store.set("stripe-key", "sk_test_2") == "2"
    assert google.secrets.methods() == [
        "secrets.create",
        "secrets.addVersion",
        "secrets.create",  # ALREADY_EXISTS: the secret is there, a version is added
        "secrets.addVersion",
    ]
    secret = google.secrets.secrets["shop-dev-stripe-key"]
    assert secret["replication"] == {"automatic": {}}
    assert secret["labels"] == {"portable-fn-app": "shop", "portable-fn-stage": "dev"}
    assert [v["data"] for v in google.secrets.versions["shop-dev-stripe-key"]] == [b"sk_test_1", b"sk_test_2"]
    assert google.secrets.answer_problems == []


def test_list_names_the_stage_s_secrets_that_hold_a_value(
    store: Any, google: Any, google_server: Any, shop: Any
) -> None:
    store.set("stripe-key", "a")
    store.set("stripe-key", "b")
    store.set("webhook", "c")
    store.ensure("empty")  # a secret without a version holds no value
    other = GcpProvider({"project": PROJECT, "region": "europe-west1"}, google_server.url).secret_store(shop, "prod")
    other.set("stripe-key", "d")
    found = store.list()
    assert [(i.name, i.version) for i in found] == [("stripe-key", "2"), ("webhook", "1")]
    assert all(isinstance(i, SecretInfo) and i.updated and i.updated.endswith("Z") for i in found)
    listed = [r for r in google.requests if r.path == f"/v1/projects/{PROJECT}/secrets" and r.method == "GET"]
    assert listed[0].query["filter"] == "name:shop-dev-"


def test_remove_deletes_the_secret_and_says_when_there_was_none(store: Any, google: Any) -> None:
    store.set("stripe-key", "a")
    assert store.remove("stripe-key") is True
    assert google.secrets.secrets == {}
    assert store.remove("stripe-key") is False


def test_a_value_set_is_what_the_function_reads_and_never_logged(
    store: Any, google_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="portable_fn.api"):
        store.set("stripe-key", "sk_live_value")
    reader = SecretManagerBackend(f"projects/{PROJECT}/secrets/shop-dev-", environ={ENDPOINT_ENV: google_server.url})
    assert reader.fetch("stripe-key") == ("sk_live_value", "1")
    assert [r.getMessage() for r in caplog.records] == [
        "gcp secretmanager CreateSecret projects/shop-project",
        "gcp secretmanager AddSecretVersion projects/shop-project/secrets/shop-dev-stripe-key",
    ]
    assert "sk_live_value" not in caplog.text


def test_the_cli_sets_lists_and_removes_a_secret_on_gcp(
    google: Any,
    google_server: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`portable-fn secrets` as a user runs it against the recording endpoint, the value piped in."""
    app = tmp_path / "secretive"
    shutil.copytree(SECRETIVE, app, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    common = ("--app", str(app), "--provider", "gcp", "--stage", "dev", "--endpoint-url", google_server.url)
    monkeypatch.setattr("sys.stdin", io.StringIO("sk_live_never_shown\n"))
    assert main(["secrets", "set", "stripe-key", *common]) == 0
    out, err = capsys.readouterr()
    assert "Set secret stripe-key (version 1) for secretive on gcp (dev)" in out + err
    assert "sk_live" not in out + err
    assert google.secrets.versions["secretive-dev-stripe-key"][0]["data"] == b"sk_live_never_shown"

    assert main(["secrets", "list", *common, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["where"] == f"Secret Manager in project {PROJECT} (secrets secretive-dev-*)"
    assert "sk_live" not in json.dumps(listed)
    assert [(s["name"], s["version"]) for s in listed["secrets"] if s["version"]] == [("stripe-key", "1")]

    assert main(["secrets", "remove", "stripe-key", *common, "--yes"]) == 0
    assert "Removed secret stripe-key of secretive on gcp (dev)" in "".join(capsys.readouterr())
    assert google.secrets.secrets == {}
