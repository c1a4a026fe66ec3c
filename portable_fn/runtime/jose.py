"""JWS compact tokens (JWT) and JWK keys, RS256 and ES256, in the standard library only.

The runtime verifies bearer tokens inside every function, so it cannot lean on `cryptography`: RSA is one
`pow()` (RFC 8017 RSASSA-PKCS1-v1_5 with SHA-256), ECDSA is P-256 arithmetic in Jacobian coordinates
(FIPS 186-4, SEC 1), and a JWS ES256 signature is the raw `r || s` pair of 32-byte integers (RFC 7518
section 3.4). Only ES256 signs, for the dev host's local token issuer (`portable_fn.local.issuer`).

    token = Token.parse(text)                   # JoseError naming what is malformed
    key = public_key(jwk)                       # RsaPublicKey or EcPublicKey
    key.verify(token.alg, token.signing_input, token.signature)   # True / False

Nothing here knows about issuers, audiences or time: `runtime.auth` checks the claims.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from .errors import PortableFnError

RS256 = "RS256"
ES256 = "ES256"
MIN_RSA_BITS = 2048
MAX_TOKEN_CHARS = 16 * 1024  # far above any real token; a header beyond it is refused before parsing

# DER of DigestInfo { sha256, NULL } that precedes the hash in an RS256 signature (RFC 8017 section 9.2)
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")

# P-256 (secp256r1), FIPS 186-4 D.1.2.3
_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_A = _P - 3
_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class JoseError(PortableFnError):
    """A token or key that cannot be read; the message says what is wrong (never the token itself)."""


def b64url_decode(text: Any, what: str) -> bytes:
    """Base64url without padding (RFC 7515 section 2); JoseError naming `what` when it is not."""
    if not isinstance(text, str) or not _B64URL.issuperset(text) or len(text) % 4 == 1:
        raise JoseError(f"{what} is not base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise JoseError(f"{what} is not base64url text") from None


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Token:
    """A JWS in compact form, split and decoded but not verified: `header`, `claims`, `signature`."""

    __slots__ = ("header", "claims", "signing_input", "signature")

    def __init__(self, header: dict[str, Any], claims: dict[str, Any], signing_input: bytes, signature: bytes) -> None:
        self.header = header
        self.claims = claims
        self.signing_input = signing_input
        self.signature = signature

    @property
    def alg(self) -> Any:
        return self.header.get("alg")

    @property
    def kid(self) -> Any:
        return self.header.get("kid")

    @classmethod
    def parse(cls, text: str) -> Token:
        if len(text) > MAX_TOKEN_CHARS:
            raise JoseError(f"the token is longer than {MAX_TOKEN_CHARS} characters")
        parts = text.split(".")
        if len(parts) != 3:
            raise JoseError("the token is not a JWS in compact form (three base64url parts separated by '.')")
        header = _json_object(b64url_decode(parts[0], "the token's header"), "the token's header")
        claims = _json_object(b64url_decode(parts[1], "the token's payload"), "the token's payload")
        if "crit" in header:  # RFC 7515 4.1.11: extensions we do not understand must be refused
            raise JoseError("the token's header has 'crit' extensions, which are not supported")
        signature = b64url_decode(parts[2], "the token's signature")
        return cls(header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise JoseError(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise JoseError(f"{what} is not a JSON object")
    return value


# -- keys ------------------------------------------------------------------------------------------


class RsaPublicKey:
    """An RSA public key (modulus `n`, exponent `e`) verifying RS256."""

    __slots__ = ("n", "e", "size")
    kty = "RSA"
    alg = RS256

    def __init__(self, n: int, e: int) -> None:
        if n.bit_length() < MIN_RSA_BITS:
            raise JoseError(f"the RSA key has {n.bit_length()} bits; at least {MIN_RSA_BITS} are required")
        if e < 3 or e % 2 == 0:
            raise JoseError("the RSA key's exponent is not a valid public exponent")
        self.n, self.e, self.size = n, e, (n.bit_length() + 7) // 8

    def verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 section 8.2.2): the encoded message rebuilt and compared."""
        if alg != RS256 or len(signature) != self.size:
            return False
        s = int.from_bytes(signature, "big")
        if s >= self.n:
            return False
        encoded = pow(s, self.e, self.n).to_bytes(self.size, "big")
        digest = _SHA256_DIGEST_INFO + hashlib.sha256(signing_input).digest()
        expected = b"\x00\x01" + b"\xff" * (self.size - len(digest) - 3) + b"\x00" + digest
        return hmac.compare_digest(encoded, expected)


class EcPublicKey:
    """A P-256 public point (`x`, `y`) verifying ES256; refused unless it lies on the curve."""

    __slots__ = ("x", "y")
    kty = "EC"
    alg = ES256

    def __init__(self, x: int, y: int) -> None:
        if not (0 <= x < _P and 0 <= y < _P) or (y * y - (x * x * x + _A * x + _B)) % _P:
            raise JoseError("the EC key's point is not on the P-256 curve")
        self.x, self.y = x, y

    def verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        """ECDSA verification (SEC 1 section 4.1.4) of a JWS signature: 64 bytes, `r || s`."""
        if alg != ES256 or len(signature) != 64:
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        if not (0 < r < _N and 0 < s < _N):
            return False
        e = int.from_bytes(hashlib.sha256(signing_input).digest(), "big")
        w = pow(s, -1, _N)
        point = _affine(_double_multiply(e * w % _N, _G, r * w % _N, (self.x, self.y)))
        return point is not None and point[0] % _N == r

    def jwk(self, kid: str) -> dict[str, str]:
        """This key as a public JWK (RFC 7518 section 6.2.1)."""
        return {
            "kty": "EC",
            "crv": "P-256",
            "alg": ES256,
            "use": "sig",
            "kid": kid,
            "x": b64url_encode(self.x.to_bytes(32, "big")),
            "y": b64url_encode(self.y.to_bytes(32, "big")),
        }


class EcPrivateKey:
    """A P-256 private scalar `d`, signing ES256 (the local issuer's key)."""

    __slots__ = ("d", "public")

    def __init__(self, d: int) -> None:
        if not 0 < d < _N:
            raise JoseError("the EC private key is out of range")
        point = _affine(_multiply(d, _G))
        assert point is not None  # 0 < d < n: never the point at infinity
        self.d, self.public = d, EcPublicKey(*point)

    @classmethod
    def generate(cls) -> EcPrivateKey:
        return cls(_random_scalar())

    def sign(self, data: bytes) -> bytes:
        """ECDSA over SHA-256 (SEC 1 section 4.1.3) with a fresh random nonce; `r || s`, 64 bytes."""
        e = int.from_bytes(hashlib.sha256(data).digest(), "big")
        while True:
            k = _random_scalar()
            point = _affine(_multiply(k, _G))
            assert point is not None
            r = point[0] % _N
            s = pow(k, -1, _N) * (e + r * self.d) % _N
            if r and s:
                return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _random_scalar() -> int:
    import secrets  # signing only (the dev host's issuer): a function that verifies never loads it

    return secrets.randbelow(_N - 1) + 1


def public_key(jwk: Mapping[str, Any]) -> RsaPublicKey | EcPublicKey:
    """The verifying key of a JWK (RFC 7517): RSA, or EC on P-256; JoseError for any other."""
    kty = jwk.get("kty")
    if kty == "RSA":
        return RsaPublicKey(_jwk_int(jwk, "n"), _jwk_int(jwk, "e"))
    if kty == "EC":
        if jwk.get("crv") != "P-256":
            raise JoseError(f"EC keys on curve {jwk.get('crv')!r} are not supported (P-256 is)")
        x, y = _jwk_int(jwk, "x", 32), _jwk_int(jwk, "y", 32)
        return EcPublicKey(x, y)
    raise JoseError(f"keys of type {kty!r} are not supported (RSA and EC are)")


def _jwk_int(jwk: Mapping[str, Any], name: str, size: int | None = None) -> int:
    data = b64url_decode(jwk.get(name), f"the key's {name!r}")
    if not data or (size is not None and len(data) != size):
        raise JoseError(f"the key's {name!r} has the wrong length")
    return int.from_bytes(data, "big")


def sign(claims: Mapping[str, Any], key: EcPrivateKey, kid: str) -> str:
    """An ES256 JWT of `claims`, its header naming `kid`."""
    header = {"alg": ES256, "typ": "JWT", "kid": kid}
    parts = [b64url_encode(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)]
    signing_input = ".".join(parts).encode("ascii")
    return f"{signing_input.decode('ascii')}.{b64url_encode(key.sign(signing_input))}"


# -- P-256 arithmetic: Jacobian (X, Y, Z) stands for the affine point (X/Z^2, Y/Z^3); Z = 0 is infinity --

Jacobian = tuple[int, int, int]
_INFINITY: Jacobian = (1, 1, 0)


def _double(point: Jacobian) -> Jacobian:
    x, y, z = point
    if not z or not y:
        return _INFINITY
    yy = y * y % _P
    s = 4 * x * yy % _P
    zz = z * z % _P
    m = 3 * (x - zz) * (x + zz) % _P  # a = -3
    nx = (m * m - 2 * s) % _P
    return nx, (m * (s - nx) - 8 * yy * yy) % _P, 2 * y * z % _P


def _add(p: Jacobian, q: Jacobian) -> Jacobian:
    if not p[2]:
        return q
    if not q[2]:
        return p
    x1, y1, z1 = p
    x2, y2, z2 = q
    z1z1, z2z2 = z1 * z1 % _P, z2 * z2 % _P
    u1, u2 = x1 * z2z2 % _P, x2 * z1z1 % _P
    s1, s2 = y1 * z2 * z2z2 % _P, y2 * z1 * z1z1 % _P
    h, r = (u2 - u1) % _P, (s2 - s1) % _P
    if not h:
        return _double(p) if not r else _INFINITY
    hh = h * h % _P
    hhh = h * hh % _P
    v = u1 * hh % _P
    nx = (r * r - hhh - 2 * v) % _P
    return nx, (r * (v - nx) - s1 * hhh) % _P, h * z1 * z2 % _P


def _multiply(k: int, point: tuple[int, int]) -> Jacobian:
    result, addend = _INFINITY, (point[0], point[1], 1)
    for bit in bin(k)[2:]:
        result = _double(result)
        if bit == "1":
            result = _add(result, addend)
    return result


def _double_multiply(k1: int, p1: tuple[int, int], k2: int, p2: tuple[int, int]) -> Jacobian:
    """k1*p1 + k2*p2 in one pass over the bits (Shamir's trick)."""
    a, b = (p1[0], p1[1], 1), (p2[0], p2[1], 1)
    both = _add(a, b)
    result = _INFINITY
    for i in range(max(k1.bit_length(), k2.bit_length()) - 1, -1, -1):
        result = _double(result)
        pick = ((k1 >> i) & 1, (k2 >> i) & 1)
        if pick == (1, 1):
            result = _add(result, both)
        elif pick == (1, 0):
            result = _add(result, a)
        elif pick == (0, 1):
            result = _add(result, b)
    return result


def _affine(point: Jacobian) -> tuple[int, int] | None:
    x, y, z = point
    if not z:
        return None
    inverse = pow(z, -1, _P)
    inverse2 = inverse * inverse % _P
    return x * inverse2 % _P, y * inverse2 * inverse % _P
