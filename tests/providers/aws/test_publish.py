"""The AWS publisher against moto's SNS, SQS and EventBridge Scheduler (a real server on 127.0.0.1): what it
sends, read back the way Lambda reads it and run through the handlers of a really packaged zip, arrives as
the identical CloudEvent; delays go to SQS up to 900 s and to a one-time schedule beyond."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from portable_fn_aws.packaging import build_package
from portable_fn_aws.publish import DELAY_GROUP_ENV, DELAY_ROLE_ENV, MAX_SQS_DELAY_S, AwsPublisher, open_publisher

from portable_fn.app import load_app
from portable_fn.runtime import CloudEvent
from portable_fn.runtime.channels import QUEUE, TOPIC, Channel, PublishError, locator_env, publisher, use_publisher

REGION = "eu-west-1"
RECEIVERS = Path(__file__).with_name("publish_app")
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
ROLE_ARN = "arn:aws:iam::123456789012:role/portable-fn/shop/dev/shop-dev-scheduler.delays"
SENDS = ("SendMessageBatch", "PublishBatch", "CreateSchedule")
ORDERS, EVENTS = Channel(QUEUE, "orders"), Channel(TOPIC, "order-events")
# Runs one handler of the unpacked zip as Lambda's runtime would: no site-packages, the zip first on the path.
DRIVER = """
import json, sys
import portable_fn_entry

class Context:
    function_name = "receivers-test-" + sys.argv[1]
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:" + function_name
    def get_remaining_time_in_millis(self):
        return 30000

print(json.dumps(getattr(portable_fn_entry, sys.argv[1])(json.load(sys.stdin), Context())))
"""


def an_event(n: int = 1, **changes: Any) -> CloudEvent[Any]:
    """An event with every kind of attribute a receiver must get back unchanged."""
    attributes: dict[str, Any] = {
        "id": f"order-{n}",
        "source": "//shop/place",
        "type": "shop.order.paid",
        "subject": f"orders/{n}",
        "time": "2026-12-06T14:00:00.123456Z",
        "datacontenttype": "application/json",
        "data": {"order": n, "lines": [{"sku": "é-1", "qty": 2}], "note": None},
        "extensions": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "pfnhops": 2},
    }
    return CloudEvent(**{**attributes, **changes})


# -- the receiving side: the packaged zip and its handlers ----------------------------------------------


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """publish_app packaged for Lambda (the running CPython; it has no dependencies) and unzipped."""
    app_dir = shutil.copytree(RECEIVERS, tmp_path_factory.mktemp("app") / "receivers")
    pyproject = app_dir / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('python = "3.11"', f'python = "{PYTHON}"'))
    out = tmp_path_factory.mktemp("package")
    artifact = build_package(load_app(app_dir), "test", out, lambda _: None, cache_dir=out / "cache")
    unpacked = tmp_path_factory.mktemp("task")
    shutil.unpack_archive(artifact.path, unpacked)
    return unpacked


def run_handler(task: Path, function: str, lambda_event: Any, received: Path) -> list[dict[str, Any]]:
    """The events `function` of the zip was handed for `lambda_event`, after checking it succeeded."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(task), "RECEIVED": str(received)}
    env |= {"PORTABLE_FN_PROVIDER": "aws", "AWS_REGION": REGION, "LANG": "C.UTF-8"}
    done = subprocess.run(
        [sys.executable, "-s", "-S", "-c", DRIVER, function],
        input=json.dumps(lambda_event),
        capture_output=True,
        text=True,
        cwd=task,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer in (None, {"batchItemFailures": []}), answer
    lines = received.read_text(encoding="utf-8").splitlines() if received.exists() else []
    received.unlink(missing_ok=True)
    return [json.loads(line) for line in lines]


def sqs_lambda_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """What Lambda's SQS poller hands the function for `messages` (as ReceiveMessage answered them)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def sns_lambda_event(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """What SNS hands a subscribed function, from the notification it put on an SQS queue."""
    sns = {key: envelope[key] for key in ("Type", "MessageId", "TopicArn", "Message", "Timestamp")}
    sns |= {
        "Subject": envelope.get("Subject"),
        "SignatureVersion": envelope.get("SignatureVersion", "1"),
        "Signature": envelope.get("Signature", ""),
        "SigningCertUrl": envelope.get("SigningCertURL", ""),
        "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
        "MessageAttributes": {},
    }
    record = {"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn, "Sns": sns}
    return {"Records": [record]}


# -- the sending side: moto, the channels' locators -------------------------------------------------------


class Aws:
    """boto3 clients on the moto server, and the queues and topics a test makes there."""

    def __init__(self, endpoint: str) -> None:
        self.client = {
            s: boto3.client(s, region_name=REGION, endpoint_url=endpoint) for s in ("sqs", "sns", "scheduler")
        }
        self.sqs, self.sns, self.scheduler = self.client["sqs"], self.client["sns"], self.client["scheduler"]

    def queue(self, name: str, **attributes: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def receive(self, url: str, count: int) -> list[dict[str, Any]]:
        """`count` messages of the queue (polled for, with a generous limit), left on it."""
        found: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 60
        while len(found) < count and time.monotonic() < deadline:
            for message in self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=1, VisibilityTimeout=300
            ).get("Messages", []):
                found[message["MessageId"]] = message
        assert len(found) == count, f"{len(found)} of {count} messages arrived"
        return list(found.values())


@pytest.fixture
def aws(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Aws:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # what the publisher's own clients use, as in Lambda
    return Aws(endpoint)


@pytest.fixture
def locate(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set a channel's locator, as deploy sets it on a sender."""

    def set_locator(channel: Channel, value: str) -> None:
        monkeypatch.setenv(locator_env(channel.kind, channel.name), value)

    return set_locator


@pytest.fixture
def calls(aws: Aws) -> list[tuple[str, dict[str, Any]]]:
    """Every send the clients make: (operation, its parameters as given)."""
    made: list[tuple[str, dict[str, Any]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name in SENDS:
            made.append((model.name, params))

    for client in aws.client.values():
        client.meta.events.register("before-parameter-build", record)
    return made


# -- tests ------------------------------------------------------------------------------------------------


def test_a_queue_receives_the_identical_cloudevent(aws: Aws, locate: Any, task: Path, tmp_path: Path) -> None:
    url, arn = aws.queue("shop-dev-orders")
    locate(ORDERS, url)
    sent = [an_event(1), an_event(2, data=b"\x00\x01 bytes", datacontenttype="application/octet-stream")]
    AwsPublisher().publish(ORDERS, sent)
    messages = sorted(aws.receive(url, 2), key=lambda m: json.loads(m["Body"])["id"])
    received = run_handler(task, "on_queue", sqs_lambda_event(messages, arn), tmp_path / "received.jsonl")
    assert [r["event"] for r in received] == [e.to_dict() for e in sent]


def test_a_topic_delivers_the_identical_cloudevent_through_sqs_and_to_a_function(
    aws: Aws, locate: Any, task: Path, tmp_path: Path
) -> None:
    """SNS -> SQS (a queue function reads the notification) and SNS -> Lambda (a topic function)."""
    topic_arn = aws.sns.create_topic(Name="shop-dev-order-events")["TopicArn"]
    url, queue_arn = aws.queue("shop-dev-order-events-copy")
    subscription = aws.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    locate(EVENTS, topic_arn)
    sent = an_event(3)
    AwsPublisher().publish(EVENTS, [sent])
    (message,) = aws.receive(url, 1)
    envelope = json.loads(message["Body"])
    assert envelope["TopicArn"] == topic_arn
    via_queue = run_handler(task, "on_queue", sqs_lambda_event([message], queue_arn), tmp_path / "q.jsonl")
    via_sns = run_handler(task, "on_topic", sns_lambda_event(envelope, subscription), tmp_path / "t.jsonl")
    assert [r["event"] for r in via_queue] == [r["event"] for r in via_sns] == [sent.to_dict()]


def test_events_go_ten_to_a_batch_call(aws: Aws, locate: Any, calls: list[Any]) -> None:
    url, _ = aws.queue("shop-dev-orders")
    topic_arn = aws.sns.create_topic(Name="shop-dev-order-events")["TopicArn"]
    locate(ORDERS, url)
    locate(EVENTS, topic_arn)
    publisher = AwsPublisher(aws.client)
    publisher.publish(ORDERS, [an_event(n) for n in range(25)])
    publisher.publish(EVENTS, [an_event(n) for n in range(11)])
    assert [(op, len(p.get("Entries") or p["PublishBatchRequestEntries"])) for op, p in calls] == [
        ("SendMessageBatch", 10),
        ("SendMessageBatch", 10),
        ("SendMessageBatch", 5),
        ("PublishBatch", 10),
        ("PublishBatch", 1),
    ]
    assert sorted(json.loads(m["Body"])["id"] for m in aws.receive(url, 25)) == sorted(f"order-{n}" for n in range(25))


def test_a_delay_up_to_900_seconds_is_the_messages_delay_seconds(aws: Aws, locate: Any, calls: list[Any]) -> None:
    url, _ = aws.queue("shop-dev-orders")
    locate(ORDERS, url)
    AwsPublisher(aws.client).publish(ORDERS, [an_event(1)], delay_s=899.2)
    assert [(op, [e.get("DelaySeconds") for e in p["Entries"]]) for op, p in calls] == [("SendMessageBatch", [900])]
    counts = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesDelayed"] == "1"


def test_a_two_hour_delay_is_a_one_time_schedule_sending_the_event_to_the_queue(
    aws: Aws, locate: Any, monkeypatch: pytest.MonkeyPatch, task: Path, tmp_path: Path
) -> None:
    url, arn = aws.queue("shop-dev-orders")
    aws.scheduler.create_schedule_group(Name="shop-dev-delays")
    locate(ORDERS, url)
    monkeypatch.setenv(DELAY_GROUP_ENV, "shop-dev-delays")
    monkeypatch.setenv(DELAY_ROLE_ENV, ROLE_ARN)
    sent = an_event(7)
    before = time.time()
    AwsPublisher().publish(ORDERS, [sent], delay_s=7200)
    after = time.time()
    (listed,) = aws.scheduler.list_schedules(GroupName="shop-dev-delays")["Schedules"]
    schedule = aws.scheduler.get_schedule(GroupName="shop-dev-delays", Name=listed["Name"])
    due = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(math.ceil(before + 7200)))
    latest = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(math.ceil(after + 7200)))
    assert f"at({due})" <= schedule["ScheduleExpression"] <= f"at({latest})"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert (schedule["FlexibleTimeWindow"], schedule["ActionAfterCompletion"]) == ({"Mode": "OFF"}, "DELETE")
    assert (schedule["Target"]["Arn"], schedule["Target"]["RoleArn"]) == (arn, ROLE_ARN)
    assert (
        aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    )  # nothing waits on the queue
    # What Scheduler sends when it fires: the target's Input, as the message body.
    fired = {"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": schedule["Target"]["Input"], "MD5OfBody": ""}
    received = run_handler(task, "on_queue", sqs_lambda_event([fired], arn), tmp_path / "received.jsonl")
    assert [r["event"] for r in received] == [sent.to_dict()]


def test_a_fifo_queue_gets_the_event_id_to_deduplicate_and_the_subject_as_group(aws: Aws, locate: Any) -> None:
    url, _ = aws.queue("shop-dev-ledger.fifo", FifoQueue="true")
    ledger = Channel(QUEUE, "ledger", fifo=True)
    locate(ledger, url)
    publisher = AwsPublisher()
    publisher.publish(ledger, [an_event(1), an_event(2, subject=None), an_event(1)])  # the third is a duplicate
    got = {m["Attributes"]["MessageDeduplicationId"]: m["Attributes"]["MessageGroupId"] for m in aws.receive(url, 2)}
    assert got == {"order-1": "orders/1", "order-2": "ledger"}
    with pytest.raises(PublishError, match="FIFO queue"):
        publisher.publish(ledger, [an_event(3)], delay_s=5)


def test_what_cannot_be_sent_is_a_publish_error_naming_the_channel(aws: Aws, locate: Any) -> None:
    publisher = AwsPublisher()
    with pytest.raises(PublishError, match="PORTABLE_FN_QUEUE_ORDERS is unset"):
        publisher.publish(ORDERS, [an_event()])
    locate(EVENTS, "arn:aws:sns:eu-west-1:123456789012:shop-dev-order-events")
    with pytest.raises(PublishError, match="topic.*order-events.*delayed events to a queue"):
        publisher.publish(EVENTS, [an_event()], delay_s=60)
    with pytest.raises(PublishError, match="order-events.*publish_batch failed.*portable-fn plan"):
        publisher.publish(EVENTS, [an_event()])  # no such topic
    url, _ = aws.queue("shop-dev-orders")
    locate(ORDERS, url)
    with pytest.raises(PublishError, match=f"{DELAY_GROUP_ENV} is unset"):
        publisher.publish(ORDERS, [an_event()], delay_s=MAX_SQS_DELAY_S + 1)


class PartlyFailingSqs:
    """SendMessageBatch answering as SQS does when some entries fail: `Failed` beside `Successful`, each
    failure with its `SenderFault` (moto never fails a single entry)."""

    def __init__(self, failures: list[dict[str, dict[str, Any]]]) -> None:
        self.failures = failures  # per call: entry id -> its failure
        self.sent: list[list[str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        assert QueueUrl and 1 <= len(Entries) <= 10 and all({"Id", "MessageBody"} <= set(e) for e in Entries)
        self.sent.append([e["Id"] for e in Entries])
        failing = self.failures.pop(0) if self.failures else {}
        return {
            "Successful": [{"Id": e["Id"]} for e in Entries if e["Id"] not in failing],
            "Failed": [{"Id": i, **f} for i, f in failing.items()],
        }


def test_entries_a_batch_failed_are_sent_again_and_a_sender_fault_is_reported(locate: Any) -> None:
    locate(ORDERS, "https://sqs.eu-west-1.amazonaws.com/123456789012/shop-dev-orders")
    throttled = {"Code": "InternalError", "SenderFault": False, "Message": "try again"}
    flaky = PartlyFailingSqs([{"1": throttled}])
    AwsPublisher({"sqs": flaky}).publish(ORDERS, [an_event(0), an_event(1), an_event(2)])
    assert flaky.sent == [["0", "1", "2"], ["1"]]
    refused = PartlyFailingSqs([{"2": {"Code": "InvalidMessageContents", "SenderFault": True, "Message": "bad"}}])
    with pytest.raises(PublishError, match=r"1 of the events were not sent \(2: InvalidMessageContents bad\)"):
        AwsPublisher({"sqs": refused}).publish(ORDERS, [an_event(0), an_event(1), an_event(2)])
    assert refused.sent == [["0", "1", "2"]]


def test_the_aws_provider_opens_this_publisher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "aws")
    previous = use_publisher(None)
    try:
        found = publisher()
        assert isinstance(found, AwsPublisher) and found.max_delay_s >= 365 * 86400
        assert isinstance(open_publisher(), AwsPublisher)
    finally:
        use_publisher(previous)


def test_an_event_over_256_kib_is_refused_before_anything_is_sent(aws: Aws, locate: Any, calls: list[Any]) -> None:
    url, _ = aws.queue("shop-dev-orders")
    locate(ORDERS, url)
    large = an_event(2, data={"blob": "x" * 262_144})
    with pytest.raises(PublishError, match=r"'order-2' is 2\d{5} bytes as JSON, over the 262144 bytes.*nothing was"):
        AwsPublisher(aws.client).publish(ORDERS, [an_event(1), large])
    assert calls == []
    AwsPublisher(aws.client).publish(ORDERS, [an_event(3, data={"blob": "x" * 260_000})])  # just under: sent
    assert [json.loads(m["Body"])["id"] for m in aws.receive(url, 1)] == ["order-3"]
