"""The Secret Manager secret backend: what `stripe_key.value` reads on Cloud Functions.

Ships in the source zip only when some function reads a secret (with `google-cloud-secret-manager` in its
requirements), and is imported only when a function first reads one (`portable_fn.runtime.secrets` finds it by
`PORTABLE_FN_PROVIDER=gcp`); the client is imported then too, so a function that reads no secret never pays
for it.

Each declared secret is one Secret Manager secret, `<app>-<stage>-<name>` (`secret_id`), whose versions hold
the values `portable-fn secrets set` adds. Deploy names where they live to each function that reads one, in
`PORTABLE_FN_SECRETS`: `projects/<project>/secrets/<app>-<stage>-` (the locator, never a value); a read asks
for `<locator><name>/versions/latest`, the most recently added version, and gives back its value and its
version number.

| Secret Manager answers                         | the function gets                                       |
|------------------------------------------------|---------------------------------------------------------|
| NOT_FOUND (no such secret, or no version yet)  | `SecretNotFoundError`, naming `portable-fn secrets set` |
| FAILED_PRECONDITION, a 400 (latest version     | `SecretError`: enable it or add a version               |
| disabled or destroyed)                         |                                                         |
| PERMISSION_DENIED                              | `SecretError`: the function's account is not granted    |

The client speaks REST (no gRPC channel to open on a cold start). `PORTABLE_FN_GCP_SECRETS_ENDPOINT`, which
only tests set, points it elsewhere; an `http://` one is a fake, called without credentials.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from portable_fn.runtime.secrets import LOCATOR_ENV, SecretError, not_found

__all__ = ["ENDPOINT_ENV", "LOCATOR_ENV", "SecretManagerBackend", "backend", "secret_id"]

ENDPOINT_ENV = "PORTABLE_FN_GCP_SECRETS_ENDPOINT"
LOCATOR = re.compile(r"projects/[^/]+/secrets/[A-Za-z0-9_-]*\Z")
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")  # a secret id is [A-Za-z0-9_-], at most 255 characters


def secret_id(prefix: str, name: str) -> str:
    """The Secret Manager id of secret `name` under `prefix` (`<app>-<stage>-`): what Google takes in an id."""
    return _NOT_ID.sub("-", f"{prefix}{name}")


def backend(locator: str) -> SecretManagerBackend:
    """The backend of the secrets at `locator` (`projects/P/secrets/<app>-<stage>-`, as deploy sets it)."""
    if LOCATOR.match(locator) is None:
        raise SecretError(
            f"secrets on gcp: the locator {locator!r} is not a Secret Manager prefix "
            "(projects/<project>/secrets/<app>-<stage>-). Deploy again with `portable-fn deploy`, which sets it."
        )
    return SecretManagerBackend(locator)


class SecretManagerBackend:
    """Reads the latest version of a secret under one locator, through one client (made on first use unless
    given; thread-safe, shared by the threads)."""

    def __init__(self, locator: str, client: Any = None, environ: Mapping[str, str] | None = None) -> None:
        self.locator = locator
        self._client = client
        self.environ: Mapping[str, str] = os.environ if environ is None else environ

    def fetch(self, name: str) -> tuple[str, str]:
        """(value, version number) of the latest version of secret `name`."""
        from google.api_core import exceptions

        path = f"{self.locator}{secret_id('', name)}/versions/latest"
        try:
            found = self.client().access_secret_version(name=path)
        except exceptions.NotFound as exc:
            raise not_found(name, f"Secret Manager ({path.rsplit('/', 2)[0]} has no version)") from exc
        except exceptions.BadRequest as exc:  # FAILED_PRECONDITION comes over REST as a 400
            raise SecretError(
                f"secret {name!r} on gcp: its latest version cannot be read ({exc.message}). Enable that version "
                f"in Secret Manager, or set a new value with `portable-fn secrets set {name} --provider gcp "
                f"--stage {self.stage}`."
            ) from exc
        except exceptions.PermissionDenied as exc:
            raise SecretError(
                f"secret {name!r} on gcp: the function's service account may not read {path} ({exc.message}). "
                f"Declare uses=[...] with the secret on the function and run `portable-fn deploy`, which grants "
                "roles/secretmanager.secretAccessor on it."
            ) from exc
        return found.payload.data.decode("utf-8"), str(found.name).rsplit("/", 1)[-1]

    @property
    def where(self) -> str:
        return f"Secret Manager ({self.locator}*)"

    @property
    def stage(self) -> str:
        return self.environ.get("PORTABLE_FN_STAGE", "STAGE")

    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.environ.get(ENDPOINT_ENV, ""))
        return self._client


def make_client(endpoint: str = "") -> Any:
    """google-cloud-secret-manager's client on REST: at `endpoint` when given (anonymous on plain http)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import secretmanager_v1

    options = ClientOptions(api_endpoint=endpoint) if endpoint else None
    credentials = AnonymousCredentials() if endpoint.startswith("http://") else None  # type: ignore[no-untyped-call]
    return secretmanager_v1.SecretManagerServiceClient(
        credentials=credentials, transport="rest", client_options=options
    )
