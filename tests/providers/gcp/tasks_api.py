"""A stand-in for Cloud Tasks v2 and the IAM v1 service account policy methods on 127.0.0.1: Cloud Tasks has
no emulator, so what the publisher and deploy send it is held to Google's Discovery documents instead.

It serves queues (create, get, delete, getIamPolicy, setIamPolicy), tasks.create and IAM's
projects.serviceAccounts create, get, list, delete, getIamPolicy and setIamPolicy, the methods of the excerpts
cloudtasks.v2.json and
iam.v1.json (tests/data/gcp/discovery/, from google-api-python-client's discovery cache). Every request is
first held to those documents by `discovery.Discovery` (a method they do not describe is a 404, a body or
query they do not allow a 400 in their words), and every answer to the method's response schema (a stray
one is a 500, listed in `answer_problems`).

What the documents say only in prose is done here, as Cloud Tasks does: a queue id of letters, digits and
hyphens (at most 100) under its location; a deleted queue's name in its tombstone window (`deleted`), where
a create "may appear to recreate the queue" but a get still finds none; a task's queue existing, an HTTP task
with a url beginning http:// or https://, a body only with POST, PUT or PATCH, a `scheduleTime` at most 30
days ahead, an OAuth token naming a service account, the task's body at most 100KB; IAM policies set only
with the etag last read; a service account id of 6 to 30 lowercase letters, digits and hyphens starting with a
letter, unique in its project (ALREADY_EXISTS), its email `<id>@<project>.iam.gserviceaccount.com`. Service
accounts deploy did not make (an app's own `service_account`) are taken to exist for their IAM policies. With
`account_delay` set, a new account is unknown to that many IAM policy writes naming it (`unknown`, asked by the
recording endpoint too), as IAM is eventually consistent.

`tasks` holds every task made (as sent, its body decoded), `requests` every (method id, body) served;
`dispatch(until)` does what Cloud Tasks does with each task due by then: sends its HTTP request (its method,
url, headers and body; the OAuth token is not minted offline), and drops the task once answered 2xx.
"""

from __future__ import annotations

import base64
import importlib.util
import itertools
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any


def _discovery() -> ModuleType:
    """deploy/discovery.py (tests run with --import-mode=importlib: no sys.path entry for that folder)."""
    name = "portable_fn_tests_discovery"
    path = Path(__file__).with_name("deploy") / "discovery.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault(name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "Discovery"):
        spec.loader.exec_module(module)
    return module


discovery = _discovery()
DOCUMENTS = discovery.Discovery(("cloudtasks.v2", "iam.v1"))
QUEUE = re.compile(r"(?P<parent>projects/[^/]+/locations/[^/]+)/queues/(?P<id>[A-Za-z0-9-]{1,100})\Z")
ACCOUNT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]\Z")
ACCOUNT_IAM = "iam.projects.serviceAccounts."
MAX_AHEAD = timedelta(days=30)
MAX_TASK_BYTES = 100 * 1024  # "The maximum task size is 100KB" (tasks.create)
BODY_METHODS = ("POST", "PUT", "PATCH")


def scheduled(task: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(task["scheduleTime"].replace("Z", "+00:00"))


ApiError = discovery.ApiError


class CloudTasksApi(discovery.DiscoveryFake):  # type: ignore[misc]
    """The fake (a `discovery.DiscoveryFake`: `handle`, served over HTTP as a context manager, `url` for
    `endpoints = {tasks = ..., iam = ...}`); `policies` holds each queue's or service account's IAM policy."""

    DOCUMENTS = DOCUMENTS

    def __init__(self) -> None:
        super().__init__()
        self.queues: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()  # queue names Cloud Tasks still keeps
        self.tasks: list[dict[str, Any]] = []
        self.accounts: dict[str, dict[str, Any]] = {}  # service accounts made, by email
        self.account_delay = 0  # uses of a new account refused (it "does not exist") before IAM knows it
        self.unknown_for: dict[str, int] = {}  # of those, how many are left per account
        self._ids = itertools.count(1)

    def reset(self) -> None:
        with self._lock:
            self.queues.clear()
            self.deleted.clear()
            self.policies.clear()
            self.tasks.clear()
            self.accounts.clear()
            self.account_delay = 0
            self.unknown_for.clear()
            self.requests.clear()
            self.answer_problems.clear()

    def dispatch(self, until: datetime | None = None) -> int:
        """Send the HTTP request of every task due by `until` (all when None) and drop those answered 2xx; how
        many were sent."""
        import urllib.request

        with self._lock:
            due = [t for t in self.tasks if until is None or scheduled(t) <= until]
        for task in due:
            http = task["httpRequest"]
            request = urllib.request.Request(
                http["url"], data=http["body"], method=http.get("httpMethod", "POST"), headers=http.get("headers", {})
            )
            with urllib.request.urlopen(request, timeout=30) as answer:
                if 200 <= answer.status < 300:
                    with self._lock:
                        self.tasks.remove(task)
        return len(due)

    # -- the methods ------------------------------------------------------------------------------------
    def method_name(self, served: Any) -> str:
        method = str(served.id.rsplit(".", 1)[-1])
        if ".queues.tasks." in served.id:
            return "create_task"
        if served.id.startswith(ACCOUNT_IAM) and not method.endswith("IamPolicy"):
            return f"account_{method}"
        return method

    def create(self, parent: str, queue: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        found = QUEUE.match(queue.get("name", ""))
        if found is None or found["parent"] != parent:
            raise ApiError(400, "INVALID_ARGUMENT", f"Queue.name {queue.get('name')!r} is not {parent}/queues/ID")
        name = queue["name"]
        if name in self.queues:
            raise ApiError(409, "ALREADY_EXISTS", "Requested entity already exists")
        made = {**queue, "state": "RUNNING"}
        if name not in self.deleted:  # in its tombstone window a create "appears to recreate the queue"
            self.queues[name] = made
        return made

    def get(self, name: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        return self.queue(name)

    def delete(self, name: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        self.queue(name)
        del self.queues[name]
        self.policies.pop(name, None)
        self.deleted.add(name)
        return {}

    def getIamPolicy(self, resource: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        self.owner(resource)
        return self.iam_policy(resource)

    def setIamPolicy(self, resource: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        self.owner(resource)
        return self.set_iam_policy(resource, body)

    def create_task(self, parent: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        self.queue(parent)
        task = body.get("task") or {}
        http = task.get("httpRequest")
        if http is None:
            raise ApiError(400, "INVALID_ARGUMENT", "Task must have an http_request (or an app_engine_http_request)")
        if not re.match(r"https?://[^/]+", http.get("url", "")):
            raise ApiError(400, "INVALID_ARGUMENT", 'HttpRequest.url must begin with "http://" or "https://"')
        method = http.get("httpMethod", "POST")
        if "body" in http and method not in BODY_METHODS:
            raise ApiError(400, "INVALID_ARGUMENT", f"HttpRequest.body is not allowed with {method}")
        if not (http.get("oauthToken") or {}).get("serviceAccountEmail"):
            raise ApiError(400, "INVALID_ARGUMENT", "OAuthToken.service_account_email is required")
        now = datetime.now(timezone.utc)
        due = datetime.fromisoformat(task.get("scheduleTime", now.isoformat()).replace("Z", "+00:00"))
        if due - now > MAX_AHEAD:
            raise ApiError(400, "INVALID_ARGUMENT", "Task.schedule_time is more than 30 days in the future")
        if len(base64.b64decode(http.get("body", ""))) > MAX_TASK_BYTES:
            raise ApiError(400, "INVALID_ARGUMENT", "Task size is over the 100KB limit")
        name = task.get("name") or f"{parent}/tasks/{next(self._ids)}"
        sent = {**task, "name": name, "parent": parent}
        sent["httpRequest"] = {**http, "body": base64.b64decode(http.get("body", ""))}
        self.tasks.append(sent)
        answer = {k: v for k, v in task.items() if k != "httpRequest"}
        basic = {k: v for k, v in http.items() if k != "body"}  # the BASIC view leaves the body out
        return {**answer, "name": name, "scheduleTime": due.isoformat(), "httpRequest": basic, "view": "BASIC"}

    def account_create(self, project: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        account_id = body.get("accountId", "")
        if not ACCOUNT_ID.match(account_id):
            raise ApiError(
                400, "INVALID_ARGUMENT", f"accountId {account_id!r} must match [a-z][a-z0-9-]{{4,28}}[a-z0-9]"
            )
        project_id = project.removeprefix("projects/")
        email = f"{account_id}@{project_id}.iam.gserviceaccount.com"
        if email in self.accounts:
            raise ApiError(
                409, "ALREADY_EXISTS", f"Service account {account_id} already exists within project {project}."
            )
        given = body.get("serviceAccount") or {}
        made = {
            **{k: v for k, v in given.items() if k in ("displayName", "description")},
            "name": f"{project}/serviceAccounts/{email}",
            "projectId": project_id,
            "email": email,
            "uniqueId": str(100000000000000000000 + len(self.accounts)),
        }
        self.accounts[email] = made
        self.unknown_for[email] = self.account_delay
        return made

    def unknown(self, member: str) -> str | None:
        """The email of `member` when it is an account made so recently IAM does not know it yet (and one use of
        it less to refuse), else None."""
        email = member.removeprefix("serviceAccount:")
        if self.unknown_for.get(email, 0) <= 0:
            return None
        self.unknown_for[email] -= 1
        return email

    def account_get(self, name: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        return self.account(name)

    def account_list(self, project: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        found = [a for a in self.accounts.values() if a["name"].startswith(f"{project}/")]
        start, size = int(query.get("pageToken") or 0), int(query.get("pageSize") or 2)
        answer: dict[str, Any] = {"accounts": found[start : start + size]} if found[start : start + size] else {}
        if start + size < len(found):
            answer["nextPageToken"] = str(start + size)
        return answer

    def account_delete(self, name: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        account = self.account(name)
        del self.accounts[account["email"]]
        self.policies.pop(name, None)
        return {}

    def account(self, name: str) -> dict[str, Any]:
        """A service account by its name (`projects/P/serviceAccounts/EMAIL`, P may be `-`)."""
        email = name.rsplit("/", 1)[-1]
        if email not in self.accounts:
            raise ApiError(404, "NOT_FOUND", f"Unknown service account {email}")
        return self.accounts[email]

    def queue(self, name: str) -> dict[str, Any]:
        if name not in self.queues:
            raise ApiError(404, "NOT_FOUND", f"Queue {name} does not exist")
        return self.queues[name]

    def owner(self, resource: str) -> None:
        """A queue's policy needs the queue; a service account's is always there (deploy never makes one)."""
        if "/queues/" in resource:
            self.queue(resource)
