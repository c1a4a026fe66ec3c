"""Retry policies as declared, and `raise Retry(after=...)`: the wait a handler asks for reaches the
provider (events) or the client (`Retry-After` on a 503)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from portable_fn import DeclarationError, Retry, RetryPolicy, exponential, fixed
from portable_fn.runtime import RETRY, CloudEvent, Request, call_event, call_http, spec_of

from .handlers import retrying


def spec(handler: Any) -> Any:
    return spec_of(handler)


@pytest.mark.parametrize(
    ("asked", "seconds"),
    [(timedelta(minutes=2), 120.0), (timedelta(milliseconds=1500), 1.5), (30, 30.0), (0, 0.0), (None, None)],
)
def test_after_takes_seconds_or_a_timedelta(asked: Any, seconds: float | None) -> None:
    retry = Retry("later", after=asked)
    assert retry.after == retry.delay_s == seconds


def test_delay_s_keeps_working_and_cannot_be_given_with_after() -> None:
    assert Retry("later", delay_s=5).after == 5
    assert Retry("later", 7).delay_s == 7
    with pytest.raises(TypeError, match="after= or delay_s=, not both"):
        Retry("later", delay_s=5, after=5)
    with pytest.raises(ValueError, match="at least 0"):
        Retry("later", after=timedelta(seconds=-1))


def test_an_event_handler_asking_to_wait_is_retried_after_that_wait() -> None:
    result = call_event(spec(retrying.restock), CloudEvent(id="1", source="/t", type="t", data={}))
    assert result.outcome == RETRY and result.reason == "stock arrives tomorrow"
    assert isinstance(result.error, Retry) and result.error.delay_s == 120


@pytest.mark.parametrize(("after", "header"), [("120", "120"), ("0.2", "1"), ("2.5", "3")])
def test_an_http_handler_asking_to_wait_answers_503_with_retry_after(after: str, header: str) -> None:
    response = call_http(spec(retrying.restock_now), Request("POST", "/restock", body=f'{{"after": {after}}}'))
    assert response.status == 503 and response.headers["retry-after"] == header
    assert response.body == b'{"error":"stock arrives soon"}'


def test_without_a_wait_a_503_has_no_retry_after() -> None:
    response = call_http(spec(retrying.restock_later), Request("POST", "/restock-later"))
    assert response.status == 503 and "retry-after" not in response.headers


def test_retry_policies() -> None:
    policy = RetryPolicy(attempts=5, backoff=exponential(1, max=300))
    assert [policy.delay_s(n) for n in (1, 2, 3, 10)] == [1, 2, 4, 300]
    assert RetryPolicy(backoff=fixed(10)).delay_s(4) == 10
    assert repr(policy) == "RetryPolicy(attempts=5, backoff=exponential(1, max=300))"
    with pytest.raises(DeclarationError, match="from 1"):
        RetryPolicy(attempts=0)
