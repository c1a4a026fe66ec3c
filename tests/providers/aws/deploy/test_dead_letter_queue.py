"""Dead letters on AWS against the moto server: the shim sends what a handler gives up on to the function's
dead-letter queue (SQS JSON protocol, signed by `portable_fn_aws.dead_letter`) and acknowledges it only
then; read back with boto3 and decoded through the shim's own SQS reader, the message is exactly the
dead-lettered CloudEvent. And the queue URL deploy hands the function reaches the queue deploy made.
"""

from __future__ import annotations

import base64
import importlib
import json
from typing import Any

import pytest
from portable_fn_aws.dead_letter import QUEUE_URL_ENV, send
from portable_fn_aws.records import sns_to_cloudevent, sqs_to_cloudevent
from portable_fn_aws.shim import deliver

from portable_fn.deploy import pipeline
from portable_fn.runtime import DEAD_LETTER, CloudEvent, spec_of
from portable_fn.runtime.dead_letters import dead_letter_event

REGION = "eu-west-1"


@pytest.fixture
def dead_letters(events_module: Any) -> Any:
    """tests/providers/aws/handlers/dead_letters.py, in the package `events_module` is imported from."""
    return importlib.import_module(f"{events_module.__package__}.dead_letters")


@pytest.fixture
def sqs_endpoint(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Lambda's environment for the shim, pointed at the moto server (the credentials are the session's)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", endpoint)
    monkeypatch.setenv("AWS_REGION", REGION)
    return endpoint


def make_queue(boto: Any, name: str) -> tuple[str, str]:
    """(URL, ARN) of a new queue."""
    attributes = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
    url = boto.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = boto.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def received(boto: Any, url: str, arn: str) -> list[dict[str, Any]]:
    """The queue's messages as Lambda's SQS event source hands them to a function (its record shape)."""
    messages = boto.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", [])
    return [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": REGION,
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "dataType": value["DataType"],
                    "stringListValues": [],
                    "binaryListValues": [],
                }
                for name, value in m.get("MessageAttributes", {}).items()
            },
        }
        for m in messages
    ]


def sqs_event(adapter: Any, bodies: list[Any], receive_count: int = 1) -> dict[str, Any]:
    template = adapter.load_event("sqsEvent.json")["Records"][0]
    return {
        "Records": [
            {
                **template,
                "messageId": f"m{i}",
                "body": json.dumps(body),
                "attributes": {**template["attributes"], "ApproximateReceiveCount": str(receive_count)},
            }
            for i, body in enumerate(bodies)
        ]
    }


def test_a_dead_letter_sent_with_the_shim_s_signer_reads_back_as_exactly_the_event(
    sqs_endpoint: str, boto: Any
) -> None:
    url, arn = make_queue(boto, "dead-letters")
    event = CloudEvent(
        id="k-1",
        source="urn:kinesis",
        type="com.amazonaws.kinesis.record",
        data=b"\x00\xffraw bytes",
        extensions={"partitionkey": "p-1", "traceparent": "00-ab-cd-01"},
    )
    dead = dead_letter_event(event, function="ingest", reason="schema v0 is gone ✗", attempt=4)
    message_id = send(url, dead)
    [record] = received(boto, url, arn)
    assert record["messageId"] == message_id
    assert record["messageAttributes"]["content-type"]["stringValue"] == "application/cloudevents+json"
    assert sqs_to_cloudevent(record) == dead
    assert base64.b64decode(json.loads(record["body"])["data_base64"]) == b"\x00\xffraw bytes"


def test_a_fifo_dead_letter_keeps_its_message_group(sqs_endpoint: str, boto: Any) -> None:
    url, arn = make_queue(boto, "dead-letters.fifo")
    event = CloudEvent(id="o-9", source="urn:orders", type="order", data={"n": 9}, extensions={"partitionkey": "c-7"})
    dead = dead_letter_event(event, function="fulfil", reason="refused", attempt=1)
    send(url, dead)
    send(url, dead)  # the same event again (a redelivery sent it twice): deduplicated
    [record] = received(boto, url, arn)
    assert record["attributes"]["MessageGroupId"] == "c-7"
    assert sqs_to_cloudevent(record) == dead


def test_the_shim_acknowledges_a_dead_lettered_record_once_the_queue_has_it(
    sqs_endpoint: str, boto: Any, adapter: Any, dead_letters: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, arn = make_queue(boto, "shop-dev-orders-dlq")
    monkeypatch.setenv(QUEUE_URL_ENV, url)
    event = sqs_event(adapter, [{"n": 0}, {"refuse": "unknown customer"}, {"n": 2}], receive_count=2)
    spec = spec_of(dead_letters.refuse_order)
    delivery = deliver(spec, event, lambda_context)
    assert delivery.response == {"batchItemFailures": []}  # never retried: it is in the dead-letter queue
    assert [r.outcome for r in delivery.results][1] == DEAD_LETTER
    [record] = received(boto, url, arn)
    original = sqs_to_cloudevent(event["Records"][1])
    assert sqs_to_cloudevent(record) == dead_letter_event(
        original, function="refuse_order", reason="unknown customer", attempt=2
    )


def test_an_asynchronous_event_given_up_on_goes_to_the_function_s_queue_and_is_not_raised(
    sqs_endpoint: str, boto: Any, adapter: Any, dead_letters: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, arn = make_queue(boto, "shop-dev-refuse_notice-dlq")
    monkeypatch.setenv(QUEUE_URL_ENV, url)
    native = adapter.load_event("snsEvent.json")
    native["Records"][0]["EventSubscriptionArn"] = "arn:aws:sns:us-east-2:123456789012:sns-lambda:21be56ed"
    delivery = deliver(spec_of(dead_letters.refuse_notice), native, lambda_context)
    assert delivery.error is None  # Lambda sees success: no retries of what the handler gave up on
    [record] = received(boto, url, arn)
    original = sns_to_cloudevent(native["Records"][0])
    assert sqs_to_cloudevent(record) == dead_letter_event(
        original, function="refuse_notice", reason="notices are not wanted", attempt=1
    )


def test_the_queue_url_deploy_gives_the_function_reaches_the_queue_it_made(
    provider: Any, shop: Any, boto: Any, sqs_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.deploy(provider, shop, "dev")
    for function, queue in (("fulfil", "shop-dev-orders-dlq"), ("notify", "shop-dev-notify-dlq")):
        env = boto.lambda_.get_function_configuration(FunctionName=f"shop-dev-{function}")["Environment"]["Variables"]
        event = CloudEvent(id=f"{function}-1", source="urn:test", type="t", data={"f": function})
        dead = dead_letter_event(event, function=function, reason="given up", attempt=1)
        send(env[QUEUE_URL_ENV], dead)  # the URL as deploy wrote it (SQS's own form), to moto
        url = boto.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        arn = boto.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        assert [sqs_to_cloudevent(r) for r in received(boto, url, arn)] == [dead]
