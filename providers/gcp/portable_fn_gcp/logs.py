"""Reading a deployed function's logs from Cloud Logging, for `portable-fn logs --provider gcp`.

A Cloud Functions (2nd gen) function runs as the Cloud Run service of the same id, so its lines are
the log entries of resource type `cloud_run_revision` with that `service_name`, in the function's region.
`CloudLogging` asks the Logging API's `entries.list` (POST https://logging.googleapis.com/v2/entries:list)
for them, oldest first, following `nextPageToken`, through google-auth's `AuthorizedSession` with
Application Default Credentials (read-only scope); an endpoint on plain http is an emulator or a fake,
called without credentials, as `deploy.client` does.

Cloud Logging lifts `severity`, `logging.googleapis.com/trace` and `logging.googleapis.com/spanId` out of
a JSON line into the entry, so the level and trace come from the entry and the rest from `jsonPayload`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from portable_fn.logread import LogEntry, LogsError, entry_from_fields, format_time, merged, read_line
from portable_fn.runtime.cloudevent import parse_rfc3339

ENDPOINT = "https://logging.googleapis.com"
READ_SCOPE = "https://www.googleapis.com/auth/logging.read"
RESOURCE_TYPE = "cloud_run_revision"  # what a 2nd gen function's service writes under
PAGE_SIZE = 1000  # entries per call (the API's limit; its default is 50)
API_LOG = logging.getLogger("portable_fn.api")


class CloudLogging:
    """`entries.list` over one authorized session."""

    def __init__(self, session: Any, endpoint: str = ENDPOINT, page_size: int = PAGE_SIZE) -> None:
        self.session = session
        self.endpoint = endpoint.rstrip("/")
        self.page_size = page_size

    @classmethod
    def connect(cls, endpoint: str | None = None, credentials: Any = None) -> CloudLogging:
        """A reader with Application Default Credentials, or none for an http:// endpoint."""
        from google.auth.transport.requests import AuthorizedSession

        url = endpoint or ENDPOINT
        if credentials is None and url.startswith("http://"):
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        elif credentials is None:
            import google.auth

            credentials, _ = google.auth.default(scopes=[READ_SCOPE])
        return cls(AuthorizedSession(credentials), url)  # type: ignore[no-untyped-call]

    def read(self, project: str, region: str, services: Mapping[str, str], since: datetime) -> list[LogEntry]:
        """The entries of `services` (Cloud Run service name -> function name) at or after `since`."""
        body: dict[str, Any] = {
            "resourceNames": [f"projects/{project}"],
            "orderBy": "timestamp asc",
            "filter": log_filter(region, services, since),
            "pageSize": self.page_size,
        }
        entries: list[LogEntry] = []
        while True:
            page = self._list(project, body)
            entries.extend(to_entry(found, services) for found in page.get("entries", []))
            if not page.get("nextPageToken"):
                return merged(entries)
            body = {**body, "pageToken": page["nextPageToken"]}

    def _list(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        API_LOG.debug("gcp logging ListLogEntries projects/%s", project)
        response = self.session.post(f"{self.endpoint}/v2/entries:list", json=body, timeout=60)
        if response.status_code >= 400:
            raise LogsError(f"Reading logs from Cloud Logging in project {project!r}: {_said(response)}.")
        found: dict[str, Any] = response.json()
        return found


def log_filter(region: str, services: Mapping[str, str], since: datetime) -> str:
    """The Logging query language filter for the services' entries in `region` since `since`."""
    names = " OR ".join(f"resource.labels.service_name={_quoted(name)}" for name in sorted(services))
    return " AND ".join(
        [
            f"resource.type={_quoted(RESOURCE_TYPE)}",
            f"resource.labels.location={_quoted(region)}",
            f"({names})",
            f"timestamp>={_quoted(format_time(since))}",
        ]
    )


def _quoted(value: str) -> str:
    return json.dumps(value)  # the query language's strings take the same backslash escapes


def to_entry(found: Mapping[str, Any], services: Mapping[str, str]) -> LogEntry:
    """One LogEntry of the API as ours."""
    resource = found.get("resource") or {}
    service = str((resource.get("labels") or {}).get("service_name", ""))
    labels = found.get("labels") or {}
    fields, text = _payload(found)
    return entry_from_fields(
        fields,
        text,
        time=parse_rfc3339(str(found["timestamp"])),
        function=services.get(service, service),
        level=found.get("severity"),
        trace_id=_trace(found.get("trace")),
        raw=dict(found),
        invocation_id=labels.get("execution_id") or labels.get("run.googleapis.com/execution_id"),
        entry_id=str(found.get("insertId", "")),
    )


def _payload(found: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """An entry's structured fields and its text: a jsonPayload, a textPayload (one of our JSON lines when
    it was not lifted into jsonPayload) or, for a request log, the request."""
    payload = found.get("jsonPayload")
    if isinstance(payload, Mapping):
        return payload, json.dumps(payload, sort_keys=True)
    if "textPayload" in found:
        text = str(found["textPayload"]).rstrip("\n")
        return read_line(text) or {}, text
    return {}, _request_line(found.get("httpRequest") or {})


def _trace(value: Any) -> str | None:
    """`projects/P/traces/T` -> T."""
    return str(value).rsplit("/", 1)[-1] if value else None


def _request_line(request: Mapping[str, Any]) -> str:
    """A request log entry (no payload) as `GET 200 https://...`."""
    parts = (request.get("requestMethod"), request.get("status"), request.get("requestUrl"))
    return " ".join(str(p) for p in parts if p is not None)


def _said(response: Any) -> str:
    """What an error response says (Google's `error.status` and `error.message`), and what to do."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    text = f"{response.status_code} {error.get('status', '')} {error.get('message', response.reason)}".strip()
    if response.status_code == 403:
        return f"{text}. Reading logs needs roles/logging.viewer on the project"
    return text
