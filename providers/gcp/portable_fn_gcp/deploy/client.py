"""`GcpClient`: the one boundary between deploy and Google Cloud. Every call deploy makes goes through it.

It owns the official clients, all on the REST transport (Pub/Sub on gRPC when `PUBSUB_EMULATOR_HOST`
points at the Pub/Sub emulator, which the library then dials itself):

    functions   google.cloud.functions_v2.FunctionServiceClient   functions, uploads, operations
    pubsub      google.pubsub_v1.PublisherClient                 topics, their IAM, their subscriptions
    subscriber  google.pubsub_v1.SubscriberClient                the trigger subscriptions' dead-letter policy
    scheduler   google.cloud.scheduler_v1.CloudSchedulerClient   jobs
    storage     google.cloud.storage.Client                       the buckets (storage triggers', declared ones),
                                                                  their IAM
    run         google.cloud.run_v2.ServicesClient                the invoker IAM binding
    resourcemanager  google.cloud.resourcemanager_v3.ProjectsClient  the project's IAM (storage agent grant)
    eventarc    google.cloud.eventarc_v1.EventarcClient            the functions' triggers (their subscription)
    firestore   google.cloud.firestore_admin_v1.FirestoreAdminClient  the states' databases and TTL policies
    documents   google.cloud.firestore_v1 FirestoreClient           whether a state's database holds documents
    tasks       google.cloud.tasks_v2.CloudTasksClient              the delay queue and its IAM
    iam         ServiceAccountsIam (below)                          a service account's own IAM policy
    secretmanager  google.cloud.secretmanager_v1.SecretManagerServiceClient  secrets, their versions and IAM

Endpoints: `endpoint_url` points every service at one place (a recording endpoint, a proxy);
`endpoints = {functions = "...", pubsub = "...", ...}` in the settings wins per service. An endpoint on
plain http is an emulator, so it is called without credentials; otherwise Application Default
Credentials are used. Every call is recorded as (service, method); tests read `calls` and
`mutating_calls()` (anything but get_*/list_*). Long-running operations are awaited with progress.

Every call is also logged at DEBUG on the "portable_fn.api" logger (`--verbose` shows it) as
`gcp <service> <Method> <resource>`, the resource read from the request's naming fields
(`RESOURCE_FIELDS`) and never its body, which holds environment values; an upload shows the signed URL's
path only, as its query is the signature. Operation polls are logged as `gcp operations GetOperation`.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from google.api_core import exceptions as google_errors
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials, Credentials

Progress = Callable[[str], None]
READ_PREFIXES = ("get_", "list_")
SERVICES = (
    "functions",
    "pubsub",
    "subscriber",
    "scheduler",
    "run",
    "storage",
    "resourcemanager",
    "eventarc",
    "firestore",
    "documents",
    "tasks",
    "iam",
    "secretmanager",
)
SAME_ENDPOINT = {"subscriber": "pubsub", "documents": "firestore"}  # each pair is one API
NotFound, AlreadyExists, Forbidden = google_errors.NotFound, google_errors.Conflict, google_errors.Forbidden
BadRequest = google_errors.BadRequest
API_LOG = logging.getLogger("portable_fn.api")
# The request fields that name what a call acts on, first found wins; a message in one stands for its name.
RESOURCE_FIELDS = (
    "name",
    "resource",
    "topic",
    "subscription",
    "job",
    "function",
    "trigger",
    "field",
    "bucket_or_name",
    "parent",
    "project",
)


class GcpClient:
    """Lazily made Google clients for one set of endpoints, with a shared call record."""

    def __init__(
        self,
        endpoint_url: str | None = None,
        endpoints: dict[str, str] | None = None,
        credentials: Credentials | None = None,
        poll_s: float = 2.0,
        operation_timeout_s: float = 1800.0,
    ) -> None:
        given = endpoints or {}
        self.endpoints = {s: given.get(s) or given.get(SAME_ENDPOINT.get(s, s)) or endpoint_url for s in SERVICES}
        self.credentials = credentials
        self.poll_s = poll_s
        self.operation_timeout_s = operation_timeout_s
        self.calls: list[tuple[str, str]] = []
        self.progress: Progress = lambda message: None
        self._clients: dict[str, Any] = {}

    # -- calls -------------------------------------------------------------------------------------
    def call(self, service: str, method: str, **request: Any) -> Any:
        """`method` of the service's client with `request`, recorded."""
        self.record(service, method, resource_named(request))
        return getattr(self.service(service), method)(**request)

    def record(self, service: str, method: str, resource: str) -> None:
        """Note a call in `calls` and on the API log (for the few made outside `call`)."""
        self.calls.append((service, method))
        API_LOG.debug("gcp %s %s %s", SAME_ENDPOINT.get(service, service), method.title().replace("_", ""), resource)

    def pages(self, service: str, method: str, **request: Any) -> Iterator[Any]:
        """Every item of a list_* call across its pages (the pager fetches further pages lazily)."""
        yield from self.call(service, method, **request)

    def wait(self, operation: Any, what: str) -> Any:
        """The result of a long-running operation, reporting progress while it runs."""
        started = time.monotonic()
        self.progress(f"      {what}: waiting for {operation.operation.name}")
        while not self._poll(operation):
            elapsed = time.monotonic() - started
            if elapsed > self.operation_timeout_s:
                raise TimeoutError(
                    f"{what} did not finish within {self.operation_timeout_s:.0f} s "
                    f"(operation {operation.operation.name})"
                )
            self.progress(f"      {what}: in progress ({elapsed:.0f} s)")
            time.sleep(self.poll_s)
        self.progress(f"      {what}: done after {time.monotonic() - started:.0f} s")
        return operation.result()

    def _poll(self, operation: Any) -> bool:
        """`operation.done()`, which asks the API only while the operation last seen was running."""
        if not operation.operation.done:
            API_LOG.debug("gcp operations GetOperation %s", operation.operation.name)
        return bool(operation.done())

    def upload(self, url: str, path: Path) -> None:
        """PUT the source zip to a signed upload URL from generateUploadUrl."""
        self.record("storage", "upload", urlsplit(url).path)
        request = urllib.request.Request(
            url, data=path.read_bytes(), method="PUT", headers={"Content-Type": "application/zip"}
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            response.read()

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket (the storage client deletes through the bucket object)."""
        self.record("storage", "delete_bucket", name)
        self.service("storage").bucket(name).delete()

    def bucket_policy(self, name: str) -> Any:
        """A bucket's IAM policy at version 3, as the storage client gives it (`google.api_core.iam.Policy`:
        bindings as dicts, not the generated clients' messages)."""
        self.record("storage", "get_iam_policy", name)
        return self.service("storage").bucket(name).get_iam_policy(requested_policy_version=3)

    def set_bucket_policy(self, name: str, policy: Any) -> Any:
        """Set a bucket's IAM policy (as read, edited: its etag guards it)."""
        self.record("storage", "set_iam_policy", name)
        return self.service("storage").bucket(name).set_iam_policy(policy)

    def bucket_holds_objects(self, name: str) -> bool:
        """Whether a bucket holds any object (a one-object page)."""
        self.record("storage", "list_blobs", name)
        return any(True for _ in self.service("storage").list_blobs(name, max_results=1))

    def empty_bucket(self, name: str) -> int:
        """Delete every object of a bucket, listed whole first (deleting while paging could skip a page); how many
        went."""
        storage, deleted = self.service("storage"), 0
        self.record("storage", "list_blobs", name)
        for blob in list(storage.list_blobs(name)):
            self.record("storage", "delete_blob", f"{name}/{blob.name}")
            try:
                blob.delete()
            except NotFound:  # gone already
                continue
            deleted += 1
        return deleted

    def mutating_calls(self) -> list[tuple[str, str]]:
        """Recorded calls that are not get_*/list_* (uploads and upload URLs included)."""
        return [c for c in self.calls if not c[1].startswith(READ_PREFIXES)]

    # -- the clients -------------------------------------------------------------------------------
    def service(self, name: str) -> Any:
        if name not in self._clients:
            self._clients[name] = self._make(name)
        return self._clients[name]

    def _make(self, name: str) -> Any:
        endpoint = self.endpoints[name]
        options = ClientOptions(api_endpoint=endpoint) if endpoint else None
        credentials = self.credentials
        if credentials is None and endpoint and endpoint.startswith("http://"):
            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        if name == "iam":
            return ServiceAccountsIam(endpoint, credentials)
        if name == "storage":  # not a generated client: no transport choice, JSON over HTTP
            import google.cloud.storage as storage  # type: ignore[import-untyped]

            return storage.Client(project=None, credentials=credentials, client_options=options)
        transport = "rest"
        if name in ("pubsub", "subscriber") and os.environ.get("PUBSUB_EMULATOR_HOST"):
            transport, options, credentials = "grpc", None, AnonymousCredentials()  # type: ignore[no-untyped-call]
        cls = _client_class(name)
        return cls(credentials=credentials, transport=transport, client_options=options)


def resource_named(request: Mapping[str, Any]) -> str:
    """What a call's arguments name: a field of its `request` (a dict or a message), else of the keyword
    arguments themselves (the storage client's); "-" when none does."""
    message = request.get("request", request)
    if _field(message, "function_id"):  # create_function names the function apart from its parent
        return f"{_field(message, 'parent')}/functions/{_field(message, 'function_id')}"
    for key in RESOURCE_FIELDS:
        value = _field(message, key)
        if value is not None and not isinstance(value, str):
            value = _field(value, "name")
        if value:
            return str(value)
    return "-"


def _field(message: Any, key: str) -> Any:
    return message.get(key) if isinstance(message, Mapping) else getattr(message, key, None)


def _client_class(name: str) -> Any:
    """The official client class of a service, imported only when deploy first needs it."""
    if name == "functions":
        from google.cloud import functions_v2

        return functions_v2.FunctionServiceClient
    if name == "pubsub":
        from google import pubsub_v1

        return pubsub_v1.PublisherClient
    if name == "subscriber":
        from google import pubsub_v1

        return pubsub_v1.SubscriberClient
    if name == "scheduler":
        from google.cloud import scheduler_v1

        return scheduler_v1.CloudSchedulerClient
    if name == "resourcemanager":
        from google.cloud import resourcemanager_v3

        return resourcemanager_v3.ProjectsClient
    if name == "eventarc":
        from google.cloud import eventarc_v1

        return eventarc_v1.EventarcClient
    if name == "firestore":
        from google.cloud import firestore_admin_v1

        return firestore_admin_v1.FirestoreAdminClient
    if name == "documents":
        from google.cloud.firestore_v1.services.firestore import FirestoreClient

        return FirestoreClient
    if name == "tasks":
        from google.cloud import tasks_v2

        return tasks_v2.CloudTasksClient
    if name == "secretmanager":
        from google.cloud import secretmanager_v1

        return secretmanager_v1.SecretManagerServiceClient
    from google.cloud import run_v2

    return run_v2.ServicesClient


class ServiceAccountsIam:
    """IAM's `projects.serviceAccounts` over REST (google-cloud-iam's client speaks gRPC only): getIamPolicy /
    setIamPolicy taking and giving `google.iam.v1` Policy messages as the generated clients' IAM methods do, so
    `routes.grant` edits a service account's policy as it edits a topic's; create, get, list and delete giving
    the ServiceAccount as JSON (a dict). Errors are google.api_core's."""

    ROOT = "https://iam.googleapis.com"
    SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

    def __init__(self, endpoint: str | None, credentials: Credentials | None) -> None:
        self.root = (endpoint or self.ROOT).rstrip("/")
        self.credentials = credentials
        self._session: Any = None

    def get_iam_policy(self, request: Mapping[str, Any]) -> Any:
        version = (request.get("options") or {}).get("requested_policy_version")
        query = {"options.requestedPolicyVersion": version} if version else {}
        return self._post(request["resource"], "getIamPolicy", None, query)

    def set_iam_policy(self, request: Mapping[str, Any]) -> Any:
        from google.protobuf import json_format  # type: ignore[import-untyped]

        return self._post(request["resource"], "setIamPolicy", {"policy": json_format.MessageToDict(request["policy"])})

    def create_service_account(self, request: Mapping[str, Any]) -> dict[str, Any]:
        body = {"accountId": request["account_id"], "serviceAccount": request.get("service_account") or {}}
        return self._json("POST", f"{request['name']}/serviceAccounts", body)

    def get_service_account(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("GET", request["name"])

    def list_service_accounts(self, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every service account of the project `request["name"]`, across pages."""
        found: list[dict[str, Any]] = []
        token = ""
        while True:
            page = self._json(
                "GET", f"{request['name']}/serviceAccounts", query={"pageToken": token} if token else None
            )
            found += page.get("accounts", [])
            if not (token := page.get("nextPageToken", "")):
                return found

    def delete_service_account(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("DELETE", request["name"])

    def _post(self, resource: str, verb: str, body: dict[str, Any] | None, query: dict[str, Any] | None = None) -> Any:
        from google.iam.v1 import policy_pb2  # type: ignore[import-untyped]
        from google.protobuf import json_format

        answer = self._json("POST", f"{resource}:{verb}", body, query)
        return json_format.ParseDict(answer, policy_pb2.Policy(), ignore_unknown_fields=True)

    def _json(
        self, method: str, path: str, body: dict[str, Any] | None = None, query: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        from google.api_core import exceptions

        answer = self.session().request(method, f"{self.root}/v1/{path}", json=body, params=query, timeout=60)
        if answer.status_code >= 400:
            raise exceptions.from_http_response(answer)  # type: ignore[no-untyped-call]
        found: dict[str, Any] = answer.json() if answer.content else {}
        return found

    def session(self) -> Any:
        if self._session is None:
            import google.auth
            from google.auth.transport.requests import AuthorizedSession

            credentials = self.credentials
            if credentials is None:
                credentials, _ = google.auth.default(scopes=self.SCOPES)
            self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        return self._session


# -- credentials: what a user can do about them -----------------------------------------------------
def explain(exc: BaseException) -> str | None:
    """No Application Default Credentials, or ones that cannot be refreshed, said with what to do; None for
    the rest (Google's own message says it)."""
    from google.auth.exceptions import DefaultCredentialsError, RefreshError

    if isinstance(exc, DefaultCredentialsError):
        return (
            "no Google Cloud credentials were found (Application Default Credentials). Run `gcloud auth "
            "application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account's "
            "key file."
        )
    if isinstance(exc, RefreshError):
        return (
            f"the Google Cloud credentials could not be refreshed ({exc}); they expired or were revoked: "
            "run `gcloud auth application-default login` again."
        )
    return None
