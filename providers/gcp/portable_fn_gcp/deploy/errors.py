"""Google's refusals, recognised by what Google documents of its errors rather than by their English.

Every Google API answers an error as a google.rpc.Status: a canonical `code` (`error.status` by name in
the JSON body) and `details`, of which a google.rpc.ErrorInfo carries a machine-readable `reason` within
a `domain` (https://cloud.google.com/apis/design/errors). A long-running operation that fails holds the
same Status in its `error`. `status` and `error_infos` read both from an exception of the official
clients, whichever way it came (a REST answer, a gRPC status, an operation's error). A rule below matches
the code and reason Google documents for a refusal first, and the message text only where no reason is
documented, each with its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.rpc import code_pb2, error_details_pb2, status_pb2  # type: ignore[import-untyped]

from portable_fn.runtime.errors import DeployError


@dataclass(frozen=True)
class ErrorInfo:
    """A google.rpc.ErrorInfo: why (`reason`, unique within `domain`), with `metadata` such as the service."""

    reason: str
    domain: str
    metadata: dict[str, str]


def status(exc: BaseException) -> str:
    """The canonical code's name ("PERMISSION_DENIED", ...), or "" when `exc` is no Google API error."""
    for error in getattr(exc, "errors", None) or ():
        if isinstance(error, status_pb2.Status):  # an operation's error
            return str(code_pb2.Code.Name(error.code))
    named = _error_body(exc).get("status")
    if isinstance(named, str) and named:
        return named
    code = getattr(exc, "grpc_status_code", None)
    return str(code.name) if code is not None else ""


def error_infos(exc: BaseException) -> list[ErrorInfo]:
    """Every google.rpc.ErrorInfo in the error's details."""
    found = [
        _info(d)
        for d in _error_body(exc).get("details") or ()
        if isinstance(d, dict) and d.get("@type") == "type.googleapis.com/google.rpc.ErrorInfo"
    ]
    for error in getattr(exc, "errors", None) or ():
        if isinstance(error, status_pb2.Status):
            for detail in error.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    found.append(ErrorInfo(info.reason, info.domain, dict(info.metadata)))
    given = getattr(exc, "reason", None)  # what api-core parsed itself (gRPC answers)
    if isinstance(given, str) and given and not any(i.reason == given for i in found):
        metadata = getattr(exc, "metadata", None)
        found.append(ErrorInfo(given, str(getattr(exc, "domain", "") or ""), dict(metadata or {})))
    return found


def message(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc)


# -- the refusals deploy recognises ---------------------------------------------------------------------
# The Cloud Storage service agent may not publish to Pub/Sub yet. Eventarc needs it to hold
# roles/pubsub.publisher for a Cloud Storage trigger
# (https://cloud.google.com/eventarc/docs/run/quickstart-storage#before-you-begin), and the function's
# operation fails with code 7 PERMISSION_DENIED
# (https://github.com/googleapis/googleapis/blob/master/google/rpc/code.proto) while it does not; IAM
# changes take a while to apply (https://cloud.google.com/iam/docs/access-change-propagation). Google
# documents no ErrorInfo reason for it, so within that code the message names which grant is missing.
AGENT_CODES = ("PERMISSION_DENIED", "FAILED_PRECONDITION")
AGENT_NOT_YET_GRANTED = "unable to publish to Cloud Pub/Sub"


def storage_agent_not_ready(exc: BaseException) -> bool:
    """Eventarc refused a Cloud Storage trigger because the storage agent cannot publish to Pub/Sub (yet)."""
    code = status(exc)
    return (code in AGENT_CODES or not code) and AGENT_NOT_YET_GRANTED in message(exc)


# An API that is not enabled in the project: ErrorInfo reason SERVICE_DISABLED in domain googleapis.com,
# its metadata naming the `service` (https://github.com/googleapis/googleapis/blob/master/google/api/error_reason.proto,
# https://cloud.google.com/service-usage/docs/enable-disable). Answered with 403 PERMISSION_DENIED, so
# without this it reads as a missing permission. Fallback: Service Usage's message for it.
SERVICE_DISABLED = ("SERVICE_DISABLED", "googleapis.com")
DISABLED_TEXT = "has not been used in project"


def disabled_service(exc: BaseException) -> str | None:
    """The API (e.g. "cloudresourcemanager.googleapis.com") that Google refused because it is not enabled in the
    project; "" when it is one but the error does not name it; None when the refusal is something else."""
    for info in error_infos(exc):
        if (info.reason, info.domain) == SERVICE_DISABLED:
            return info.metadata.get("service", "")
    return "" if DISABLED_TEXT in message(exc) and status(exc) == "PERMISSION_DENIED" else None


def not_enabled(exc: BaseException, project: str) -> DeployError | None:
    """The error for an API Google refused as not enabled in `project`, saying how to enable it; None for any
    other refusal."""
    service = disabled_service(exc)
    if service is None:
        return None
    api = service or "the API named above"
    return DeployError(
        f"Deploying to gcp: Google refused a call because {api} is not enabled in project {project!r} "
        f"({type(exc).__name__}: {message(exc)}). Enable it once with\n    gcloud services enable "
        f"{service or 'SERVICE'} --project={project}\nthen run `portable-fn` again (a newly enabled API can take a "
        "few minutes to answer)."
    )


def _error_body(exc: BaseException) -> dict[str, Any]:
    """The JSON `error` object of a REST answer (the exception keeps the HTTP response)."""
    read = getattr(getattr(exc, "response", None), "json", None)
    try:
        body = read() if callable(read) else None
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _info(detail: dict[str, Any]) -> ErrorInfo:
    return ErrorInfo(
        str(detail.get("reason", "")),
        str(detail.get("domain", "")),
        {str(k): str(v) for k, v in (detail.get("metadata") or {}).items()},
    )
