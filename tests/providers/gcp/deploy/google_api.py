"""A recording stand-in for the Google Cloud REST APIs deploy calls, on 127.0.0.1.

It serves the subset of Cloud Functions v2, Pub/Sub v1, Cloud Scheduler v1, the Cloud Run v2 IAM methods,
Cloud Storage buckets (with their own IAM policies) and service agent, the Resource Manager v3 project IAM methods
and Eventarc v1's triggers.get that `portable_fn_gcp.deploy` uses, keeps resources in memory, and checks what it is sent
the way Google does: JSON field names in camelCase (an unknown field is a 400 INVALID_ARGUMENT "Unknown
name"), enum values by name, an `updateMask` on every PATCH naming existing fields, parents and names
that agree, sources that were really uploaded (asked of the storage emulator), topics that exist before a
trigger or job points at them, and IAM etags. Function creates, updates and deletes return long-running
operations that are not done at first and are done at the first GET of the operation.

A project's IAM policy starts with an owner binding and an audit config; it is read as the version asked
for, and set only with the etag of the last read, and as version 3 when a binding has a condition. Like
Eventarc, a Cloud Storage trigger fails while the Cloud Storage service agent may not publish to Pub/Sub
in the project; with `agent_grant_delay` set, a grant made by setIamPolicy reaches it only after that many
triggers were refused, as IAM changes take a while to; the refusal is the function operation's error with
code 7 PERMISSION_DENIED, as Google reports it. With `concurrent_writes` set, that many project policy writes
find the policy changed by someone else since they read it (a new etag) and are refused 409 ABORTED. `refuse`
answers the named project IAM methods with 403 and an ErrorInfo IAM_PERMISSION_DENIED, as for a caller without
the permission; `disabled` answers every path under a prefix with 403 and an ErrorInfo SERVICE_DISABLED, as for
an API the project has not enabled. A service account deleted (through `tasks`, the IAM fake) stays in the
bindings naming it as `deleted:serviceAccount:EMAIL?uid=ID`, as Google keeps it (`account_deleted`).

Every request is first held to Google's Discovery document of its API (`discovery.py`): a method the
documents do not describe is a 404, a body or query they do not allow a 400 in the documents' words, and
an answer of the fake that strays from the method's response schema a 500 (listed in `answer_problems`).

Every request is recorded (`requests`), so tests can count what a deploy sent; `fail_next_operation`
makes the next operation on a function end in an error and leave the function FAILED, as a broken
build does.

A function with an event trigger gets an Eventarc trigger, as Cloud Functions makes one: the function's
`eventTrigger.trigger` names it, and for a Pub/Sub trigger its `transport.pubsub.subscription` (output only,
eventarc.v1 Trigger) names the push subscription it delivers through (for a storage trigger, on the transport
topic Eventarc made). That field is the only way to find
the subscription: its name follows no pattern a client could guess. With `transport_delay` set, a new
trigger is read that many times with the field still empty, as Eventarc fills it in once it made the
subscription.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar


def _module(path: Path, defines: str) -> ModuleType:
    """The test module at `path`, loaded once as `portable_fn_tests_<its name>` (tests run with
    --import-mode=importlib: no sys.path entry for these folders)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(f"portable_fn_tests_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, defines):
        spec.loader.exec_module(module)
    return module


discovery = _module(Path(__file__).with_name("discovery.py"), "Discovery")


def _storage_api() -> ModuleType:
    """storage_api.py beside this file: the Cloud Storage JSON API fake (held to its Discovery excerpt) this
    endpoint hands `/storage/v1`, `/upload/storage/v1` and `/download/storage/v1` requests to, where deploy
    writes its audit records."""
    return _module(Path(__file__).with_name("storage_api.py"), "StorageApi")


AUDIT_BUCKET = re.compile(r"[a-z0-9-]+-audit-[0-9a-f]{12}")  # the name audit_bucket() gives (deploy/audit.py)
OBJECT_PATH = re.compile(r"/(?:upload/|download/)?storage/v1/b/([^/]+)/o(?:/.*)?")  # served by storage_api.py
BUCKET_PATH = re.compile(r"/(?:upload/|download/)?storage/v1/b/([^/]+)(?:/.*)?")  # a bucket's, or its objects'


def _tasks_api() -> ModuleType:
    """tests/providers/gcp/tasks_api.py: the Cloud Tasks and IAM service account fake this endpoint hands those
    requests to."""
    return _module(Path(__file__).parents[1] / "tasks_api.py", "CloudTasksApi")


def _secretmanager_api() -> ModuleType:
    """tests/providers/gcp/secretmanager_api.py: the Secret Manager fake (held to secretmanager.v1's Discovery
    document) this endpoint hands those requests to."""
    return _module(Path(__file__).parents[1] / "secretmanager_api.py", "SecretManagerApi")


PAGE_SIZE = 4  # small, so the clients' pagers really follow nextPageToken


STORAGE_AGENT_ROLE = "roles/pubsub.publisher"
READS_BY_POST = (":getIamPolicy",)  # Resource Manager v3 reads a project's policy with a POST
EVENT_TYPES = {
    "google.cloud.pubsub.topic.v1.messagePublished",
    "google.cloud.storage.object.v1.finalized",
    "google.cloud.storage.object.v1.deleted",
}

LOCATION = r"projects/[^/]+/locations/[^/]+"
FUNCTION_PATH = rf"{LOCATION}/functions/[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?"
TOPIC_PATH = r"projects/[^/]+/topics/[A-Za-z][-A-Za-z0-9._~%+]{2,254}"
JOB_PATH = rf"{LOCATION}/jobs/[-A-Za-z0-9_]{{1,500}}"
SERVICE_PATH = rf"{LOCATION}/services/[^/:]+"
SUBSCRIPTION_PATH = r"projects/[^/]+/subscriptions/[A-Za-z][-A-Za-z0-9._~%+]{2,254}"
TRIGGER_PATH = rf"{LOCATION}/triggers/[^/]+"
DATABASE_PATH = r"projects/[^/]+/databases/[^/]+"
FIELD_PATH = rf"{DATABASE_PATH}/collectionGroups/[^/]+/fields/[^/]+"
DATABASE_ID = re.compile(r"[a-z][a-z0-9-]{2,61}[a-z0-9]")
FIRESTORE_ADMIN = "type.googleapis.com/google.firestore.admin.v1."
DISCOVERY = discovery.Discovery()  # every request served, and every answer, held to these documents
FUNCTION, JOB = DISCOVERY.fields("cloudfunctions", "Function"), DISCOVERY.fields("cloudscheduler", "Job")
TOPIC, SUBSCRIPTION = DISCOVERY.fields("pubsub", "Topic"), DISCOVERY.fields("pubsub", "Subscription")
MEMBER = re.compile(r"(deleted:)?(user|serviceAccount|group|domain):[^\s]+|allUsers|allAuthenticatedUsers")
BUCKET_MEMBER = re.compile(r"project(Owner|Editor|Viewer):[a-z][-a-z0-9]{4,28}[a-z0-9]")  # buckets: convenience values


class ApiError(Exception):
    """An error answer as Google sends it: HTTP status, and a google.rpc.Status body (`error.code`, `error.message`,
    `error.status`, and `error.details` such as a google.rpc.ErrorInfo; see https://cloud.google.com/apis/design/errors).
    `status` overrides the one the HTTP code maps to (409 is ALREADY_EXISTS or ABORTED)."""

    STATUS: ClassVar[dict[int, str]] = {
        400: "INVALID_ARGUMENT",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        409: "ALREADY_EXISTS",
        412: "FAILED_PRECONDITION",
        500: "INTERNAL",
    }
    RPC_CODES: ClassVar[dict[str, int]] = {
        "INVALID_ARGUMENT": 3,
        "NOT_FOUND": 5,
        "ALREADY_EXISTS": 6,
        "PERMISSION_DENIED": 7,
        "FAILED_PRECONDITION": 9,
        "ABORTED": 10,
        "INTERNAL": 13,
    }

    def __init__(
        self, code: int, message: str, status: str | None = None, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status or self.STATUS.get(code, "UNKNOWN")
        self.details = details or []

    def body(self) -> dict[str, Any]:
        error = {"code": self.code, "message": str(self), "status": self.status}
        return {"error": {**error, "details": self.details} if self.details else error}

    def rpc_status(self) -> dict[str, Any]:
        """The same error as a google.rpc.Status, as a long-running operation's `error` holds it."""
        status = {"code": self.RPC_CODES.get(self.status, 2), "message": str(self)}
        return {**status, "details": self.details} if self.details else status


def error_info(reason: str, domain: str, **metadata: str) -> dict[str, Any]:
    """A google.rpc.ErrorInfo detail (https://github.com/googleapis/googleapis/blob/master/google/rpc/error_details.proto);
    the reasons are those of google/api/error_reason.proto."""
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": domain,
        "metadata": metadata,
    }


def denied(permission: str, resource: str) -> dict[str, Any]:
    """IAM_PERMISSION_DENIED, as error_reason.proto documents it: the permission and the resource."""
    return error_info("IAM_PERMISSION_DENIED", "iam.googleapis.com", permission=permission, resource=resource)


def service_disabled(service: str, project_number: str) -> ApiError:
    """A call to an API the project has not enabled: 403 PERMISSION_DENIED with ErrorInfo SERVICE_DISABLED
    (domain googleapis.com, metadata `consumer` and `service`, as error_reason.proto documents it)."""
    return ApiError(
        403,
        f"{service} has not been used in project {project_number} before or it is disabled. Enable it "
        f"by visiting https://console.developers.google.com/apis/api/{service}/overview?project="
        f"{project_number} then retry. If you enabled this API recently, wait a few minutes for the "
        "action to propagate to our systems and retry.",
        details=[
            error_info("SERVICE_DISABLED", "googleapis.com", consumer=f"projects/{project_number}", service=service)
        ],
    )


def discovery_problems(value: Any, ref: str, api: str = "eventarc") -> list[str]:
    """Where `value` strays from schema `ref` of Discovery document `api` (as an answer): empty when it conforms."""
    document = next(d for d in DISCOVERY.documents if d["name"] == api)
    return discovery.Checker(document, request=False).check(value, {"$ref": ref}, ref)


def mask_paths(
    query: dict[str, str], schema: dict[str, Any], body_field: str | None = None, body: dict[str, Any] | None = None
) -> list[str]:
    """The update mask (query `updateMask`, or `updateMask` in the body), every path a camelCase field of
    `schema` (`Discovery.fields`)."""
    raw = query.get("updateMask") if body_field is None else (body or {}).get("updateMask")
    if not raw:
        raise ApiError(400, "updateMask is required on PATCH")
    paths = raw.split(",")
    for path in paths:
        node: Any = schema
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ApiError(400, f"Invalid update mask path {path!r}: no such field")
            node = node[part]
    return paths


def apply_mask(stored: dict[str, Any], sent: dict[str, Any], paths: list[str]) -> None:
    """Copy the masked fields from `sent` into `stored`; a masked field absent from `sent` is cleared."""
    for path in paths:
        *parents, leaf = path.split(".")
        source: Any = sent
        target = stored
        for part in parents:
            source = source.get(part, {}) if isinstance(source, dict) else {}
            target = target.setdefault(part, {})
        if isinstance(source, dict) and leaf in source:
            target[leaf] = source[leaf]
        else:
            target.pop(leaf, None)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


def audit_bucket_of(request: Recorded) -> str | None:
    """The audit trail's bucket `request` acts on (makes, reads, labels, or writes a record to), else None."""
    if request.path == "/storage/v1/b" and isinstance(request.body, dict):
        name = str(request.body.get("name"))
    elif found := BUCKET_PATH.fullmatch(request.path):
        name = found.group(1)
    else:
        return None
    return name if AUDIT_BUCKET.fullmatch(name) else None


class GoogleApi:
    """The in-memory state and the handlers. `storage_url` is the gcp-storage-emulator holding `bucket`."""

    def __init__(self, storage_url: str, bucket: str, project_number: str = "123456789") -> None:
        self.discovery = DISCOVERY
        self.storage_url = storage_url
        self.bucket = bucket
        self.project_number = project_number
        self.lock = threading.Lock()
        self.tasks = _tasks_api().CloudTasksApi()  # Cloud Tasks and IAM's service accounts (tasks_api.py)
        self.secrets = _secretmanager_api().SecretManagerApi(project_number)  # Secret Manager (secretmanager_api.py)
        self.cloud_storage = _storage_api().StorageApi()  # the audit records' buckets (storage_api.py)
        self.reset()

    def reset(self) -> None:
        self.tasks.reset()
        self.secrets.reset()
        self.cloud_storage.reset()
        self.requests: list[Recorded] = []
        self.answer_problems: list[str] = []  # where the fake's answers strayed from the documents (a bug here)
        self.functions: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, Any] = {}
        self.topics: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.buckets: dict[str, dict[str, Any]] = {}
        self.bucket_policies: dict[str, dict[str, Any]] = {}  # each bucket's own IAM policy, made with the bucket
        self.upload_urls: set[str] = set()
        self.failures: dict[str, str] = {}
        self.projects: dict[str, dict[str, Any]] = {}  # project path -> its IAM policy, made on first use
        self.refuse: set[str] = set()  # "getIamPolicy" / "setIamPolicy": project IAM answered 403; with " <bucket>"
        # after "storage.buckets.setIamPolicy", that bucket's policy may not be set (403)
        self.concurrent_writes = 0  # project policy writes that someone else's write beats (409 ABORTED)
        self.disabled: set[str] = set()  # APIs not enabled, by path prefix ("/v3/": Resource Manager)
        self.agent_grant_delay = 0  # triggers refused after the storage agent's grant before it takes effect
        self.agent_pending = 0  # of those, how many are left
        self.triggers: dict[str, dict[str, Any]] = {}  # Eventarc triggers by path (keyed "function": its function)
        self.transport_delay = 0  # reads of a new trigger answered before its subscription is filled in
        self.transport_pending: dict[str, int] = {}
        self.databases: dict[str, dict[str, Any]] = {}  # Firestore databases by path
        self.fields: dict[str, dict[str, Any]] = {}  # Firestore field configurations (TTL policies) by path
        self.documents: dict[str, int] = {}  # how many documents a test put in a database's collection
        self._ids = itertools.count(1)

    # -- what tests use ----------------------------------------------------------------------------
    def mutating(self) -> list[Recorded]:
        """Requests that may change what the app deployed: all but GETs, the reads Google takes as POST, and
        the audit trail's own writes (`audit_writes`), which every deploy and remove makes."""
        return [r for r in self.writes() if audit_bucket_of(r) is None]

    def audit_writes(self) -> list[Recorded]:
        """The requests that may change an audit trail's bucket (`<app>-<stage>-audit-<12 hex>`): its making,
        its labels, the records written to it; tests assert them exactly where they are about a whole deploy."""
        return [r for r in self.writes() if audit_bucket_of(r) is not None]

    def writes(self) -> list[Recorded]:
        """Every request but GETs and the reads Google takes as POST."""
        return [r for r in self.requests if r.method != "GET" and not r.path.endswith(READS_BY_POST)]

    def app_buckets(self) -> list[str]:
        """The names of the buckets but the audit trails' (`audit_buckets`)."""
        return sorted(name for name in self.buckets if not AUDIT_BUCKET.fullmatch(name))

    def audit_buckets(self) -> list[str]:
        """The names of the audit trails' buckets, each made by a deploy's or remove's first record."""
        return sorted(name for name in self.buckets if AUDIT_BUCKET.fullmatch(name))

    def put_object(self, bucket: str, key: str, data: bytes = b"") -> None:
        """An object in one of the buckets this endpoint made, as an upload by someone else puts it there."""
        self.cloud_storage.buckets.setdefault(bucket, self.buckets[bucket])
        self.cloud_storage.objects_insert({"bucket": bucket}, {"name": key}, {}, data)

    def fail_next_operation(self, function_id: str, message: str) -> None:
        self.failures[function_id] = message

    @property
    def storage_agent(self) -> str:
        return f"serviceAccount:service-{self.project_number}@gs-project-accounts.iam.gserviceaccount.com"

    def project_policy(self, project: str) -> dict[str, Any]:
        """The project's IAM policy as stored: what a new project has until deploy or a test changes it."""
        return self.projects.setdefault(
            f"projects/{project}",
            {
                "version": 1,
                "etag": self.etag(),
                "bindings": [{"role": "roles/owner", "members": ["user:owner@example.com"]}],
                "auditConfigs": [{"service": "allServices", "auditLogConfigs": [{"logType": "ADMIN_READ"}]}],
            },
        )

    def project_iam_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/v3/projects/")]

    def source_bytes(self, function_path: str) -> bytes:
        source = self.functions[function_path]["buildConfig"]["source"]["storageSource"]
        return self._download(source["bucket"], source["object"])

    # -- dispatch ----------------------------------------------------------------------------------
    def objects(
        self, bucket: str, method: str, path: str, query: dict[str, str], content_type: str, raw: bytes
    ) -> tuple[int, str, bytes]:
        """An object request (the audit records): recorded, with an upload's metadata as its body, and handed
        to `cloud_storage`, which learns the buckets this endpoint made."""
        with self.lock:
            multipart = query.get("uploadType") == "multipart"
            metadata = self.cloud_storage.split(query, content_type, raw)[0] if multipart else None
            self.requests.append(Recorded(method, urllib.parse.unquote(path), query, metadata))
            if bucket in self.buckets:
                self.cloud_storage.buckets.setdefault(bucket, self.buckets[bucket])
        return self.cloud_storage.handle(method, path, query, content_type, raw)  # type: ignore[no-any-return]

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        with self.lock:
            self.requests.append(Recorded(method, path, query, body))
            if self.tasks.handles(method, path):
                known = dict(self.tasks.accounts)
                answer = self.tasks.handle(method, path, query, body)
                for email in known.keys() - self.tasks.accounts.keys():
                    self.account_deleted(email, known[email]["uniqueId"])
                return answer  # type: ignore[no-any-return]
            if self.secrets.handles(method, path):
                return self.secrets.handle(method, path, query, body)  # type: ignore[no-any-return]
            try:
                served, body = self.discovery.request(method, path, query, body)
            except discovery.Refused as exc:
                return 400, ApiError(400, str(exc)).body()
            if any(path.startswith(prefix) for prefix in self.disabled):
                service = f"{served.document['name'] if served else 'unknown'}.googleapis.com"
                return 403, service_disabled(service, self.project_number).body()
            for verb, pattern, handler in self.routes():
                found = re.fullmatch(pattern, path)
                if served and verb == method and found:
                    try:
                        answer = handler(*found.groups(), query=query, body=body)
                    except ApiError as exc:
                        return exc.code, exc.body()
                    return self.answered(served, answer)
            return 404, ApiError(404, f"No route for {method} {path}").body()

    def answered(self, served: Any, answer: Any) -> tuple[int, Any]:
        """A 200 with `answer` once it holds to the method's response schema; else a 500 naming what strays
        (kept in `answer_problems`), as the fake then answers what Google never would."""
        problems = self.discovery.answer(served, answer)
        if problems:
            self.answer_problems += [f"{served.id}: {p}" for p in problems]
            return 500, ApiError(
                500, f"The fake's answer to {served.id} strays from its Discovery document: {problems[0]}"
            ).body()
        return 200, answer

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("POST", rf"/v2/({LOCATION})/functions:generateUploadUrl", self.generate_upload_url),
            ("POST", rf"/v2/({LOCATION})/functions", self.create_function),
            ("GET", rf"/v2/({LOCATION})/functions", self.list_functions),
            ("GET", rf"/v2/({FUNCTION_PATH})", self.get_function),
            ("PATCH", rf"/v2/({FUNCTION_PATH})", self.update_function),
            ("DELETE", rf"/v2/({FUNCTION_PATH})", self.delete_function),
            ("GET", rf"/v2/({LOCATION}/operations/[^/]+)", self.get_operation),
            ("GET", rf"/v2/({SERVICE_PATH}):getIamPolicy", self.get_iam_policy),
            ("POST", rf"/v2/({SERVICE_PATH}):setIamPolicy", self.set_iam_policy),
            ("GET", rf"/v1/({TOPIC_PATH}|{SUBSCRIPTION_PATH}):getIamPolicy", self.get_iam_policy),
            ("POST", rf"/v1/({TOPIC_PATH}|{SUBSCRIPTION_PATH}):setIamPolicy", self.set_iam_policy),
            ("GET", rf"/v1/({TOPIC_PATH})/subscriptions", self.list_topic_subscriptions),
            ("GET", rf"/v1/({SUBSCRIPTION_PATH})", self.get_subscription),
            ("GET", rf"/v1/({TRIGGER_PATH})", self.get_trigger),
            ("PATCH", rf"/v1/({SUBSCRIPTION_PATH})", self.update_subscription),
            ("PUT", rf"/v1/({SUBSCRIPTION_PATH})", self.create_subscription),
            ("DELETE", rf"/v1/({SUBSCRIPTION_PATH})", self.delete_subscription),
            ("PUT", rf"/v1/({TOPIC_PATH})", self.create_topic),
            ("PATCH", rf"/v1/({TOPIC_PATH})", self.update_topic),
            ("GET", rf"/v1/({TOPIC_PATH})", self.get_topic),
            ("DELETE", rf"/v1/({TOPIC_PATH})", self.delete_topic),
            ("GET", r"/v1/(projects/[^/]+)/topics", self.list_topics),
            ("POST", r"/v3/(projects/[^/:]+):getIamPolicy", self.get_project_iam_policy),
            ("POST", r"/v3/(projects/[^/:]+):setIamPolicy", self.set_project_iam_policy),
            ("GET", r"/storage/v1/projects/([^/]+)/serviceAccount", self.storage_service_account),
            ("POST", r"/storage/v1/b", self.create_bucket),
            ("GET", r"/storage/v1/b", self.list_buckets),
            ("GET", r"/storage/v1/b/([^/]+)", self.get_bucket),
            ("PATCH", r"/storage/v1/b/([^/]+)", self.patch_bucket),
            ("DELETE", r"/storage/v1/b/([^/]+)", self.delete_bucket),
            ("GET", r"/storage/v1/b/([^/]+)/iam", self.get_bucket_policy),
            ("PUT", r"/storage/v1/b/([^/]+)/iam", self.set_bucket_policy),
            ("POST", r"/v1/(projects/[^/]+)/databases", self.create_database),
            ("GET", r"/v1/(projects/[^/]+)/databases", self.list_databases),
            ("GET", rf"/v1/({DATABASE_PATH})", self.get_database),
            ("DELETE", rf"/v1/({DATABASE_PATH})", self.delete_database),
            ("GET", rf"/v1/({DATABASE_PATH}/operations/[^/]+)", self.get_operation),
            ("PATCH", rf"/v1/({FIELD_PATH})", self.update_field),
            ("GET", rf"/v1/({FIELD_PATH})", self.get_field),
            ("GET", rf"/v1/({DATABASE_PATH})/documents/([^/]+)", self.list_documents),
            ("POST", rf"/v1/({LOCATION})/jobs", self.create_job),
            ("GET", rf"/v1/({LOCATION})/jobs", self.list_jobs),
            ("GET", rf"/v1/({JOB_PATH})", self.get_job),
            ("PATCH", rf"/v1/({JOB_PATH})", self.update_job),
            ("DELETE", rf"/v1/({JOB_PATH})", self.delete_job),
        ]

    # -- Cloud Functions v2 ------------------------------------------------------------------------
    def generate_upload_url(self, parent: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        name = f"{parent.replace('/', '-')}-{uuid.uuid4().hex}.zip"
        url = (
            f"{self.storage_url}/{self.bucket}/{name}?GoogleAccessId=service%40example.iam&Expires=9999999999"
            f"&Signature={uuid.uuid4().hex}"
        )
        self.upload_urls.add(name)
        return {"uploadUrl": url, "storageSource": {"bucket": self.bucket, "object": name}}

    def create_function(self, parent: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        function_id = query.get("functionId", "")
        path = f"{parent}/functions/{function_id}"
        if not re.fullmatch(FUNCTION_PATH, path):
            raise ApiError(400, f"functionId {function_id!r} is invalid")
        if body.get("name", path) != path:
            raise ApiError(400, f"function.name {body['name']!r} does not match {path!r}")
        if path in self.functions:
            raise ApiError(409, f"Function {path} already exists")
        self.check_function(body, sourced=True)
        self.functions[path] = {**body, "name": path, "state": "DEPLOYING"}
        return self.operation(path, "create", lambda: self.finish(path))

    def update_function(self, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        paths = mask_paths(query, FUNCTION)
        if path not in self.functions:
            raise ApiError(404, f"Function {path} does not exist")
        if body.get("name", path) != path:
            raise ApiError(400, f"function.name {body['name']!r} does not match {path!r}")
        updated = json.loads(json.dumps(self.functions[path]))
        apply_mask(updated, body, paths)
        self.check_function(updated, sourced="buildConfig.source" in paths)
        self.functions[path] = {**updated, "state": "DEPLOYING"}
        return self.operation(path, "update", lambda: self.finish(path))

    def check_function(self, function: dict[str, Any], sourced: bool) -> None:
        build, service = function.get("buildConfig", {}), function.get("serviceConfig", {})
        if not re.fullmatch(r"python3\d{1,2}", build.get("runtime", "")) or not build.get("entryPoint"):
            raise ApiError(400, "buildConfig.runtime (python3XY) and buildConfig.entryPoint are required")
        if not re.fullmatch(r"\d+(Ki|Mi|Gi|k|M|G)?", service.get("availableMemory", "256M")):
            raise ApiError(400, f"serviceConfig.availableMemory {service['availableMemory']!r} is invalid")
        if sourced:
            storage = build.get("source", {}).get("storageSource", {})
            if storage.get("bucket") != self.bucket or storage.get("object") not in self.upload_urls:
                raise ApiError(400, "buildConfig.source.storageSource must be an object from generateUploadUrl")
            if not self._download(storage["bucket"], storage["object"]).startswith(b"PK"):
                raise ApiError(400, "The uploaded source is not a zip archive")
        trigger = function.get("eventTrigger")
        if trigger is not None:
            if trigger.get("eventType") not in EVENT_TYPES:
                raise ApiError(400, f"eventTrigger.eventType {trigger.get('eventType')!r} is not supported")
            topic = trigger.get("pubsubTopic")
            if topic is not None and topic not in self.topics:
                raise ApiError(404, f"Pub/Sub topic {topic} does not exist")
            if trigger["eventType"].startswith("google.cloud.storage"):
                filters = trigger.get("eventFilters", [])
                bucket = next((f.get("value") for f in filters if f.get("attribute") == "bucket"), None)
                if bucket is None:
                    raise ApiError(400, "a Cloud Storage trigger needs an eventFilters entry for 'bucket'")
                if bucket not in self.buckets:
                    raise ApiError(400, f"Cloud Storage bucket {bucket!r} does not exist")

    def finish(self, path: str) -> dict[str, Any]:
        """What Google fills in once a deploy is done: service, URL, defaults; or FAILED on a failure."""
        function = self.functions[path]
        function_id = path.rsplit("/", 1)[-1]
        if function_id in self.failures:
            function["state"] = "FAILED"
            raise ApiError(400, self.failures.pop(function_id))
        if function.get("eventTrigger", {}).get("eventType", "").startswith("google.cloud.storage"):
            self.check_storage_agent(function, path.split("/")[1])
        service = function.setdefault("serviceConfig", {})
        service.setdefault("serviceAccountEmail", f"{self.project_number}-compute@developer.gserviceaccount.com")
        service.setdefault("maxInstanceCount", 100)
        service.setdefault("availableMemory", "256M")
        service.setdefault("timeoutSeconds", 60)
        service.setdefault("ingressSettings", "ALLOW_ALL")
        service["service"] = path.replace("/functions/", "/services/")
        service["uri"] = f"https://{function_id}-abcdefghij-ew.a.run.app"
        trigger = function.get("eventTrigger")
        if trigger is not None:
            trigger.setdefault("retryPolicy", "RETRY_POLICY_DO_NOT_RETRY")
            trigger.setdefault("serviceAccountEmail", service["serviceAccountEmail"])
            trigger.setdefault("trigger", path.replace("/functions/", "/triggers/") + f"-{next(self._ids):06d}")
            self.eventarc_trigger(path, trigger)
        self.policies.setdefault(service["service"], {"version": 1, "bindings": [], "etag": self.etag()})
        function.update(state="ACTIVE", environment="GEN_2", url=service["uri"], updateTime="2024-01-01T00:00:00Z")
        return {"@type": "type.googleapis.com/google.cloud.functions.v2.Function", **function}

    def check_storage_agent(self, function: dict[str, Any], project: str) -> None:
        """Eventarc's refusal of a Cloud Storage trigger the storage agent cannot publish for."""
        bindings = self.project_policy(project)["bindings"]
        granted = any(
            b["role"] == STORAGE_AGENT_ROLE and self.storage_agent in b["members"] and "condition" not in b
            for b in bindings
        )
        if granted and self.agent_pending:  # not applied yet
            self.agent_pending -= 1
            granted = False
        if not granted:
            function["state"] = "FAILED"
            trigger = function["name"].replace("/functions/", "/triggers/")
            raise ApiError(
                403,
                f"Creating trigger failed for {trigger}: The Cloud Storage service account for your "
                "bucket is unable to publish to Cloud Pub/Sub topics in the specified project.\nTo "
                "use GCS CloudEvent triggers, the GCS service account requires the Pub/Sub Publisher "
                f"({STORAGE_AGENT_ROLE}) IAM role in the specified project.",
            )

    def get_function(self, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if path not in self.functions:
            raise ApiError(404, f"Function {path} does not exist")
        return self.functions[path]

    def list_functions(self, parent: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        wanted = parse_label_filter(query.get("filter", ""))
        found = [
            f
            for p, f in sorted(self.functions.items())
            if p.startswith(parent + "/") and all(f.get("labels", {}).get(k) == v for k, v in wanted.items())
        ]
        return page(found, "functions", query)

    def delete_function(self, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if path not in self.functions:
            raise ApiError(404, f"Function {path} does not exist")
        self.functions[path]["state"] = "DELETING"

        def finish() -> dict[str, Any]:
            function = self.functions.pop(path)
            for name in [n for n, sub in self.subscriptions.items() if sub.get("function") == path]:
                del self.subscriptions[name]
                self.policies.pop(name, None)
            for name in [n for n, found in self.triggers.items() if found["function"] == path]:
                del self.triggers[name]
            self.policies.pop(function.get("serviceConfig", {}).get("service", ""), None)
            return {"@type": "type.googleapis.com/google.protobuf.Empty"}

        return self.operation(path, "delete", finish)

    def operation(self, target: str, verb: str, finish: Any) -> dict[str, Any]:
        location = target.split("/functions/")[0]
        name = f"{location}/operations/operation-{next(self._ids)}"
        metadata = {
            "@type": "type.googleapis.com/google.cloud.functions.v2.OperationMetadata",
            "target": target,
            "verb": verb,
            "apiVersion": "v2",
        }
        self.operations[name] = {"name": name, "metadata": metadata, "done": False}
        self.pending[name] = finish
        return self.operations[name]

    def get_operation(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if name not in self.operations:
            raise ApiError(404, f"Operation {name} does not exist")
        finish = self.pending.pop(name, None)
        if finish is not None:
            operation = self.operations[name]
            try:
                operation["response"] = finish()
            except ApiError as exc:
                operation["error"] = exc.rpc_status()
            operation["done"] = True
        return self.operations[name]

    def eventarc_trigger(self, path: str, trigger: dict[str, Any]) -> None:
        """The Eventarc trigger Cloud Functions makes for an event trigger, and for a Pub/Sub trigger the push
        subscription it delivers through (one per trigger; a new topic gets a new one)."""
        name = trigger["trigger"]
        filters = [{"attribute": "type", "value": trigger["eventType"]}, *trigger.get("eventFilters", [])]
        found = self.triggers.setdefault(
            name, {"name": name, "function": path, "uid": str(uuid.uuid4()), "createTime": "2024-01-01T00:00:00Z"}
        )
        if found.get("transport", {}).get("pubsub", {}).get("topic") != trigger.get("pubsubTopic"):
            self.transport_pending[name] = self.transport_delay
        found.update(
            eventFilters=filters,
            serviceAccount=trigger["serviceAccountEmail"],
            updateTime="2024-01-01T00:00:00Z",
            transport={"pubsub": self.transport(path, trigger)},
        )

    def transport(self, path: str, trigger: dict[str, Any]) -> dict[str, str]:
        """Eventarc's Pub/Sub transport: the trigger's topic (for a storage trigger, one Eventarc makes) and a
        subscription in the project whose name only this says (https://cloud.google.com/eventarc/docs/retry-events)."""
        project, region, function = path.split("/")[1], path.split("/")[3], path.rsplit("/", 1)[-1]
        topic = trigger.get("pubsubTopic") or f"projects/{project}/topics/eventarc-{region}-{function}-storage"
        for old in [n for n, sub in self.subscriptions.items() if sub.get("function") == path]:
            if self.subscriptions[old]["topic"] == topic:
                return {"topic": topic, "subscription": old}
            del self.subscriptions[old]
        name = f"projects/{project}/subscriptions/delivery-{uuid.uuid4().hex[:12]}"
        self.subscriptions[name] = {
            "name": name,
            "topic": topic,
            "function": path,
            "ackDeadlineSeconds": 600,
            "pushConfig": {"pushEndpoint": f"https://{region}-eventarc.example/push"},
        }
        self.policies[name] = {"version": 1, "bindings": [], "etag": self.etag()}
        return {"topic": topic, "subscription": name}

    def get_trigger(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if name not in self.triggers:
            raise ApiError(404, f"Resource '{name}' was not found")
        found = json.loads(json.dumps({k: v for k, v in self.triggers[name].items() if k != "function"}))
        if self.transport_pending.get(name):  # Eventarc has not made the subscription yet
            self.transport_pending[name] -= 1
            del found["transport"]["pubsub"]["subscription"]
        return found

    def list_topic_subscriptions(self, topic: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if topic not in self.topics:
            raise ApiError(404, f"Resource not found (resource={topic.rsplit('/', 1)[-1]}).")
        return page(
            [n for n, sub in sorted(self.subscriptions.items()) if sub["topic"] == topic], "subscriptions", query
        )

    def get_subscription(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if name not in self.subscriptions:
            raise ApiError(404, f"Resource not found (resource={name.rsplit('/', 1)[-1]}).")
        return {k: v for k, v in self.subscriptions[name].items() if k != "function"}

    def create_subscription(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if name in self.subscriptions:
            raise ApiError(409, f"Resource already exists in the project (resource={name.rsplit('/', 1)[-1]}).")
        if body.get("topic") not in self.topics:
            raise ApiError(404, f"Resource not found (resource={str(body.get('topic')).rsplit('/', 1)[-1]}).")
        retention = body.get("messageRetentionDuration", "604800s")
        if not 600 <= float(retention.rstrip("s")) <= 604800:
            raise ApiError(400, "messageRetentionDuration must be between 10 minutes and 7 days")
        self.subscriptions[name] = {**body, "name": name, "state": "ACTIVE"}
        self.policies[name] = {"version": 1, "bindings": [], "etag": self.etag()}
        return self.get_subscription(name, query, None)

    def delete_subscription(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        self.get_subscription(name, query, None)
        del self.subscriptions[name]
        return {}

    def update_subscription(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        paths = mask_paths(query, SUBSCRIPTION, "body", body)
        if body["subscription"].get("name", name) != name:  # the path carries it (the transcoder moves it)
            raise ApiError(400, f"subscription.name must be {name!r}")
        if name not in self.subscriptions:
            raise ApiError(404, f"Resource not found (resource={name.rsplit('/', 1)[-1]}).")
        policy = body["subscription"].get("deadLetterPolicy") or {}
        if "deadLetterPolicy" in paths and policy:
            if policy.get("deadLetterTopic") not in self.topics:
                raise ApiError(404, f"Dead letter topic {policy.get('deadLetterTopic')!r} does not exist")
            if not 5 <= int(policy.get("maxDeliveryAttempts") or 5) <= 100:
                raise ApiError(400, "deadLetterPolicy.maxDeliveryAttempts must be between 5 and 100")
        retry = body["subscription"].get("retryPolicy") or {}
        if "retryPolicy" in paths and retry:
            backoffs = [float(retry.get(k, "0s").rstrip("s")) for k in ("minimumBackoff", "maximumBackoff")]
            if not all(0 <= b <= 600 for b in backoffs):
                raise ApiError(400, "retryPolicy backoffs must be between 0 and 600 seconds")
        apply_mask(self.subscriptions[name], body["subscription"], paths)
        for policy_field in ("deadLetterPolicy", "retryPolicy"):
            if not self.subscriptions[name].get(policy_field):
                self.subscriptions[name].pop(policy_field, None)
        return self.get_subscription(name, query, None)

    # -- IAM (Cloud Run services, Pub/Sub topics and subscriptions) --------------------------------
    def get_iam_policy(self, service: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if service not in self.policies:
            raise ApiError(404, f"Service {service} does not exist")
        return self.policies[service]

    def set_iam_policy(self, service: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if service not in self.policies:
            raise ApiError(404, f"Service {service} does not exist")
        policy = body["policy"]
        if policy.get("etag") != self.policies[service]["etag"]:
            raise ApiError(
                409,
                "There were concurrent policy changes. Please retry the whole read-modify-write "
                "with exponential backoff.",
                status="ABORTED",
            )
        for binding in policy.get("bindings", []):
            if (
                not binding["role"].startswith("roles/")
                or not binding.get("members")
                or not all(MEMBER.fullmatch(m) for m in binding["members"])
            ):
                raise ApiError(400, f"Invalid binding {binding}")
            for member in binding["members"]:
                if unknown := self.tasks.unknown(member):  # made moments ago: IAM does not know it yet
                    raise ApiError(400, f"Service account {unknown} does not exist.")
        self.policies[service] = {"version": 1, "bindings": policy.get("bindings", []), "etag": self.etag()}
        return self.policies[service]

    # -- Resource Manager v3 (project IAM) and the Cloud Storage service agent ----------------------
    def get_project_iam_policy(self, project: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        body = body or {}
        if "getIamPolicy" in self.refuse:
            raise ApiError(
                403,
                f"The caller does not have permission (resourcemanager.projects.getIamPolicy on {project})",
                details=[denied("resourcemanager.projects.getIamPolicy", project)],
            )
        policy = self.project_policy(project.split("/", 1)[1])
        asked = int(body.get("options", {}).get("requestedPolicyVersion") or 1)
        conditional = any("condition" in b for b in policy["bindings"])
        # Asked for less than version 3, a policy with conditions comes back as version 1 and cannot be set.
        return {**policy, "version": 3 if conditional and asked >= 3 else 1}

    def set_project_iam_policy(self, project: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if "setIamPolicy" in self.refuse:
            raise ApiError(
                403,
                f"Policy update access denied. (resourcemanager.projects.setIamPolicy on {project})",
                details=[denied("resourcemanager.projects.setIamPolicy", project)],
            )
        stored, policy = self.project_policy(project.split("/", 1)[1]), body["policy"]
        if self.concurrent_writes > 0:  # another tool set the policy between this caller's read and write
            self.concurrent_writes -= 1
            stored["etag"] = self.etag()
        if policy.get("etag") != stored["etag"]:
            raise ApiError(
                409,
                "There were concurrent policy changes. Please retry the whole read-modify-write "
                "with exponential backoff.",
                status="ABORTED",
            )
        bindings = policy.get("bindings", [])
        for binding in bindings:
            if (
                not binding["role"].startswith("roles/")
                or not binding.get("members")
                or not all(MEMBER.fullmatch(m) for m in binding["members"])
            ):
                raise ApiError(400, f"Invalid binding {binding}")
        if any("condition" in b for b in bindings) and int(policy.get("version") or 1) != 3:
            raise ApiError(400, "Policies with conditional role bindings must be set with version 3")

        def agent_holds(found: list[dict[str, Any]]) -> bool:
            return any(b["role"] == STORAGE_AGENT_ROLE and self.storage_agent in b["members"] for b in found)

        if agent_holds(bindings) and not agent_holds(stored["bindings"]):
            self.agent_pending = self.agent_grant_delay
        # Without an updateMask only bindings and etag change: the audit configs stay as stored.
        stored.update(bindings=bindings, etag=self.etag())
        return self.get_project_iam_policy(project, {}, {"options": {"requestedPolicyVersion": 3}})

    def storage_service_account(self, project: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        return {"email_address": self.storage_agent.split(":", 1)[1], "kind": "storage#serviceAccount"}

    def account_deleted(self, email: str, unique_id: str) -> None:
        """What IAM does to the policies naming an account just deleted: each binding keeps it, as
        `deleted:serviceAccount:EMAIL?uid=ID` (`Binding.members` in the Discovery documents), until Google purges
        it up to 60 days later (https://cloud.google.com/iam/docs/service-accounts-delete-undelete, read
        2026-12-07); the policies' etags change."""
        member, deleted = f"serviceAccount:{email}", f"deleted:serviceAccount:{email}?uid={unique_id}"
        for policy in [*self.projects.values(), *self.policies.values()]:
            named = [b for b in policy.get("bindings", []) if member in b["members"]]
            for binding in named:
                binding["members"] = [deleted if m == member else m for m in binding["members"]]
            if named:
                policy["etag"] = self.etag()

    def etag(self) -> str:
        return base64.b64encode(hashlib.sha256(str(next(self._ids)).encode()).digest()[:8]).decode()

    # -- Pub/Sub v1 --------------------------------------------------------------------------------
    def create_topic(self, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if path in self.topics:
            raise ApiError(409, "Resource already exists in the project (resource=" + path.rsplit("/", 1)[-1] + ").")
        self.topics[path] = {**(body or {}), "name": path}
        self.policies[path] = {"version": 1, "bindings": [], "etag": self.etag()}
        return self.topics[path]

    def update_topic(self, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        paths = mask_paths(query, TOPIC, "body", body)
        if path not in self.topics:
            raise ApiError(404, f"Resource not found (resource={path.rsplit('/', 1)[-1]}).")
        apply_mask(self.topics[path], body["topic"], paths)
        return self.topics[path]

    def get_topic(self, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if path not in self.topics:
            raise ApiError(404, f"Resource not found (resource={path.rsplit('/', 1)[-1]}).")
        return self.topics[path]

    def delete_topic(self, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        self.policies.pop(path, None)
        if self.topics.pop(path, None) is None:
            raise ApiError(404, f"Resource not found (resource={path.rsplit('/', 1)[-1]}).")
        return {}

    def list_topics(self, project: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        return page([t for p, t in sorted(self.topics.items()) if p.startswith(project + "/")], "topics", query)

    # -- Cloud Storage JSON API (buckets) -----------------------------------------------------------
    def create_bucket(self, query: dict[str, str], body: Any) -> dict[str, Any]:
        name, project = body.get("name", ""), query.get("project", "")
        if not re.fullmatch(r"[a-z0-9][-_.a-z0-9]{1,61}[a-z0-9]", name) or not project:
            raise ApiError(400, f"Invalid bucket name {name!r} or missing project")
        if _storage_api().GOOGLE_LIKE.match(name):
            raise ApiError(400, f"Invalid bucket name: '{name}'")
        if name in self.buckets:
            raise ApiError(409, "Your previous request to create the named bucket succeeded and you already own it.")
        self.buckets[name] = {
            **body,
            "kind": "storage#bucket",
            "id": name,
            "project": project,
            "location": body.get("location", "US").upper(),
            "projectNumber": self.project_number,
        }
        return self.get_bucket(name, query, None)

    def list_buckets(self, query: dict[str, str], body: Any) -> dict[str, Any]:
        found = [
            self.get_bucket(n, query, None)
            for n, b in sorted(self.buckets.items())
            if b["project"] == query.get("project")
        ]
        return {"kind": "storage#buckets", **page(found, "items", query)}

    def get_bucket(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if name not in self.buckets:
            raise ApiError(404, "The specified bucket does not exist.")
        return {k: v for k, v in self.buckets[name].items() if k != "project"}

    def patch_bucket(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if name not in self.buckets:
            raise ApiError(404, "The specified bucket does not exist.")
        labels = {**self.buckets[name].get("labels", {}), **body.pop("labels", {})}  # patched key by key
        self.buckets[name].update(body, labels={k: v for k, v in labels.items() if v is not None})
        return self.get_bucket(name, query, None)

    def delete_bucket(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if name not in self.buckets:
            raise ApiError(404, "The specified bucket does not exist.")
        if any(bucket == name for bucket, _ in self.cloud_storage.objects):
            raise ApiError(409, "The bucket you tried to delete is not empty.")
        del self.buckets[name]
        self.bucket_policies.pop(name, None)
        return {}

    def get_bucket_policy(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        """A bucket's own IAM policy; a new bucket's holds the project's legacy roles, as Google makes it with
        uniform bucket-level access. Asked for less than version 3, a policy with conditions is refused (400), as
        Google does."""
        if name not in self.buckets:
            raise ApiError(404, "The specified bucket does not exist.")
        policy = self.bucket_policy(name)
        asked = int(query.get("optionsRequestedPolicyVersion") or 1)
        conditional = any("condition" in b for b in policy["bindings"])
        if conditional and asked < 3:
            raise ApiError(400, "Bucket has conditional role bindings: request the policy at version 3.")
        return {**policy, "version": 3 if conditional else 1}

    def set_bucket_policy(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        """Set a bucket's policy with the etag of the last read (else 412, as Cloud Storage answers a stale
        one), every binding a known role with members IAM takes."""
        if name not in self.buckets:
            raise ApiError(404, "The specified bucket does not exist.")
        if f"storage.buckets.setIamPolicy {name}" in self.refuse:  # the bucket is someone else's to grant on
            raise ApiError(
                403,
                "The caller does not have storage.buckets.setIamPolicy access to the Google Cloud Storage bucket "
                f"{name}.",
                details=[denied("storage.buckets.setIamPolicy", f"projects/_/buckets/{name}")],
            )
        stored = self.bucket_policy(name)
        if body.get("etag") != stored["etag"]:
            raise ApiError(412, "Precondition Failed: the policy changed since it was read.")
        for binding in body.get("bindings", []):
            members = binding.get("members") or []
            if not binding.get("role", "").startswith("roles/") or not members:
                raise ApiError(400, f"Invalid binding {binding}")
            for member in members:
                if not (MEMBER.fullmatch(member) or BUCKET_MEMBER.fullmatch(member)):
                    raise ApiError(400, f"Invalid member {member!r}")
                if unknown := self.tasks.unknown(member):  # made moments ago: IAM does not know it yet
                    raise ApiError(400, f"Service account {unknown} does not exist.")
        stored.update(bindings=body.get("bindings", []), etag=self.etag())
        return self.get_bucket_policy(name, {"optionsRequestedPolicyVersion": "3"}, None)

    def bucket_policy(self, name: str) -> dict[str, Any]:
        project = self.buckets[name].get("project", "")
        return self.bucket_policies.setdefault(
            name,
            {
                "kind": "storage#policy",
                "resourceId": f"projects/_/buckets/{name}",
                "etag": self.etag(),
                "bindings": [
                    {
                        "role": "roles/storage.legacyBucketOwner",
                        "members": [f"projectEditor:{project}", f"projectOwner:{project}"],
                    },
                    {"role": "roles/storage.legacyBucketReader", "members": [f"projectViewer:{project}"]},
                ],
            },
        )

    def bucket_members(self, name: str, role: str) -> list[str]:
        """Who holds `role` in a bucket's policy, sorted (what tests assert)."""
        bindings = self.bucket_policies.get(name, {}).get("bindings", [])
        return sorted(m for b in bindings if b["role"] == role and "condition" not in b for m in b["members"])

    # -- Cloud Scheduler v1 ------------------------------------------------------------------------
    def create_job(self, parent: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        name = body.get("name", "")
        if not re.fullmatch(JOB_PATH, name) or not name.startswith(parent + "/"):
            raise ApiError(400, f"job.name {name!r} is not a job of {parent}")
        if name in self.jobs:
            raise ApiError(409, f"Job {name} already exists")
        self.check_job(body)
        self.jobs[name] = {**body, "state": "ENABLED", "userUpdateTime": "2024-01-01T00:00:00Z"}
        return self.jobs[name]

    def update_job(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        paths = mask_paths(query, JOB)
        if name not in self.jobs:
            raise ApiError(404, f"Job {name} does not exist")
        updated = json.loads(json.dumps(self.jobs[name]))
        apply_mask(updated, body, paths)
        self.check_job(updated)
        self.jobs[name] = updated
        return updated

    def check_job(self, job: dict[str, Any]) -> None:
        if len(job.get("schedule", "").split()) != 5:
            raise ApiError(400, f"Schedule {job.get('schedule')!r} has an invalid format: use unix-cron")
        topic = job.get("pubsubTarget", {}).get("topicName")
        if topic not in self.topics:
            raise ApiError(400, f"Pub/Sub topic {topic!r} does not exist")

    def get_job(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if name not in self.jobs:
            raise ApiError(404, f"Job {name} does not exist")
        return self.jobs[name]

    def delete_job(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if self.jobs.pop(name, None) is None:
            raise ApiError(404, f"Job {name} does not exist")
        return {}

    def list_jobs(self, parent: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        return page([j for n, j in sorted(self.jobs.items()) if n.startswith(parent + "/")], "jobs", query)

    # -- the storage emulator ----------------------------------------------------------------------
    # -- Firestore v1 (the admin methods, and a page of a collection's documents) ------------------------
    def create_database(self, project: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        database_id = query.get("databaseId", "")
        if not DATABASE_ID.fullmatch(database_id):
            raise ApiError(
                400, f"Database ID '{database_id}' is not valid: 4 to 63 of [a-z0-9-], starting with a letter"
            )
        for required in ("locationId", "type"):
            if not body.get(required):
                raise ApiError(400, f"database.{required} is required")
        path = f"{project}/databases/{database_id}"
        if path in self.databases:
            raise ApiError(409, f"Database '{database_id}' already exists.")
        database = {**body, "name": path, "uid": str(uuid.uuid4()), "createTime": "2026-01-01T00:00:00Z"}
        self.databases[path] = database
        return self.firestore_operation(
            path, "CreateDatabaseMetadata", lambda: {**database, "@type": FIRESTORE_ADMIN + "Database"}
        )

    def list_databases(self, project: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        return {"databases": [d for p, d in sorted(self.databases.items()) if p.startswith(f"{project}/")]}

    def get_database(self, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if path not in self.databases:
            raise ApiError(
                404, f"Project '{path.split('/')[1]}' or database '{path.rsplit('/', 1)[-1]}' does not exist."
            )
        return self.databases[path]

    def delete_database(self, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        found = self.get_database(path, query, body)
        del self.databases[path]
        self.documents.pop(path, None)
        self.fields = {name: f for name, f in self.fields.items() if not name.startswith(f"{path}/")}
        return self.firestore_operation(
            path, "DeleteDatabaseMetadata", lambda: {**found, "@type": FIRESTORE_ADMIN + "Database"}
        )

    def update_field(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        paths = query.get("updateMask", "").split(",")
        if paths != ["ttlConfig"]:
            raise ApiError(400, f"updateMask must name ttlConfig, got {query.get('updateMask')!r}")
        self.get_database(name.split("/collectionGroups/")[0], query, None)
        field = {"name": name}
        if "ttlConfig" in body:
            field["ttlConfig"] = {"state": "ACTIVE"}
        self.fields[name] = field
        return self.firestore_operation(
            name.split("/collectionGroups/")[0],
            "FieldOperationMetadata",
            lambda: {**field, "@type": FIRESTORE_ADMIN + "Field"},
        )

    def get_field(self, name: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        self.get_database(name.split("/collectionGroups/")[0], query, None)
        return self.fields.get(name, {"name": name})

    def list_documents(self, database: str, collection: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        self.get_database(database, query, None)
        count = min(self.documents.get(database, 0), int(query.get("pageSize") or 20))
        docs = [{"name": f"{database}/documents/{collection}/k{i}", "fields": {}} for i in range(count)]
        return {"documents": docs} if docs else {}

    def firestore_operation(self, database: str, metadata: str, finish: Any) -> dict[str, Any]:
        name = f"{database}/operations/operation-{next(self._ids)}"
        self.operations[name] = {"name": name, "metadata": {"@type": FIRESTORE_ADMIN + metadata}, "done": False}
        self.pending[name] = finish
        return self.operations[name]

    def _download(self, bucket: str, name: str) -> bytes:
        url = f"{self.storage_url}/storage/v1/b/{bucket}/o/{urllib.parse.quote(name, safe='')}?alt=media"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            raise ApiError(400, f"The source object gs://{bucket}/{name} was never uploaded") from exc


def parse_label_filter(text: str) -> dict[str, str]:
    """`labels.KEY="VALUE" AND ...` (the AIP-160 subset deploy sends) -> {KEY: VALUE}."""
    if not text:
        return {}
    found: dict[str, str] = {}
    for clause in text.split(" AND "):
        match = re.fullmatch(r'\s*labels\.([a-z][-_a-z0-9]*)\s*=\s*"([^"]*)"\s*', clause)
        if not match:
            raise ApiError(400, f"Invalid filter {text!r}")
        found[match.group(1)] = match.group(2)
    return found


def page(items: list[dict[str, Any]], key: str, query: dict[str, str]) -> dict[str, Any]:
    start = int(query.get("pageToken") or 0)
    size = min(int(query.get("pageSize") or PAGE_SIZE), PAGE_SIZE)
    out: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        out["nextPageToken"] = str(start + size)
    return out


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later
    protocol_version = "HTTP/1.1"  # kept-alive connections, as Google's front ends keep them: one thread each
    api: GoogleApi

    def _serve(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if found := OBJECT_PATH.fullmatch(url.path):
            self._send(
                *self.api.objects(
                    found.group(1), self.command, url.path, query, self.headers.get("Content-Type", ""), raw
                )
            )
            return
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            status, answer = 400, ApiError(400, "Invalid JSON payload received.").body()
        else:
            status, answer = self.api.handle(self.command, urllib.parse.unquote(url.path), query, body)
        self._send(status, "application/json; charset=UTF-8", json.dumps(answer).encode())

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class GoogleApiServer:
    """`GoogleApi` served over HTTP on 127.0.0.1 in a thread."""

    def __init__(self, api: GoogleApi) -> None:
        handler = type("Handler", (_Handler,), {"api": api})
        self.api = api
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> GoogleApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
