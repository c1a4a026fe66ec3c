"""Emit under the dev host, end to end over HTTP: what a function emits is delivered through the host's
journal to the functions triggered by that topic or queue, as the identical CloudEvent; an event loop ends
dead-lettered with the reason in /_local/dead-letters; a delayed send waits in the journal."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from portable_fn.runtime.channels import Channel, PublishError, publisher
from portable_fn.runtime.cloudevent import CloudEvent

from .conftest import LOCAL_APPS, Running

EMITTING = LOCAL_APPS / "emitting"
Wait = Callable[..., Any]


def test_an_event_emitted_to_a_topic_reaches_both_subscribers_identical(
    start_host: Callable[..., Running], wait_for: Wait
) -> None:
    running = start_host(EMITTING)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    reply = running.client.request(
        "POST", "/orders", json_body={"id": "o-1", "total": 5}, headers={"traceparent": parent}
    )
    assert reply.status == 201
    received = running.received
    wait_for(lambda: "ship" in received and "bill" in received, what="both subscribers")
    [sent] = received["place"]
    assert sent.id == reply.json()["id"]
    for name in ("ship", "bill"):
        [(event, trace)] = received[name]
        assert event.to_dict() == sent.to_dict()  # id, source, time, data, traceparent, pfnhops
        assert event.extensions["pfnhops"] == 1
        assert trace.trace_id == "0af7651916cd43dd8448eb211c80319c"
        assert trace.parent_id == sent.extensions["traceparent"].split("-")[2]  # the emitting span
    assert sent.source == "/apps/emitting/functions/place"


def test_an_event_loop_ends_dead_lettered_with_the_reason(start_host: Callable[..., Running], wait_for: Wait) -> None:
    running = start_host(EMITTING)  # max_hops = 4 in its pyproject.toml
    assert running.client.request("POST", "/loop", json_body={}).status == 202
    letters = wait_for(lambda: running.client.request("GET", "/_local/dead-letters").json(), what="a dead letter")
    [letter] = letters
    assert letter["function"] == "pong"
    assert "event loop: 'pong' emitting 'test.ping' would make hop 5 > max 4" in letter["reason"]
    assert running.received["ping"] == [1, 3] and running.received["pong"] == [2, 4]
    assert os.environ.get("PORTABLE_FN_MAX_HOPS") == "4"  # set by the host from [tool.portable-fn]


def test_a_channel_nobody_receives_from_is_dropped_and_said_once(start_host: Callable[..., Running]) -> None:
    running = start_host(EMITTING)
    assert running.client.request("POST", "/shout", json_body={}).status == 200
    assert running.client.request("POST", "/shout", json_body={}).status == 200
    said = [line for line in running.logs if "topic('nobody-listens')" in line]
    assert len(said) == 1 and "dropped" in said[0] and "said once" in said[0]


def test_a_delayed_send_waits_in_the_journal_then_is_delivered(
    start_host: Callable[..., Running], wait_for: Wait
) -> None:
    running = start_host(EMITTING)
    event = CloudEvent(id="late-1", source="/test", type="test.later", data={"k": 1})
    before = time.time()
    publisher().publish(Channel("queue", "later"), [event], delay_s=0.5)
    received = running.received
    if "later" not in received:  # not delivered yet: it waits with its ready_at
        pending = running.client.request("GET", "/_local/queues/later").json()["pending"]
        assert all(p["ready_at"] > p["published"] for p in pending)
    [delivered] = wait_for(lambda: received.get("later"), what="the delayed event")
    assert time.time() - before >= 0.5
    assert delivered.to_dict() == event.to_dict()
    assert publisher().max_delay_s == float("inf")


def test_an_event_larger_than_the_message_limit_is_refused_as_the_clouds_publishers_refuse_it(
    start_host: Callable[..., Running],
) -> None:
    # An 11 MB emit was delivered: no cloud's publisher sends it, and the host refuses the same POSTed.
    running = start_host(EMITTING)
    limit = running.host.limits.queue
    event = CloudEvent(id="big-1", source="/test", type="test.later", data={"blob": "x" * limit.size})
    with pytest.raises(PublishError, match=f"event 'big-1' is [0-9,]+ bytes as JSON.*at most {limit.size:,} bytes"):
        publisher().publish(Channel("queue", "later"), [event])
    assert running.client.request("GET", "/_local/queues/later").json()["pending"] == []


def test_the_host_installs_its_publisher_only_while_it_serves(start_host: Callable[..., Running]) -> None:
    before = _installed()
    running = start_host(EMITTING)
    assert type(_installed()).__name__ == "LocalPublisher"
    running.host.stop()
    assert _installed() is before


def _installed() -> Any:
    from portable_fn.runtime import channels

    return channels._publisher
