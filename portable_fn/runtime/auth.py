"""Authenticated HTTP: who may call a function, verified inside the function the same way on every cloud.

    @function(trigger=http("GET", "/orders", auth=jwt("https://id.example.com/", "api://orders")))
    @function(trigger=http("POST", "/ingest", auth=api_key(secret=ingest_keys)))

`AuthMiddleware` answers a call its trigger's `auth` does not let through (401: no or bad credential;
403: a valid token without the required scopes) before the handler runs, and hands the handler what it
verified as `request.auth` (an `Auth`). It also applies the app's CORS policy (`runtime.cors`): it answers
preflights, which carry no credential, before any check, and adds the CORS headers to every answer, 401s
included. A shim whose cloud verified the token already (an AWS HTTP API JWT authorizer) hands the claims
over with `verified(request, claims)`, and they are not verified again.

JWT signing keys come from the issuer's JWKS (`jwks_url`, else the `jwks_uri` of its OpenID discovery
document), kept per URL for `JWKS_TTL_S` and fetched again once, at most every `REFETCH_S`, when a token
names a key it does not hold (keys rotate). In `portable-fn dev`, tokens of the dev host's own issuer
(`PORTABLE_FN_DEV_ISSUER`, see `portable_fn.local.issuer`) are accepted too; never on a cloud.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from . import cors
from .errors import DeclarationError, PortableFnError
from .http import Request, Response
from .pipeline import Call, Middleware
from .resources import Use
from .triggers import Http

if TYPE_CHECKING:  # jose (and hashlib, hmac) load when a token is first verified, not at every cold start
    from .function import FunctionSpec
    from .jose import EcPublicKey, RsaPublicKey, Token

JWKS_TTL_S = 600.0  # how long fetched signing keys are used before they are fetched again
REFETCH_S = 30.0  # at most one early fetch per this many seconds, for a token naming an unknown key
FETCH_TIMEOUT_S = 5.0
DEV_ISSUER_ENV = "PORTABLE_FN_DEV_ISSUER"
DISCOVERY = "/.well-known/openid-configuration"

Fetch = Callable[[str], Any]  # URL -> the JSON document there (raises OSError / ValueError when it cannot)
ALGORITHMS = ("RS256", "ES256")  # what `jose` verifies; never a shared secret, never `none`
Key: TypeAlias = "RsaPublicKey | EcPublicKey"
Keys: TypeAlias = "tuple[float, dict[str, Key], list[Key]]"  # (fetched at, by kid, every key) of one JWKS


class Auth:
    """Who called: `kind` ("jwt" or "api_key"), `subject` (the token's `sub`, the key's name), the token's
    `claims` (empty for a key) and `key`, the name an API key was given (never the key itself)."""

    __slots__ = ("kind", "subject", "claims", "key")

    def __init__(self, kind: str, subject: str | None, claims: Mapping[str, Any], key: str | None = None) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "subject", subject)
        object.__setattr__(self, "claims", claims)
        object.__setattr__(self, "key", key)

    kind: str
    subject: str | None
    claims: Mapping[str, Any]
    key: str | None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Auth is immutable.")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Auth) and all(getattr(self, s) == getattr(other, s) for s in self.__slots__)

    def __hash__(self) -> int:
        return hash((self.kind, self.subject, self.key))

    def __repr__(self) -> str:
        return f"Auth(kind={self.kind!r}, subject={self.subject!r}, key={self.key!r})"


class Denied(PortableFnError):
    """A call that is not let through: `status` 401 (no or bad credential) or 403 (not allowed), `reason`
    (never the credential), `challenge` for the WWW-Authenticate header, and for a 403 the verified caller
    refused (`auth`)."""

    def __init__(self, reason: str, status: int = 401, challenge: str | None = None, auth: Auth | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.challenge = challenge
        self.auth = auth

    def response(self) -> Response:
        error = {401: "unauthorized", 403: "forbidden"}.get(self.status, "unavailable")
        headers = {"WWW-Authenticate": self.challenge} if self.challenge else None
        return Response.json({"error": error, "reason": self.reason}, status=self.status, headers=headers)


class Verifier:
    """How an HTTP trigger verifies its callers (`jwt(...)`, `api_key(...)`)."""

    def authenticate(self, request: Request, keys: JwksCache, now: float) -> Auth:
        """The caller, or Denied saying why not."""
        raise NotImplementedError

    def uses(self) -> tuple[Use, ...]:
        """The resources verifying needs (deploy grants them to the function)."""
        return ()


# -- JWT ---------------------------------------------------------------------------------------------


class Jwt(Verifier):
    """Bearer JWTs of one issuer for one audience (see `jwt`)."""

    def __init__(
        self,
        issuer: str,
        audience: str | Iterable[str],
        jwks_url: str | None = None,
        algorithms: Iterable[str] = ALGORITHMS,
        leeway: float = 60,
        scopes: Iterable[str] = (),
    ) -> None:
        declared = f"jwt(issuer={issuer!r})"
        if not isinstance(issuer, str) or not issuer.startswith(("https://", "http://")):
            raise DeclarationError(
                f"{declared}: the issuer is the URL tokens carry in 'iss', like 'https://id.example.com/'."
            )
        audiences = (audience,) if isinstance(audience, str) else tuple(audience)
        if not audiences or not all(isinstance(a, str) and a for a in audiences):
            raise DeclarationError(f"{declared}: audience={audience!r} must be a string or a list of strings.")
        if jwks_url is not None and not (isinstance(jwks_url, str) and jwks_url.startswith(("https://", "http://"))):
            raise DeclarationError(f"{declared}: jwks_url={jwks_url!r} must be the URL of the issuer's JWKS.")
        algs = (algorithms,) if isinstance(algorithms, str) else tuple(algorithms)
        if not algs or any(alg not in ALGORITHMS for alg in algs):
            raise DeclarationError(
                f"{declared}: algorithms={algorithms!r}; use {list(ALGORITHMS)} or a part of it (tokens signed with "
                "a shared secret, or not at all, are never accepted)."
            )
        if isinstance(leeway, bool) or not isinstance(leeway, (int, float)) or not 0 <= leeway <= 3600:
            raise DeclarationError(f"{declared}: leeway={leeway!r} must be seconds from 0 to 3600.")
        wanted = (scopes,) if isinstance(scopes, str) else tuple(scopes)
        if not all(isinstance(s, str) and s and " " not in s for s in wanted):
            raise DeclarationError(
                f"{declared}: scopes={scopes!r} must be a list of scope names, like ['orders:read']."
            )
        self.issuer = issuer
        self.audiences = audiences
        self.jwks_url = jwks_url
        self.algorithms = algs
        self.leeway = float(leeway)
        self.scopes = wanted

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Jwt) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((self.issuer, self.audiences))

    def __repr__(self) -> str:
        return f"jwt(issuer={self.issuer!r}, audience={list(self.audiences)!r})"

    def authenticate(self, request: Request, keys: JwksCache, now: float) -> Auth:
        token = _bearer(request)
        jwks = self._jwks_of(token.claims.get("iss"))
        if token.alg not in self.algorithms:
            raise _invalid(
                f"tokens signed with {token.alg!r} are not accepted here (accepted: {', '.join(self.algorithms)})"
            )
        key = keys.key(jwks, token.kid, token.alg)
        if not key.verify(token.alg, token.signing_input, token.signature):
            raise _invalid("bad signature")
        claims = token.claims
        self._check_times(claims, now)
        self._check_audience(claims.get("aud"))
        return check_scopes(self, Auth("jwt", _subject(claims), claims))

    def _jwks_of(self, issuer: Any) -> str:
        """Where the keys of the token's issuer are: this verifier's, or the dev host's own issuer's."""
        if issuer == self.issuer:
            return self.jwks_url or self.issuer.rstrip("/") + DISCOVERY
        dev = dev_issuer()
        if dev is not None and issuer == dev:
            return dev + DISCOVERY
        raise _invalid(f"wrong issuer: expected {self.issuer!r}")

    def _check_times(self, claims: Mapping[str, Any], now: float) -> None:
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        for name, value in (("exp", exp), ("nbf", nbf), ("iat", iat)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise _invalid(f"the {name!r} claim is not a number of seconds")
        if exp is None:
            raise _invalid("the token has no 'exp' claim (tokens that never expire are not accepted)")
        if now > exp + self.leeway:
            raise _invalid(f"expired at {_when(exp)}")
        if nbf is not None and now + self.leeway < nbf:
            raise _invalid(f"not valid before {_when(nbf)}")
        if iat is not None and now + self.leeway < iat:
            raise _invalid(f"issued in the future ({_when(iat)})")

    def _check_audience(self, aud: Any) -> None:
        given = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(a in self.audiences for a in given):
            expected = " or ".join(repr(a) for a in self.audiences)
            raise _invalid(f"wrong audience: expected {expected}")


def check_scopes(verifier: Verifier, auth: Auth) -> Auth:
    """`auth` when its token grants every scope `verifier` requires (the `scope` claim, space separated,
    or an `scp` list); else Denied 403 naming the missing ones."""
    required = getattr(verifier, "scopes", ())
    if not required:
        return auth
    claims = auth.claims
    granted = set(str(claims.get("scope") or "").split())
    scp = claims.get("scp")
    listed = scp if isinstance(scp, list) else str(scp or "").split()
    granted.update(s for s in listed if isinstance(s, str))
    missing = [s for s in required if s not in granted]
    if missing:
        raise Denied(
            f"missing scope(s): {' '.join(missing)}",
            403,
            f'Bearer error="insufficient_scope", scope="{" ".join(required)}"',
            auth,
        )
    return auth


def _bearer(request: Request) -> Token:
    from .jose import JoseError, Token

    header = request.headers.get("authorization")
    if not header:
        raise Denied("missing Authorization header: send 'Authorization: Bearer <token>'", 401, "Bearer")
    scheme, _, text = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not text.strip():
        raise _invalid("the Authorization header is not 'Bearer <token>'")
    try:
        return Token.parse(text.strip())
    except JoseError as exc:
        raise _invalid(f"malformed token: {exc}") from None


def _invalid(reason: str) -> Denied:
    description = reason.replace("\\", "\\\\").replace('"', "'")
    return Denied(reason, 401, f'Bearer error="invalid_token", error_description="{description}"')


def _subject(claims: Mapping[str, Any]) -> str | None:
    sub = claims.get("sub")
    return sub if isinstance(sub, str) else None


def _when(seconds: float) -> str:
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):  # beyond what the platform's time functions take
        return f"{seconds:g} s after the epoch"


def dev_issuer() -> str | None:
    """The dev host's own issuer, trusted only while running locally (`portable-fn dev`)."""
    if os.environ.get("PORTABLE_FN_PROVIDER", "local") != "local":
        return None
    return os.environ.get(DEV_ISSUER_ENV) or None


class JwksCache:
    """Signing keys per JWKS (or discovery document) URL, fetched with `fetch` and kept `JWKS_TTL_S`;
    `clock` is monotonic seconds. Thread-safe: one dev host serves requests on many threads."""

    def __init__(self, fetch: Fetch | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.fetch = fetch or fetch_json
        self.clock = clock
        self._keys: dict[str, Keys] = {}  # url -> (fetched at, by kid, all)
        self._lock = threading.Lock()

    def key(self, url: str, kid: Any, alg: str) -> Key:
        """The key `kid` (or the one key for `alg` when the token names none) of the JWKS at `url`; Denied
        naming why not."""
        if kid is not None and not isinstance(kid, str):
            raise _invalid("the token's 'kid' is not a string")
        now = self.clock()
        with self._lock:
            entry = self._keys.get(url)
        if entry is None or now - entry[0] >= JWKS_TTL_S or (_unknown(entry, kid) and now - entry[0] >= REFETCH_S):
            entry = self._load(url, now, entry)
        found = entry[1].get(kid) if kid is not None else _only(entry[2], alg)
        if found is None:
            raise _invalid(f"unknown signing key {kid!r}" if kid is not None else "the token names no key ('kid')")
        if found.alg != alg:
            raise _invalid(f"key {kid!r} is an {found.kty} key; it cannot verify {alg}")
        return found

    def _load(self, url: str, now: float, kept: Keys | None) -> Keys:
        """The keys at `url` fetched now; those `kept` (for `REFETCH_S` more) when the issuer cannot be reached."""
        try:
            document = self.fetch(url)
            if url.endswith(DISCOVERY):
                jwks_uri = document.get("jwks_uri") if isinstance(document, dict) else None
                if not isinstance(jwks_uri, str):
                    raise ValueError(f"{url} has no 'jwks_uri'")
                document = self.fetch(jwks_uri)
            by_kid, every = _read_jwks(document)
        except (OSError, ValueError) as exc:
            if kept is None:
                raise Denied(f"the issuer's signing keys cannot be fetched ({exc}); try again", 503) from None
            _warn(f"the signing keys at {url} cannot be fetched again ({exc}); using those fetched before")
            by_kid, every, now = kept[1], kept[2], now - JWKS_TTL_S + REFETCH_S  # try again in REFETCH_S
        entry = (now, by_kid, every)
        with self._lock:
            self._keys[url] = entry
        return entry


def _unknown(entry: Keys, kid: Any) -> bool:
    return kid is not None and kid not in entry[1]


def _warn(message: str) -> None:
    import logging

    logging.getLogger("portable_fn").warning("%s", message)


def _read_jwks(document: Any) -> tuple[dict[str, Key], list[Key]]:
    from .jose import JoseError, public_key

    jwks = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(jwks, list):
        raise ValueError("the JWKS has no 'keys' list")
    by_kid: dict[str, Key] = {}
    every: list[Key] = []
    for jwk in jwks:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        try:
            key = public_key(jwk)
        except JoseError:
            continue  # a key of a type we do not verify with (or a broken one): tokens naming it are refused
        every.append(key)
        if isinstance(jwk.get("kid"), str):
            by_kid[jwk["kid"]] = key
    return by_kid, every


def _only(keys: list[Key], alg: str) -> Key | None:
    fitting = [k for k in keys if k.alg == alg]
    return fitting[0] if len(fitting) == 1 else None


def fetch_json(url: str) -> Any:
    """GET `url` and parse it as JSON (urllib; `FETCH_TIMEOUT_S`)."""
    import urllib.request

    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
        return json.loads(response.read(1024 * 1024))


# -- API keys ------------------------------------------------------------------------------------------


class ApiKey(Verifier):
    """API keys kept in a secret (see `api_key`)."""

    def __init__(self, secret: Any, header: str = "X-Api-Key") -> None:
        from .secrets import Secret

        if not isinstance(secret, Secret):
            raise DeclarationError(
                f"api_key(secret={secret!r}): pass a declared secret, like api_key(secret=api_keys) for "
                'api_keys = secret(\'api-keys\') holding JSON {"<key>": "<name>"}.'
            )
        if not isinstance(header, str) or not header or header.lower() == "authorization":
            raise DeclarationError(
                f"api_key(header={header!r}): name the header callers send the key in, like 'X-Api-Key'."
            )
        self.secret = secret
        self.header = header
        self._parsed: tuple[str, dict[str, str]] | None = None  # (the secret's text, its keys)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and (self.secret, self.header) == (other.secret, other.header)

    def __hash__(self) -> int:
        return hash((self.secret.name, self.header))

    def __repr__(self) -> str:
        return f"api_key(secret={self.secret!r}, header={self.header!r})"

    def uses(self) -> tuple[Use, ...]:
        return tuple(self.secret.as_uses())

    def authenticate(self, request: Request, keys: JwksCache, now: float) -> Auth:
        given = request.headers.get(self.header)
        challenge = f'ApiKey header="{self.header}"'
        if not given:
            raise Denied(f"missing {self.header} header", 401, challenge)
        name = None
        import hmac

        for key, owner in self._keys().items():  # every key compared, so timing says nothing about which
            if hmac.compare_digest(key.encode(), given.encode()):
                name = owner
        if name is None:
            raise Denied(f"unknown API key in {self.header}", 401, challenge)
        return Auth("api_key", name, {}, name)

    def _keys(self) -> dict[str, str]:
        text = self.secret.value
        parsed = self._parsed
        if parsed is None or parsed[0] != text:  # read again when the secret's value changed (rotation)
            parsed = self._parsed = (text, _key_names(self.secret.name, text))
        return parsed[1]


def _key_names(name: str, text: str) -> dict[str, str]:
    try:
        keys = json.loads(text)
    except ValueError:
        keys = None
    if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        raise PortableFnError(
            f'secret {name!r} is not the JSON api_key() reads: set it to {{"<key>": "<name or tenant>"}} with '
            f"`portable-fn secrets set {name}`."
        )
    return keys


# -- declaring -----------------------------------------------------------------------------------------


def jwt(
    issuer: str,
    audience: str | Iterable[str],
    *,
    jwks_url: str | None = None,
    algorithms: Iterable[str] = ALGORITHMS,
    leeway: float = 60,
    scopes: Iterable[str] = (),
) -> Jwt:
    """Callers send `Authorization: Bearer <JWT>` signed (RS256 or ES256) by `issuer` for `audience` (a
    string or a list: the token's `aud` must hold one); `leeway` seconds of clock skew are allowed on
    `exp`, `nbf` and `iat`; `scopes` must all be granted (`scope` / `scp`), else 403."""
    return Jwt(issuer, audience, jwks_url, algorithms, leeway, scopes)


def api_key(secret: Any, header: str = "X-Api-Key") -> ApiKey:
    """Callers send a key in `header`; `secret` holds the valid ones as JSON {"<key>": "<name or tenant>"}
    (the name is `request.auth.key`). Declaring it declares reading the secret."""
    return ApiKey(secret, header)


def verified(request: Request, claims: Mapping[str, Any]) -> Auth:
    """Hand over claims the cloud verified already (AWS HTTP API JWT authorizer): `request.auth` is set and
    the middleware does not verify the token again (the scopes a route requires are still checked)."""
    auth = Auth("jwt", _subject(claims), dict(claims))
    request.auth = auth
    return auth


# -- the middleware ------------------------------------------------------------------------------------


class AuthMiddleware(Middleware):
    """Answers preflights (CORS), refuses callers the trigger's `auth` does not let through, sets
    `request.auth`, and puts the CORS headers on every answer. `keys` caches signing keys; `clock` is the
    time the token's times are checked against (epoch seconds)."""

    def wanted(self, spec: FunctionSpec) -> bool:
        return not spec.trigger.is_event  # HTTP functions: CORS for every one, callers checked where declared

    def __init__(self, keys: JwksCache | None = None, clock: Callable[[], float] = time.time) -> None:
        self.keys = keys or JwksCache()
        self.clock = clock

    def before(self, call: Call) -> None:
        request = call.request
        if request is None:
            return
        answer = cors.preflight(request)
        if answer is not None:
            call.response = answer
            return
        trigger = call.invocation.spec.trigger
        verifier = trigger.auth if isinstance(trigger, Http) else None
        if verifier is None:
            return
        try:
            if request.auth is None:
                request.auth = verifier.authenticate(request, self.keys, self.clock())
            else:
                check_scopes(verifier, request.auth)
        except Denied as exc:
            request.auth = exc.auth  # a verified caller refused (403) is who called: its tenant's usage counts it
            call.response = exc.response()
        except PortableFnError as exc:  # the credentials' store: the deployment's fault, not the caller's
            _refused(call, exc)

    def after(self, call: Call) -> None:
        if call.request is not None and call.response is not None:
            call.response = cors.decorate(call.request, call.response)


def _refused(call: Call, exc: Exception) -> None:
    import logging

    name = call.invocation.spec.name
    logging.getLogger("portable_fn").error("function %s: callers cannot be verified: %s", name, exc)
    call.response = Response.json(
        {
            "error": "internal error",
            "function": name,
            "reason": "callers cannot be verified; the function's log says why",
        },
        status=500,
    )
