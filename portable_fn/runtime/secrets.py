"""Secrets by reference: `stripe_key = secret("stripe-key")`, read as `stripe_key.value` at run time.

A secret is a declared resource like a state: a function that reads it says so (`uses=[stripe_key]`), deploy
grants exactly that function read access to exactly that secret, and the value never passes through
environment variables, artifacts, plans or logs. Values are set out of band with
`portable-fn secrets set NAME --provider P --stage S`.

    stripe_key = secret("stripe-key", max_age=300)

    @function(trigger=http("POST", "/charges"), uses=[stripe_key])
    def charge(request: Request) -> Response:
        client = Stripe(stripe_key.value)       # fetched on first use, then served for max_age seconds

A value is fetched on first use and kept by the function instance for `max_age` seconds, then fetched again,
so a rotated value shows within `max_age` (`refresh()` fetches at once; `version` says which one is held).
Which store serves it is decided as for states: `PORTABLE_FN_PROVIDER` picks the provider's module
(`portable_fn_aws.secrets`, ...; `secrets_file` locally), whose `backend(locator)` opens the store that
`PORTABLE_FN_SECRETS` names (where the function's secrets live, never a value). Every value fetched is
remembered so `redaction.redact` can take it out of any text: the JSON logger does so for every line it
writes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

from .errors import DeclarationError, PortableFnError
from .pipeline import current_call
from .redaction import redact, remember
from .resources import READ, Resource, Use, check_access

DEFAULT_MAX_AGE = 300.0  # seconds a value is served from the instance's cache before it is fetched again
LOCATOR_ENV = "PORTABLE_FN_SECRETS"  # where this function's secrets live (provider-defined), set by deploy


class SecretError(PortableFnError):
    """A secret could not be read: its store refused or cannot be reached (the message names the store)."""


class SecretNotFoundError(SecretError):
    """The secret has no value where the function looks for it; set it with `portable-fn secrets set`."""


class SecretBackend(Protocol):
    """Where a function's secrets live (a parameter path, a vault, a file), as the one read they need.
    A backend may name its store for people in a `where` attribute; errors then say it."""

    def fetch(self, name: str) -> tuple[str, str]:
        """The value of secret `name` and its version (opaque, new on every change); raises
        SecretNotFoundError (see `not_found`) when it has no value."""
        ...


class Secret(Resource):
    """A declared secret: a logical `name`, read (never written) by the functions that declare it.

    `clock` (monotonic seconds) decides when a cached value is too old; tests pass their own.
    """

    kind = "secret"

    def __init__(
        self,
        name: str,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        internal: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name, internal=internal)
        if isinstance(max_age, bool) or not isinstance(max_age, (int, float)) or max_age < 0:
            raise DeclarationError(
                f"secret({name!r}): max_age={max_age!r} must be the seconds (0 or more) a value is cached."
            )
        self.max_age = float(max_age)
        self.clock = clock
        self._lock = threading.Lock()  # one fetch at a time per secret; the others wait for its value
        self._held: _Held | None = None

    @property
    def value(self) -> str:
        """The secret's value: the one held if fetched less than `max_age` seconds ago, else fetched now."""
        check_access(self, READ)
        return self._current().value

    @property
    def version(self) -> str:
        """The version of the value held (fetched as `value` is)."""
        check_access(self, READ)
        return self._current().version

    def refresh(self) -> str:
        """Fetch the value now, whatever is held (after a failure that a rotation explains, say)."""
        check_access(self, READ)
        with self._lock:
            self._held = _fetch(self, self.clock())
            return self._held.value

    def write(self) -> Use:
        raise DeclarationError(
            f"{self!r}: functions read secrets, never write them; declare uses=[{self.name_in_code}] and set "
            f"its value with `portable-fn secrets set {self.name} --provider P --stage S`."
        )

    def as_uses(self) -> tuple[Use, ...]:
        """What `uses=[stripe_key]` declares: reading it."""
        return (Use(self, READ),)

    def _current(self) -> _Held:
        with self._lock:
            held, now = self._held, self.clock()
            if held is None or not held.fresh(now, self.max_age):
                held = self._held = _fetch(self, now)
            return held


def secret(name: str, *, max_age: float = DEFAULT_MAX_AGE) -> Secret:
    """Declare a secret: `stripe_key = secret("stripe-key")`; `max_age` is how long (seconds) a function
    instance serves a value it fetched before fetching it again (a rotated value shows within it)."""
    return Secret(name, max_age=max_age)


class _Held:
    """A value an instance fetched: its version, when (clock seconds), and from which store."""

    __slots__ = ("value", "version", "fetched_at", "source")

    def __init__(self, value: str, version: str, fetched_at: float, source: tuple[int, str | None]) -> None:
        self.value = value
        self.version = version
        self.fetched_at = fetched_at
        self.source = source

    def fresh(self, now: float, max_age: float) -> bool:
        return now - self.fetched_at < max_age and self.source == _source()


def _fetch(declared: Secret, now: float) -> _Held:
    source = _source()
    backend = open_backend(source[1])
    try:
        value, version = backend.fetch(declared.name)
    except SecretError:
        raise
    except Exception as exc:
        raise SecretError(redact(_failed(declared, backend, exc))) from exc
    remember(declared.name, value)
    return _Held(value, version, now, source)


def _failed(declared: Secret, backend: SecretBackend, exc: Exception) -> str:
    call = current_call()
    who = f"Function {call.invocation.spec.name!r}" if call is not None else "This process"
    return (
        f"{who} could not read secret {declared.name!r} from {_where(backend)}: {type(exc).__name__}: {exc}. "
        "Check that the store is reachable and that deploy granted the function access (`portable-fn plan` "
        "lists its grants)."
    )


def not_found(name: str, where: str) -> SecretNotFoundError:
    """The error a backend raises when secret `name` has no value in `where` (its store, named for people):
    it names the command that sets it, for the provider and stage this function runs on."""
    provider = os.environ.get("PORTABLE_FN_PROVIDER", "local")
    stage = os.environ.get("PORTABLE_FN_STAGE") or "STAGE"
    return SecretNotFoundError(
        f"Secret {name!r} has no value in {where}. Set it with "
        f"`portable-fn secrets set {name} --provider {provider} --stage {stage}` (the value is read from "
        "stdin or a prompt); the function reads it on its next attempt."
    )


def _where(backend: SecretBackend) -> str:
    """The store `backend` reads, for messages."""
    named = getattr(backend, "where", None)
    return str(named) if named else f"the {os.environ.get('PORTABLE_FN_PROVIDER', 'local')} secret store"


# -- which backend --------------------------------------------------------------------------------

BackendFactory = Callable[["str | None"], SecretBackend]
_factory: BackendFactory | None = None
_generation = 0  # bumped by `use_backends`: a value held from before is fetched again on next use
_opened: dict[tuple[int, str | None], SecretBackend] = {}
_opening = threading.Lock()


def use_backends(factory: BackendFactory | None) -> BackendFactory | None:
    """Serve every secret from `factory(locator)` from its next use on, values held already included
    (tests; None restores the default). Returns the factory used until now, to restore it after."""
    global _factory, _generation
    with _opening:
        previous, _factory = _factory, factory
        _generation += 1
        _opened.clear()
    return previous


def open_backend(locator: str | None) -> SecretBackend:
    """The backend serving this function's secrets (opened once per locator): the provider deploy named in
    `PORTABLE_FN_PROVIDER` (the dev host's secrets file locally), at the place `PORTABLE_FN_SECRETS` names."""
    key = (_generation, locator)
    with _opening:
        backend = _opened.get(key)
        if backend is None:
            backend = _opened[key] = _open(locator)
    return backend


def _open(locator: str | None) -> SecretBackend:
    if _factory is not None:
        return _factory(locator)
    provider = os.environ.get("PORTABLE_FN_PROVIDER", "local")
    if provider == "local":
        from .secrets_file import backend as file_backend

        return file_backend(locator)
    if locator is None:
        raise SecretError(
            f"No secret store is configured for this function on {provider}: {LOCATOR_ENV} is unset. Declare "
            "the secrets it reads in its uses= and deploy again."
        )
    import importlib

    try:
        module = importlib.import_module(f"portable_fn_{provider}.secrets")
    except ImportError as exc:
        raise SecretError(f"The {provider} secret backend cannot be loaded ({exc}).") from exc
    opened: SecretBackend = module.backend(locator)
    return opened


def _source() -> tuple[int, str | None]:
    """Which store a value comes from: the `use_backends` generation and the locator."""
    return _generation, os.environ.get(LOCATOR_ENV) or None
