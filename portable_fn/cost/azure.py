"""What one function's month costs on Azure Functions: executions and GB-seconds on the Consumption plan
(Y1: observed memory, rounded up to 128 MB, at most 1,536 MB, at least 100 ms) or the Flex Consumption plan
(FC1: the instance memory), and what its trigger and state stores use (Storage queue operations, Event Grid
operations, Service Bus operations, Table transactions). Reads no cloud.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..runtime.triggers import Queue, Storage, Topic
from .estimate import (
    COMPUTE,
    REQUESTS,
    RESOURCES,
    Charge,
    Cloud,
    Pricing,
    Sizing,
    Workload,
    billed_seconds,
    chunks,
    state_uses,
    workflow_notes,
)

if TYPE_CHECKING:
    from ..app import App
    from ..runtime.function import FunctionSpec

DEFAULT_PLAN, DEFAULT_INSTANCE_MEMORY_MB = "Y1", 2048  # portable_fn_azure.settings.AzureSettings
DEFAULT_TIMEOUT_S = 300  # the Consumption plan's functionTimeout
CONSUMPTION_STEP_MB, CONSUMPTION_MAX_MB, CONSUMPTION_MIN_MS = 128, 1536, 100
PLANS = {"Y1": "y1", "FC1": "fc1"}  # the plans billed per execution, and their meters' prefix
KB = 1024


def region(settings: Mapping[str, Any]) -> str | None:
    return settings.get("location")


def declared(app: App, spec: FunctionSpec, settings: Mapping[str, Any]) -> Sizing:
    plan = settings.get("plan_sku", DEFAULT_PLAN)
    return sizing(plan, app.options(spec).memory_mb, settings.get("instance_memory_mb", DEFAULT_INSTANCE_MEMORY_MB))


def sizing(plan: str, declared_mb: int | None, instance_memory_mb: int) -> Sizing:
    """The memory a plan bills a function for: the instance memory on Flex Consumption; on Consumption the
    function's declared memory standing in for what it uses, rounded up to 128 MB (at most 1,536 MB)."""
    if plan == "FC1":
        return Sizing(instance_memory_mb, plan=plan)
    steps = math.ceil((declared_mb or CONSUMPTION_STEP_MB) / CONSUMPTION_STEP_MB)
    return Sizing(min(CONSUMPTION_MAX_MB, steps * CONSUMPTION_STEP_MB), plan=plan)


def charges(pricing: Pricing, work: Workload, sizing: Sizing) -> list[Charge]:
    prefix = PLANS.get(sizing.plan)
    if prefix is None:  # Premium: billed per instance-hour, not estimated (`notes` says so)
        return _trigger(pricing, work) + _states(pricing, work)
    minimum = CONSUMPTION_MIN_MS if sizing.plan == "Y1" else 0
    gb_s = billed_seconds(work, minimum_ms=minimum) * Decimal(sizing.memory_mb) / 1024
    out = [
        pricing.charge(work, REQUESTS, f"{prefix}.execution", work.invocations, "executions", f"{prefix}.execution"),
        pricing.charge(
            work, COMPUTE, f"{prefix}.gb_second", gb_s, "GB-seconds", f"{prefix}.gb_second", memory_seconds=True
        ),
    ]
    return out + _trigger(pricing, work) + _states(pricing, work)


def _trigger(pricing: Pricing, work: Workload) -> list[Charge]:
    trigger, n, size = work.spec.trigger, work.invocations, work.traffic.payload_bytes
    settings = pricing.settings
    if isinstance(trigger, Queue) and settings.get("queue_transport", "storage_queue") == "storage_queue":
        # each message: a put, a get and a delete, each 64 KB a operation
        operations = n * 3 * chunks(size, 64 * KB)
        return [
            pricing.charge(work, RESOURCES, "queue.operation", operations, f"Storage queue operations ({trigger.name})")
        ]
    if isinstance(trigger, Topic) and settings.get("topic_transport", "event_grid") == "event_grid":
        return [_event_grid(pricing, work, f"topic {trigger.name}")]
    if isinstance(trigger, (Queue, Topic)):  # on Service Bus: a send, a receive and a complete
        operations = n * 3 * chunks(size, 64 * KB)
        what = f"Service Bus operations ({trigger.name})"
        return [pricing.charge(work, RESOURCES, "service_bus.operation", operations, what, "service_bus.operation")]
    if isinstance(trigger, Storage):
        return [_event_grid(pricing, work, f"bucket {trigger.bucket} events")]
    return []  # HTTP and timer triggers cost nothing beyond the execution


def _event_grid(pricing: Pricing, work: Workload, what: str) -> Charge:
    """An event published once and delivered once, each 64 KB an operation."""
    operations = work.invocations * 2 * chunks(work.traffic.payload_bytes, 64 * KB)
    return pricing.charge(
        work, RESOURCES, "event_grid.operation", operations, f"Event Grid operations ({what})", "event_grid.operation"
    )


def _states(pricing: Pricing, work: Workload) -> list[Charge]:
    return [
        pricing.charge(work, RESOURCES, "table.transaction", reads + writes, f"Table transactions ({name})")
        for name, reads, writes in state_uses(work)
    ]


def notes(app: App, settings: Mapping[str, Any]) -> list[str]:
    plan = settings.get("plan_sku", DEFAULT_PLAN)
    out = {
        "Y1": "Consumption bills observed memory: each function's declared memory (else 128 MB) stands in for it.",
        "FC1": "Flex Consumption bills the instance memory while it executes; one execution at a time per instance "
        "is assumed (an upper bound).",
    }.get(plan, f"The {plan} (Premium) plan bills per instance-hour: its functions' compute is not estimated.")
    return [
        out,
        "Timer and HTTP triggers cost nothing beyond the execution; a topic's events are counted once per function.",
        "The Service Bus namespace (when a transport uses it) is yours: its base charge is not counted.",
        *workflow_notes(app, "their delayed wakes are queue messages, counted with the runner's"),
    ]


CLOUD = Cloud("azure", region, declared, charges, notes, DEFAULT_TIMEOUT_S)
