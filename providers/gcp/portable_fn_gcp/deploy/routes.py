"""Dead-letter routes on Google Cloud: the subscription Eventarc made for a function's Pub/Sub trigger and
the IAM bindings a route needs. Shared by `remote` (reads only) and `appliers` (writes).

The subscription behind a trigger is Eventarc's: the function's `eventTrigger.trigger` names its Eventarc
trigger, and that trigger's `transport.pubsub.subscription` (output only) names the subscription, in the
project, for a Pub/Sub trigger on its topic and for a Cloud Storage trigger on the transport topic Eventarc
made (https://cloud.google.com/eventarc/docs/retry-events: retries and dead letters are set on it). Eventarc
fills the field in once it has made the subscription, so it can be empty for a trigger just made.

A subscription's dead-letter policy only works when the Pub/Sub service agent
(`service-<project number>@gcp-sa-pubsub.iam.gserviceaccount.com`) may publish to the dead-letter topic
and subscribe to the subscription. The project number comes from `project_number` in
`[tool.portable-fn.gcp]`, else from the function's default runtime account
(`<number>-compute@developer.gserviceaccount.com`).
"""

from __future__ import annotations

import re
from typing import Any

from .client import GcpClient, NotFound

PUBLISHER, SUBSCRIBER = "roles/pubsub.publisher", "roles/pubsub.subscriber"
POLICY_V3 = {"requested_policy_version": 3}  # conditional bindings intact, so setting the policy keeps them
_DEFAULT_ACCOUNT = re.compile(r"(\d+)-compute@developer\.gserviceaccount\.com\Z")


def short(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def trigger_subscription(gcp: GcpClient, found: Any) -> str:
    """The path of the subscription an event function's Eventarc trigger delivers through, as the trigger
    names it: on the trigger's topic, or for a storage trigger on Eventarc's own transport topic ('' when
    there is no such trigger, or Eventarc has not named it yet)."""
    trigger = found.event_trigger if "event_trigger" in found else None
    if trigger is None or not trigger.trigger:
        return ""
    try:
        eventarc = gcp.call("eventarc", "get_trigger", request={"name": trigger.trigger})
    except NotFound:  # the function is being made or deleted
        return ""
    return str(eventarc.transport.pubsub.subscription)


def pubsub_agent(project_number: str) -> str:
    return f"serviceAccount:service-{project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"


def project_number(configured: str, runtime_account: str) -> str:
    """The project number for the Pub/Sub service agent ('' when it cannot be known)."""
    if configured:
        return configured
    found = _DEFAULT_ACCOUNT.match(runtime_account)
    return found.group(1) if found else ""


def has_member(policy: Any, role: str, member: str) -> bool:
    """Whether `member` holds `role` without a condition (a conditional binding may not apply)."""
    return any(b.role == role and member in b.members for b in unconditional(policy))


def bucket_binding(policy: Any, role: str) -> dict[str, Any] | None:
    """The unconditional binding of `role` in a bucket's policy (the storage client's: bindings are dicts)."""
    return next((b for b in policy.bindings if b["role"] == role and not b.get("condition")), None)


def unconditional(policy: Any) -> list[Any]:
    return [b for b in policy.bindings if not b.HasField("condition")]


def grant(
    gcp: GcpClient, service: str, resource: str, role: str, member: str, options: dict[str, Any] | None = None
) -> bool:
    """Add `member` to `role` on a topic, subscription or project (read-modify-write; the etag guards it,
    other members and bindings are sent back as read); False when it was there already, and nothing was
    sent. `options` go with the read (the policy version)."""
    read = {"resource": resource, **({"options": options} if options else {})}
    policy = gcp.call(service, "get_iam_policy", request=read)
    if has_member(policy, role, member):
        return False
    binding = next((b for b in unconditional(policy) if b.role == role), None) or policy.bindings.add(role=role)
    binding.members.append(member)
    gcp.call(service, "set_iam_policy", request={"resource": resource, "policy": policy})
    return True


def revoke(
    gcp: GcpClient, service: str, resource: str, role: str, member: str, options: dict[str, Any] | None = None
) -> bool:
    """Take `member` out of `role`'s unconditional binding (read-modify-write, as `grant`); False when it was
    not there, and nothing was sent."""
    read = {"resource": resource, **({"options": options} if options else {})}
    policy = gcp.call(service, "get_iam_policy", request=read)
    binding = next((b for b in unconditional(policy) if b.role == role and member in b.members), None)
    if binding is None:
        return False
    binding.members.remove(member)
    if not binding.members:
        policy.bindings.remove(binding)
    gcp.call(service, "set_iam_policy", request={"resource": resource, "policy": policy})
    return True


def grant_conditional(gcp: GcpClient, project: str, role: str, member: str, condition: dict[str, str]) -> bool:
    """Add `member` to `role` under `condition` in the project's policy (read-modify-write at version 3; the
    etag guards it); False when a binding with that role and condition holds it already."""
    policy = gcp.call("resourcemanager", "get_iam_policy", request={"resource": project, "options": POLICY_V3})
    same = [b for b in policy.bindings if b.role == role and b.condition.expression == condition["expression"]]
    if any(member in b.members for b in same):
        return False
    binding = same[0] if same else policy.bindings.add(role=role, condition=condition)
    binding.members.append(member)
    policy.version = 3
    gcp.call("resourcemanager", "set_iam_policy", request={"resource": project, "policy": policy})
    return True


def revoke_conditional(gcp: GcpClient, project: str, role: str, member: str, condition: dict[str, str]) -> bool:
    """Take `member` out of `role`'s binding under `condition` (as `grant_conditional`); False when it was not
    there, and nothing was sent."""
    policy = gcp.call("resourcemanager", "get_iam_policy", request={"resource": project, "options": POLICY_V3})
    expression = condition["expression"]
    binding = next(
        (b for b in policy.bindings if b.role == role and b.condition.expression == expression and member in b.members),
        None,
    )
    if binding is None:
        return False
    binding.members.remove(member)
    if not binding.members:
        policy.bindings.remove(binding)
    policy.version = 3
    gcp.call("resourcemanager", "set_iam_policy", request={"resource": project, "policy": policy})
    return True
