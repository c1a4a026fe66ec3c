"""samples/telemetry: through `portable_fn.testing` (in-process, as a provider calls it) and served by the
local dev host (`portable-fn dev`) end to end over HTTP, with a flaky maintenance API on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from portable_fn import CircuitOpenError
from portable_fn.runtime.outcomes import ACK, RETRY
from portable_fn.runtime.state import Record
from portable_fn.runtime.state_sqlite import SqliteBackend
from portable_fn.testing import emitted, invoke, invoke_batch, make_event, make_request

START = datetime(2026, 12, 1, tzinfo=timezone.utc)
NORMAL = [20.0, 20.4, 19.8, 20.1, 19.9, 20.3, 19.7, 20.2, 20.0, 19.6, 20.5, 20.1]  # mean 20.05, stddev ~0.28


def readings(values: list[float], first: int = 1) -> list[dict[str, Any]]:
    return [
        {"reading_id": f"r{n}", "at": (START + timedelta(seconds=n)).isoformat(), "value": value}
        for n, value in enumerate(values, start=first)
    ]


def batch(device: str, values: list[float], first: int = 1) -> dict[str, Any]:
    return {"device_id": device, "readings": readings(values, first)}


def alert(device: str = "pump-7", reading: str = "r13") -> dict[str, Any]:
    return {
        "device_id": device,
        "reading_id": reading,
        "at": START.isoformat(),
        "value": 45.0,
        "mean": 20.0,
        "stddev": 0.3,
    }


# -- ingest ------------------------------------------------------------------------------------------


def test_each_reading_is_ingested_once_however_often_it_arrives(functions: Any) -> None:
    first = batch("pump-7", [20.0, 21.0, 22.0])
    first["readings"].append(first["readings"][0])  # repeated inside the message
    again = batch("pump-7", [21.0, 22.0, 23.0], first=2)  # r2, r3 re-sent in a new message, r4 new
    results = invoke_batch(functions.ingest, [make_event(first), make_event(again), make_event(again)])
    assert [r.outcome for r in results] == [ACK, ACK, ACK]
    state = functions.devices.get("pump-7")
    assert [r.reading_id for r in state.recent] == ["r1", "r2", "r3", "r4"]
    assert (state.count, state.mean) == (4, 21.5)


class Unreachable:
    """A store that cannot be reached: any call fails."""

    def __getattr__(self, name: str) -> Any:
        raise ConnectionError("the store cannot be reached")


def test_a_message_delivered_again_is_answered_without_running_ingest(functions: Any) -> None:
    event = make_event(batch("pump-7", [20.0, 21.0]))
    assert invoke(functions.ingest, event).ok
    functions.seen.backend = Unreachable()  # ingest itself would fail now: it is not run again
    assert invoke(functions.ingest, event).ok
    assert invoke(functions.ingest, make_event(batch("pump-7", [22.0], first=3))).outcome == RETRY


def test_a_reading_far_from_the_recent_mean_is_recorded_as_an_alert_and_published(functions: Any) -> None:
    event = make_event(batch("pump-7", [*NORMAL, 45.0, 20.2]))
    with emitted() as sent:
        assert invoke(functions.ingest, event).ok
        assert invoke(functions.ingest, event).ok  # delivered again: answered, nothing published twice
    [raised] = [functions.alerts.get(f"pump-7:r{n}") for n in range(1, 15) if functions.alerts.get(f"pump-7:r{n}")]
    assert (raised.reading_id, raised.value, raised.ticket) == ("r13", 45.0, None)
    assert abs(raised.mean - 20.05) < 1e-9
    [published] = sent.to(functions.alert_events)
    assert (published.type, published.subject, published.data.reading_id) == ("telemetry.alert", "pump-7", "r13")


def test_no_alert_before_a_device_has_enough_readings(functions: Any) -> None:
    assert invoke(functions.ingest, make_event(batch("pump-7", [20.0, 20.1, 500.0]))).ok
    assert functions.alerts.get("pump-7:r3") is None
    assert functions.devices.get("pump-7").count == 3


def test_concurrent_messages_for_one_device_all_land_by_compare_and_set(functions: Any) -> None:
    messages = [make_event(batch("pump-7", [20.0 + n, 20.0 - n], first=2 * n + 1)) for n in range(8)]
    outcomes: list[str] = []
    go = threading.Barrier(len(messages))

    def deliver(event: Any) -> None:
        go.wait()
        result = invoke(functions.ingest, event)
        while result.outcome == RETRY:  # more than CAS_ATTEMPTS lost races: the queue redelivers it
            result = invoke(functions.ingest, event)
        outcomes.append(result.outcome)

    threads = [threading.Thread(target=deliver, args=(event,)) for event in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [ACK] * len(messages)
    state = functions.devices.get("pump-7")
    assert (state.count, round(state.mean, 9)) == (16, 20.0)


class FailingReplace:
    """A store whose compare-and-set fails with an error (the store unreachable) the first `times` times."""

    def __init__(self, inner: SqliteBackend, times: int) -> None:
        self.inner, self.times = inner, times

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create(self, record: Record, now: float) -> bool:
        return self._fail() or self.inner.create(record, now)

    def replace(self, record: Record, version: str) -> bool:
        return self._fail() or self.inner.replace(record, version)

    def _fail(self) -> bool:
        if self.times:
            self.times -= 1
            raise ConnectionError("the devices store cannot be reached")
        return False


def test_readings_of_a_failed_delivery_are_applied_by_its_retry(functions: Any, tmp_path: Any) -> None:
    functions.devices.backend = FailingReplace(SqliteBackend(str(tmp_path / "devices.sqlite3")), times=1)
    event = make_event(batch("pump-7", [20.0, 21.0]))
    failed = invoke(functions.ingest, event)
    assert (failed.outcome, type(failed.error)) == (RETRY, ConnectionError)
    assert invoke(functions.ingest, event).ok
    assert functions.devices.get("pump-7").count == 2


def test_an_invalid_batch_is_dead_lettered_naming_the_field(functions: Any) -> None:
    result = invoke(functions.ingest, make_event({"device_id": "pump-7", "readings": []}))
    assert result.outcome == "dead_letter"
    assert "readings" in result.reason


# -- device ------------------------------------------------------------------------------------------


def test_a_device_reads_back_its_state_and_an_unknown_one_is_404(functions: Any) -> None:
    assert invoke(functions.ingest, make_event(batch("pump-7", [20.0, 22.0]))).ok
    found = invoke(functions.device, make_request("GET", "/devices/pump-7"))
    assert found.status == 200
    body = json.loads(found.body)
    assert (body["count"], body["mean"], round(body["stddev"], 6)) == (2, 21.0, round(2**0.5, 6))
    assert [r["reading_id"] for r in body["recent"]] == ["r1", "r2"]
    missing = invoke(functions.device, make_request("GET", "/devices/nope"))
    assert (missing.status, json.loads(missing.body)) == (404, {"error": "device 'nope' has sent no readings"})


# -- maintenance -------------------------------------------------------------------------------------


class TickingClock:
    """A breaker's clock that moves on `step` seconds each time it is read (so what the breaker decides
    depends on how often it looks, never on how fast the machine runs)."""

    def __init__(self, step: float) -> None:
        self.now = 1_800_000_000.0
        self.step = step

    def __call__(self) -> float:
        now = self.now
        self.now += self.step
        return now


class Clock:
    """The breaker's clock, moved on by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_an_alert_opens_one_ticket(functions: Any, flaky_api: Any) -> None:
    assert invoke(functions.maintenance, make_event(alert())).ok
    assert invoke(functions.maintenance, make_event(alert())).ok  # the same alert again: no second ticket
    assert [c["reading_id"] for c in flaky_api.calls] == ["r13"]
    assert functions.alerts.get("pump-7:r13").ticket == "T-1"


def test_the_breaker_opens_after_five_failures_retries_the_events_and_one_probe_closes_it(
    functions: Any, flaky_api: Any
) -> None:
    clock = functions.maintenance_api.clock = Clock()
    flaky_api.failing = 5
    failed = [invoke(functions.maintenance, make_event(alert(reading=f"r{n}"))) for n in range(1, 8)]
    assert [r.outcome for r in failed] == [RETRY] * 7
    assert len(flaky_api.calls) == 5  # the open circuit spared the API the last two calls
    assert [type(r.error) for r in failed[5:]] == [CircuitOpenError] * 2
    assert [r.error.after for r in failed[5:]] == [30.0, 30.0]  # retried when the circuit may close
    clock.now += 30
    assert invoke(functions.maintenance, make_event(alert(reading="r6"))).ok  # the half-open probe succeeds
    assert invoke(functions.maintenance, make_event(alert(reading="r7"))).ok  # closed again
    assert [c["reading_id"] for c in flaky_api.calls[5:]] == ["r6", "r7"]
    assert functions.alerts.get("pump-7:r7").ticket == "T-7"


def test_without_maintenance_url_the_alert_is_retried_naming_the_setting(functions: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("MAINTENANCE_URL", raising=False)
    results = [invoke(functions.maintenance, make_event(alert())) for _ in range(6)]
    assert all(r.outcome == RETRY and "MAINTENANCE_URL is unset" in str(r.error) for r in results)
    assert functions.maintenance_api.state == "closed"  # a missing setting is not the API failing


# -- served by `portable-fn dev` ---------------------------------------------------------------------


def test_dev_ingests_duplicates_once_and_serves_the_device(dev: Any, wait_for: Callable[..., Any]) -> None:
    message = batch("pump-7", [20.0, 21.0, 22.0])
    for _ in range(3):
        assert dev.request("POST", "/_local/queues/readings", json_body=message).status == 202

    def settled() -> Any:
        reply = dev.request("GET", "/devices/pump-7")
        pending = dev.request("GET", "/_local/queues/readings").json()["pending"]
        return reply.status == 200 and not pending and reply.json()

    state = wait_for(settled, what="the three messages to be ingested")
    assert (state["count"], [r["reading_id"] for r in state["recent"]]) == (3, ["r1", "r2", "r3"])
    assert dev.request("GET", "/devices/nope").status == 404


def test_dev_records_an_anomaly(dev: Any, functions: Any, wait_for: Callable[..., Any]) -> None:
    message = batch("pump-7", [*NORMAL, 45.0])
    assert dev.request("POST", "/_local/queues/readings", json_body=message).status == 202
    raised = wait_for(lambda: functions.alerts.get("pump-7:r13"), what="the alert")
    assert (raised.value, raised.ticket) == (45.0, None)


@pytest.mark.slow  # waits out the 1.5 s and 0.5 s redeliveries the breaker asks for
def test_dev_retries_an_alert_through_the_open_circuit_until_a_ticket_opens(
    dev: Any, functions: Any, flaky_api: Any, wait_for: Callable[..., Any]
) -> None:
    breaker = functions.maintenance_api
    # Time passes for the breaker one second per look at its clock, whatever the wall clock does: it opens
    # at t0 (two reads), refuses the next two deliveries (t0+2, t0+3 < t0+3.5) and lets the third probe
    # (t0+4). The host redelivers after the 1.5 s and 0.5 s the breaker asks for, within the attempts.
    breaker.clock = TickingClock(step=1.0)
    breaker.reset_after = 3.5
    flaky_api.failing = 5
    assert dev.request("POST", "/_local/topics/alerts", json_body=alert()).status == 202

    def ticket() -> Any:
        found = functions.alerts.get("pump-7:r13")
        return found and found.ticket

    assert wait_for(ticket, what="the probe to open the ticket") == "T-6"
    assert len(flaky_api.calls) == 6  # five failures opened it; the two refused deliveries made no call
    refused = [line for line in dev.logs if "maintenance [topic]" in line and "-> retry" in line and "is open" in line]
    assert len(refused) == 2, dev.logs
