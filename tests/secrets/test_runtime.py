"""`Secret.value` at run time: fetched on first use, held for max_age (a clock the test moves, no sleeping),
fetched again after it so a rotation shows, refreshed on demand, one fetch for many threads; read only by
the functions that declare it; failures named without the value."""

from __future__ import annotations

import threading

import pytest

from portable_fn import CloudEvent, function, queue, secret
from portable_fn.runtime import secrets as runtime_secrets
from portable_fn.runtime.errors import DeclarationError
from portable_fn.runtime.resources import READ, UndeclaredResourceError, Use
from portable_fn.runtime.secrets import Secret, SecretError, SecretNotFoundError
from portable_fn.testing import invoke, make_event, secrets

from .conftest import Clock, Store

api_key = secret("api-key")


@function(trigger=queue("reads"), uses=[api_key])
def reads(event: CloudEvent[dict]) -> None:
    assert api_key.value == event.data["expected"]


@function(trigger=queue("rejects"), uses=[api_key])
def rejects(event: CloudEvent[dict]) -> None:
    raise ValueError(f"rejected with {api_key.value}")


@function(trigger=queue("peeks"))
def peeks(event: CloudEvent[dict]) -> None:
    api_key.value  # noqa: B018 - reading it is the point


def test_a_value_is_held_for_max_age_then_fetched_again(store: Store, clock: Clock) -> None:
    store.rotate("stripe-key", "sk_live_first")
    key = Secret("stripe-key", max_age=300, clock=clock)
    assert (key.value, key.version) == ("sk_live_first", "1")
    store.rotate("stripe-key", "sk_live_second")
    clock.advance(299.9)
    assert (key.value, key.version) == ("sk_live_first", "1")
    assert store.reads == ["stripe-key"]
    clock.advance(0.1)
    assert (key.value, key.version) == ("sk_live_second", "2")
    assert store.reads == ["stripe-key", "stripe-key"]


def test_max_age_zero_fetches_on_every_read(store: Store, clock: Clock) -> None:
    store.rotate("stripe-key", "sk_live_first")
    key = Secret("stripe-key", max_age=0, clock=clock)
    assert [key.value, key.value] == ["sk_live_first", "sk_live_first"]
    assert len(store.reads) == 2


def test_refresh_fetches_at_once(store: Store, clock: Clock) -> None:
    store.rotate("stripe-key", "sk_live_first")
    key = Secret("stripe-key", max_age=300, clock=clock)
    assert key.value == "sk_live_first"
    store.rotate("stripe-key", "sk_live_rotated")
    assert key.refresh() == "sk_live_rotated"
    assert (key.value, key.version) == ("sk_live_rotated", "2")
    assert len(store.reads) == 2


def test_each_declaration_holds_its_own_value(store: Store, clock: Clock) -> None:
    store.rotate("stripe-key", "sk_live_first")
    one, other = Secret("stripe-key", clock=clock), Secret("stripe-key", clock=clock)
    assert one.value == other.value == "sk_live_first"
    assert len(store.reads) == 2


def test_threads_reading_at_once_share_one_fetch(clock: Clock) -> None:
    started, release = threading.Event(), threading.Event()

    class SlowStore(Store):
        def fetch(self, name: str) -> tuple[str, str]:
            started.set()
            release.wait(30)
            return super().fetch(name)

    slow = SlowStore({"stripe-key": "sk_live_shared"})
    runtime_secrets.use_backends(lambda locator: slow)
    key = Secret("stripe-key", clock=clock)
    seen: list[str] = []
    threads = [threading.Thread(target=lambda: seen.append(key.value)) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert started.wait(30)
    release.set()
    for thread in threads:
        thread.join(30)
    assert seen == ["sk_live_shared"] * 8
    assert slow.reads == ["stripe-key"]


def test_use_backends_drops_what_was_held(store: Store, clock: Clock) -> None:
    store.rotate("stripe-key", "sk_live_first")
    key = Secret("stripe-key", clock=clock)
    assert key.value == "sk_live_first"
    other = Store({"stripe-key": "sk_live_elsewhere"})
    runtime_secrets.use_backends(lambda locator: other)
    assert key.value == "sk_live_elsewhere"


def test_a_changed_locator_drops_what_was_held(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    stores = {"vault-a": Store({"stripe-key": "sk_live_in_a"}), "vault-b": Store({"stripe-key": "sk_live_in_b"})}
    runtime_secrets.use_backends(lambda locator: stores[str(locator)])
    key = Secret("stripe-key", clock=clock)
    monkeypatch.setenv("PORTABLE_FN_SECRETS", "vault-a")
    assert key.value == "sk_live_in_a"
    monkeypatch.setenv("PORTABLE_FN_SECRETS", "vault-b")
    assert key.value == "sk_live_in_b"


def test_a_missing_value_names_the_command_that_sets_it(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "aws")
    monkeypatch.setenv("PORTABLE_FN_STAGE", "prod")
    with pytest.raises(SecretNotFoundError) as raised:
        Secret("stripe-key").value  # noqa: B018
    assert str(raised.value) == (
        "Secret 'stripe-key' has no value in the test store. Set it with "
        "`portable-fn secrets set stripe-key --provider aws --stage prod` (the value is read from stdin or a "
        "prompt); the function reads it on its next attempt."
    )


def test_a_store_failure_names_the_secret_and_the_store_never_the_value(store: Store, clock: Clock) -> None:
    store.rotate("stripe-key", "sk_live_known_value")
    key = Secret("stripe-key", max_age=10, clock=clock)
    assert key.value == "sk_live_known_value"
    store.failure = ConnectionError("connection refused for sk_live_known_value")
    clock.advance(10)
    with pytest.raises(SecretError) as raised:
        key.value  # noqa: B018
    assert str(raised.value) == (
        "This process could not read secret 'stripe-key' from the test store: ConnectionError: connection "
        "refused for [secret stripe-key]. Check that the store is reachable and that deploy granted the "
        "function access (`portable-fn plan` lists its grants)."
    )
    assert type(raised.value) is SecretError


def test_on_a_cloud_without_a_locator_the_function_was_not_given_a_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "gcp")
    monkeypatch.delenv("PORTABLE_FN_SECRETS", raising=False)
    with pytest.raises(SecretError, match=r"^No secret store is configured for this function on gcp: "):
        Secret("stripe-key").value  # noqa: B018


def test_only_a_function_that_declares_the_secret_reads_it() -> None:
    with secrets({"api-key": "ak_test_0001"}):
        assert invoke(reads, make_event({"expected": "ak_test_0001"})).outcome == "ack"
        result = invoke(peeks, make_event({}))
    assert isinstance(result.error, UndeclaredResourceError)
    assert str(result.error) == (
        "Function 'peeks' uses secret('api-key') without declaring it, so deploy grants it no access; add "
        "uses=[api_key.read()] to its @function."
    )


def test_the_reason_of_a_handler_that_raised_with_the_value_holds_the_marker() -> None:
    with secrets({"api-key": "ak_test_0004"}):
        result = invoke(rejects, make_event({}))
    assert result.outcome == "retry"
    assert str(result.error) == "rejected with ak_test_0004"  # the exception itself is the handler's, untouched
    assert result.reason == "ValueError: rejected with [secret api-key]"


def test_the_testing_helper_serves_given_values_and_only_those() -> None:
    with secrets({"api-key": "ak_test_0002"}):
        assert (api_key.value, api_key.version) == ("ak_test_0002", "1")
        with pytest.raises(SecretNotFoundError, match="^Secret 'other-key' has no value in the values given to"):
            Secret("other-key").value  # noqa: B018
    with secrets({"api-key": "ak_test_0003"}):
        assert api_key.value == "ak_test_0003"


def test_a_secret_is_declared_read_only() -> None:
    assert api_key.as_uses() == (Use(api_key, READ),)
    assert api_key.read() == Use(api_key, READ)
    with pytest.raises(DeclarationError, match=r"functions read secrets, never write them"):
        api_key.write()
    with pytest.raises(DeclarationError, match=r"max_age=-1 must be the seconds"):
        secret("api-key", max_age=-1)
