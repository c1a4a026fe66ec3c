"""Secrets on Azure: what `stripe_key.value` reads in a function, and what `portable-fn secrets` writes.

One Key Vault per app and stage (RBAC mode; deploy makes it, see `deploy.desired`), a secret `NAME` kept
there under its own name. Deploy puts the vault's URL in the app settings as `PORTABLE_FN_SECRETS` (the
locator: never a value), and grants the identity of each function that declares a secret (`identity`) a custom
role reading that secret alone (`secrets/getSecret/action` on `<vault id>/secrets/<name>`; see `deploy.roles`).

- `backend(locator)`: the runtime side (`portable_fn.runtime.secrets` finds it by
  `PORTABLE_FN_PROVIDER=azure`). Ships in the package zip when a function declares a secret; the SDK
  (azure-keyvault-secrets, azure-identity) is imported on the first read only. A secret with no value is the
  runtime's `not_found` (naming the command that sets it); any other refusal a `SecretError` naming the vault
  and what to check. Neither message holds a value.
The CLI side, `portable-fn secrets set|list|remove`, is `secret_store.KeyVaultStore` (never shipped). Both
reach the vault through `make_client`: the SDK's `SecretClient`, which answers Key Vault's bearer
challenge itself (a first request without a token, a 401 naming the resource to ask a token for). With
`endpoint` set, requests go there instead of the vault's host, which is kept in `Host` (an emulator).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from portable_fn.runtime.secrets import SecretError, not_found

from .identity import client_id, managed_identity

VAULT_SUFFIX = "vault.azure.net"  # Azure's public cloud: https://<vault>.vault.azure.net/


def vault_url(vault: str, suffix: str = VAULT_SUFFIX) -> str:
    """The URL of vault `vault`: what `PORTABLE_FN_SECRETS` holds."""
    return f"https://{vault}.{suffix}/"


def backend(locator: str, client: Any = None) -> KeyVaultBackend:
    """The vault `PORTABLE_FN_SECRETS` names (`https://<vault>.vault.azure.net/`), read with the function
    app's managed identity unless a `client` (an `azure.keyvault.secrets.SecretClient`) is given."""
    if urlsplit(locator).scheme != "https" or not urlsplit(locator).hostname:
        raise SecretError(
            f"PORTABLE_FN_SECRETS={locator!r} is not a Key Vault URL (https://<vault>.vault.azure.net/); "
            "deploy the app again with portable-fn."
        )
    return KeyVaultBackend(locator, client)


class KeyVaultBackend:
    """The secrets of one vault, read through `client` when given, else through a `SecretClient` per identity
    (the running function's own, `identity.client_id`; made on first use by `credential`), so one function's
    reads never go out under another function's identity."""

    def __init__(
        self, url: str, client: Any = None, credential: Callable[[str | None], Any] = managed_identity
    ) -> None:
        self.url = url
        self.where = f"the Key Vault {url}"  # the store, named for people (the runtime's messages say it)
        self._client = client
        self._credential = credential
        self._by_identity: dict[str | None, Any] = {}

    @property
    def client(self) -> Any:
        if self._client is not None:
            return self._client
        who = client_id()
        found = self._by_identity.get(who)
        if found is None:
            found = self._by_identity.setdefault(who, make_client(self.url, self._credential(who)))
        return found

    def fetch(self, name: str) -> tuple[str, str]:
        """The current value of secret `name` and its version (Key Vault's version id)."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            found = self.client.get_secret(name)
        except ResourceNotFoundError:
            raise not_found(name, self.where) from None
        except AzureError as exc:
            raise SecretError(self._refused(name, reason(exc))) from None
        if found.value is None:
            raise not_found(name, self.where)
        return str(found.value), str(found.properties.version)

    def _refused(self, name: str, why: str) -> str:
        return (
            f"secret {name!r} could not be read from {self.where} ({why}); check that the function declares it in "
            "uses= and that the app was deployed since (its identity may read that secret alone)."
        )


def reason(exc: BaseException) -> str:
    """What Azure said, as `code: message` (never the request, which holds a token)."""
    from azure.core.exceptions import HttpResponseError

    if isinstance(exc, HttpResponseError):
        code = getattr(exc.error, "code", None) or exc.status_code
        return f"{code}: {getattr(exc.error, 'message', None) or exc.reason}"
    return type(exc).__name__


def make_client(url: str, credential: Any, *, endpoint: str | None = None, connection_verify: bool | str = True) -> Any:
    """A `SecretClient` for the vault at `url`. With `endpoint`, every request goes there, the vault's host in
    `Host`, and the client takes the challenge's resource as it comes (`verify_challenge_resource=False`: an
    emulator is not on the vault's domain)."""
    from azure.keyvault.secrets import SecretClient

    options: dict[str, Any] = {"connection_verify": connection_verify}
    if endpoint:
        options.update(per_call_policies=[Redirect(endpoint)], verify_challenge_resource=False)
    return SecretClient(url, credential, **options)


class Redirect:
    """A pipeline policy sending each request to `endpoint`, its host kept in `Host` (see `make_client`)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = urlsplit(endpoint.rstrip("/"))
        self.next: Any = None

    def send(self, request: Any) -> Any:
        http = request.http_request
        parts = urlsplit(http.url)
        http.headers["Host"] = parts.netloc
        http.url = urlunsplit((self.endpoint.scheme, self.endpoint.netloc, parts.path, parts.query, ""))
        return self.next.send(request)
