"""The workers test app on the local dev host: retries, dead letters, CloudEvents passed through as
sent, fan-out, bucket events, timers, routing and concurrency, over real HTTP."""

from __future__ import annotations

import http.client
import itertools
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from portable_fn import CloudEvent, StorageObject
from portable_fn.local.journal import Journal
from portable_fn.runtime.dead_letters import dead_letter_event

Wait = Callable[..., Any]


def settled(running: Any, wait_for: Wait, polls: int = 0) -> None:
    """Wait until every message the host holds is settled (the journal is empty, so nothing can be
    delivered again) and, with `polls`, until the bucket watcher finished that many more polls (a file
    reported twice would have been reported by them). No sleep: each is a fact the host can be asked."""
    after = running.host.watcher.polls + polls
    wait_for(lambda: running.host.watcher.polls >= after, what=f"{polls} more bucket polls")
    wait_for(lambda: not running.host.journal.counts(), what="every message settled")


def letters(running: Any) -> list[dict[str, Any]]:
    return running.client.request("GET", "/_local/dead-letters").json()  # type: ignore[no-any-return]


# -- retries and dead letters ---------------------------------------------------------------------


def test_a_failing_message_is_redelivered_with_backoff_then_dead_lettered(workers: Any, wait_for: Wait) -> None:
    reply = workers.client.request("POST", "/_local/queues/jobs", json_body={"n": 1, "fail": True})
    [event_id] = reply.json()["ids"]
    [letter] = wait_for(lambda: letters(workers), what="the dead letter")
    seen = workers.received["flaky"]
    assert [(s["attempt"], s["delivery_count"], s["message_id"]) for s in seen] == [
        (1, 1, event_id),
        (2, 2, event_id),
        (3, 3, event_id),
    ]  # retries = 2 in [defaults]
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(seen)]
    assert gaps[0] >= 0.02 * 0.9 and gaps[1] >= 0.04 * 0.9  # retry_backoff_s * 2**(attempt-1)
    assert (letter["function"], letter["attempts"], letter["event"]["id"]) == ("flaky", 3, event_id)
    assert "job 1 always fails" in letter["reason"]
    assert letter["event"]["data"] == {"n": 1, "fail": True}
    with Journal(workers.host.state_dir / "journal.sqlite3") as on_disk:  # a second reader of the file
        assert on_disk.dead_letters() == [letter]
    assert any("Traceback" in line and "job 1 always fails" in line for line in workers.logs)


def test_a_message_that_succeeds_on_a_retry_is_not_dead_lettered(workers: Any, wait_for: Wait) -> None:
    workers.client.request("POST", "/_local/queues/jobs", json_body={"n": 2, "fail_times": 1})
    wait_for(lambda: len(workers.received["flaky"]) == 2, what="the second attempt")
    assert [s["attempt"] for s in workers.received["flaky"]] == [1, 2]
    wait_for(lambda: any("flaky [queue]" in line and "-> ack (attempt 2)" in line for line in workers.logs))
    settled(workers, wait_for)
    assert len(workers.received["flaky"]) == 2 and letters(workers) == []


def test_dead_letter_means_at_once(workers: Any, wait_for: Wait) -> None:
    reply = workers.client.request("POST", "/_local/queues/poison", "x", {"content-type": "text/plain"})
    [event_id] = reply.json()["ids"]
    [letter] = wait_for(lambda: letters(workers), what="the dead letter")
    assert (letter["function"], letter["attempts"], letter["reason"]) == ("poisoned", 1, "poison pill")
    assert letter["event"]["id"] == event_id and letter["event"]["data"] == "x"
    assert len(workers.received["poisoned"]) == 1


def test_without_a_dead_letter_target_a_failed_message_is_logged_and_dropped(workers: Any, wait_for: Wait) -> None:
    [event_id] = workers.client.request("POST", "/_local/queues/silent", json_body={}).json()["ids"]
    wait_for(lambda: any("dropped" in line and event_id in line for line in workers.logs), what="the drop")
    assert len(workers.received["silent"]) == 1  # retries=0
    assert letters(workers) == []


def test_a_dead_letter_target_queue_receives_the_event_with_why(workers: Any, wait_for: Wait) -> None:
    [event_id] = workers.client.request("POST", "/_local/queues/doomed", json_body={"n": 5}).json()["ids"]
    [got] = wait_for(lambda: workers.received["graveyard"], what="the forwarded dead letter")
    [doomed] = workers.received["doomed"]
    assert got["event"] == dead_letter_event(doomed["event"], function="doomed", reason="doomed", attempt=1)
    assert got["event"].id == event_id
    [letter] = letters(workers)
    assert (letter["function"], letter["target"], letter["reason"]) == ("doomed", "graveyard", "doomed")
    assert letter["event"] == got["event"].to_dict()


def test_a_fifo_queue_keeps_order_across_a_retry(workers: Any, wait_for: Wait) -> None:
    batch = [
        {
            "specversion": "1.0",
            "id": f"j{n}",
            "source": "/test",
            "type": "job",
            "data": {"n": n, "fail_times": int(n == 2)},
        }
        for n in (1, 2, 3)
    ]
    reply = workers.client.request(
        "POST", "/_local/queues/ordered", json.dumps(batch), {"content-type": "application/cloudevents-batch+json"}
    )
    assert reply.json() == {"ids": ["j1", "j2", "j3"]}
    wait_for(lambda: len(workers.received["in_order"]) == 4, what="four deliveries")
    assert [(s["event"].data.n, s["attempt"], s["ok"]) for s in workers.received["in_order"]] == [
        (1, 1, True),
        (2, 1, False),
        (2, 2, True),
        (3, 1, True),
    ]


# -- events delivered as sent ---------------------------------------------------------------------


def test_a_binary_mode_cloudevent_is_delivered_exactly_as_sent(workers: Any, wait_for: Wait) -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "evt-42",
        "ce-source": "//aws/sqs/orders",
        "ce-type": "com.example.order.created",
        "ce-time": "2024-05-01T10:00:00.123Z",
        "ce-traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "ce-region": "eu%20west",
        "content-type": "application/json",
    }
    reply = workers.client.request("POST", "/_local/queues/echo", '{"id": "o-9"}', headers)
    assert reply.json() == {"ids": ["evt-42"]}
    [got] = wait_for(lambda: workers.received["echo"])
    assert got["event"] == CloudEvent(
        id="evt-42",
        source="//aws/sqs/orders",
        type="com.example.order.created",
        time="2024-05-01T10:00:00.123Z",
        datacontenttype="application/json",
        data={"id": "o-9"},
        extensions={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "region": "eu west"},
    )


def test_a_structured_cloudevent_is_delivered_exactly_as_sent(workers: Any, wait_for: Wait) -> None:
    sent = {
        "specversion": "1.0",
        "id": "evt-7",
        "source": "https://example.com/x",
        "type": "com.example.t",
        "subject": "s",
        "time": "2024-05-01T10:00:00+02:00",
        "sequence": 3,
        "flag": True,
        "datacontenttype": "text/plain",
        "data": "hello",
    }
    workers.client.request(
        "POST", "/_local/queues/echo", json.dumps(sent), {"content-type": "application/cloudevents+json"}
    )
    [got] = wait_for(lambda: workers.received["echo"])
    assert got["event"].to_dict() == sent


def test_a_plain_message_gets_the_local_envelope(workers: Any, wait_for: Wait) -> None:
    [event_id] = workers.client.request("POST", "/_local/queues/echo", json_body={"a": [1, 2]}).json()["ids"]
    [got] = wait_for(lambda: workers.received["echo"])
    event = got["event"]
    assert (event.id, event.source, event.type, event.datacontenttype, event.data) == (
        event_id,
        "//local/queues/echo",
        "dev.portablefn.queue.message",
        "application/json",
        {"a": [1, 2]},
    )
    assert event.time.endswith("Z") and abs(event.timestamp.timestamp() - time.time()) < 5


def test_bad_json_is_a_400_and_nothing_is_enqueued(workers: Any, wait_for: Wait) -> None:
    bad = workers.client.request("POST", "/_local/queues/echo", '{"a": ', {"content-type": "application/json"})
    assert bad.status == 400
    assert "not valid JSON" in bad.json()["error"]
    assert workers.client.request("GET", "/_local/queues/echo").json()["pending"] == []  # nothing written down
    workers.client.request("POST", "/_local/queues/echo", json_body={"good": True})
    wait_for(lambda: workers.received["echo"])
    settled(workers, wait_for)
    assert [s["event"].data for s in workers.received["echo"]] == [{"good": True}]


def test_unknown_queues_and_topics_are_404_listing_the_known_ones(workers: Any) -> None:
    queue = workers.client.request("POST", "/_local/queues/nope", json_body={})
    assert queue.status == 404
    assert queue.json()["queues"] == ["doomed", "echo", "graveyard", "jobs", "ordered", "poison", "silent"]
    topic = workers.client.request("POST", "/_local/topics/nope", json_body={})
    assert (topic.status, topic.json()["topics"]) == (404, ["news"])


def test_a_topic_message_fans_out_to_every_subscriber(workers: Any, wait_for: Wait) -> None:
    reply = workers.client.request("POST", "/_local/topics/news", json_body={"headline": "hi"})
    assert reply.status == 202
    [event_id] = reply.json()["ids"]
    for name in ("news_a", "news_b"):
        [got] = wait_for(lambda name=name: workers.received[name], what=name)
        assert (got["event"].id, got["event"].source, got["event"].data) == (
            event_id,
            "//local/topics/news",
            {"headline": "hi"},
        )


# -- buckets and timers ---------------------------------------------------------------------------


def test_put_and_delete_objects_become_storage_events(workers: Any, wait_for: Wait) -> None:
    put = workers.client.request("PUT", "/_local/buckets/inbox/2024/may.csv", "a,b\n1,2\n")
    assert put.status == 201
    assert put.json() == {
        "bucket": "inbox",
        "key": "2024/may.csv",
        "size": 8,
        "etag": "e5ebd4c02cefbe7955977c67ada242b7",
    }
    assert (workers.host.state_dir / "buckets" / "inbox" / "2024" / "may.csv").read_text() == "a,b\n1,2\n"
    [created] = wait_for(lambda: workers.received["inbox_created"], what="the created event")
    assert workers.client.request("DELETE", "/_local/buckets/inbox/2024/may.csv").status == 204
    [deleted] = wait_for(lambda: workers.received["inbox_deleted"], what="the deleted event")
    for got, change in ((created, "created"), (deleted, "deleted")):
        event = got["event"]
        assert (event.type, event.source, event.subject) == (
            f"dev.portablefn.storage.object.{change}",
            "//local/buckets/inbox",
            "2024/may.csv",
        )
        assert event.data == StorageObject(
            "inbox", "2024/may.csv", 8, "e5ebd4c02cefbe7955977c67ada242b7", "text/csv", change, event.time
        )
    settled(workers, wait_for, polls=3)  # a few more polls: still exactly one event each (no double reports)
    assert len(workers.received["inbox_created"]) == 1 and len(workers.received["inbox_deleted"]) == 1
    assert workers.client.request("DELETE", "/_local/buckets/inbox/2024/may.csv").status == 404


def test_suffix_filters_and_files_present_at_start(
    start_host: Callable[..., Any], tmp_path: Path, wait_for: Wait
) -> None:
    inbox = tmp_path / "state" / "buckets" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "before.csv").write_text("old")
    running = start_host(Path(__file__).parent / "apps" / "workers")
    (inbox / "notes.txt").write_text("not a csv")
    (inbox / "after.csv").write_text("new")
    wait_for(lambda: running.received["inbox_created"], what="the csv")
    settled(running, wait_for, polls=2)
    assert [s["event"].data.key for s in running.received["inbox_created"]] == ["after.csv"]


def test_bad_object_requests_are_refused(workers: Any) -> None:
    assert workers.client.request("PUT", "/_local/buckets/nobucket/a.txt", "x").json()["buckets"] == ["inbox"]
    assert workers.client.request("PUT", "/_local/buckets/inbox/../escape.txt", "x").status in (400, 404)
    assert workers.client.request("PUT", "/_local/buckets/inbox/a/%2E%2E/b.txt", "x").status == 400
    assert workers.client.request("PUT", "/_local/buckets/inbox/.hidden", "x").status == 400


def test_a_scaled_rate_fires_on_time(start_host: Callable[..., Any], wait_for: Wait) -> None:
    began = time.time()
    running = start_host(Path(__file__).parent / "apps" / "workers", rate_scale=0.005)  # 1 min -> 0.3 s
    ticks = running.received["every_minute"]
    wait_for(lambda: len(ticks) >= 2, timeout=60, what="two ticks")
    first, second = (t["event"] for t in ticks[:2])
    assert first.timestamp.timestamp() - began >= 0.29  # one period after the start (never before)
    assert abs((second.timestamp - first.timestamp).total_seconds() - 0.3) < 0.002
    assert (first.data.schedule, first.data.name) == ("rate(1 minute)", "every_minute")
    assert first.data.scheduled_time == first.time


# -- HTTP -----------------------------------------------------------------------------------------


def test_concurrent_requests_to_an_async_handler_overlap(workers: Any) -> None:
    # each request waits until 5 of its burst are in flight at once: served one after another, none
    # would answer 200
    with ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(lambda _: workers.client.request("GET", "/slow?together=5&burst=b1"), range(20)))
    assert [r.status for r in replies] == [200] * 20
    assert sum("slow [http] GET /slow -> 200" in line for line in workers.logs) == 20


def test_routes_prefer_literals_and_any_matches_every_method(workers: Any) -> None:
    assert workers.client.request("GET", "/items/special").json()["route"] == "special"
    assert workers.client.request("GET", "/items/a%20b").json() == {"route": "item", "params": {"item_id": "a b"}}
    for method in ("GET", "POST", "DELETE"):
        reply = workers.client.request(method, "/files/x/y.txt")
        assert reply.json() == {"route": "files", "method": method, "params": {"path": "x/y.txt"}}
    assert workers.client.request("POST", "/items/special").status == 405
    head = workers.client.request("HEAD", "/items/special")  # served by the GET route, without a body
    assert (head.status, head.body) == (200, b"")


def test_the_request_carries_multi_values_cookies_and_body(workers: Any) -> None:
    where = urlsplit(workers.host.url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=5)
    conn.putrequest("POST", "/echo?tag=a&tag=b&single=1")
    conn.putheader("X-Multi", "one")
    conn.putheader("X-Multi", "two")
    conn.putheader("Cookie", "session=abc; theme=dark")
    conn.putheader("Content-Length", "5")
    conn.endheaders(b"hello")
    response = conn.getresponse()
    seen = json.loads(response.read())
    assert response.status == 200
    assert seen == {
        "method": "POST",
        "path": "/echo",
        "query": ["a", "b"],
        "single": "1",
        "multi": ["one", "two"],
        "cookies": {"session": "abc", "theme": "dark"},
        "body": "hello",
    }
    assert response.headers.get_all("set-cookie") == ["a=1", "b=2"]
    conn.close()


def test_each_invocation_is_one_log_line(workers: Any) -> None:
    workers.client.request("GET", "/items/7")
    [line] = [line for line in workers.logs if "GET /items/7" in line]
    stamp, name, kind, *_ = line.split()
    assert (name, kind) == ("item", "[http]") and line.endswith("ms)") and "-> 200" in line
    assert time.strptime(stamp.split(".")[0], "%H:%M:%S")


def test_a_message_another_process_puts_in_the_journal_is_delivered(workers: Any, wait_for: Wait) -> None:
    """`portable-fn invoke --provider local` beside a running dev host writes to the same journal (a workflow's
    next step, say): nothing woke the host's worker for it, which slept until its next message was due."""
    event = CloudEvent(id="from-elsewhere", source="/elsewhere", type="job", data={"n": 7})
    with Journal(workers.host.state_dir / "journal.sqlite3") as other:  # another writer of the file
        other.add("flaky", [event], None, 0.0)
    wait_for(lambda: any(s["message_id"] == "from-elsewhere" for s in workers.received["flaky"]), what="the delivery")
