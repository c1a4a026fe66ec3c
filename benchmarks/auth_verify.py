"""Measure what verifying a bearer token costs inside a function: RS256 and ES256 with a cached key.

Why it exists: issue 16 verifies JWTs in the function on every cloud, with the standard library only (the
runtime ships no `cryptography`): RS256 is one `pow()` with the public exponent, ES256 is P-256 point
arithmetic in pure Python. This times `jwt(...).authenticate(request)` end to end (header read, base64url,
JSON, key lookup in a warm JWKS cache, signature, claims) for each algorithm, and, as a reference for the
same work in C, PyJWT + `cryptography` decoding the same token (test dependencies; skipped when absent).

    python benchmarks/auth_verify.py            # about 10 s
    python benchmarks/auth_verify.py --quick    # about 3 s, rougher numbers

Goal (issue 16 brief): RS256 with a cached key well under a millisecond; ES256 measured and reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portable_fn.runtime.auth import JwksCache, jwt
from portable_fn.runtime.http import Request

ISSUER, AUDIENCE, JWKS_URL = "https://id.example.test/", "api://orders", "https://id.example.test/jwks.json"


def per_call_us(contenders: dict[str, Callable[[], object]], calls: int, rounds: int) -> dict[str, float]:
    """Per contender, the median over `rounds` of the mean µs per call of `calls` calls; contenders take
    turns round by round, so a busy moment of this shared machine slows them alike."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, work in contenders.items():
            start = time.perf_counter()
            for _ in range(calls):
                work()
            samples[name].append((time.perf_counter() - start) / calls * 1e6)
    return {name: statistics.median(times) for name, times in samples.items()}


def contenders(alg: str, key: Any, cache: JwksCache, now: float) -> dict[str, Callable[[], object]]:
    """Verifying one token of `alg` here and with PyJWT + cryptography (each checked to accept it)."""
    verifier = jwt(ISSUER, AUDIENCE, jwks_url=JWKS_URL)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": int(now), "exp": int(now) + 3600}
    text = pyjwt.encode(claims, key, algorithm=alg, headers={"kid": alg})
    request = Request("GET", "/orders", headers={"Authorization": f"Bearer {text}"})
    public = key.public_key()
    assert verifier.authenticate(request, cache, now).subject == "alice"
    return {
        f"portable-fn {alg}": lambda: verifier.authenticate(request, cache, now),
        f"PyJWT {alg}": lambda: pyjwt.decode(text, public, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    keys = {
        "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ES256": ec.generate_private_key(ec.SECP256R1()),
    }
    algorithms = pyjwt.algorithms.get_default_algorithms()
    jwks = {
        "keys": [{**json.loads(algorithms[a].to_jwk(k.public_key())), "kid": a, "use": "sig"} for a, k in keys.items()]
    }
    cache = JwksCache(lambda url: jwks)
    now = time.time()
    rounds = 5 if quick else 15
    figures = {
        **per_call_us(contenders("RS256", keys["RS256"], cache, now), 40 if quick else 200, rounds),
        **per_call_us(contenders("ES256", keys["ES256"], cache, now), 10 if quick else 40, rounds),
    }
    print(f"{'verifying one token (cached key)':<36} {'µs per call':>12}")
    for name, us in figures.items():
        print(f"{name:<36} {us:>12.1f}")


if __name__ == "__main__":
    main()
