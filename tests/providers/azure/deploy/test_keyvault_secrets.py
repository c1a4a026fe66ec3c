"""Secrets in Key Vault through the official SDK (azure-keyvault-secrets) against the fake Key Vault, which holds
every request to the published data-plane description and plays Key Vault's bearer challenge: the CLI store
(`KeyVaultStore`: set, list, remove) and the runtime backend (`backend(locator).fetch`), a rotated value
read as its new version, a missing one a `SecretNotFoundError` naming the command that sets it."""

from __future__ import annotations

from typing import Any

import pytest
from portable_fn_azure.secret_store import KeyVaultStore
from portable_fn_azure.secrets import backend, make_client, vault_url

from portable_fn.runtime.secrets import SecretError, SecretNotFoundError
from portable_fn.secrets import SecretInfo

VAULT = "shopdevkv0a1b2c"
HOST = f"{VAULT}.vault.azure.net"


@pytest.fixture
def client(keyvault: Any, certificate: Any, helpers: Any) -> Any:
    keyvault.add_vault(HOST)
    return make_client(
        vault_url(VAULT), helpers.StaticToken(), endpoint=keyvault.url, connection_verify=str(certificate[0])
    )


@pytest.fixture
def store(client: Any) -> KeyVaultStore:
    return KeyVaultStore(client, f"the Key Vault {VAULT}")


def test_the_store_sets_lists_and_removes_and_the_sdk_answered_the_challenge_first(
    store: KeyVaultStore, keyvault: Any
) -> None:
    # the SDK keeps each origin's challenge for the process: forget it, so this client meets the challenge again
    from azure.keyvault.secrets._shared import http_challenge_cache

    http_challenge_cache.clear()
    first = store.set("stripe-key", "sk_test_1")
    second = store.set("stripe-key", "sk_test_2")
    store.set("webhook-secret", "whsec_1")
    assert len(first) == 32 and first != second
    listed = store.list()
    assert [(i.name, i.version) for i in listed] == [("stripe-key", second), ("webhook-secret", listed[1].version)]
    assert all(isinstance(i, SecretInfo) and i.updated and i.updated.endswith("+00:00") for i in listed)
    # the first request carried no token: 401 with the challenge, then the same request with the token
    assert keyvault.requests[:2] == [
        ("PUT", HOST, "/secrets/stripe-key", 401),
        ("PUT", HOST, "/secrets/stripe-key", 200),
    ]
    assert store.remove("stripe-key") is True
    assert store.remove("stripe-key") is False
    assert [i.name for i in store.list()] == ["webhook-secret"]


def test_setting_a_removed_name_recovers_it_from_soft_delete_then_sets_the_new_value(store: KeyVaultStore) -> None:
    """A soft-delete vault refuses the name of a deleted secret (ObjectIsDeletedButRecoverable, as the fake
    plays it) until it is recovered: `secrets set` recovers it and stores the new value as its latest."""
    store.set("stripe-key", "sk_test_1")
    store.remove("stripe-key")
    assert store.list() == []
    version = store.set("stripe-key", "sk_test_2")
    assert [(i.name, i.version) for i in store.list()] == [("stripe-key", version)]
    assert store.client.get_secret("stripe-key").value == "sk_test_2"


def test_the_fake_refuses_a_name_the_spec_refuses(store: KeyVaultStore) -> None:
    with pytest.raises(SecretError, match="not valid"):
        store.set("stripe_key", "x")


def test_the_runtime_reads_the_current_value_and_its_version_and_sees_a_rotation(
    store: KeyVaultStore, client: Any
) -> None:
    version = store.set("stripe-key", "sk_test_1")
    secrets = backend(vault_url(VAULT), client)
    assert secrets.fetch("stripe-key") == ("sk_test_1", version)
    rotated = store.set("stripe-key", "sk_test_2")
    assert secrets.fetch("stripe-key") == ("sk_test_2", rotated)


def test_a_secret_with_no_value_names_the_command_that_sets_it(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "azure")
    monkeypatch.setenv("PORTABLE_FN_STAGE", "dev")
    with pytest.raises(SecretNotFoundError) as caught:
        backend(vault_url(VAULT), client).fetch("stripe-key")
    assert str(caught.value).startswith(
        f"Secret 'stripe-key' has no value in the Key Vault https://{HOST}/. Set it with "
        "`portable-fn secrets set stripe-key --provider azure --stage dev`"
    )


def test_a_refusal_is_a_secret_error_naming_the_vault_and_never_a_value(
    keyvault: Any, certificate: Any, helpers: Any, store: KeyVaultStore
) -> None:
    store.set("stripe-key", "sk_test_1")
    wrong = make_client(
        vault_url(VAULT),
        helpers.StaticToken("another-token"),
        endpoint=keyvault.url,
        connection_verify=str(certificate[0]),
    )
    with pytest.raises(SecretError) as caught:
        backend(vault_url(VAULT), wrong).fetch("stripe-key")
    assert type(caught.value) is SecretError
    assert f"Key Vault https://{HOST}/" in str(caught.value) and "Unauthorized" in str(caught.value)
    assert "sk_test_1" not in str(caught.value)


def test_a_locator_that_is_not_a_vault_url_is_refused() -> None:
    with pytest.raises(SecretError, match="is not a Key Vault URL"):
        backend("ssm:/portable-fn/shop/dev/")


def test_a_declared_secret_reads_through_the_runtime_and_picks_up_a_rotation_after_max_age(
    store: KeyVaultStore, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stripe_key.value` served by this backend (given to the runtime as its factory, with the test's client),
    for max_age seconds of its clock, then the vault's new version; the value is redacted from text."""
    from portable_fn.runtime import secrets as runtime_secrets
    from portable_fn.runtime.secrets import Secret

    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "azure")
    monkeypatch.setenv("PORTABLE_FN_SECRETS", vault_url(VAULT))
    opened: list[str | None] = []
    previous = runtime_secrets.use_backends(lambda locator: opened.append(locator) or backend(str(locator), client))
    try:
        now = [1000.0]
        stripe_key = Secret("stripe-key", max_age=60, clock=lambda: now[0])
        first = store.set("stripe-key", "sk_test_azure_1")
        assert (stripe_key.value, stripe_key.version) == ("sk_test_azure_1", first)
        rotated = store.set("stripe-key", "sk_test_azure_2")
        now[0] += 59
        assert stripe_key.value == "sk_test_azure_1"  # still within max_age
        now[0] += 1
        assert (stripe_key.value, stripe_key.version) == ("sk_test_azure_2", rotated)
        assert opened == [vault_url(VAULT)]  # the locator deploy writes, opened once
        assert runtime_secrets.redact("charged with sk_test_azure_2") == "charged with [secret stripe-key]"
    finally:
        runtime_secrets.use_backends(previous)


@pytest.mark.slow  # the SDK retries a refused connection, backing off for seconds
def test_a_vault_that_cannot_be_reached_says_both_causes(certificate: Any, helpers: Any) -> None:
    import socket

    with socket.socket() as probe:  # a port on 127.0.0.1 nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = make_client(
        vault_url(VAULT),
        helpers.StaticToken(),
        endpoint=f"https://127.0.0.1:{port}",
        connection_verify=str(certificate[0]),
    )
    with pytest.raises(SecretError) as caught:
        KeyVaultStore(unreachable, f"the Key Vault {VAULT}").list()
    assert str(caught.value) == (
        f"the Key Vault {VAULT} cannot be reached (ServiceRequestError). Either it does not exist yet "
        "(`portable-fn deploy --provider azure` makes it for this stage when a function declares a secret: deploy "
        "first), or this machine cannot reach *.vault.azure.net (network, proxy, firewall)."
    )
