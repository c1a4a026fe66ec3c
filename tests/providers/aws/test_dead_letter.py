"""The shim's own dead-letter sender, offline: its Signature Version 4 is botocore's, the message it
writes, and what the shim answers Lambda when the send cannot be made (the record is kept).

Sending to a real queue (moto) and reading the message back is in deploy/test_dead_letter_queue.py,
next to the moto server.
"""

from __future__ import annotations

import importlib
import json
import logging
from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from portable_fn_aws.dead_letter import (
    CLOUDEVENTS_JSON,
    FIFO_GROUP,
    QUEUE_URL_ENV,
    DeadLetterFailed,
    message,
    send,
    signed_headers,
)
from portable_fn_aws.shim import deliver

from portable_fn.emulators import free_port
from portable_fn.runtime import DEAD_LETTER, CloudEvent, spec_of
from portable_fn.runtime.dead_letters import dead_letter_event

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "session-token",
    "AWS_REGION": "eu-west-1",
}
QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/shop-dev-orders-dlq"
EVENT = CloudEvent(
    id="e-1",
    source="urn:test",
    type="t.example",
    datacontenttype="application/json",
    data={"order": "ünïcode \ufffe"},
    extensions={"partitionkey": "customer-7"},
)


def botocore_signature(endpoint: str, body: bytes, env: dict[str, str], headers: dict[str, str]) -> str:
    """The Authorization header botocore's SigV4Auth makes for the same request at the same time."""
    wire = {
        "Content-Type": headers["content-type"],
        "X-Amz-Target": headers["x-amz-target"],
        "X-Amz-Date": headers["x-amz-date"],
    }
    if "AWS_SESSION_TOKEN" in env:
        wire["X-Amz-Security-Token"] = env["AWS_SESSION_TOKEN"]
    request = AWSRequest(method="POST", url=endpoint, data=body, headers=wire)
    request.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(
        Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN")),
        "sqs",
        env["AWS_REGION"],
    )
    signature = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    scope = f"{headers['x-amz-date'][:8]}/{env['AWS_REGION']}/sqs/aws4_request"
    signed = auth.signed_headers(auth.headers_to_sign(request))
    credential = f"{env['AWS_ACCESS_KEY_ID']}/{scope}"
    return f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed}, Signature={signature}"


@pytest.mark.parametrize("endpoint", ["https://sqs.eu-west-1.amazonaws.com/", "http://127.0.0.1:4566"])
@pytest.mark.parametrize("token", [True, False])
def test_the_signature_is_botocore_s(endpoint: str, token: bool) -> None:
    env = ENV if token else {k: v for k, v in ENV.items() if k != "AWS_SESSION_TOKEN"}
    body = json.dumps(message(QUEUE, EVENT)).encode()
    headers = signed_headers(endpoint, body, "AmazonSQS.SendMessage", env, NOW)
    assert headers["x-amz-date"] == "20250304T050607Z"
    assert headers["host"] == endpoint.split("/")[2]
    assert headers["authorization"] == botocore_signature(endpoint, body, env, headers)


def test_the_message_is_the_event_in_the_json_format_in_ascii() -> None:
    sent = message(QUEUE, EVENT)
    assert sent["QueueUrl"] == QUEUE
    assert sent["MessageBody"].isascii()  # no character SQS refuses (U+FFFE is one), whatever the data
    assert CloudEvent.from_json(sent["MessageBody"]) == EVENT
    assert sent["MessageAttributes"] == {"content-type": {"DataType": "String", "StringValue": CLOUDEVENTS_JSON}}
    assert "MessageGroupId" not in sent


def test_a_fifo_queue_gets_the_event_s_group_and_a_stable_deduplication_id() -> None:
    fifo = message(QUEUE + ".fifo", EVENT)
    assert fifo["MessageGroupId"] == "customer-7"
    assert (
        fifo["MessageDeduplicationId"] == message(QUEUE + ".fifo", EVENT.replace(data=None))["MessageDeduplicationId"]
    )  # the same event (source and id) however often it is sent
    assert message(QUEUE + ".fifo", EVENT.replace(extensions={}))["MessageGroupId"] == FIFO_GROUP


def test_missing_credentials_are_a_failed_send_that_names_them() -> None:
    env = {k: v for k, v in ENV.items() if k != "AWS_SECRET_ACCESS_KEY"}
    with pytest.raises(DeadLetterFailed, match="AWS_SECRET_ACCESS_KEY is not set"):
        send(QUEUE, EVENT, env, NOW)


# -- the shim: a dead letter is acknowledged only once it is sent ---------------------------------------
def sqs_event(adapter: Any, bodies: list[Any]) -> dict[str, Any]:
    template = adapter.load_event("sqsEvent.json")["Records"][0]
    return {"Records": [{**template, "messageId": f"m{i}", "body": json.dumps(body)} for i, body in enumerate(bodies)]}


@pytest.fixture
def dead_letters(events_module: Any) -> Any:
    """tests/providers/aws/handlers/dead_letters.py, in the package `events_module` is imported from."""
    return importlib.import_module(f"{events_module.__package__}.dead_letters")


def test_a_dead_letter_that_cannot_be_sent_is_reported_failed_so_it_is_redelivered(
    adapter: Any,
    dead_letters: Any,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    for name, value in {**ENV, "AWS_ENDPOINT_URL_SQS": closed, QUEUE_URL_ENV: QUEUE}.items():
        monkeypatch.setenv(name, value)
    event = sqs_event(adapter, [{"n": 0}, {"refuse": "unknown customer"}, {"n": 2}])
    with caplog.at_level(logging.WARNING, logger="portable_fn.aws"):
        delivery = deliver(spec_of(dead_letters.refuse_order), event, lambda_context)
    assert delivery.response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert delivery.results[1].outcome == DEAD_LETTER
    assert "could not be sent to the dead-letter queue" in caplog.text and "delivered again" in caplog.text


def test_without_a_dead_letter_queue_a_dead_letter_is_reported_failed(
    adapter: Any, dead_letters: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(QUEUE_URL_ENV, raising=False)
    event = sqs_event(adapter, [{"refuse": "unknown customer"}])
    response = deliver(spec_of(dead_letters.refuse_order), event, lambda_context).response
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}  # the redrive policy moves it


def test_an_asynchronous_event_whose_dead_letter_cannot_be_sent_is_raised_for_lambda_to_retry(
    adapter: Any, dead_letters: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**ENV, "AWS_ENDPOINT_URL_SQS": f"http://127.0.0.1:{free_port()}", QUEUE_URL_ENV: QUEUE}.items():
        monkeypatch.setenv(name, value)
    native = adapter.load_event("snsEvent.json")
    native["Records"][0]["EventSubscriptionArn"] = "arn:aws:sns:us-east-2:123456789012:sns-lambda:21be56ed"
    delivery = deliver(spec_of(dead_letters.refuse_notice), native, lambda_context)
    assert delivery.error is not None and "dead_letter (notices are not wanted)" in str(delivery.error)


def test_the_dead_lettered_event_is_the_original_with_the_three_extensions() -> None:
    dead = dead_letter_event(EVENT, function="refuse_order", reason="unknown customer", attempt=3)
    sent = CloudEvent.from_json(message(QUEUE, dead)["MessageBody"])
    assert sent.replace(extensions=EVENT.extensions) == EVENT
    assert {k: sent.extensions[k] for k in ("deadletterreason", "deadletterfunction", "deadletterattempt")} == {
        "deadletterreason": "unknown customer",
        "deadletterfunction": "refuse_order",
        "deadletterattempt": 3,
    }
