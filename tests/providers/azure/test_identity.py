"""Each function's calls to Azure go out under its own identity: inside a call of `charge`, the state tables,
the Key Vault and the publisher ask for a credential of charge's client id (`PORTABLE_FN_IDENTITY_CHARGE`, which
deploy sets), inside `refund` of refund's, outside a call (or for a function deploy gave no identity) of the
app's system-assigned identity; the clients are kept per identity, never handed from one function to another.
The credential factory is injected: no Azure call is made."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure.identity import client_id, identity_env
from portable_fn_azure.publish import AzurePublisher
from portable_fn_azure.secrets import KeyVaultBackend
from portable_fn_azure.state import TablesBackend

from portable_fn.app import App, load_app
from portable_fn.runtime.channels import QUEUE, Channel
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.pipeline import Invocation, within

KEYED = Path(__file__).resolve().parent / "apps" / "keyed"
CLIENT_IDS = {"charge": "11111111-0000-0000-0000-00000000c4a9", "refund": "22222222-0000-0000-0000-0000000ef00d"}


@pytest.fixture(scope="module")
def keyed() -> App:
    return load_app(KEYED)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The settings deploy writes for keyed: charge and refund each name their identity; ping has none."""
    values = {identity_env(function): found for function, found in CLIENT_IDS.items()}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def as_function(app: App, function: str, fn: Callable[[], Any]) -> Any:
    """`fn()` run as a call of `function`, as the shim runs a handler."""
    spec = next(s for s in app.functions if s.name == function)
    call = Invocation(spec, "azure", "req-1").add(CloudEvent(id="e1", source="//keyed", type="test", data={}))
    return within(call, fn)


class Token:
    """A token credential of one client id (never asked for a token here: no call is made)."""

    def __init__(self, who: str | None) -> None:
        self.who = who

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise AssertionError(f"no token is asked for in these tests ({self.who})")


class Credentials:
    """A credential factory that records the client id each credential was asked for."""

    def __init__(self) -> None:
        self.asked: list[str | None] = []

    def __call__(self, who: str | None) -> Token:
        self.asked.append(who)
        return Token(who)


def test_the_setting_is_named_after_the_function() -> None:
    assert identity_env("charge") == "PORTABLE_FN_IDENTITY_CHARGE"
    assert identity_env("onboard_tenant-run") == "PORTABLE_FN_IDENTITY_ONBOARD_TENANT_RUN"


def test_the_running_function_picks_its_own_client_id(keyed: App, env: dict[str, str]) -> None:
    assert as_function(keyed, "charge", client_id) == CLIENT_IDS["charge"]
    assert as_function(keyed, "refund", client_id) == CLIENT_IDS["refund"]
    assert as_function(keyed, "ping", client_id) is None  # declares nothing: the app's system identity
    assert client_id() is None  # outside a call


def test_state_tables_are_reached_with_a_client_per_identity(keyed: App, env: dict[str, str]) -> None:
    made: list[str | None] = []
    backend = TablesBackend(identity_client=lambda who: made.append(who) or f"table client of {who}")
    charge = as_function(keyed, "charge", lambda: backend.client)
    refund = as_function(keyed, "refund", lambda: backend.client)
    assert (charge, refund) == (f"table client of {CLIENT_IDS['charge']}", f"table client of {CLIENT_IDS['refund']}")
    assert as_function(keyed, "charge", lambda: backend.client) is charge  # kept for that identity
    assert backend.client == "table client of None"  # outside a call: the system identity's
    assert made == [CLIENT_IDS["charge"], CLIENT_IDS["refund"], None]


def test_secrets_are_read_with_a_client_per_identity(keyed: App, env: dict[str, str]) -> None:
    credentials = Credentials()
    vault = KeyVaultBackend("https://keyedkv.vault.azure.net/", credential=credentials)
    charge = as_function(keyed, "charge", lambda: vault.client)
    refund = as_function(keyed, "refund", lambda: vault.client)
    assert charge is not refund
    assert as_function(keyed, "charge", lambda: vault.client) is charge
    assert credentials.asked == [CLIENT_IDS["charge"], CLIENT_IDS["refund"]]


def test_a_function_sends_with_its_own_identity_not_the_connections(keyed: App, env: dict[str, str]) -> None:
    settings = {
        **env,
        "AzureWebJobsStorage__accountName": "keyeddevpf",
        "AzureWebJobsStorage__clientId": "the-hosts-own",
    }
    credentials = Credentials()
    publisher = AzurePublisher(env=settings, credential=credentials)
    orders = Channel(QUEUE, "orders")

    def queue_client() -> Any:
        return publisher.client("queue:orders", lambda: publisher.queue_client(orders, "AzureWebJobsStorage", "o"))

    charge = as_function(keyed, "charge", queue_client)
    refund = as_function(keyed, "refund", queue_client)
    outside = queue_client()
    assert len({id(charge), id(refund), id(outside)}) == 3  # one client per identity
    assert as_function(keyed, "charge", queue_client) is charge
    # outside a call the connection's own identity (`__clientId`), as the host's binding uses it
    assert credentials.asked == [CLIENT_IDS["charge"], CLIENT_IDS["refund"], "the-hosts-own"]
