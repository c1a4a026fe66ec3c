"""What a user needs after a deploy, read from the remote state: the function app, its URL, and per
function how to reach or feed it (HTTP URL, queue and poison queue, container, schedule)."""

from __future__ import annotations

from typing import Any

from portable_fn.deploy import RemoteState

from .naming import POISON_SUFFIX, Names, container_name, queue_name
from .resources import FunctionApp, StorageAccount


def outputs(app: Any, stage: str, remote: RemoteState, names: Names, location: str) -> dict[str, Any]:
    site = remote.get((FunctionApp.kind, names.function_app))
    host = site.host_name if isinstance(site, FunctionApp) else ""
    deployed = isinstance(site, FunctionApp)
    out: dict[str, Any] = {
        "provider": "azure", "location": location, "stage": stage, "resource_group": names.resource_group,
        "function_app": names.function_app if deployed else None,
        "storage_account": names.storage_account if (StorageAccount.kind, names.storage_account) in remote else None,
        "functions": {},
    }
    if not deployed:
        return out
    out["url"] = f"https://{host}" if host else ""
    out["functions"] = {spec.name: {"trigger": spec.trigger.kind, **trigger_outputs(spec.trigger, host)}
                        for spec in app.functions}
    return out


def trigger_outputs(trigger: Any, host: str) -> dict[str, Any]:
    if trigger.kind == "http":
        return {"url": f"https://{host}/api{trigger.path}" if host else "", "method": trigger.method}
    if trigger.kind == "queue":
        return {"queue": queue_name(trigger.name), "poison_queue": queue_name(trigger.name) + POISON_SUFFIX}
    if trigger.kind == "storage":
        return {"container": container_name(trigger.bucket)}
    if trigger.kind == "topic":
        return {"topic": trigger.name, "provisioned": False}
    return {}
