"""`AzureClient`: the one boundary between deploy and Azure. Every call deploy makes goes through it.

It owns the management clients (resource, storage, web, Event Grid, Key Vault, authorization), all made with the
same credential, ARM base URL, TLS verification and long-running-operation polling interval, and the
data-plane blob, table and queue clients for
the app's storage (from the connection-string override, else from the account's keys). A pipeline
policy records every HTTP request sent as `(service, method, path)`; `mutating_calls()` is what a
no-op redeploy must leave empty. LRO polls are GETs, so they count as reads.

Overrides (emulators, sovereign clouds): `arm_endpoint` (else `AZURE_RESOURCE_MANAGER_URL`),
`storage_connection_string` (else `AZURE_STORAGE_CONNECTION_STRING`; Azurite's well-known one in tests) and
`scm_endpoint`: where requests to a site's SCM (Kudu) host go instead of `https://<scm host>`, the host
named in `Host` (an emulator that plays Kudu).

The same policy logs every request at DEBUG on the "portable_fn.api" logger (`--verbose` shows it) as
`azure <service> <METHOD> <path>`, the service being the resource provider an ARM path is under
(`Microsoft.Web`), or `blob`, `table`, `queue` and `scm` for the data plane and Kudu. Only the URL's path
is logged: its query may hold a SAS, and bodies and headers hold keys, tokens and settings.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy

MUTATING_METHODS = frozenset({"PUT", "PATCH", "DELETE", "POST"})
READ_POSTS = ("/listkeys", "/config/appsettings/list", "/getfullurl")  # POSTs that only read
# What a site's SCM (Kudu) host takes as a bearer token: the Azure CLI asks for this resource
# (`active_directory_resource_id`) for its Flex Consumption publish (`get_scm_site_headers_flex`).
SCM_SCOPE = "https://management.core.windows.net/.default"
Call = tuple[str, str, str]
API_LOG = logging.getLogger("portable_fn.api")


class CallRecorder(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Appends `(service, method, path)` for every request a client sends (once per call, not per retry), and
    logs it."""

    def __init__(self, calls: list[Call], service: str) -> None:
        self.calls = calls
        self.service = service

    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        method, path = request.http_request.method, urlsplit(request.http_request.url).path
        self.calls.append((self.service, method, path))
        service = resource_provider(path) if self.service == "arm" else self.service
        API_LOG.debug("azure %s %s %s", service, method, path)


def resource_provider(path: str) -> str:
    """The resource provider an ARM path is under, the innermost when one is nested in another
    (`.../Microsoft.Storage/storageAccounts/a/providers/Microsoft.EventGrid/...`); groups are Microsoft.Resources,
    and a path outside any subscription (an operation's own poll URL) is just `arm`."""
    parts = path.split("/")
    named = [parts[i + 1] for i, part in enumerate(parts[:-1]) if part.lower() == "providers"]
    if named:
        return named[-1]
    return "Microsoft.Resources" if path.lower().startswith("/subscriptions/") else "arm"


class AzureClient:
    """Lazily made Azure SDK clients for one subscription and endpoint, with a shared call record."""

    def __init__(
        self,
        subscription_id: str,
        credential: Any = None,
        *,
        arm_endpoint: str | None = None,
        storage_connection_string: str | None = None,
        connection_verify: bool | str = True,
        polling_interval: float | None = None,
        scm_endpoint: str | None = None,
    ) -> None:
        self.subscription_id = subscription_id
        self._credential = credential
        self.arm_endpoint = arm_endpoint or os.environ.get("AZURE_RESOURCE_MANAGER_URL") or None
        self.storage_override = storage_connection_string or os.environ.get("AZURE_STORAGE_CONNECTION_STRING") or None
        self.connection_verify = connection_verify
        self.polling_interval = polling_interval
        self.scm_endpoint = scm_endpoint.rstrip("/") if scm_endpoint else None
        self.calls: list[Call] = []
        self._clients: dict[str, Any] = {}

    def sibling(self) -> AzureClient:
        """A client for the same subscription with this one's credential (signed in once), endpoints, TLS
        verification and polling, logging on the same "portable_fn.api" logger, with a call record and SDK
        clients of its own: for calls that are not deploy's own (the audit trail's), so `calls` stays
        exactly the deploy's."""
        return AzureClient(
            self.subscription_id,
            self.credential,
            arm_endpoint=self.arm_endpoint,
            storage_connection_string=self.storage_override,
            connection_verify=self.connection_verify,
            polling_interval=self.polling_interval,
            scm_endpoint=self.scm_endpoint,
        )

    # -- the services deploy uses ------------------------------------------------------------------
    @property
    def credential(self) -> Any:
        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            quiet_credential_chain()
            self._credential = DefaultAzureCredential()
        return self._credential

    @property
    def resources(self) -> Any:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return self._management("resources", ResourceManagementClient)

    @property
    def storage(self) -> Any:
        from azure.mgmt.storage import StorageManagementClient

        return self._management("storage", StorageManagementClient)

    @property
    def web(self) -> Any:
        from azure.mgmt.web import WebSiteManagementClient

        return self._management("web", WebSiteManagementClient)

    @property
    def eventgrid(self) -> Any:
        from azure.mgmt.eventgrid import EventGridManagementClient

        return self._management("eventgrid", EventGridManagementClient)

    @property
    def keyvault(self) -> Any:
        from azure.mgmt.keyvault import KeyVaultManagementClient

        return self._management("keyvault", KeyVaultManagementClient)

    @property
    def authorization(self) -> Any:
        from azure.mgmt.authorization import AuthorizationManagementClient

        return self._management("authorization", AuthorizationManagementClient)

    def _management(self, name: str, cls: Any) -> Any:
        if name not in self._clients:
            options: dict[str, Any] = {
                "per_call_policies": [CallRecorder(self.calls, "arm")],
                "connection_verify": self.connection_verify,
            }
            if self.arm_endpoint:
                options["base_url"] = self.arm_endpoint
            if self.polling_interval is not None:
                options["polling_interval"] = self.polling_interval
            self._clients[name] = cls(self.credential, self.subscription_id, **options)
        return self._clients[name]

    def arm_request(
        self, method: str, url: str, body: Any = None, api: str | None = None, api_version: str | None = None
    ) -> Any:
        """A request the SDK has no method for (polling an operation it did not start, a namespace deploy
        installs no SDK for), sent through the web client's pipeline: same credential, TLS, endpoint and call
        record. `api` adds that client's api-version, `api_version` this one; absolute URLs (operation polls)
        are used as given, an ARM path is put on the management endpoint."""
        from azure.core.rest import HttpRequest

        client = self.web
        version = api_version or (client._config.api_version if api else None)
        params = {"api-version": version} if version else None
        response = client.send_request(HttpRequest(method, url, json=body, params=params))
        response.raise_for_status()
        return response

    def scm_request(
        self, method: str, url: str, content: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        """A request to a site's SCM (Kudu) host, `url` being `https://<scm host>/...`, with a bearer token of
        `SCM_SCOPE` from the same credential (recorded as service "scm"). With `scm_endpoint` set it goes there,
        the SCM host in `Host`. The response is returned whatever its status."""
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
        from azure.core.rest import HttpRequest

        if "scm" not in self._clients:
            policies = [
                CallRecorder(self.calls, "scm"),
                RetryPolicy(),
                BearerTokenCredentialPolicy(self.credential, SCM_SCOPE),
            ]
            self._clients["scm"] = PipelineClient(base_url="https://localhost", policies=policies)
        parts = urlsplit(url)
        headers = dict(headers or {})
        if self.scm_endpoint:
            base = urlsplit(self.scm_endpoint)
            headers["Host"] = parts.netloc
            url = urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
        request = HttpRequest(method, url, content=content, headers=headers)
        return self._clients["scm"].send_request(request, connection_verify=self.connection_verify)

    def blobs(self, connection_string: str) -> Any:
        """The blob service of the app's storage (one client per connection string)."""
        key = f"blob:{connection_string}"
        if key not in self._clients:
            from azure.storage.blob import BlobServiceClient

            recorder = CallRecorder(self.calls, "blob")
            self._clients[key] = BlobServiceClient.from_connection_string(
                connection_string, raw_request_hook=recorder.on_request
            )
        return self._clients[key]

    def tables(self, connection_string: str) -> Any:
        """The table service of the app's storage (one client per connection string)."""
        key = f"table:{connection_string}"
        if key not in self._clients:
            from azure.data.tables import TableServiceClient

            recorder = CallRecorder(self.calls, "table")
            self._clients[key] = TableServiceClient.from_connection_string(
                connection_string, raw_request_hook=recorder.on_request
            )
        return self._clients[key]

    def queues(self, connection_string: str) -> Any:
        """The queue service of the app's storage (one client per connection string)."""
        key = f"queue:{connection_string}"
        if key not in self._clients:
            from azure.storage.queue import QueueServiceClient

            recorder = CallRecorder(self.calls, "queue")
            self._clients[key] = QueueServiceClient.from_connection_string(
                connection_string, raw_request_hook=recorder.on_request
            )
        return self._clients[key]

    # -- secrets, read when needed and never stored in a resource -----------------------------------
    def storage_connection_string(self, resource_group: str, account: str) -> str:
        """The override, else a connection string made from the account's first key (a read)."""
        if self.storage_override:
            return self.storage_override
        keys = self.storage.storage_accounts.list_keys(resource_group, account)
        key = arm_json(keys)["keys"][0]["value"]
        return (
            f"DefaultEndpointsProtocol=https;AccountName={account};AccountKey={key};"
            f"EndpointSuffix={self.storage_suffix}"
        )

    @property
    def storage_suffix(self) -> str:
        return "core.windows.net"

    def mutating_calls(self) -> list[Call]:
        """Recorded calls that change something: PUT, PATCH, DELETE, and POSTs other than the reads (keys,
        settings, an event subscription's full URL)."""
        return [
            c
            for c in self.calls
            if c[1] in MUTATING_METHODS and not (c[1] == "POST" and c[2].lower().endswith(READ_POSTS))
        ]


def arm_json(value: Any) -> dict[str, Any]:
    """An SDK model as ARM's own JSON (camelCase), whichever generation of model class the SDK uses."""
    if value is None:
        return {}
    if hasattr(value, "as_dict") and hasattr(value, "keys"):  # typespec models: MutableMapping of REST JSON
        return dict(value.as_dict())
    if hasattr(value, "serialize"):  # msrest models
        return dict(value.serialize(keep_readonly=True))
    return dict(value)


def missing(exc: BaseException) -> bool:
    """True when `exc` says the thing asked about does not exist."""
    if isinstance(exc, ResourceNotFoundError):
        return True
    return isinstance(exc, HttpResponseError) and exc.status_code == 404


def describe(exc: BaseException) -> str:
    """`code: message` of an Azure error, for step failures."""
    if isinstance(exc, HttpResponseError):
        code = getattr(exc.error, "code", None) or exc.status_code
        message = getattr(exc.error, "message", None) or exc.reason or str(exc)
        return f"{code}: {message}"
    return f"{type(exc).__name__}: {exc}"


# -- credentials: what a user can do about them -----------------------------------------------------
def quiet_credential_chain() -> None:
    """azure-identity logs each credential it tried, a dozen lines at WARNING, when none works; with no logging
    configured Python prints them on stderr before `explain` says the same in one line with the fix. Keep
    its logger to ERROR, unless the program using portable-fn chose a level for it."""
    logger = logging.getLogger("azure.identity")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)


# What a credential's failure says when its sign-in endpoint could not be reached (urllib3 and requests).
_UNREACHABLE = (
    "Failed to resolve",
    "Name or service not known",
    "Temporary failure in name resolution",
    "Connection refused",
    "Max retries exceeded",
    "timed out",
    "ServiceRequestError",
)


def explain(exc: BaseException) -> str | None:
    """No credential at all, one Azure refused, or Azure not reached, said with what to do; None for the
    rest (ARM's own message says it)."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

    if isinstance(exc, ServiceRequestError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"Azure could not be reached ({first}); check the network and a proxy (HTTPS_PROXY)."
    if not isinstance(exc, ClientAuthenticationError):
        return None
    said = str(exc)
    if "login.microsoftonline.com" in said and any(sign in said for sign in _UNREACHABLE):  # set, not reached
        return (
            "Azure's sign-in (login.microsoftonline.com) could not be reached, so no token was had for the "
            "credentials that are set; check the network and a proxy (HTTPS_PROXY)."
        )
    try:
        from azure.identity import CredentialUnavailableError
    except ImportError:  # pragma: no cover - azure-identity is a dependency
        CredentialUnavailableError = ()  # type: ignore[assignment,misc]
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, CredentialUnavailableError) or "failed to retrieve a token from the included" in str(exc):
        return (
            "no Azure credentials were found (DefaultAzureCredential tried the environment, workload and "
            "managed identity, the Azure CLI and others). Run `az login`, or set AZURE_TENANT_ID, "
            "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal."
        )
    return (
        f"Azure refused the credentials ({first}); sign in again (`az login`) or check the service "
        "principal's secret and tenant."
    )
