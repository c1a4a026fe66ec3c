"""`auth=jwt(...)`: tokens PyJWT signs (RS256, ES256) are verified by the standard-library runtime, and every
token it must refuse is answered 401 (or 403 for missing scopes) with the reason, never the token."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from portable_fn.runtime import DeclarationError, Request, http, jwt
from portable_fn.runtime.auth import Auth, AuthMiddleware, JwksCache, verified

from .conftest import EC_KEY, JWKS, RSA_KEY, Clock, Fetches, JwksServer, bearer, claims, public_jwk, serve, token
from .handlers import routes


def middleware(now: float | None = None, documents: dict[str, Any] | None = None) -> AuthMiddleware:
    fetch = Fetches({routes.JWKS_URL: JWKS} if documents is None else documents)
    return AuthMiddleware(JwksCache(fetch, clock=Clock(0)), clock=Clock(now))


def refused(call: Any) -> tuple[int, dict[str, Any], str | None]:
    response = call.response
    return response.status, json.loads(response.body), response.headers.get("www-authenticate")


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_valid_token_reaches_the_handler_with_its_claims(alg: str) -> None:
    text = token(alg, org_id="acme")
    call = serve(middleware(), routes.list_orders, bearer(text))
    assert (call.response.status, json.loads(call.response.body)) == (200, {"subject": "alice"})
    auth = call.request.auth
    assert (auth.kind, auth.subject, auth.key, auth.claims["org_id"]) == ("jwt", "alice", None, "acme")


def test_the_jwks_is_fetched_once_and_kept() -> None:
    fetch = Fetches({routes.JWKS_URL: JWKS})
    auth = AuthMiddleware(JwksCache(fetch, clock=Clock(0)))
    for _ in range(3):
        assert serve(auth, routes.list_orders, bearer(token())).response.status == 200
    assert fetch.asked == [routes.JWKS_URL]


def _reason(call: Any) -> str:
    return str(json.loads(call.response.body)["reason"])


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (Request("GET", "/orders"), "missing Authorization header: send 'Authorization: Bearer <token>'"),
        (
            Request("GET", "/orders", headers={"Authorization": "Basic YTpi"}),
            "the Authorization header is not 'Bearer <token>'",
        ),
        (
            bearer("not-a-token"),
            "malformed token: the token is not a JWS in compact form (three base64url parts separated by '.')",
        ),
        (bearer("e30.e30.!!"), "malformed token: the token's signature is not base64url text"),
        (bearer("WzFd.e30.AA"), "malformed token: the token's header is not a JSON object"),
    ],
    ids=["missing", "not-bearer", "not-jws", "bad-base64", "header-not-object"],
)
def test_a_missing_or_malformed_credential_is_401_naming_why(request_: Request, reason: str) -> None:
    status, body, challenge = refused(serve(middleware(), routes.list_orders, request_))
    assert (status, body) == (401, {"error": "unauthorized", "reason": reason})
    assert challenge is not None and challenge.startswith("Bearer")


def test_a_tampered_token_has_a_bad_signature() -> None:
    header, _, signature = token().split(".")
    forged = pyjwt.utils.base64url_encode(json.dumps(claims(sub="mallory")).encode()).decode()
    status, body, challenge = refused(serve(middleware(), routes.list_orders, bearer(f"{header}.{forged}.{signature}")))
    assert (status, body["reason"]) == (401, "bad signature")
    assert challenge == 'Bearer error="invalid_token", error_description="bad signature"'


def test_a_token_naming_a_key_the_issuer_does_not_have_is_refused() -> None:
    status, body, _ = refused(serve(middleware(), routes.list_orders, bearer(token(kid="gone"))))
    assert (status, body["reason"]) == (401, "unknown signing key 'gone'")


def test_an_expired_token_says_when_it_expired() -> None:
    text = token(exp=1_800_000_000)
    status, body, challenge = refused(serve(middleware(now=1_800_000_061), routes.list_orders, bearer(text)))
    assert (status, body["reason"]) == (401, "expired at 2027-01-15T08:00:00Z")
    assert challenge == 'Bearer error="invalid_token", error_description="expired at 2027-01-15T08:00:00Z"'
    assert text not in json.dumps(body) and text not in challenge


def test_the_leeway_allows_clock_skew_on_exp_and_nbf() -> None:
    text = token(exp=1_800_000_000, nbf=1_799_999_000, iat=1_799_999_000)
    assert serve(middleware(now=1_800_000_060), routes.list_orders, bearer(text)).response.status == 200
    assert serve(middleware(now=1_799_998_940), routes.list_orders, bearer(text)).response.status == 200
    early = serve(middleware(now=1_799_998_939), routes.list_orders, bearer(text))
    assert refused(early)[:2] == (401, {"error": "unauthorized", "reason": "not valid before 2027-01-15T07:43:20Z"})


def test_a_token_issued_in_the_future_is_refused() -> None:
    text = token(iat=1_800_000_000, exp=1_800_000_600)
    status, body, _ = refused(serve(middleware(now=1_799_999_000), routes.list_orders, bearer(text)))
    assert (status, body["reason"]) == (401, "issued in the future (2027-01-15T08:00:00Z)")


def test_a_token_without_exp_is_refused() -> None:
    text = pyjwt.encode({"iss": routes.ISSUER, "aud": routes.AUDIENCE, "sub": "a"}, RSA_KEY, "RS256", {"kid": "rsa-1"})
    status, body, _ = refused(serve(middleware(), routes.list_orders, bearer(text)))
    assert (status, body["reason"]) == (401, "the token has no 'exp' claim (tokens that never expire are not accepted)")


def test_a_token_of_another_issuer_names_the_expected_one() -> None:
    status, body, _ = refused(serve(middleware(), routes.list_orders, bearer(token(iss="https://evil.example/"))))
    assert (status, body["reason"]) == (401, "wrong issuer: expected 'https://id.example.test/'")


def test_a_token_for_another_audience_names_the_expected_one() -> None:
    status, body, _ = refused(serve(middleware(), routes.list_orders, bearer(token(aud="api://billing"))))
    assert (status, body["reason"]) == (401, "wrong audience: expected 'api://orders'")


def test_aud_may_be_a_list_and_the_route_may_accept_several() -> None:
    text = token(aud=["api://billing", routes.AUDIENCE], scope="orders:write")
    call = serve(middleware(), routes.create_order, bearer(text, method="POST"))
    assert call.response.status == 200
    other = token(aud="api://other", scp=["orders:read", "orders:write"])
    assert serve(middleware(), routes.create_order, bearer(other, method="POST")).response.status == 200


def test_a_valid_token_without_the_required_scope_is_403() -> None:
    call = serve(middleware(), routes.create_order, bearer(token(scope="orders:read"), method="POST"))
    status, body, challenge = refused(call)
    assert (status, body) == (403, {"error": "forbidden", "reason": "missing scope(s): orders:write"})
    assert challenge == 'Bearer error="insufficient_scope", scope="orders:write"'


def test_hs256_signed_with_the_public_key_as_secret_is_refused() -> None:
    """Algorithm confusion: an attacker signs HS256 with the (public) RSA key's PEM as the HMAC secret."""
    pem = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}
    signing_input = ".".join(pyjwt.utils.base64url_encode(json.dumps(p).encode()).decode() for p in (header, claims()))
    import hashlib
    import hmac

    signature = pyjwt.utils.base64url_encode(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()).decode()
    status, body, _ = refused(serve(middleware(), routes.list_orders, bearer(f"{signing_input}.{signature}")))
    assert (status, body["reason"]) == (
        401,
        "tokens signed with 'HS256' are not accepted here (accepted: RS256, ES256)",
    )


def test_an_unsigned_token_is_refused() -> None:
    text = pyjwt.encode(claims(), None, algorithm="none")
    status, body, _ = refused(serve(middleware(), routes.list_orders, bearer(text)))
    assert (status, body["reason"]) == (401, "tokens signed with 'none' are not accepted here (accepted: RS256, ES256)")


def test_a_token_whose_alg_does_not_fit_its_key_is_refused() -> None:
    text = pyjwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "ec-1"})
    status, body, _ = refused(serve(middleware(), routes.list_orders, bearer(text)))
    assert (status, body["reason"]) == (401, "key 'ec-1' is an EC key; it cannot verify RS256")


def test_declaring_an_algorithm_that_is_not_verified_is_an_error() -> None:
    for algorithms in (["HS256"], ["none"], []):
        with pytest.raises(DeclarationError, match="algorithms="):
            jwt(routes.ISSUER, routes.AUDIENCE, algorithms=algorithms)
    with pytest.raises(DeclarationError, match="auth= is not a way|auth='yes' is not"):
        http("GET", "/x", auth="yes")
    with pytest.raises(DeclarationError, match="the issuer is the URL"):
        jwt("id.example.test", routes.AUDIENCE)


def test_claims_a_cloud_verified_are_not_verified_again() -> None:
    fetch = Fetches({})
    request = Request("GET", "/orders")
    auth = verified(request, {"sub": "bob", "scope": "orders:write"})
    call = serve(AuthMiddleware(JwksCache(fetch)), routes.create_order, request)
    assert (call.response.status, request.auth, fetch.asked) == (200, auth, [])
    assert auth == Auth("jwt", "bob", {"sub": "bob", "scope": "orders:write"})


def test_claims_a_cloud_verified_still_need_the_route_scopes() -> None:
    request = Request("POST", "/orders")
    verified(request, {"sub": "bob"})
    status, body, _ = refused(serve(AuthMiddleware(JwksCache(Fetches({}))), routes.create_order, request))
    assert (status, body["reason"]) == (403, "missing scope(s): orders:write")


def test_an_unreachable_issuer_is_503_not_401() -> None:
    status, body, _ = refused(serve(middleware(documents={}), routes.list_orders, bearer(token())))
    assert (status, body["error"]) == (503, "unavailable")
    assert body["reason"].startswith("the issuer's signing keys cannot be fetched (nothing at https://id.example.test/")


# -- a real issuer on 127.0.0.1: discovery, JWKS, rotation ---------------------------------------------


def test_keys_come_from_the_discovery_document_and_rotate(issuer: JwksServer) -> None:
    from portable_fn.runtime import function

    issuer.jwks = {"keys": [public_jwk(RSA_KEY, "rsa-1", "RS256")]}

    @function(trigger=http("GET", "/me", auth=jwt(issuer.url + "/", "api://me")))
    def me(request: Request) -> dict[str, Any]:
        return {}

    monotonic = Clock(1000)
    auth = AuthMiddleware(JwksCache(clock=monotonic))

    def call(alg: str, kid: str) -> int:
        text = token(alg, kid=kid, iss=issuer.url + "/", aud="api://me")
        return int(serve(auth, me, bearer(text, path="/me")).response.status)

    assert call("RS256", "rsa-1") == 200
    assert issuer.hits == ["/.well-known/openid-configuration", "/keys"]
    issuer.jwks = {"keys": [public_jwk(EC_KEY, "ec-2", "ES256")]}  # rotated: the old key is gone
    monotonic.now += 10
    assert call("ES256", "ec-2") == 401  # fetched 10 s ago: not fetched again yet
    assert len(issuer.hits) == 2
    monotonic.now += 20
    assert call("ES256", "ec-2") == 200  # 30 s on: one fetch finds the new key
    assert len(issuer.hits) == 4
    assert call("ES256", "ec-2") == 200 and call("RS256", "rsa-1") == 401  # no fetch for the old key within 30 s
    assert len(issuer.hits) == 4
    monotonic.now += 600
    issuer.jwks = {"keys": [public_jwk(EC_KEY, "ec-2", "ES256"), public_jwk(RSA_KEY, "rsa-1", "RS256")]}
    assert call("RS256", "rsa-1") == 200  # kept 10 minutes, then fetched again
    assert len(issuer.hits) == 6


def test_a_route_takes_only_its_declared_algorithms(issuer: JwksServer) -> None:
    from portable_fn.runtime import function

    issuer.jwks = JWKS

    @function(trigger=http("GET", "/ec", auth=jwt(issuer.url + "/", "api://ec", algorithms=["ES256"])))
    def ec_only(request: Request) -> dict[str, Any]:
        return {}

    auth = AuthMiddleware()
    good = token("ES256", iss=issuer.url + "/", aud="api://ec")
    bad = token("RS256", iss=issuer.url + "/", aud="api://ec")
    assert serve(auth, ec_only, bearer(good, path="/ec")).response.status == 200
    assert _reason(serve(auth, ec_only, bearer(bad, path="/ec"))) == (
        "tokens signed with 'RS256' are not accepted here (accepted: ES256)"
    )


def test_verifying_is_timed_with_the_clock_it_is_given() -> None:
    assert abs(AuthMiddleware().clock() - time.time()) < 5


def test_the_dev_issuer_is_trusted_locally_and_never_on_a_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    from portable_fn.runtime.jose import EcPrivateKey, sign

    dev = "http://127.0.0.1:8080/_local/issuer"
    key = EcPrivateKey.generate()
    documents = {dev + "/.well-known/openid-configuration": {"jwks_uri": dev + "/jwks.json"}}
    documents[dev + "/jwks.json"] = {"keys": [key.public.jwk("dev-1")]}
    text = sign(claims(iss=dev), key, "dev-1")
    monkeypatch.setenv("PORTABLE_FN_DEV_ISSUER", dev)
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "local")
    assert serve(middleware(documents=documents), routes.list_orders, bearer(text)).response.status == 200
    for cloud in ("aws", "gcp", "azure"):
        monkeypatch.setenv("PORTABLE_FN_PROVIDER", cloud)
        call = serve(middleware(documents=documents), routes.list_orders, bearer(text))
        assert refused(call)[:2] == (
            401,
            {"error": "unauthorized", "reason": "wrong issuer: expected 'https://id.example.test/'"},
        )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
CLAIMS = ("iss", "aud", "exp", "nbf", "iat", "sub", "scope", "scp")


@pytest.mark.slow  # 150 generated tokens
@settings(max_examples=150, deadline=None)
@given(
    kid=st.one_of(st.just("rsa-1"), JSON),
    claims_=st.dictionaries(st.sampled_from(CLAIMS), JSON),
    signed=st.booleans(),
)
def test_any_token_is_answered_never_raised(kid: Any, claims_: dict[str, Any], signed: bool) -> None:
    """Whatever a token holds, signed with the right key or not: 200, 401 or 403, never an exception."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    parts = ({"alg": "RS256", "kid": kid}, {"iss": routes.ISSUER, **claims_})
    signing_input = ".".join(pyjwt.utils.base64url_encode(json.dumps(p).encode()).decode() for p in parts)
    signature = RSA_KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()) if signed else b"\0"
    text = f"{signing_input}.{pyjwt.utils.base64url_encode(signature).decode()}"
    call = serve(middleware(), routes.create_order, bearer(text, method="POST"))
    assert call.response.status in (200, 401, 403)
