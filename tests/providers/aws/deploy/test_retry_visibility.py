"""The retry policy's backoff on SQS against the moto server: the shim hides each failed message of a
batch for the delay its policy (or its `Retry`) gives, through ChangeMessageVisibility signed by the
shim's own SQS client, so when a message comes back is the policy's choice, not the queue's."""

from __future__ import annotations

import importlib
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.deploy.desired import Target, desired
from portable_fn_aws.deploy.naming import Arns, Names
from portable_fn_aws.records import RECORD_SOURCES
from portable_fn_aws.shim import deliver
from portable_fn_aws.visibility import MAX_VISIBILITY_S, QUEUE_URL_ENV, back_off, clamp, delay_s

from portable_fn.app import load_app
from portable_fn.deploy import Artifact
from portable_fn.emulators import free_port
from portable_fn.runtime import RETRY, Result, Retry, spec_of

from .test_dead_letter_queue import received

QUEUE_TIMEOUT_S = "600"  # without the shim's call, a failed message stays hidden this long


@pytest.fixture
def flaky(events_module: Any) -> Any:
    """`flaky_order` of tests/providers/aws/handlers/retries.py: RetryPolicy(5, exponential(30, max=600))."""
    return spec_of(importlib.import_module(f"{events_module.__package__}.retries").flaky_order)


@pytest.fixture
def orders(boto: Any, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A queue as deploy makes it, and Lambda's environment for the shim pointed at it on moto."""
    url = boto.sqs.create_queue(QueueName="shop-dev-orders", Attributes={"VisibilityTimeout": QUEUE_TIMEOUT_S})[
        "QueueUrl"
    ]
    arn = boto.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", endpoint)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv(QUEUE_URL_ENV, url)
    return url, arn


def send(boto: Any, url: str, *bodies: Any) -> None:
    for body in bodies:
        boto.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))


def test_a_failed_message_waits_its_own_delay_not_the_queue_s(
    boto: Any, orders: tuple[str, str], flaky: Any, adapter: Any
) -> None:
    url, arn = orders
    send(boto, url, {"retry_after": 0}, {"order": 1})
    records = received(boto, url, arn)
    assert len(records) == 2
    answer = deliver(flaky, {"Records": records}, adapter.LambdaContext()).response
    assert {f["itemIdentifier"] for f in answer["batchItemFailures"]} == {r["messageId"] for r in records}
    again = received(boto, url, arn)  # at once: the queue's 600 s would hide both
    assert [json.loads(r["body"]) for r in again] == [{"retry_after": 0}]
    assert again[0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_each_message_gets_the_policy_s_delay_for_its_receive_count_clamped(
    boto: Any, orders: tuple[str, str], flaky: Any
) -> None:
    url, arn = orders
    send(boto, url, {"order": 1}, {"order": 2}, {"order": 3})
    first, second, third = received(boto, url, arn)
    second["attributes"]["ApproximateReceiveCount"] = "3"  # its third delivery: 30 * 2 ** 2
    failed = [
        (first, Result(RETRY, reason="down", error=RuntimeError("down"))),
        (second, Result(RETRY, reason="down", error=RuntimeError("down"))),
        (third, Result(RETRY, reason="wait", error=Retry("wait", after=10**6))),
    ]
    delays = back_off(flaky, flaky_source(), failed)
    assert delays == {first["messageId"]: 30, second["messageId"]: 120, third["messageId"]: MAX_VISIBILITY_S}
    assert received(boto, url, arn) == []  # SQS took every one of them


def test_a_call_that_cannot_be_made_leaves_the_messages_failed_and_says_so(
    orders: tuple[str, str], flaky: Any, adapter: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    record = {**adapter.load_event("sqsEvent.json")["Records"][0], "body": '{"order": 1}'}
    with caplog.at_level(logging.WARNING, "portable_fn.aws"):
        answer = deliver(flaky, {"Records": [record]}, adapter.LambdaContext()).response
    assert answer == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert "its retry delay could not be set" in caplog.text and "sqs:ChangeMessageVisibility" in caplog.text


@pytest.mark.parametrize(
    ("attempt", "error", "expected"),
    [
        (1, RuntimeError("x"), 30),
        (2, RuntimeError("x"), 60),
        (9, RuntimeError("x"), 600),  # the backoff's max
        (1, Retry("x", after=5.2), 6),  # whole seconds, never sooner than asked
        (1, Retry("x", after=timedelta(minutes=2)), 120),
        (1, Retry("x", after=0), 0),
        (1, Retry("x"), 30),  # no delay named: the policy's
    ],
)
def test_delays(flaky: Any, attempt: int, error: BaseException, expected: int) -> None:
    assert delay_s(flaky, Result(RETRY, error=error), attempt) == expected


def test_clamp_stays_within_what_sqs_takes() -> None:
    assert MAX_VISIBILITY_S == 42_000  # 12 hours from the receipt, which was up to 20 minutes ago
    assert (clamp(-1), clamp(0.1), clamp(42_000.5), clamp(10**9)) == (0, 1, MAX_VISIBILITY_S, MAX_VISIBILITY_S)


def flaky_source() -> Any:
    return RECORD_SOURCES["aws:sqs"]


def test_deploy_hands_a_queue_function_its_queue_and_the_right_to_hide_its_messages() -> None:
    app = load_app(Path(__file__).with_name("apps") / "stateful")
    arns = Arns("aws", "eu-west-1", "123456789012")
    artifact = Artifact(Path("/tmp/a.zip"), "ab" * 32, 1, 1)
    found = {r.key: r for r in desired(Target(app, "test", Names(app.name, "test"), arns, artifact))}
    env = {fn: dict(found[("lambda function", f"stateful-test-{fn}")].env) for fn in ("fulfil", "restock")}
    assert env["fulfil"][QUEUE_URL_ENV] == "https://sqs.eu-west-1.amazonaws.com/123456789012/stateful-test-orders"
    assert QUEUE_URL_ENV not in env["restock"]  # a topic's retries are Lambda's
    statements = json.loads(found[("iam role", "stateful-test-fulfil")].policy)["Statement"]
    visibility = [s for s in statements if "sqs:ChangeMessageVisibility" in s["Action"]]
    assert [s["Resource"] for s in visibility] == [[arns.queue("stateful-test-orders")]]
