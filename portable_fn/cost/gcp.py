"""What one function's month costs on Google Cloud: Cloud Run functions (2nd gen) requests, vCPU-seconds and
GiB-seconds (the vCPU being what Cloud Run functions give for the memory), and what its trigger and state
stores use (Pub/Sub throughput, Cloud Scheduler jobs, Firestore documents). Reads no cloud.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..runtime.triggers import Queue, Schedule, Storage, Topic
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
    state_uses,
    workflow_notes,
)
from .prices import price_data

if TYPE_CHECKING:
    from ..app import App
    from ..runtime.function import FunctionSpec

DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S = 256, 60  # as deploy sets them (portable_fn_gcp.deploy.desired)
PUBSUB_MINIMUM_BYTES = 1000  # billed per publish, push or pull request, whatever the message's size
TIB = Decimal(2**40)
STEP_MS = 100  # Cloud Run rounds billable time up to 100 ms


def region(settings: Mapping[str, Any]) -> str | None:
    return settings.get("region") or os.environ.get("CLOUDSDK_FUNCTIONS_REGION")


def declared(app: App, spec: FunctionSpec, settings: Mapping[str, Any]) -> Sizing:
    return Sizing(app.options(spec).memory_mb or DEFAULT_MEMORY_MB)


def vcpu(memory_mb: int) -> Decimal:
    """The vCPU Cloud Run functions give a function of `memory_mb` (the next size up when between two)."""
    table = price_data("gcp")["vcpu_for_memory"]["table"]
    sizes = sorted(int(size) for size in table)
    size = next((s for s in sizes if s >= memory_mb), sizes[-1])
    return Decimal(table[str(size)])


def charges(pricing: Pricing, work: Workload, sizing: Sizing) -> list[Charge]:
    seconds = billed_seconds(work, STEP_MS)
    cpu = vcpu(sizing.memory_mb)
    out = [
        pricing.charge(work, REQUESTS, "run.request", work.invocations, "Cloud Run requests", "run.request"),
        pricing.charge(
            work, COMPUTE, "run.vcpu_second", seconds * cpu, f"vCPU-seconds ({cpu} vCPU)", "run.vcpu_second"
        ),
        pricing.charge(
            work,
            COMPUTE,
            "run.gib_second",
            seconds * Decimal(sizing.memory_mb) / 1024,
            "GiB-seconds",
            "run.gib_second",
            memory_seconds=True,
        ),
    ]
    return out + _trigger(pricing, work) + _states(pricing, work)


def _trigger(pricing: Pricing, work: Workload) -> list[Charge]:
    trigger = work.spec.trigger
    if isinstance(trigger, Schedule):
        # a Cloud Scheduler job publishes each tick to a topic the function is pushed from
        job = pricing.charge(work, RESOURCES, "scheduler.job", 1, "Cloud Scheduler job", "scheduler.job")
        return [job, _pubsub(pricing, work, PUBSUB_MINIMUM_BYTES, "schedule ticks")]
    if isinstance(trigger, (Queue, Topic)):
        return [_pubsub(pricing, work, work.traffic.payload_bytes, trigger.name)]
    if isinstance(trigger, Storage):
        return [_pubsub(pricing, work, work.traffic.payload_bytes, f"bucket {trigger.bucket} notifications")]
    return []


def _pubsub(pricing: Pricing, work: Workload, size: int, what: str) -> Charge:
    """Each message published once and delivered once, each request billed at least 1000 bytes."""
    tib = Decimal(work.invocations * 2 * max(PUBSUB_MINIMUM_BYTES, size)) / TIB
    return pricing.charge(work, RESOURCES, "pubsub.tib", tib, f"Pub/Sub TiB ({what})", "pubsub.tib")


def _states(pricing: Pricing, work: Workload) -> list[Charge]:
    out = []
    for name, reads, writes in state_uses(work):
        out.append(pricing.charge(work, RESOURCES, "firestore.read", reads, f"Firestore reads ({name})"))
        if writes:
            out.append(pricing.charge(work, RESOURCES, "firestore.write", writes, f"Firestore writes ({name})"))
    return out


def notes(app: App, settings: Mapping[str, Any]) -> list[str]:
    return [
        "Billable time is each invocation's mean duration rounded up to 100 ms, one request per instance at a time.",
        "A topic's messages are counted as one publish per subscribing function; Eventarc is not priced.",
        "Firestore's free quota covers only a project's (default) database; each state has its own, so none applies.",
        "Cloud Tasks (delayed sends) are not priced.",
        *workflow_notes(app, "the Cloud Tasks that hold their delayed wakes are not counted"),
    ]


CLOUD = Cloud("gcp", region, declared, charges, notes, DEFAULT_TIMEOUT_S)
