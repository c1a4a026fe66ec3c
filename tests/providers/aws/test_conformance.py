"""Conformance: every payload of the corpus becomes exactly its golden Request or CloudEvent(s), and runs
through `make_handler` without an unhandled error (tests/data/aws/events -> tests/data/aws/expected)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.http_events import http_source
from portable_fn_aws.shim import make_handler

from portable_fn.runtime import spec_of

DATA = Path(__file__).resolve().parents[2] / "data" / "aws"
PAYLOADS = sorted(p.name for p in (DATA / "events").glob("*.json"))
UNDECODABLE = {"sqsUndecodableEvent.json": ["bad-0000-0000-0000-000000000001", "bad-0000-0000-0000-000000000003"]}


def test_every_payload_has_a_golden_file_and_back() -> None:
    expected = sorted(p.name for p in (DATA / "expected").glob("*.json"))
    assert expected == PAYLOADS
    assert len(PAYLOADS) >= 50


def test_the_notice_names_every_payload() -> None:
    notice = (DATA / "events" / "NOTICE").read_text(encoding="utf-8")
    assert "fa1c29f2" in notice and "MIT-0" in notice
    assert [name for name in PAYLOADS if name not in notice] == []


@pytest.mark.parametrize("name", PAYLOADS)
def test_the_adapter_output_matches_the_golden_file(name: str, adapter: Any) -> None:
    expected = json.loads((DATA / "expected" / name).read_text(encoding="utf-8"))
    assert adapter.golden(adapter.load_event(name)) == expected


@pytest.mark.parametrize("name", PAYLOADS)
def test_every_payload_runs_through_the_handler(
    name: str, adapter: Any, events_module: Any, web_module: Any, lambda_context: Any
) -> None:
    event = adapter.load_event(name)
    is_http = http_source(event) is not None
    handler = make_handler(spec_of(web_module.echo if is_http else acking(events_module, name)))
    response = handler(event, lambda_context)
    if is_http:  # echo serves ANY /my/{name}; any other path is a 404, as under `dev`
        assert response["statusCode"] == (201 if adapter.golden(event)["path"].startswith("/my/") else 404)
    elif "Records" in event and name.startswith(("sqs", "snsSqs", "s3Sqs", "kinesis", "dynamo")):
        failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
        assert failed == UNDECODABLE.get(name, [])
    else:
        assert response is None  # SNS, S3, EventBridge: acknowledged by returning


def acking(events_module: Any, name: str) -> Any:
    """The acknowledging function of the trigger kind the payload's source feeds (the shim refuses a source
    another kind is wired to): SQS and streams a queue, SNS and EventBridge a topic, S3 storage, schedules."""
    if name.startswith(("sqs", "snsSqs", "s3Sqs", "kinesis", "dynamo")):
        return events_module.ack
    if name.startswith(("eventBridgeScheduled", "schedulerScheduled")):
        return events_module.ack_schedule
    if name.startswith("s3"):
        return events_module.ack_storage
    return events_module.ack_topic
