"""`portable-fn secrets set|list|remove --provider gcp` (`GcpProvider.secret_store`): the official Secret Manager
client against the recording endpoint, which holds every request to secretmanager.v1's Discovery document. A
set makes the secret once (replicated automatically, labelled) and adds a version; list reads the app and stage's
secrets with their latest version; remove deletes the secret; the function reads what was set."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from portable_fn_gcp.provider import GcpProvider
from portable_fn_gcp.secrets import ENDPOINT_ENV, SecretManagerBackend

from portable_fn.secrets import SecretInfo

PROJECT = "shop-project"


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
