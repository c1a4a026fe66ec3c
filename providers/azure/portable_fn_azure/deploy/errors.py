"""Which refusals of Azure mean "not yet", recognised by the error code Azure documents for them.

A deploy waits out a few refusals that only say the platform has not yet applied what this run changed:
a role just granted, a host just given a new package. Each is told by `error.code` of the ARM error
response (the `code` of `{"error": {"code", "message"}}`, the shape every resource provider answers, see
the Azure REST API guidelines and ARM's `ErrorResponse` in common-types) or, for Azure Storage's data
plane, its `x-ms-error-code`; the message is read only where Azure documents no code of its own (it
answers a generic `BadRequest`) and then only with that code. Each rule cites where its code or words come
from. `role_not_yet_effective` and `host_not_up` are what `Context.with_roles` and `Context.after_release`
retry; `principal_not_replicated` and `operation_in_progress` are the documented codes for two more such
refusals, kept here so a step that meets them can wait on them the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

Refused = Callable[[BaseException], bool]


@dataclass(frozen=True)
class Rule:
    """A refusal: its `code` (None: any), and words its message must hold (None: any)."""

    code: str | None
    words: str | None = None

    def matches(self, code: str | None, message: str) -> bool:
        return (self.code is None or self.code == code) and (self.words is None or self.words in message)


def error_code(exc: BaseException) -> str | None:
    """The error code Azure answered: ARM's `error.code` (azure-core's `HttpResponseError.error`), Azure
    Storage's `x-ms-error-code` (`error_code` of the storage SDK's errors), or a `"code": "..."` in the body
    a raw request quoted (Kudu's answers, read by `Releases.publish`)."""
    for found in (getattr(getattr(exc, "error", None), "code", None), getattr(exc, "error_code", None)):
        if found:
            return str(getattr(found, "value", found))
    quoted = re.search(r'"code"\s*:\s*"([^"]+)"', str(exc))
    return quoted.group(1) if quoted else None


def refused_by(*rules: Rule) -> Refused:
    """A test of an exception: does Azure's answer match one of `rules`?"""

    def refused(exc: BaseException) -> bool:
        code, message = error_code(exc), str(exc)
        return any(rule.matches(code, message) for rule in rules)

    return refused


# The app's identity does not hold a role it was just granted (Azure applies role assignments after a
# while; "Troubleshoot Azure RBAC" says changes can take minutes to be detected).
role_not_yet_effective = refused_by(
    # Azure Storage, "Common REST API error codes": 403 AuthorizationPermissionMismatch ("This request is
    # not authorized to perform this operation using this permission") and AuthorizationFailure.
    Rule("AuthorizationPermissionMismatch"),
    Rule("AuthorizationFailure"),
    # Flex Consumption's One Deploy (Kudu's /api/publish) when the platform could not write the package into
    # the deployment container with the app's identity; Kudu's exception name is its code.
    Rule("BlobUploadFailedException"),
    Rule(None, "BlobUploadFailedException"),  # fallback: a publish answer whose body is not JSON
    # WebApps_SyncFunctionTriggers when the host could not start (it could not read its package or its
    # storage): Microsoft.Web answers the generic BadRequest, "Encountered an error (ServiceUnavailable) from
    # host runtime." (as `az functionapp` shows it); no code of its own is documented.
    Rule("BadRequest", "from host runtime"),
)

# Event Grid cannot reach the host that just took a new package ("Troubleshoot Azure Event Grid
# subscription validations"; "Webhook event delivery": the endpoint must answer the validation handshake).
host_not_up = refused_by(
    # A webhook whose validation handshake failed: Event Grid's code "Url validation", with "Webhook
    # validation handshake failed for <url>".
    Rule("Url validation"),
    # "The attempt to validate the provided endpoint <url> failed. For more details, visit
    # https://aka.ms/esvalidation", the words the troubleshooting page quotes (under a generic code).
    Rule(None, "attempt to validate the provided endpoint"),
    # An AzureFunction destination whose function the host has not listed yet: BadRequest, "Destination
    # endpoint not found. Resource details: resourceId: <id>. Resource should pre-exist before attempting
    # this operation."
    Rule("BadRequest", "Destination endpoint not found"),
)

# A role assigned to an identity that was just created, before Microsoft Entra ID replicated it: 400
# PrincipalNotFound ("Troubleshoot Azure RBAC": "Principal ... does not exist in the directory"; setting
# `principalType`, as deploy does, lets ARM skip that lookup).
principal_not_replicated = refused_by(Rule("PrincipalNotFound"))
# Either that, or a custom role defined moments ago not yet known to every ARM replica: 400
# RoleDefinitionDoesNotExist ("Troubleshoot Azure RBAC": changes to role definitions take a while to be detected).
not_replicated = refused_by(Rule("PrincipalNotFound"), Rule("RoleDefinitionDoesNotExist"))

# A write to a resource while another operation on it runs: ARM's 409 AnotherOperationInProgress
# ("Troubleshoot common Azure deployment errors": "Wait for concurrent operation to complete").
operation_in_progress = refused_by(Rule("AnotherOperationInProgress"))
