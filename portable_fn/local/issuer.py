"""The dev host's own token issuer, so functions declared `auth=jwt(...)` can be called in `portable-fn dev`.

    GET /_local/issuer/.well-known/openid-configuration     its OpenID discovery document
    GET /_local/issuer/jwks.json                            its public key (ES256)

Its key is a P-256 key made with `secrets` the first time dev starts, kept in the state directory
(`issuer.json`, readable by its owner only, beside the other local-only files packaging never ships)
with the URL the host last served it at. The host tells functions that URL in `PORTABLE_FN_DEV_ISSUER`,
and `runtime.auth` then accepts this issuer's tokens too, only while `PORTABLE_FN_PROVIDER` is local.
`portable-fn token` signs tokens with the key (`issue`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..runtime.auth import DEV_ISSUER_ENV, DISCOVERY
from ..runtime.errors import PortableFnError
from ..runtime.http import Request, Response
from ..runtime.jose import ES256, EcPrivateKey, b64url_decode, b64url_encode, sign

PREFIX = "/_local/issuer"
KEY_FILE = "issuer.json"
JWKS_PATH = "/jwks.json"


class LocalIssuer:
    """The issuer of one dev state directory: its key (made on first use) and the URL it is served at."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / KEY_FILE

    def start(self, host_url: str) -> None:
        """Serve at `host_url` from now on (recorded for `portable-fn token`), with a key made now if need be."""
        saved = self._saved()
        if saved is None:
            key = EcPrivateKey.generate()
            saved = {"kid": b64url_encode(os.urandom(9)), "d": b64url_encode(key.d.to_bytes(32, "big"))}
        self._save({**saved, "issuer": issuer_url(host_url)})

    def handle(self, request: Request) -> Response:
        """GET the discovery document or the JWKS."""
        saved = self._saved()
        below = request.path[len(PREFIX) :]
        if request.method not in ("GET", "HEAD") or saved is None or below not in (DISCOVERY, JWKS_PATH):
            return Response.json(
                {
                    "error": f"Nothing serves {request.method} {request.path}",
                    "routes": [PREFIX + DISCOVERY, PREFIX + JWKS_PATH],
                },
                status=404,
            )
        if below == JWKS_PATH:
            return Response.json({"keys": [_key(saved).public.jwk(saved["kid"])]})
        url = saved["issuer"]
        return Response.json(
            {
                "issuer": url,
                "jwks_uri": url + JWKS_PATH,
                "id_token_signing_alg_values_supported": [ES256],
                "response_types_supported": ["token"],
                "subject_types_supported": ["public"],
            }
        )

    def issue(self, claims: Mapping[str, Any], audience: str, expires_s: int, now: float | None = None) -> str:
        """A token of this issuer for `audience`, valid `expires_s` from `now`, with `claims` over its own."""
        saved = self._saved()
        if saved is None:
            raise PortableFnError(
                f"There is no dev token issuer in {self.path.parent} yet: start `portable-fn dev` once (it makes the "
                "issuer's key there), then run `portable-fn token` again. If `portable-fn dev` runs with "
                "--state-dir DIR, give `portable-fn token` the same --state-dir DIR (dev's first lines show the "
                "command)."
            )
        issued = int(time.time() if now is None else now)
        body = {"iss": saved["issuer"], "aud": audience, "iat": issued, "exp": issued + expires_s, **claims}
        return sign(body, _key(saved), saved["kid"])

    def _saved(self) -> dict[str, str] | None:
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise PortableFnError(
                f"{self.path} cannot be read ({exc}); delete it and start `portable-fn dev` again."
            ) from None
        return saved if isinstance(saved, dict) else None

    def _save(self, saved: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{KEY_FILE}.{os.getpid()}.part")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the private key: its owner only
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(saved, file)
        temp.replace(self.path)


def issuer_url(host_url: str) -> str:
    return host_url.rstrip("/") + PREFIX


def issuer_env(host_url: str) -> dict[str, str]:
    """What tells the functions of the host at `host_url` whose tokens `jwt()` accepts beside its issuer's."""
    return {DEV_ISSUER_ENV: issuer_url(host_url)}


def serves(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def _key(saved: Mapping[str, str]) -> EcPrivateKey:
    return EcPrivateKey(int.from_bytes(b64url_decode(saved["d"], "the issuer's key"), "big"))
