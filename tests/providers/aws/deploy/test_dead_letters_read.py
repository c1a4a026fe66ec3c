"""`AwsProvider.dead_letters` against the moto server: a function's dead-letter queue read oldest first,
whatever put each message there (the shim, the queue's redrive policy, Lambda's on-failure destination),
left in place when listed, and sent back the way the trigger delivers when redriven (a queue: SQS on
moto; an asynchronous invocation: the Invoke call, caught before it leaves, since moto would run the
function in a container)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from portable_fn_aws.dead_letter import send
from portable_fn_aws.provider import AwsProvider
from portable_fn_aws.records import sns_to_cloudevent

from portable_fn.app import load_app
from portable_fn.runtime import CloudEvent
from portable_fn.runtime.dead_letters import dead_letter_event
from portable_fn.runtime.errors import ProviderError

STATEFUL = Path(__file__).with_name("apps") / "stateful"
EVENT = CloudEvent(id="e-1", source="urn:test", type="t.order", datacontenttype="application/json", data={"n": 1})


@pytest.fixture
def app() -> Any:
    return load_app(STATEFUL)


@pytest.fixture
def aws(endpoint: str) -> AwsProvider:
    return AwsProvider({"region": "eu-west-1"}, endpoint)


def spec(app: Any, name: str) -> Any:
    return next(s for s in app.functions if s.name == name)


def queue(boto: Any, name: str, **attributes: str) -> str:
    return str(boto.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def shim_sends(url: str, endpoint: str, reason: str, attempt: int) -> None:
    """What the shim does when a handler raises DeadLetter(reason): its own signed SendMessage."""
    environ = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_SQS": endpoint,
    }
    send(url, dead_letter_event(EVENT, function="fulfil", reason=reason, attempt=attempt), environ)


def visible(boto: Any, url: str) -> list[dict[str, Any]]:
    answer = boto.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
    )
    return list(answer.get("Messages", []))


@pytest.fixture
def queue_dead_letters(boto: Any, endpoint: str) -> tuple[str, str]:
    """`fulfil`'s queue and dead-letter queue, holding one message moved by the redrive policy, then one
    the shim sent."""
    dlq = queue(boto, "stateful-test-orders-dlq")
    dlq_arn = boto.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    source = queue(boto, "stateful-test-orders", RedrivePolicy=policy, VisibilityTimeout="0")
    boto.sqs.send_message(QueueUrl=source, MessageBody='{"order": 7}')
    assert len(visible(boto, source)) == 1 and visible(boto, source) == []  # the second receive moves it
    shim_sends(dlq, endpoint, "bad order", 2)
    return source, dlq


def test_a_queue_function_s_dead_letters_are_listed_oldest_first_and_left_in_place(
    aws: AwsProvider, app: Any, boto: Any, queue_dead_letters: tuple[str, str]
) -> None:
    _, dlq = queue_dead_letters
    entries = aws.dead_letters(app, "test", spec(app, "fulfil"))
    assert [(e.reason, e.attempts, e.where, e.redriven) for e in entries] == [
        (
            "delivered 5 times without success (moved by the queue's redrive policy)",
            5,
            "stateful-test-orders-dlq",
            False,
        ),
        ("bad order", 2, "stateful-test-orders-dlq", False),
    ]
    moved, sent = entries
    assert moved.event is not None and moved.event["data"] == {"order": 7} and moved.id == moved.event["id"]
    assert sent.id == "e-1" and sent.event is not None and sent.event["deadletterfunction"] == "fulfil"
    assert all(e.function == "fulfil" and e.time for e in entries)
    assert len(visible(boto, dlq)) == 2  # listing changes nothing


def test_redriving_a_queue_function_s_dead_letters_sends_them_back_to_its_queue(
    aws: AwsProvider, app: Any, boto: Any, queue_dead_letters: tuple[str, str]
) -> None:
    source, dlq = queue_dead_letters
    entries = aws.dead_letters(app, "test", spec(app, "fulfil"), redrive=True)
    assert [e.redriven for e in entries] == [True, True]
    assert visible(boto, dlq) == []
    back = {m["Body"]: m.get("MessageAttributes", {}) for m in visible(boto, source)}
    assert set(back) == {'{"order": 7}', json.dumps(EVENT.to_dict(), separators=(",", ":"))}
    as_event = back[json.dumps(EVENT.to_dict(), separators=(",", ":"))]
    assert as_event["content-type"]["StringValue"] == "application/cloudevents+json"  # without deadletter*


def test_an_asynchronous_function_s_dead_letters_are_invoked_again_when_redriven(
    aws: AwsProvider, app: Any, boto: Any, endpoint: str, adapter: Any
) -> None:
    dlq = queue(boto, "stateful-test-restock-dlq")
    notification = adapter.load_event("snsEvent.json")
    boto.sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(destination_record(notification)))
    shim_sends(dlq, endpoint, "no such sku", 1)
    invoked: list[tuple[str, Any]] = []

    def catch(params: dict[str, Any], model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        invoked.append((params["url_path"], json.loads(params["body"])))
        assert params["headers"]["X-Amz-Invocation-Type"] == "Event"
        return AWSResponse("", 202, {}, None), {"StatusCode": 202}

    aws.deployer.client.register("before-call.lambda.Invoke", catch)
    entries = aws.dead_letters(app, "test", spec(app, "restock"), redrive=True)
    first = sns_to_cloudevent(notification["Records"][0])
    assert [(e.id, e.reason, e.attempts) for e in entries] == [
        (first.id, "RequestId: e4b46cbf Process exited before completing request", 3),
        ("e-1", "no such sku", 1),
    ]
    assert invoked == [
        ("/2015-03-31/functions/stateful-test-restock/invocations", notification),
        ("/2015-03-31/functions/stateful-test-restock/invocations", EVENT.to_dict()),
    ]
    assert visible(boto, dlq) == []


def test_a_function_without_a_dead_letter_queue_says_so(aws: AwsProvider, app: Any) -> None:
    with pytest.raises(ProviderError, match="'show_stock' on aws has no dead-letter queue"):
        aws.dead_letters(app, "test", spec(app, "show_stock"))


def test_a_dead_letter_queue_not_deployed_says_to_deploy(aws: AwsProvider, app: Any) -> None:
    with pytest.raises(ProviderError, match="'stateful-test-orders-dlq' does not exist; deploy"):
        aws.dead_letters(app, "test", spec(app, "fulfil"))


def destination_record(payload: Any) -> dict[str, Any]:
    """Lambda's on-failure destination record for an asynchronous invocation that used up its retries,
    field for field as https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
    documents it."""
    return {
        "version": "1.0",
        "timestamp": "2019-11-14T18:16:05.568Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:stateful-test-restock:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "RequestId: e4b46cbf Process exited before completing request"},
    }


def test_the_cli_lists_them_with_their_reason_and_attempts(
    capsys: pytest.CaptureFixture[str], endpoint: str, queue_dead_letters: tuple[str, str]
) -> None:
    from portable_fn.cli import main

    argv = ["dead-letters", "fulfil", "--provider", "aws", "--app", str(STATEFUL), "--stage", "test"]
    assert main([*argv, "--endpoint-url", endpoint, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert (listed["function"], listed["provider"], listed["stage"]) == ("fulfil", "aws", "test")
    assert [(e["reason"], e["attempts"]) for e in listed["dead_letters"]] == [
        ("delivered 5 times without success (moved by the queue's redrive policy)", 5),
        ("bad order", 2),
    ]
