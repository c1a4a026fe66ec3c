"""Secrets by reference: `stripe_key = secret("stripe-key")`, read as `stripe_key.value` at run time.

A secret is a declared resource like a state: a function that reads it says so (`uses=[stripe_key]`), deploy
grants exactly that function read access to exactly that secret, and the value never passes through
environment variables, artifacts, plans or logs. Values are set out of band with
`portable-fn secrets set NAME --provider P --stage S`.
"""

from __future__ import annotations

from .errors import DeclarationError, PortableFnError
from .resources import READ, Resource, Use

DEFAULT_MAX_AGE = 300.0  # seconds a value is served from the instance's cache before it is fetched again


class SecretError(PortableFnError):
    """A secret could not be read: its store refused or cannot be reached (the message names the store)."""


class SecretNotFoundError(SecretError):
    """The secret has no value where the function looks for it; set it with `portable-fn secrets set`."""


class Secret(Resource):
    """A declared secret: a logical `name`, read (never written) by the functions that declare it."""

    kind = "secret"

    def __init__(self, name: str, *, max_age: float = DEFAULT_MAX_AGE, internal: bool = False) -> None:
        super().__init__(name, internal=internal)
        if isinstance(max_age, bool) or not isinstance(max_age, (int, float)) or max_age < 0:
            raise DeclarationError(
                f"secret({name!r}): max_age={max_age!r} must be the seconds (0 or more) a value is cached."
            )
        self.max_age = float(max_age)

    def write(self) -> Use:
        raise DeclarationError(
            f"{self!r}: functions read secrets, never write them; declare uses=[{self.name_in_code}] and set "
            f"its value with `portable-fn secrets set {self.name} --provider P --stage S`."
        )

    def as_uses(self) -> tuple[Use, ...]:
        """What `uses=[stripe_key]` declares: reading it."""
        return (Use(self, READ),)


def secret(name: str, *, max_age: float = DEFAULT_MAX_AGE) -> Secret:
    """Declare a secret: `stripe_key = secret("stripe-key")`; `max_age` is how long (seconds) a function
    instance serves a value it fetched before fetching it again (a rotated value shows within it)."""
    return Secret(name, max_age=max_age)
