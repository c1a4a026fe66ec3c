"""The Secret Manager backend (`portable_fn_gcp.secrets`): google-cloud-secret-manager's client on REST against the
fake in secretmanager_api.py, which holds every request to secretmanager.v1's Discovery document. The latest
version is read, a new version is picked up, and each refusal Google gives becomes the error its table says."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from portable_fn_gcp.secrets import ENDPOINT_ENV, SecretManagerBackend, backend, secret_id

from portable_fn.runtime import secrets as runtime_secrets
from portable_fn.runtime.secrets import Secret, SecretError, SecretNotFoundError

from .secretmanager_api import SecretManagerApi

LOCATOR = "projects/p/secrets/shop-dev-"


@pytest.fixture(scope="module")
def server() -> Iterator[SecretManagerApi]:
    with SecretManagerApi() as api:
        yield api


@pytest.fixture
def api(server: SecretManagerApi) -> Iterator[SecretManagerApi]:
    server.reset()
    yield server
    assert server.answer_problems == []


@pytest.fixture
def deployed_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """What deploy sets on a function that reads a secret (and the endpoint, which only tests set)."""
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "gcp")
    monkeypatch.setenv("PORTABLE_FN_STAGE", "dev")
    monkeypatch.setenv("PORTABLE_FN_SECRETS", LOCATOR)


def put(api: SecretManagerApi, secret: str, value: str) -> None:
    """A secret and a version of it, as `portable-fn secrets set` leaves them (sent as a client would)."""
    if secret not in api.secrets:
        assert (
            api.handle("POST", "/v1/projects/p/secrets", {"secretId": secret}, {"replication": {"automatic": {}}})[0]
            == 200
        )
    body = {"payload": {"data": base64.b64encode(value.encode()).decode()}}
    assert api.handle("POST", f"/v1/projects/p/secrets/{secret}:addVersion", {}, body)[0] == 200


def reader(api: SecretManagerApi) -> SecretManagerBackend:
    return SecretManagerBackend(LOCATOR, environ={ENDPOINT_ENV: api.url, "PORTABLE_FN_STAGE": "dev"})


def test_the_latest_version_is_read_with_its_number(api: SecretManagerApi) -> None:
    put(api, "shop-dev-stripe-key", "sk_test_1")
    secrets = reader(api)
    assert secrets.fetch("stripe-key") == ("sk_test_1", "1")
    put(api, "shop-dev-stripe-key", "sk_test_2 é")
    assert secrets.fetch("stripe-key") == ("sk_test_2 é", "2")
    assert api.methods() == [
        "secrets.create",
        "secrets.addVersion",
        "secrets.versions.access",
        "secrets.addVersion",
        "secrets.versions.access",
    ]


def test_a_secret_never_set_names_the_command_that_sets_it(api: SecretManagerApi, deployed_env: None) -> None:
    with pytest.raises(SecretNotFoundError) as raised:
        reader(api).fetch("stripe-key")
    assert "projects/p/secrets/shop-dev-stripe-key" in str(raised.value)
    assert "portable-fn secrets set stripe-key --provider gcp --stage dev" in str(raised.value)


def test_a_secret_without_a_version_is_not_found(api: SecretManagerApi, deployed_env: None) -> None:
    api.handle(
        "POST", "/v1/projects/p/secrets", {"secretId": "shop-dev-stripe-key"}, {"replication": {"automatic": {}}}
    )
    with pytest.raises(SecretNotFoundError, match="portable-fn secrets set stripe-key"):
        reader(api).fetch("stripe-key")


def test_a_disabled_latest_version_is_a_secret_error_not_a_missing_one(api: SecretManagerApi) -> None:
    put(api, "shop-dev-stripe-key", "sk_test_1")
    api.handle("POST", "/v1/projects/p/secrets/shop-dev-stripe-key/versions/1:disable", {}, {})
    with pytest.raises(SecretError) as raised:
        reader(api).fetch("stripe-key")
    assert not isinstance(raised.value, SecretNotFoundError)
    assert "DISABLED" in str(raised.value) and "Enable that version" in str(raised.value)


def test_a_locator_that_is_not_a_secret_prefix_says_deploy_sets_it() -> None:
    with pytest.raises(SecretError, match="Deploy again with `portable-fn deploy`"):
        backend("projects/p/databases/x")
    assert backend(LOCATOR).locator == LOCATOR


def test_secret_ids_hold_only_what_secret_manager_takes() -> None:
    assert secret_id("shop-dev-", "stripe-key") == "shop-dev-stripe-key"
    assert secret_id("my.app-dev-", "a b") == "my-app-dev-a-b"


def test_a_declared_secret_reads_through_the_runtime_and_picks_up_a_rotation_after_max_age(
    api: SecretManagerApi, deployed_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stripe_key.value` as a deployed function reads it: the runtime opens this backend by PORTABLE_FN_PROVIDER
    and PORTABLE_FN_SECRETS, serves the value for max_age seconds of its clock, then fetches the new version."""
    monkeypatch.setenv(ENDPOINT_ENV, api.url)
    runtime_secrets.use_backends(None)  # nothing held from other tests
    now = [1000.0]
    stripe_key = Secret("stripe-key", max_age=60, clock=lambda: now[0])
    put(api, "shop-dev-stripe-key", "sk_test_1")
    assert (stripe_key.value, stripe_key.version) == ("sk_test_1", "1")
    put(api, "shop-dev-stripe-key", "sk_test_2")  # rotated
    now[0] += 59
    assert stripe_key.value == "sk_test_1"  # still within max_age: no request
    now[0] += 1
    assert (stripe_key.value, stripe_key.version) == ("sk_test_2", "2")
    assert api.methods().count("secrets.versions.access") == 2
    assert runtime_secrets.redact("charged with sk_test_2") == "charged with [secret stripe-key]"
