"""What `plan` says about retry policies AWS cannot keep as declared (`deploy.retries`), from real test
apps: clamped attempts and an ignored backoff on asynchronous invocations, attempts not enforced on a
queue without a dead-letter queue, delays over SQS's ceiling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portable_fn_aws.deploy.retries import queue_notes, retry_notes
from portable_fn_aws.provider import AwsProvider

from portable_fn.app import load_app
from portable_fn.runtime.function import FunctionOptions
from portable_fn.runtime.retry import RetryPolicy, exponential

APPS = Path(__file__).with_name("apps")


def test_an_asynchronous_function_s_policy_is_clamped_and_its_backoff_not_applied() -> None:
    notes = AwsProvider({}).plan_notes(load_app(APPS / "stateful"), "test")
    assert notes == [
        "function restock: attempts=6 is clamped to 3 (Lambda retries a topic invocation at most 2 times)",
        "function restock: the backoff fixed(120) and Retry(after=...) are not applied: Lambda waits about 1 "
        "minute, then 2 minutes between its retries of a topic invocation; use a queue trigger for a backoff of "
        "your own",
    ]  # fulfil (a queue) keeps its policy; show_stock (HTTP) and nightly (the default policy) have none


def test_a_queue_without_a_dead_letter_queue_does_not_enforce_its_attempts() -> None:
    notes = retry_notes(load_app(APPS / "edge"))
    assert [n for n in notes if n.startswith("function work:")] == [
        "function work: attempts=3 is not enforced without a dead-letter queue (dead_letter=False): SQS delivers "
        "a failing message again until its retention period ends"
    ]


def test_queue_delays_over_sqs_s_ceiling_are_clamped() -> None:
    def options(**kwargs: Any) -> FunctionOptions:
        return FunctionOptions("fn", **kwargs)

    long = RetryPolicy(attempts=12, backoff=exponential(60, max=86_400))  # 61,440 s after the 11th
    assert queue_notes(options(retry=long)) == [
        "retry delays over 42000 s are clamped to 42000 s (SQS hides a message for at most 12 hours from its receipt)"
    ]
    assert queue_notes(options(retry=RetryPolicy(attempts=11, backoff=exponential(60, max=86_400)))) == []
