"""Fixtures for the auth tests: signing keys made with `cryptography`, tokens made with PyJWT (never with the
code under test), a JWKS server on 127.0.0.1, and the stores the middleware keeps its state in."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portable_fn.runtime.http import Request, Response
from portable_fn.runtime.pipeline import Call, Invocation, Middleware
from portable_fn.runtime.ratelimit import STORE
from portable_fn.runtime.state_sqlite import SqliteBackend

from ..json_server import JwksServer
from .handlers import routes

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    """The public JWK of a `cryptography` private key, as PyJWT writes it."""
    jwk = json.loads(pyjwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig"}


JWKS = {"keys": [public_jwk(RSA_KEY, "rsa-1", "RS256"), public_jwk(EC_KEY, "ec-1", "ES256")]}


def claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": routes.ISSUER, "aud": routes.AUDIENCE, "sub": "alice", "iat": now, "exp": now + 600, **over}


def token(alg: str = "RS256", kid: str | None = None, **over: Any) -> str:
    """A token PyJWT signs with the test keys (RS256: `rsa-1`, ES256: `ec-1`)."""
    key = RSA_KEY if alg == "RS256" else EC_KEY
    kid = kid or ("rsa-1" if alg == "RS256" else "ec-1")
    return pyjwt.encode(claims(**over), key, algorithm=alg, headers={"kid": kid})


class Clock:
    """Time that moves only when a test moves it."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


class Fetches:
    """A `fetch` serving documents from a dict, recording each URL asked for."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.documents = documents
        self.asked: list[str] = []

    def __call__(self, url: str) -> Any:
        self.asked.append(url)
        if url not in self.documents:
            raise OSError(f"nothing at {url}")
        return self.documents[url]


def serve(middleware: Middleware, handler: Any, request: Request) -> Call:
    """One call through `middleware` alone, the handler answering 200 with `request.auth`'s subject."""
    from portable_fn.runtime import spec_of

    spec = spec_of(handler)
    assert spec is not None
    call = Invocation(spec, "local").request(request)
    middleware.before(call)
    if call.response is None:
        auth = request.auth
        call.response = Response.json({"subject": auth.subject if auth is not None else None})
    middleware.after(call)
    return call


def bearer(text: str, path: str = "/orders", method: str = "GET", **headers: str) -> Request:
    return Request(method, path, headers={"Authorization": f"Bearer {text}", **headers})


@pytest.fixture
def buckets(tmp_path: Path) -> Iterator[SqliteBackend]:
    """The rate limits' store, an SQLite file of this test."""
    backend = SqliteBackend(str(tmp_path / "pfn-rate-limits.sqlite3"))
    previous, STORE.backend = STORE._backend, backend
    yield backend
    STORE.backend = previous


@pytest.fixture
def issuer() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


@pytest.fixture
def clock() -> Callable[[], float]:
    return Clock()
