"""The portability contract: each logical event, delivered natively by every cloud and by the dev host,
reaches the handler identically, except for what portability_contract/differences.py lists with a reason;
and every outcome maps to the same native answer on every cloud."""

from __future__ import annotations

import json
from typing import Any

import pytest
from portability_contract.delivery import CannotCarry, Delivery
from portability_contract.differences import (
    NOT_CARRIED,
    SAME_EVENT,
    rows_excusing,
    sent_headers_only,
    unexplained,
    unexplained_between,
)
from portability_contract.events import CASES, Case, HttpCall, ObjectChange, QueueDelivery, Tick, TopicDelivery

Deliveries = dict[str, dict[str, "Delivery | str"]]


@pytest.fixture(scope="module")
def deliveries(runners: dict[str, Any]) -> Deliveries:
    """case name -> cloud -> what it delivered (or why it cannot), each case run once on each cloud and
    once more by each other path that cloud has for it, as the cloud `<cloud>:<path>`."""
    out: Deliveries = {}
    for case in CASES:
        out[case.name] = {}
        for name, runner in runners.items():
            for path in ("", *runner.paths(case.event)):
                try:
                    out[case.name][f"{name}:{path}" if path else name] = runner.deliver(case.event, path)
                except CannotCarry as reason:
                    out[case.name][f"{name}:{path}" if path else name] = str(reason)
    return out


def carried(deliveries: Deliveries, case: Case) -> dict[str, Delivery]:
    return {cloud: d for cloud, d in deliveries[case.name].items() if isinstance(d, Delivery)}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_cloud_gives_the_handler_the_same_input(case: Case, deliveries: Deliveries) -> None:
    got = carried(deliveries, case)
    if isinstance(case.event, HttpCall):
        sent = {name.lower() for name, _ in case.event.headers}
        got = {cloud: sent_headers_only(d, sent) for cloud, d in got.items()}
    problems = unexplained(case.name, got)
    if problems:
        print(json.dumps({cloud: vars(d) for cloud, d in got.items()}, indent=1, default=repr))
    assert problems == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_what_the_handler_sees_is_what_was_sent(case: Case, deliveries: Deliveries) -> None:
    """Agreeing is not enough: the one function meant for the event ran once per message, and its
    outcomes are the native answers the handler asked for."""
    for cloud, delivery in carried(deliveries, case).items():
        event = case.event
        if isinstance(event, HttpCall):  # a status another than the case's is a listed difference
            assert delivery.status == case.status or rows_excusing("status", case.name, cloud), cloud
            expected_calls = 1 if case.status == 201 else 0
            assert len(delivery.seen) == expected_calls, (cloud, delivery.seen)
            continue
        messages = (
            event.messages
            if isinstance(event, QueueDelivery)
            else ((event.message,) if isinstance(event, TopicDelivery) else (event,))
        )
        assert [s["function"] for s in delivery.seen] == [event.function] * len(messages), cloud
        if isinstance(event, (QueueDelivery, TopicDelivery)):  # what differs is a listed difference
            assert len(delivery.outcomes) == len(case.outcomes), cloud
            for i, (got, wanted) in enumerate(zip(delivery.outcomes, case.outcomes)):
                assert got == wanted or rows_excusing(f"outcomes[{i}]", case.name, cloud), (cloud, i)
            dead = [i for i, outcome in enumerate(case.outcomes) if outcome == "dead-letter"]
            reasons = [letter["reason"] for letter in delivery.letters]
            assert reasons == ["asked to dead-letter"] * len(dead) or rows_excusing("letters", case.name, cloud), cloud
        if isinstance(event, (ObjectChange, Tick)):
            assert delivery.seen[0]["event"]["data"]["type"] in ("StorageObject", "ScheduleTick"), cloud


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_one_event_by_two_triggers_of_a_cloud_is_the_same_event(case: Case, deliveries: Deliveries) -> None:
    """The same upload reaching an Azure function by the blob trigger and by Event Grid has one id and one
    source (its deduplication key), one type and subject: what differs between the two paths is listed
    for one of them by name."""
    got = carried(deliveries, case)
    compared = [(default, path) for path, default in SAME_EVENT.items() if path in got and default in got]
    for default, path in compared:
        assert got[path].seen, path
        assert unexplained_between(case.name, default, path, got) == []


def test_what_a_cloud_cannot_carry_is_listed_with_its_reason(deliveries: Deliveries) -> None:
    refused = {
        (case, cloud): why
        for case, by_cloud in deliveries.items()
        for cloud, why in by_cloud.items()
        if isinstance(why, str)
    }
    listed = {(n.case, n.cloud): n.why for n in NOT_CARRIED if n.cloud in {c for d in deliveries.values() for c in d}}
    assert refused == listed


@pytest.mark.parametrize("cloud", ["local", "aws", "gcp", "azure"])
def test_every_cloud_took_part(cloud: str, runners: dict[str, Any], unavailable: dict[str, str]) -> None:
    """A runner that cannot start here (its emulator missing) is skipped alone, saying why; the
    comparisons above then hold among the others."""
    if cloud in unavailable:
        pytest.skip(unavailable[cloud])
    if cloud not in runners:
        pytest.skip(f"PORTABILITY_CLOUDS leaves {cloud} out")
    assert runners[cloud].name == cloud
