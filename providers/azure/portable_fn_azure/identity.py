"""Which managed identity a function's own calls to Azure use: its own, so each function holds only its grants.

Deploy gives every function that declares a use (`uses=[...]`) a user-assigned managed identity of its own,
attaches it to the function app beside the system-assigned one (which the host keeps for its own storage and
the package), grants that function's declared roles to it alone, and sets `PORTABLE_FN_IDENTITY_<FUNCTION>`
to its client id (`identity_env`). The state tables (`state`), secrets (`secrets`) and publishing
(`publish`) ask for a token of the running function's identity (`client_id`), else of the system identity.

The limit: all the app's functions run in one worker process, and the platform hands any identity attached to
the app to code that asks for it by client id. portable-fn's clients only ask for the running function's;
a hard boundary between functions needs separate apps.

Standard library only (shipped); azure-identity is imported when a credential is made.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from portable_fn.runtime.pipeline import current_call

IDENTITY_ENV_PREFIX = "PORTABLE_FN_IDENTITY_"


def identity_env(function: str) -> str:
    """The app setting holding `function`'s identity's client id (`PORTABLE_FN_IDENTITY_SEND_RECEIPT`)."""
    return IDENTITY_ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", function.upper())


def client_id(env: Mapping[str, str] | None = None) -> str | None:
    """The client id of the running function's own identity; None outside an invocation or when deploy gave
    the function none (then the app's system-assigned identity is used)."""
    call = current_call()
    if call is None:
        return None
    return (os.environ if env is None else env).get(identity_env(call.invocation.spec.name)) or None


def managed_identity(client_id: str | None) -> Any:
    """The function app's system-assigned identity, or the user-assigned one `client_id` names."""
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()


class ClientPerIdentity:
    """An SDK client for the running function's own identity: `client` when one was given (a connection
    string's, in tests and on Azurite), else one made by `make(client_id)` on first use per identity, so a
    function never calls with a client another function's identity signed. The state and bucket stores hold one."""

    def __init__(self, client: Any = None, make: Callable[[str | None], Any] | None = None) -> None:
        self._client = client
        self._make = make
        self._by_identity: dict[str | None, Any] = {}

    @property
    def current(self) -> Any:
        if self._make is None:
            return self._client
        who = client_id()
        found = self._by_identity.get(who)
        if found is None:
            found = self._by_identity.setdefault(who, self._make(who))
        return found
