"""`portable-fn dev` killed with SIGKILL and started again on the same state dir: every accepted message
is delivered at least once, messages waiting for a retry keep their attempt, dead letters are still
listed.

The host runs as a user runs it, a subprocess on a free port; the durable test app writes down every
delivery in a file, and holds its `work` deliveries while a `hold` file exists, so the kill finds
messages in flight and hundreds still waiting. A journal left by an earlier run (written directly) is
delivered in FIFO order with the attempts it kept.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from portable_fn import CloudEvent
from portable_fn.local.journal import Journal

from .conftest import DevProcess

LOCAL_APPS = Path(__file__).resolve().parent / "apps"
DURABLE = LOCAL_APPS / "durable"
WORKERS, BATCH_SIZE = 2, 10  # work_a and work_b consume queue "work", 10 messages a batch
DELIVERY_S = 120.0  # generous: the machine may be busy

Wait = Callable[..., Any]


@pytest.fixture
def dev(dev_process: Callable[..., DevProcess], tmp_path: Path) -> Callable[[], DevProcess]:
    """Start `portable-fn dev` processes of the durable app on one state dir, reloading as users run it."""
    env = {"DURABLE_DELIVERIES": str(tmp_path / "deliveries.jsonl")}
    return lambda: dev_process(DURABLE, env=env, reload=True)


def deliveries(tmp_path: Path) -> list[dict[str, Any]]:
    """The deliveries written so far: the lines ended, not one a handler is writing while this reads."""
    path = tmp_path / "deliveries.jsonl"
    written = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in written[: written.rfind("\n") + 1].splitlines()]


def test_a_killed_host_delivers_every_accepted_message_after_a_restart(
    dev: Callable[[], DevProcess], connect: Callable[[str], Any], wait_for: Wait, tmp_path: Path
) -> None:
    first = dev()
    client = connect(first.url(wait_for))

    def accept(queue: str, count: int) -> list[str]:
        replies = [client.request("POST", f"/_local/queues/{queue}", json_body={"n": n}) for n in range(count)]
        assert [r.status for r in replies] == [202] * count
        return [i for r in replies for i in r.json()["ids"]]

    def pending(host: Any, queue: str) -> list[dict[str, Any]]:
        reply = host.request("GET", f"/_local/queues/{queue}")
        assert reply.status == 200, reply.body
        return reply.json()["pending"]  # type: ignore[no-any-return]

    poisoned, later = accept("poison", 5), accept("later", 50)
    work = accept("work", 100)
    wait_for(lambda: len(pending(client, "work")) < 100, timeout=DELIVERY_S, what="some work acked")
    (tmp_path / "hold").touch()  # from now on work deliveries stay in flight
    work += accept("work", 900)
    wait_for(
        lambda: len(client.request("GET", "/_local/dead-letters").json()) == 5,
        timeout=DELIVERY_S,
        what="the five dead letters",
    )
    wait_for(
        lambda: [p["attempt"] for p in pending(client, "later")] == [2] * 50,
        timeout=DELIVERY_S,
        what="fifty messages waiting for their second attempt",
    )
    wait_for(
        lambda: {d["id"] for d in deliveries(tmp_path)} & {p["id"] for p in pending(client, "work")},
        timeout=DELIVERY_S,
        what="work in flight",
    )

    first.kill()
    before = deliveries(tmp_path)
    (tmp_path / "hold").unlink()
    second = connect(dev().url(wait_for))

    def all_delivered() -> bool:
        return {d["id"] for d in deliveries(tmp_path) if d["function"].startswith("work")} >= set(work)

    wait_for(all_delivered, timeout=DELIVERY_S, what="every accepted work message delivered")
    wait_for(lambda: pending(second, "work") == [], timeout=DELIVERY_S, what="every work message acked")

    # Nothing lost; duplicates only for what was in flight at the kill, delivered again as the same attempt.
    seen = [d for d in deliveries(tmp_path) if d["function"].startswith("work")]
    assert {d["id"] for d in seen} == set(work)
    counts = Counter(d["id"] for d in seen)
    twice = {i for i, n in counts.items() if n > 1}
    assert max(counts.values()) <= 2 and len(twice) <= WORKERS * BATCH_SIZE
    assert twice <= {d["id"] for d in before}
    assert all(d["attempt"] == 1 for d in seen)

    # The retries kept their attempt and their time (an hour away): not delivered again.
    waiting = pending(second, "later")
    assert sorted(p["id"] for p in waiting) == sorted(later)
    assert {(p["function"], p["attempt"]) for p in waiting} == {("later", 2)}
    assert all(
        datetime.fromisoformat(p["ready_at"].replace("Z", "+00:00")).timestamp() > time.time() + 600 for p in waiting
    )
    assert sorted(d["attempt"] for d in deliveries(tmp_path) if d["function"] == "later") == [1] * 50

    # Dead letters are still listed, in the shared dead-letter shape.
    letters = second.request("GET", "/_local/dead-letters").json()
    assert sorted(letter["event"]["id"] for letter in letters) == sorted(poisoned)
    assert {
        (letter["function"], letter["reason"], letter["attempts"], letter["event"]["deadletterreason"])
        for letter in letters
    } == {("poisoned", "poison pill", 1, "poison pill")}
    assert "kept from the last run" in (tmp_path / "dev-2.log").read_text()


def test_messages_kept_from_an_earlier_run_keep_their_fifo_order_and_attempt(
    start_host: Callable[..., Any], wait_for: Wait, tmp_path: Path
) -> None:
    jobs: list[CloudEvent[Any]] = [CloudEvent(id=f"j{n}", source="/test", type="job", data={"n": n}) for n in (1, 2, 3)]
    with Journal(tmp_path / "state" / "journal.sqlite3") as earlier:  # what a killed host left behind
        earlier.add("in_order", jobs, None)
        [head, *_] = earlier.pending("in_order")
        earlier.retry(head.seq, 2, 0.0)
        earlier.add("news_b", jobs[:1], None)
    running = start_host(LOCAL_APPS / "workers")
    wait_for(lambda: len(running.received["in_order"]) == 3, what="the three kept jobs")
    assert [(s["event"].id, s["attempt"]) for s in running.received["in_order"]] == [("j1", 2), ("j2", 1), ("j3", 1)]
    [news] = wait_for(lambda: running.received["news_b"], what="the kept topic copy")
    assert news["event"] == jobs[0] and running.received["news_a"] == []
    wait_for(lambda: running.client.request("GET", "/_local/topics/news").json() == {"topic": "news", "pending": []})
