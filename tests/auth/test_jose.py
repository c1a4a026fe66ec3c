"""The standard-library JOSE code against `cryptography` and PyJWT: what they sign verifies here, what is
signed here verifies there, and keys or tokens that are not what they claim are refused."""

from __future__ import annotations

import json

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from portable_fn.runtime.jose import (
    EcPrivateKey,
    EcPublicKey,
    JoseError,
    Token,
    b64url_encode,
    public_key,
    sign,
)

from .conftest import EC_KEY, RSA_KEY, public_jwk, token


@pytest.mark.parametrize(("alg", "kid"), [("RS256", "rsa-1"), ("ES256", "ec-1")])
def test_tokens_pyjwt_signs_verify_and_altered_ones_do_not(alg: str, kid: str) -> None:
    key = public_key(public_jwk(RSA_KEY if alg == "RS256" else EC_KEY, kid, alg))
    parsed = Token.parse(token(alg))
    assert key.verify(alg, parsed.signing_input, parsed.signature) is True
    assert key.verify(alg, parsed.signing_input + b"x", parsed.signature) is False
    flipped = bytes([parsed.signature[0] ^ 1]) + parsed.signature[1:]
    assert key.verify(alg, parsed.signing_input, flipped) is False
    assert key.verify("RS256" if alg == "ES256" else "ES256", parsed.signing_input, parsed.signature) is False


def test_es256_signatures_made_here_verify_with_cryptography() -> None:
    private = EcPrivateKey.generate()
    theirs = ec.EllipticCurvePublicNumbers(private.public.x, private.public.y, ec.SECP256R1()).public_key()
    for message in (b"", b"hello", bytes(range(256)) * 10):
        signature = private.sign(message)
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        theirs.verify(der, message, ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature when wrong
    text = sign({"sub": "alice", "n": 1}, private, "dev-1")
    assert pyjwt.decode(text, theirs, algorithms=["ES256"]) == {"sub": "alice", "n": 1}
    assert pyjwt.get_unverified_header(text) == {"alg": "ES256", "typ": "JWT", "kid": "dev-1"}


def test_the_public_jwk_of_a_key_made_here_is_the_one_cryptography_derives() -> None:
    private = EcPrivateKey.generate()
    theirs = ec.derive_private_key(private.d, ec.SECP256R1()).public_key()
    assert private.public.jwk("k") == {
        **public_jwk(ec.derive_private_key(private.d, ec.SECP256R1()), "k", "ES256"),
        "alg": "ES256",
    }
    assert (theirs.public_numbers().x, theirs.public_numbers().y) == (private.public.x, private.public.y)


def test_a_point_off_the_curve_is_refused() -> None:
    good = public_jwk(EC_KEY, "k", "ES256")
    numbers = EC_KEY.public_key().public_numbers()
    off = {**good, "y": b64url_encode(((numbers.y + 1) % 2**256).to_bytes(32, "big"))}
    with pytest.raises(JoseError, match="not on the P-256 curve"):
        public_key(off)
    with pytest.raises(JoseError, match="not on the P-256 curve"):
        EcPublicKey(0, 0)


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        ({"kty": "oct", "k": "c2VjcmV0"}, "keys of type 'oct' are not supported"),
        ({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}, "curve 'P-384' are not supported"),
        ({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, "wrong length"),
        ({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "at least 2048 are required"),
    ],
)
def test_keys_that_cannot_verify_safely_are_refused(jwk: dict[str, str], message: str) -> None:
    with pytest.raises(JoseError, match=message):
        public_key(jwk)


def test_a_small_rsa_key_is_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(JoseError, match="1024 bits; at least 2048"):
        public_key(public_jwk(small, "small", "RS256"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.b", "not a JWS in compact form"),
        ("a.b.c.d", "not a JWS in compact form"),
        ("e30=.e30.AA", "header is not base64url"),
        ("bm90IGpzb24.e30.AA", "header is not JSON"),
        (b64url_encode(json.dumps({"alg": "RS256", "crit": ["b64"]}).encode()) + ".e30.AA", "'crit' extensions"),
        ("e30." + "A" * 20000 + ".AA", "longer than 16384 characters"),
    ],
)
def test_malformed_tokens_are_refused_naming_the_part(text: str, message: str) -> None:
    with pytest.raises(JoseError, match=message):
        Token.parse(text)
