"""The local host as a user drives it: `portable-fn dev`'s server, in this process, fed through its own
HTTP API (`/_local/queues`, `/_local/topics`, `/_local/buckets`, `/_local/schedules`) and its routes."""

from __future__ import annotations

import contextlib
import http.client
import json
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from portable_fn.app import App
from portable_fn.local.host import LocalHost
from portable_fn.runtime import CloudEvent
from portable_fn.runtime.dead_letters import dead_letter_info

from .delivery import CannotCarry, Delivery
from .events import HttpCall, LogicalEvent, ObjectChange, QueueDelivery, Tick, TopicDelivery

WAIT_S = 60.0  # how long a delivery may take before the runner gives up (never reached when all works)


@contextlib.contextmanager
def open_runner(app: App, seen: list[dict[str, Any]], tmp: pytest.TempPathFactory) -> Iterator[LocalRunner]:
    # a retried message waits an hour: it stays pending, at its next attempt, for the runner to read
    host = LocalHost(
        app,
        host="127.0.0.1",
        port=0,
        state_dir=tmp.mktemp("local-state"),
        retry_backoff_s=3600.0,
        log=lambda line: None,
        poll_interval_s=0.05,
    )
    host.start()
    try:
        yield LocalRunner(host, seen)
    finally:
        host.stop()


class LocalRunner:
    name = "local"

    def __init__(self, host: LocalHost, seen: list[dict[str, Any]]) -> None:
        self.host = host
        self.seen = seen

    def paths(self, event: LogicalEvent) -> tuple[str, ...]:
        return ()  # one way to deliver each event

    def deliver(self, event: LogicalEvent, path: str = "") -> Delivery:
        self.seen.clear()
        if isinstance(event, (QueueDelivery, TopicDelivery)):
            return self._messages(event)
        if isinstance(event, ObjectChange):
            return self._object(event)
        if isinstance(event, Tick):
            self._call("POST", f"/_local/schedules/{event.function}/fire")
            self._wait(lambda: len(self.seen) >= 1)
            return Delivery(seen=list(self.seen))
        return self._http(event)

    def _messages(self, event: QueueDelivery | TopicDelivery) -> Delivery:
        messages = event.messages if isinstance(event, QueueDelivery) else (event.message,)
        kind, name = ("queue", event.queue) if isinstance(event, QueueDelivery) else ("topic", event.topic)
        if any(m.attempt > 1 for m in messages):
            raise CannotCarry(
                "the dev host counts its own deliveries: a message it accepts is first delivered as attempt 1"
            )
        ids = []
        for message in messages:
            headers = {"content-type": message.content_type} if message.content_type else {}
            status, body, _ = self._call("POST", f"/_local/{kind}s/{name}", message.body, headers)
            assert status == 202, (status, body)
            ids += json.loads(body)["ids"]
        self._wait(lambda: len(self.seen) >= len(messages) and not self._in_flight(kind, name, ids))
        letters = {e["id"]: e for e in self._letters()}
        retrying = {p["id"] for p in self._pending(kind, name) if p["attempt"] > 1}
        outcomes = ["dead-letter" if i in letters else "retry" if i in retrying else "ack" for i in ids]
        return Delivery(seen=list(self.seen), outcomes=outcomes, letters=[letters[i] for i in ids if i in letters])

    def _object(self, event: ObjectChange) -> Delivery:
        path = "/_local/buckets/" + event.bucket + "/" + urllib.parse.quote(event.key)
        assert self._call("PUT", path, event.body)[0] == 201
        if event.change == "deleted":
            self._wait(lambda: len(self.seen) >= 1)  # on_upload saw the object created first
            self.seen.clear()
            assert self._call("DELETE", path)[0] == 204
        self._wait(lambda: len(self.seen) >= 1)
        return Delivery(seen=list(self.seen))

    def _http(self, call: HttpCall) -> Delivery:
        path = call.path + ("?" + call.query if call.query else "")
        status, body, headers = self._call(call.method, path, call.body or None, dict(call.headers))
        try:
            answer = json.loads(body)
        except ValueError:
            answer = body.decode("utf-8", "replace")
        return Delivery(
            seen=list(self.seen), status=status, json=answer, set_cookies=headers.get_all("set-cookie") or []
        )

    # -- the host's API --------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, Any]:
        """http.client, not urllib: urllib labels every body it sends as a form, as `curl -d` does."""
        connection = http.client.HTTPConnection("127.0.0.1", self.host.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            return answer.status, answer.read(), answer.headers
        finally:
            connection.close()

    def _pending(self, kind: str, name: str) -> list[dict[str, Any]]:
        status, body, _ = self._call("GET", f"/_local/{kind}s/{name}")
        assert status == 200, body
        found: list[dict[str, Any]] = json.loads(body)["pending"]
        return found

    def _in_flight(self, kind: str, name: str, ids: list[str]) -> bool:
        """Whether a message is still at its first attempt (not yet settled)."""
        return any(p["id"] in ids and p["attempt"] == 1 for p in self._pending(kind, name))

    def _letters(self) -> list[dict[str, Any]]:
        status, body, _ = self._call("GET", "/_local/dead-letters")
        assert status == 200, body
        letters = []
        for entry in json.loads(body):
            letter = CloudEvent.from_dict(entry["event"])
            letters.append({"id": letter.id, "data": letter.data, **dead_letter_info(letter)})
        return letters

    def _wait(self, done: Any) -> None:
        deadline = time.monotonic() + WAIT_S
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"the dev host did not deliver within {WAIT_S} s; seen: {self.seen}")
            time.sleep(0.02)
