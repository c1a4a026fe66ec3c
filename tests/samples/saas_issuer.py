"""What the saas sample's tests serve on 127.0.0.1: an OpenID issuer (its discovery document and JWKS; tokens
signed with PyJWT, RS256, a key made for the test run) and the billing system the export posts to."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from ..json_server import JwksServer, Quiet
from ..json_server import serving as serving_json

AUDIENCE = "saas-api"


class Issuer:
    """Signs tokens as `url` (the issuer)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "saas-test-1"
        self.url = ""

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def token(self, sub: str = "alice", *, org: str | None = "acme", scope: str = "", **claims: Any) -> str:
        """A token for `sub` of tenant `org` holding `scope` (space separated); `claims` override any claim."""
        now = int(time.time())
        body: dict[str, Any] = {"iss": self.url, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600}
        if org is not None:
            body["org_id"] = org
        if scope:
            body["scope"] = scope
        body.update(claims)
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid})

    def bearer(self, sub: str = "alice", **options: Any) -> dict[str, str]:
        return {"authorization": "Bearer " + self.token(sub, **options)}


@contextmanager
def serving() -> Iterator[Issuer]:
    """An Issuer whose discovery document and JWKS are served on 127.0.0.1 while the block runs."""
    issuer = Issuer()
    with JwksServer(jwks_path="/.well-known/jwks.json") as server:
        server.jwks = issuer.jwks()
        issuer.url = server.url + "/"
        yield issuer


@contextmanager
def billing_system() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A billing system's export endpoint on 127.0.0.1 while the block runs: (its URL, the (headers with
    lower-case names, body) of each export it received)."""
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(Quiet):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

    with serving_json(Handler) as url:
        yield f"{url}/exports", received
