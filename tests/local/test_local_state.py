"""State and retry policies on the local dev host: every state is an SQLite file in the host's state
dir (next to its journal), so what a function wrote survives a restart; a state a function did not
declare fails its call, saying so in the dev log; retries wait what the function's RetryPolicy says."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.local.delivery import Policy
from portable_fn.packaging import app_files
from portable_fn.runtime.outcomes import RETRY, Result, Retry

from .conftest import LOCAL_APPS, DevProcess, Running

STATEFUL = LOCAL_APPS / "stateful"
Wait = Callable[..., Any]


def test_a_state_written_by_a_function_survives_a_host_restart(
    start_host: Callable[..., Running], tmp_path: Path
) -> None:
    first = start_host(STATEFUL)
    assert first.client.request("POST", "/count/apples").json() == {"name": "apples", "count": 1}
    assert first.client.request("POST", "/count/apples").json() == {"name": "apples", "count": 2}
    first.host.stop()

    again = start_host(STATEFUL)
    assert again.client.request("GET", "/count/apples").json() == {"count": 2}
    assert again.client.request("POST", "/count/apples").json()["count"] == 3
    with sqlite3.connect(tmp_path / "state" / "counters.sqlite3") as db:  # next to journal.sqlite3
        assert db.execute("SELECT key, value FROM items").fetchall() == [("apples", "3")]
    assert any("states: counters (counters.sqlite3)" in line for line in first.logs)


def test_each_state_dir_has_its_own_states(start_host: Callable[..., Running], tmp_path: Path) -> None:
    one = start_host(STATEFUL, state_dir=tmp_path / "one")
    one.client.request("POST", "/count/pears")
    one.host.stop()
    other = start_host(STATEFUL, state_dir=tmp_path / "other")
    assert other.client.request("GET", "/count/pears").json() == {"count": 0}


def test_a_queue_function_writes_its_state_in_the_state_dir(
    start_host: Callable[..., Running], tmp_path: Path, wait_for: Wait
) -> None:
    running = start_host(STATEFUL)
    [event_id] = running.client.request("POST", "/_local/queues/noted", json_body={"n": 7}).json()["ids"]
    wait_for(lambda: not running.host.journal.counts(), what="the message settled")
    with sqlite3.connect(tmp_path / "state" / "counters.sqlite3") as db:
        assert db.execute("SELECT value FROM items WHERE key = ?", (event_id,)).fetchone() == ('{"n":7}',)


def test_an_undeclared_state_fails_the_call_and_the_dev_log_says_how_to_declare_it(
    dev_process: Callable[..., DevProcess], connect: Callable[[str], Any], wait_for: Wait
) -> None:
    dev = dev_process(STATEFUL)
    client = connect(dev.url(wait_for))
    reply = client.request("GET", "/peek/key")
    assert reply.status == 500
    said = wait_for(lambda: "uses=[secrets.read()]" in dev.text() and dev.text(), what="the error in the log")
    assert "UndeclaredResourceError" in said
    assert "Function 'peek' uses state('secrets') without declaring it" in said


def test_state_survives_portable_fn_dev_stopped_and_started_again(
    dev_process: Callable[..., DevProcess], connect: Callable[[str], Any], wait_for: Wait, tmp_path: Path
) -> None:
    first = dev_process(STATEFUL)
    client = connect(first.url(wait_for))
    assert [client.request("POST", "/count/plums").json()["count"] for _ in range(3)] == [1, 2, 3]
    first.stop()
    again = connect(dev_process(STATEFUL).url(wait_for))
    assert again.request("GET", "/count/plums").json() == {"count": 3}
    assert (tmp_path / "state" / "counters.sqlite3").is_file()


# -- retry policies ---------------------------------------------------------------------------------


def test_a_retry_waits_what_the_functions_policy_says(start_host: Callable[..., Running], wait_for: Wait) -> None:
    running = start_host(STATEFUL, retry_backoff_s=1.0)  # fixed(3600): the next try an hour later
    before = time.time()
    running.client.request("POST", "/_local/queues/slow", json_body={"n": 1})

    def retried() -> Any:
        pending = running.client.request("GET", "/_local/queues/slow").json()["pending"]
        return pending if pending and pending[0]["attempt"] == 2 else None

    [waiting] = wait_for(retried, what="the second attempt scheduled")
    ready_at = _epoch(waiting["ready_at"])
    assert before + 3600 - 1 <= ready_at <= time.time() + 3600 + 1


def _epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


@pytest.mark.parametrize(
    ("function", "scale", "delays"),
    [
        ("capped", 1.0, [1000, 1500, 1500]),  # exponential(1000, max=1500): clamped at max
        ("slow", 1.0, [3600, 3600, 3600]),  # fixed(3600)
        ("capped", 0.001, [1.0, 1.5, 1.5]),  # the host's scale (tests shorten every delay)
    ],
)
def test_the_policy_delay_follows_the_declared_retry_policy(function: str, scale: float, delays: list[float]) -> None:
    app = load_app(STATEFUL)
    spec = app.function(function)
    policy = Policy.of(spec, app.options(spec), scale)
    failed = Result(RETRY, reason="failed")
    assert [policy.delay(attempt, failed) for attempt in (1, 2, 3)] == pytest.approx(delays)
    assert policy.max_attempts == 4


@pytest.mark.parametrize(
    "retry",
    [Retry("later", delay_s=42), Retry("later", after=42), Retry("later", after=timedelta(seconds=42))],
    ids=["delay_s", "after-seconds", "after-timedelta"],
)
def test_a_retry_asking_for_a_delay_gets_exactly_that(retry: Retry) -> None:
    app = load_app(STATEFUL)
    spec = app.function("slow")
    policy = Policy.of(spec, app.options(spec), 0.001)  # not scaled: the function asked for 42 s
    assert policy.delay(1, Result(RETRY, reason="later", error=retry)) == 42


def test_the_default_policy_doubles_from_the_host_scale() -> None:
    app = load_app(LOCAL_APPS / "workers")
    spec = app.function("flaky")
    policy = Policy.of(spec, app.options(spec), 0.02)
    failed = Result(RETRY, reason="failed")
    assert [policy.delay(a, failed) for a in (1, 2)] == pytest.approx([0.02, 0.04])
    assert policy.max_attempts == 3  # retries = 2 in [defaults]


def test_the_state_dir_never_ships(tmp_path: Path) -> None:
    copy = Path(shutil.copytree(STATEFUL, tmp_path / "stateful"))
    state = copy / ".portable-fn" / "local"
    state.mkdir(parents=True)
    (state / "counters.sqlite3").write_bytes(b"")
    (state / "journal.sqlite3").write_bytes(b"")
    shipped = [name for name, _ in app_files(load_app(copy))]
    assert "local_stateful.py" in shipped
    assert not [name for name in shipped if ".portable-fn" in name]


def test_invoke_local_keeps_the_states_dev_keeps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = Path(shutil.copytree(STATEFUL, tmp_path / "stateful"))
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"method": "POST", "path": "/count/kiwis"}))
    counts = []
    for _ in range(2):
        assert main(["invoke", "count", str(copy), "--event", str(request)]) == 0
        counts.append(json.loads(capsys.readouterr().out)["body"]["count"])
    assert counts == [1, 2]
    with sqlite3.connect(copy / ".portable-fn" / "local" / "counters.sqlite3") as db:
        assert db.execute("SELECT value FROM items WHERE key = 'kiwis'").fetchone() == ("2",)
