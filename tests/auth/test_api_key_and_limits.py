"""`auth=api_key(...)` and `rate_limit=` through the real invocation pipeline: keys read from a declared
secret (served by a fake secret store), buckets kept in the SQLite state backend, time moved by the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from portable_fn.runtime import DeclarationError, Request, api_key, call_http, http, secret, spec_of
from portable_fn.runtime import secrets as runtime_secrets
from portable_fn.runtime.pipeline import Invocation
from portable_fn.runtime.ratelimit import Rate, RateLimitMiddleware, caller_of
from portable_fn.runtime.secrets import SecretNotFoundError
from portable_fn.runtime.state_sqlite import SqliteBackend

from .conftest import Clock
from .handlers import routes


class Store:
    """A secret store holding values in a dict."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    where = "the test's secret store"

    def fetch(self, name: str) -> tuple[str, str]:
        if name not in self.values:
            raise SecretNotFoundError(f"Secret {name!r} has no value in {self.where}.")
        return self.values[name], "1"


@pytest.fixture
def keys() -> Iterator[Store]:
    store = Store({"api-keys": json.dumps({"k-ci-0001": "ci", "k-acme-0002": "acme"})})
    previous = runtime_secrets.use_backends(lambda locator: store)
    yield store
    runtime_secrets.use_backends(previous)


def ingest(key: str | None = None, address: str = "203.0.113.9") -> Request:
    headers = {"X-Forwarded-For": f"198.51.100.1, {address}"}
    return Request("POST", "/ingest", headers={**headers, "X-Api-Key": key} if key else headers, body=b"{}")


def answer(response: Any) -> tuple[int, Any]:
    return response.status, json.loads(response.body)


def spec(handler: Any) -> Any:
    found = spec_of(handler)
    assert found is not None
    return found


def test_a_known_key_reaches_the_handler_with_its_name_never_the_key(keys: Store, buckets: SqliteBackend) -> None:
    request = ingest("k-acme-0002")
    assert answer(call_http(spec(routes.ingest), request)) == (200, {"key": "acme", "subject": "acme"})
    assert (request.auth.kind, request.auth.key, request.auth.claims) == ("api_key", "acme", {})


def test_a_missing_or_unknown_key_is_401(keys: Store, buckets: SqliteBackend) -> None:
    missing = call_http(spec(routes.ingest), ingest())
    unknown = call_http(spec(routes.ingest), ingest("k-nope"))
    assert answer(missing) == (401, {"error": "unauthorized", "reason": "missing X-Api-Key header"})
    assert answer(unknown) == (401, {"error": "unauthorized", "reason": "unknown API key in X-Api-Key"})
    assert unknown.headers["www-authenticate"] == 'ApiKey header="X-Api-Key"'
    assert b"k-nope" not in unknown.body


def test_rotated_keys_are_read_again(keys: Store, buckets: SqliteBackend) -> None:
    keys.values["api-keys"] = json.dumps({"k-new-0003": "ci"})
    routes.api_keys.refresh()
    assert call_http(spec(routes.ingest), ingest("k-new-0003")).status == 200
    assert call_http(spec(routes.ingest), ingest("k-ci-0001")).status == 401


def test_a_secret_that_is_not_a_key_map_is_a_500_naming_the_fix(keys: Store, buckets: SqliteBackend) -> None:
    keys.values["api-keys"] = "k-ci-0001"
    routes.api_keys.refresh()
    status, body = answer(call_http(spec(routes.ingest), ingest("k-ci-0001")))
    assert (status, body) == (
        500,
        {
            "error": "internal error",
            "function": "ingest",
            "reason": "callers cannot be verified; the function's log says why",
        },
    )


def test_api_key_declares_reading_its_secret_and_limits_declare_their_store() -> None:
    uses = [f"{u.resource.kind}:{u.resource.name}:{u.access}" for u in spec(routes.ingest).options.uses]
    assert uses == ["secret:api-keys:read", "state:pfn-rate-limits:write"]
    assert [u.resource.name for u in spec(routes.status).options.uses] == ["pfn-rate-limits"]
    assert spec(routes.list_orders).options.uses == ()
    with pytest.raises(DeclarationError, match="pass a declared secret"):
        api_key(secret="api-keys")
    with pytest.raises(DeclarationError, match="name the header"):
        api_key(secret=secret("other-keys"), header="Authorization")


# -- rate limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["100", "0/minute", "-1/minute", "10/week", "ten/second", "5/minutes", 5])
def test_a_rate_limit_that_is_not_n_per_period_is_refused_when_declared(text: Any) -> None:
    with pytest.raises(DeclarationError, match="write requests per period, like '100/minute'"):
        http("GET", "/x", public=True, rate_limit=text)


def test_rates_parse() -> None:
    assert [(r.count, r.period_s) for r in map(Rate.parse, ["1/second", "100/minute", "5/hour", "7/day"])] == [
        (1, 1),
        (100, 60),
        (5, 3600),
        (7, 86400),
    ]


def test_a_caller_past_the_limit_gets_429_with_retry_after_until_a_token_is_back(
    keys: Store, buckets: SqliteBackend
) -> None:
    clock = Clock(1_800_000_000)
    limits = RateLimitMiddleware(clock=clock)

    def hit(key: str) -> Any:
        call = Invocation(spec(routes.ingest), "local").request(ingest(key))
        call.request.auth = spec(routes.ingest).trigger.auth.authenticate(call.request, None, clock())
        limits.before(call)
        return call.response

    assert hit("k-ci-0001") is None and hit("k-ci-0001") is None  # 2/minute: the bucket starts full
    refused = hit("k-ci-0001")
    assert answer(refused) == (
        429,
        {"error": "too many requests", "reason": "ingest allows 2/minute per caller; retry in 30 s"},
    )
    assert refused.headers["retry-after"] == "30"
    assert hit("k-acme-0002") is None  # another key, another bucket
    clock.now += 29.5
    assert hit("k-ci-0001").headers["retry-after"] == "1"  # half a second left: at least 1
    clock.now += 0.5
    assert hit("k-ci-0001") is None
    assert hit("k-ci-0001").status == 429
    clock.now += 120  # a whole period: full again, never more than full
    assert [hit("k-ci-0001") is None for _ in range(3)] == [True, True, False]


def test_buckets_are_kept_per_function_and_caller_in_the_state(keys: Store, buckets: SqliteBackend) -> None:
    call_http(spec(routes.ingest), ingest("k-ci-0001"))
    call_http(spec(routes.status), Request("GET", "/status", headers={"X-Forwarded-For": "203.0.113.9"}))
    kept = {key: buckets.read(key) for key in ("ingest#key:ci", "status#addr:203.0.113.9", "ingest#addr:203.0.113.9")}
    assert [key for key, record in kept.items() if record is not None] == ["ingest#key:ci", "status#addr:203.0.113.9"]
    assert json.loads(kept["ingest#key:ci"].value)["tokens"] == 1  # type: ignore[union-attr]


def test_through_the_pipeline_the_second_request_in_an_hour_is_429(buckets: SqliteBackend) -> None:
    first = call_http(spec(routes.status), Request("GET", "/status", headers={"X-Forwarded-For": "192.0.2.7"}))
    second = call_http(spec(routes.status), Request("GET", "/status", headers={"X-Forwarded-For": "192.0.2.7"}))
    other = call_http(spec(routes.status), Request("GET", "/status", headers={"X-Forwarded-For": "192.0.2.8"}))
    assert (first.status, second.status, other.status) == (200, 429, 200)
    assert 3598 <= int(second.headers["retry-after"]) <= 3600


def test_the_caller_is_the_tenant_then_the_key_then_the_subject_then_the_address() -> None:
    from portable_fn.runtime.auth import Auth

    call = Invocation(spec(routes.status), "local").request(
        Request("GET", "/status", headers={"X-Forwarded-For": "a, b"})
    )
    assert caller_of(call) == "addr:b"  # the entry the platform appended, not one the client wrote
    call.request.auth = Auth("jwt", "alice", {})
    assert caller_of(call) == "sub:alice"
    call.request.auth = Auth("api_key", "acme", {}, "acme")
    assert caller_of(call) == "key:acme"
    if hasattr(call.ctx, "tenant"):
        call.ctx.tenant = "org-9"
        assert caller_of(call) == "tenant:org-9"
