"""What one function's month costs on AWS: Lambda requests and GB-seconds (x86 or Arm), and what its trigger
and state stores use (SQS requests, SNS publishes, EventBridge Scheduler invocations, DynamoDB on-demand
request units, API Gateway HTTP API requests when `http = "http-api"`). Reads no cloud.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..runtime.triggers import Http, Queue, Schedule, Topic
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

DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S = 128, 3  # Lambda's, as deploy sets them (portable_fn_aws.deploy.desired)
KB = 1024


def region(settings: Mapping[str, Any]) -> str | None:
    """The region deploy would use: the setting, else the AWS environment (`AwsDeployer.region`)."""
    return settings.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def declared(app: App, spec: FunctionSpec, settings: Mapping[str, Any]) -> Sizing:
    options = app.options(spec)
    return Sizing(options.memory_mb or DEFAULT_MEMORY_MB, options.architecture or "x86_64")


def charges(pricing: Pricing, work: Workload, sizing: Sizing) -> list[Charge]:
    gb_s = billed_seconds(work) * Decimal(sizing.memory_mb) / 1024
    out = [
        pricing.charge(work, REQUESTS, "lambda.request", work.invocations, "Lambda requests", "lambda.request"),
        pricing.charge(
            work,
            COMPUTE,
            f"lambda.gb_second.{sizing.architecture}",
            gb_s,
            f"Lambda GB-seconds ({sizing.architecture})",
            "lambda.gb_second",
            memory_seconds=True,
        ),
    ]
    return out + _trigger(pricing, work) + _states(pricing, work)


def _trigger(pricing: Pricing, work: Workload) -> list[Charge]:
    trigger, n, size = work.spec.trigger, work.invocations, work.traffic.payload_bytes
    if isinstance(trigger, Queue):
        # each message: a send and a receive per 64 KB chunk, and a delete
        meter = "sqs.request.fifo" if trigger.fifo else "sqs.request"
        requests = n * (2 * chunks(size, 64 * KB) + 1)
        return [pricing.charge(work, RESOURCES, meter, requests, f"SQS requests ({trigger.name})", "sqs.request")]
    if isinstance(trigger, Topic):
        publishes = n * chunks(size, 64 * KB)
        return [
            pricing.charge(work, RESOURCES, "sns.publish", publishes, f"SNS publishes ({trigger.name})", "sns.publish")
        ]
    if isinstance(trigger, Schedule):
        return [
            pricing.charge(work, RESOURCES, "scheduler.invocation", n, "Scheduler invocations", "scheduler.invocation")
        ]
    if isinstance(trigger, Http) and pricing.settings.get("http") == "http-api":
        requests = n * chunks(size, 512 * KB)
        return [pricing.charge(work, RESOURCES, "apigateway.http_api.request", requests, "HTTP API requests")]
    return []  # Function URLs and S3 notifications cost nothing of their own


def _states(pricing: Pricing, work: Workload) -> list[Charge]:
    """DynamoDB on-demand, an item the payload's size: 4 KB a read unit, 1 KB a write unit."""
    out, size = [], work.traffic.payload_bytes
    for name, reads, writes in state_uses(work):
        units = reads * chunks(size, 4 * KB)
        out.append(pricing.charge(work, RESOURCES, "dynamodb.read", units, f"DynamoDB read units ({name})"))
        if writes:
            units = writes * chunks(size, KB)
            out.append(pricing.charge(work, RESOURCES, "dynamodb.write", units, f"DynamoDB write units ({name})"))
    return out


def notes(app: App, settings: Mapping[str, Any]) -> list[str]:
    return [
        "A queue's messages are counted one per invocation; SQS batches can make fewer, longer invocations.",
        "A topic's publishes are counted once per subscribing function.",
        "S3 event notifications and Function URLs carry no charge of their own.",
        "DynamoDB on-demand has no free tier; items are taken to be the payload's size.",
        *workflow_notes(app, "far waits' one-time EventBridge Scheduler schedules are not counted"),
    ]


CLOUD = Cloud("aws", region, declared, charges, notes, DEFAULT_TIMEOUT_S)
