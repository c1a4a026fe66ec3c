"""A stand-in for Secret Manager v1 on 127.0.0.1: Secret Manager has no emulator, so what the runtime backend, the
`portable-fn secrets` store and deploy send it is held to Google's Discovery document instead.

It serves the methods of the excerpt secretmanager.v1.json (tests/data/gcp/discovery/, from
google-api-python-client's discovery cache): secrets create, get, list, patch, delete, addVersion,
getIamPolicy, setIamPolicy, and versions access, get, disable. Every request is first held to that document by
`discovery.Discovery` (a method it does not describe is a 404, a body or query it does not allow a 400 in its
words), and every answer to the method's response schema (a stray one is listed in `answer_problems`).

What the document and Google's guides say in prose is done here, as Secret Manager does: a secret id of
letters, digits, `_` and `-` (at most 255) given as `secretId`, a replication policy required on create, a
second create of one id ALREADY_EXISTS; names answered with the project's number, as Google does; versions
numbered from 1, `latest` the most recently created one; access of a version that is not ENABLED is
FAILED_PRECONDITION, of a secret without versions NOT_FOUND; a payload of at most 64 KiB; a list `filter` of
`name:TEXT` terms (the name holds TEXT) and `labels.KEY=VALUE` terms joined by AND
(https://cloud.google.com/secret-manager/docs/filtering); IAM policies set only with the etag last read.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
import sys
from datetime import datetime, timezone
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
DOCUMENTS = discovery.Discovery(("secretmanager.v1",))
SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}\Z")
SECRET = re.compile(r"projects/(?P<project>[^/]+)/secrets/(?P<id>[^/]+)\Z")
VERSION = re.compile(r"projects/(?P<project>[^/]+)/secrets/(?P<id>[^/]+)/versions/(?P<version>[^/]+)\Z")
MAX_PAYLOAD = 64 * 1024
PAGE_SIZE = 2  # small, so the clients' pagers really follow nextPageToken


ApiError = discovery.ApiError


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SecretManagerApi(discovery.DiscoveryFake):  # type: ignore[misc]
    """The fake (a `discovery.DiscoveryFake`: `handle`, served over HTTP as a context manager). `secrets` holds
    each secret by id, `versions` each secret's versions (the payload decoded), `policies` each secret's IAM
    policy."""

    DOCUMENTS = DOCUMENTS

    def __init__(self, project_number: str = "123456789") -> None:
        super().__init__()
        self.project_number = project_number
        self.secrets: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, list[dict[str, Any]]] = {}

    def reset(self) -> None:
        with self._lock:
            self.secrets.clear()
            self.versions.clear()
            self.policies.clear()
            self.requests.clear()
            self.answer_problems.clear()

    def methods(self) -> list[str]:
        """The method ids served, in order (`secrets.create`, `secrets.versions.access`, ...)."""
        return [method.removeprefix("secretmanager.projects.") for method, _ in self.requests]

    # -- the methods ------------------------------------------------------------------------------------
    def method_name(self, served: Any) -> str:
        return str(served.id.removeprefix("secretmanager.projects.").replace(".", "_"))

    def secrets_create(self, parent: str, secret: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        secret_id = query.get("secretId", "")
        if not SECRET_ID.match(secret_id):
            raise ApiError(400, "INVALID_ARGUMENT", f"secret_id {secret_id!r} must match [A-Za-z0-9_-]{{1,255}}")
        if "replication" not in secret:
            raise ApiError(400, "INVALID_ARGUMENT", "Secret.replication is required")
        if secret_id in self.secrets:
            raise ApiError(409, "ALREADY_EXISTS", f"Secret [{self.path(secret_id)}] already exists.")
        made = {**secret, "name": self.path(secret_id), "createTime": now(), "etag": self.etag(secret)}
        self.secrets[secret_id] = made
        self.versions[secret_id] = []
        return made

    def secrets_get(self, name: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        return self.secrets[self.secret(name)]

    def secrets_list(self, parent: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        wanted = [s for s in self.secrets.values() if matches(s, query.get("filter", ""))]
        start = int(query.get("pageToken") or 0)
        size = int(query.get("pageSize") or PAGE_SIZE)
        page = wanted[start : start + size]
        answer: dict[str, Any] = {"secrets": page} if page else {}
        if start + size < len(wanted):
            answer["nextPageToken"] = str(start + size)
        return answer

    def secrets_patch(self, name: str, secret: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        stored = self.secrets[self.secret(name)]
        paths = [p for p in query.get("updateMask", "").split(",") if p]
        if not paths:
            raise ApiError(400, "INVALID_ARGUMENT", "update_mask is required")
        for path in paths:
            if path not in ("labels", "annotations", "topics", "rotation", "expireTime", "ttl", "versionAliases"):
                raise ApiError(400, "INVALID_ARGUMENT", f"update_mask path {path!r} cannot be updated")
            if path in secret:
                stored[path] = secret[path]
            else:
                stored.pop(path, None)
        stored["etag"] = self.etag(stored)
        return stored

    def secrets_delete(self, name: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        secret = self.secret(name)
        del self.secrets[secret]
        self.versions.pop(secret, None)
        self.policies.pop(secret, None)
        return {}

    def secrets_addVersion(self, parent: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        secret = self.secret(parent)
        data = base64.b64decode(body["payload"].get("data", ""))
        if len(data) > MAX_PAYLOAD:
            raise ApiError(400, "INVALID_ARGUMENT", "Secret Payload cannot be larger than 64KiB.")
        number = len(self.versions[secret]) + 1
        version = {"name": f"{self.path(secret)}/versions/{number}", "createTime": now(), "state": "ENABLED"}
        self.versions[secret].append({**version, "data": data})
        return {**version, "etag": f'"{number}"'}

    def secrets_getIamPolicy(self, resource: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        return self.iam_policy(self.secret(resource))

    def secrets_setIamPolicy(self, resource: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        return self.set_iam_policy(self.secret(resource), body)

    def secrets_versions_access(self, name: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        version = self.version(name)
        if version["state"] != "ENABLED":
            raise ApiError(400, "FAILED_PRECONDITION", f"{version['name']} is in {version['state']} state.")
        data = version["data"]
        return {"name": version["name"], "payload": {"data": base64.b64encode(data).decode("ascii")}}

    def secrets_versions_get(self, name: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        return {k: v for k, v in self.version(name).items() if k != "data"}

    def secrets_versions_disable(self, name: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        version = self.version(name)
        version["state"] = "DISABLED"
        return {k: v for k, v in version.items() if k != "data"}

    # -- helpers ---------------------------------------------------------------------------------------
    def path(self, secret_id: str) -> str:
        return f"projects/{self.project_number}/secrets/{secret_id}"

    def secret(self, name: str) -> str:
        found = SECRET.match(name)
        if found is None or found["id"] not in self.secrets:
            raise ApiError(404, "NOT_FOUND", f"Secret [{name}] not found or has no versions.")
        return found["id"]

    def version(self, name: str) -> dict[str, Any]:
        found = VERSION.match(name)
        secret = self.secret(name.rsplit("/versions/", 1)[0])
        versions = self.versions[secret]
        if found is None or not versions:
            raise ApiError(404, "NOT_FOUND", f"Secret Version [{name}] not found.")
        if found["version"] == "latest":
            return versions[-1]
        number = int(found["version"]) if found["version"].isdigit() else 0
        if not 1 <= number <= len(versions):
            raise ApiError(404, "NOT_FOUND", f"Secret Version [{name}] not found.")
        return versions[number - 1]

    @staticmethod
    def etag(secret: dict[str, Any]) -> str:
        return '"' + hashlib.sha256(json.dumps(secret, sort_keys=True).encode()).hexdigest()[:12] + '"'


def matches(secret: dict[str, Any], text: str) -> bool:
    """Whether `secret` passes a list filter of `name:TEXT` and `labels.KEY=VALUE` terms joined by AND."""
    for term in (t.strip() for t in text.split(" AND ") if t.strip()):
        if term.startswith("name:"):
            if term[5:].strip('"') not in secret["name"]:
                return False
        elif found := re.fullmatch(r'labels\.([a-z0-9_-]+)=("?)([a-z0-9_-]*)\2', term):
            if secret.get("labels", {}).get(found[1]) != found[3]:
                return False
        else:
            raise ApiError(400, "INVALID_ARGUMENT", f"Invalid filter term {term!r}")
    return True
