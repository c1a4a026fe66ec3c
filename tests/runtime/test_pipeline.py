"""The invocation pipeline: middleware order, answering a call in `before`, errors, async hooks, the
current call, lazily read record facts, and every entry going through it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from portable_fn.runtime import CloudEvent, Context, Request, Response, function, http, pipeline, queue
from portable_fn.runtime.outcomes import ACK, DEAD_LETTER, RETRY, DeadLetter, Result
from portable_fn.runtime.pipeline import Call, Invocation, Middleware
from portable_fn.runtime.views import MessageMeta

SEEN: list[Any] = []


@function(trigger=queue("orders"))
def take(event: CloudEvent[dict]) -> str:  # type: ignore[type-arg]
    SEEN.append(("handler", event.id, pipeline.current_call().event_id))  # type: ignore[union-attr]
    if event.data.get("fail"):
        raise ValueError("cannot take it")
    if event.data.get("give_up"):
        raise DeadLetter("not an order we sell")
    return f"took {event.id}"


@function(trigger=queue("orders"))
def take_with_context(event: CloudEvent, ctx: Context) -> tuple[Any, ...]:
    return ctx.attempt, ctx.message, ctx.raw, ctx.trace is not None


@function(trigger=http("POST", "/orders"))
def create(request: Request) -> Response:
    if request.json().get("crash"):
        raise RuntimeError("boom")
    return Response.json({"ok": True}, status=201)


class Recorder(Middleware):
    """Writes each hook it sees, with its name, to SEEN."""

    def __init__(self, name: str) -> None:
        self.name = name

    def start(self, invocation: Invocation) -> None:
        SEEN.append((self.name, "start", len(invocation.calls)))

    def before(self, call: Call) -> None:
        SEEN.append((self.name, "before", call.index))

    def after(self, call: Call) -> None:
        outcome = call.result.outcome if call.result is not None else call.response.status  # type: ignore[union-attr]
        SEEN.append((self.name, "after", call.index, outcome))

    def on_error(self, call: Call, error: BaseException) -> None:
        SEEN.append((self.name, "on_error", call.index, type(error).__name__))

    def finish(self, invocation: Invocation) -> None:
        SEEN.append((self.name, "finish"))


@pytest.fixture()
def registered() -> Iterator[list[Middleware]]:
    """Middleware registered for one test, removed after it (the defaults stay)."""
    SEEN.clear()
    added: list[Middleware] = []
    yield added
    for item in added:
        pipeline.remove(item)


def use(registered: list[Middleware], item: Middleware) -> Middleware:
    registered.append(pipeline.use(item))
    return item


def event(data: Any, id: str) -> CloudEvent[Any]:
    return CloudEvent(id=id, source="//shop/orders", type="shop.order", data=data)


def batch(*data: Any, ordered: bool = False) -> Invocation:
    invocation = Invocation(take.__portable_fn__, "test", "inv-1", ordered=ordered)  # type: ignore[attr-defined]
    for i, item in enumerate(data):
        invocation.add(event(item, str(i)))
    return invocation


def test_hooks_run_in_order_and_after_hooks_in_reverse(registered: list[Middleware]) -> None:
    use(registered, Recorder("a"))
    use(registered, Recorder("b"))
    results = pipeline.run(batch({"n": 1}, {"fail": True}))
    assert [r.outcome for r in results] == [ACK, RETRY]
    mine = [s for s in SEEN if s[0] in ("a", "b", "handler")]
    assert mine == [
        ("a", "start", 2),
        ("b", "start", 2),
        ("a", "before", 0),
        ("b", "before", 0),
        ("handler", "0", "0"),
        ("b", "after", 0, ACK),
        ("a", "after", 0, ACK),
        ("a", "before", 1),
        ("b", "before", 1),
        ("handler", "1", "1"),
        ("b", "on_error", 1, "ValueError"),
        ("a", "on_error", 1, "ValueError"),
        ("b", "after", 1, RETRY),
        ("a", "after", 1, RETRY),
        ("b", "finish"),
        ("a", "finish"),
    ]


def test_registering_twice_runs_once(registered: list[Middleware]) -> None:
    recorder = use(registered, Recorder("a"))
    pipeline.use(recorder)
    assert pipeline.middleware().count(recorder) == 1
    pipeline.run(batch({"n": 1}))
    assert [s for s in SEEN if s[:2] == ("a", "start")] == [("a", "start", 1)]


def test_a_middleware_runs_only_for_the_functions_it_wants(registered: list[Middleware]) -> None:
    """`wanted(spec)` is asked once per function: the calls of a function it does not want run none of its
    hooks (what keeps HTTP auth, rate limits and idempotency off an event function's path)."""
    asked: list[str] = []

    class HttpOnly(Recorder):
        def wanted(self, spec: Any) -> bool:
            asked.append(spec.name)
            return not spec.trigger.is_event

    use(registered, HttpOnly("http-only"))
    pipeline.run(batch({"n": 1}, {"n": 2}))
    pipeline.run(batch({"n": 3}))
    request = Request(method="POST", path="/orders", body=b"{}")
    assert pipeline.call_http(create.__portable_fn__, request).status == 201  # type: ignore[attr-defined]
    assert [s[:2] for s in SEEN if s[0] == "http-only"] == [
        ("http-only", "start"),
        ("http-only", "before"),
        ("http-only", "after"),
        ("http-only", "finish"),
    ]
    assert asked == ["take", "create"]  # once per function, not per invocation
    use(registered, Recorder("later"))  # the chain changed: asked again
    pipeline.run(batch({"n": 4}))
    assert asked == ["take", "create", "take"]


def test_a_before_hook_answers_a_call_without_the_handler(registered: list[Middleware]) -> None:
    class Replay(Middleware):  # what idempotency does with a duplicate
        def before(self, call: Call) -> None:
            if call.index == 0:
                call.result = Result(ACK, "stored result", None, None, call.event_id)

    use(registered, Replay())
    later = use(registered, Recorder("later"))
    results = pipeline.run(batch({"n": 1}, {"n": 2}))
    assert [r.value for r in results] == ["stored result", "took 1"]
    assert ("handler", "0", "0") not in SEEN  # the handler never ran for the answered call
    assert (later.name, "before", 0) not in SEEN and (later.name, "after", 0, ACK) in SEEN  # type: ignore[attr-defined]


def test_a_before_hook_answers_a_request_too(registered: list[Middleware]) -> None:
    class Cached(Middleware):
        def before(self, call: Call) -> None:
            call.response = Response.json({"cached": True})

    use(registered, Cached())
    invocation = Invocation(create.__portable_fn__, "test")  # type: ignore[attr-defined]
    invocation.request(Request("POST", "/orders", body=b'{"crash": true}'))
    assert json.loads(pipeline.serve(invocation).body) == {"cached": True}


def test_async_hooks_run_to_completion(registered: list[Middleware]) -> None:
    class Slow(Middleware):
        async def before(self, call: Call) -> None:
            await asyncio.sleep(0)
            SEEN.append(("async", "before", call.index))

        async def finish(self, invocation: Invocation) -> None:
            await asyncio.sleep(0)
            SEEN.append(("async", "finish"))

    use(registered, Slow())
    pipeline.run(batch({"n": 1}))
    assert ("async", "before", 0) in SEEN and SEEN[-1] == ("async", "finish")


def test_a_failing_middleware_fails_its_call_alone_and_finish_still_runs(
    registered: list[Middleware], caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Middleware):
        def before(self, call: Call) -> None:
            if call.index == 1:
                raise RuntimeError("middleware bug")

    use(registered, Recorder("a"))
    use(registered, Broken())
    results = pipeline.run(batch({"n": 1}, {"n": 2}, {"n": 3}))
    assert [(r.outcome, r.reason) for r in results] == [
        (ACK, None),
        (RETRY, "middleware failed: RuntimeError: middleware bug"),
        (ACK, None),
    ]
    assert ("handler", "1", "1") not in SEEN and ("handler", "2", "2") in SEEN
    assert SEEN[-1] == ("a", "finish")
    assert pipeline.current_call() is None  # put back after the call, failed or not
    assert "middleware raised RuntimeError" in caplog.text

    class BrokenAfter(Middleware):
        def after(self, call: Call) -> None:
            raise RuntimeError("after bug")

    use(registered, BrokenAfter())
    invocation = Invocation(create.__portable_fn__, "test")  # type: ignore[attr-defined]
    invocation.request(Request("POST", "/orders", body=b"{}"))
    response = pipeline.serve(invocation)
    assert (response.status, json.loads(response.body)) == (500, {"error": "internal error", "function": "create"})


def test_an_ordered_batch_stops_at_the_first_failure_and_an_undecodable_record_is_dead_lettered() -> None:
    invocation = batch({"n": 1}, {"give_up": True}, {"n": 3}, ordered=True)
    assert [(r.outcome, r.event_id) for r in pipeline.run(invocation)] == [(ACK, "0"), (DEAD_LETTER, "1"), (RETRY, "2")]
    from portable_fn.runtime.errors import InvalidEventError

    broken = InvalidEventError("record 1 is not JSON")
    invocation = Invocation(take.__portable_fn__, "test")  # type: ignore[attr-defined]
    invocation.add(event({"n": 1}, "0"))
    invocation.add(broken)
    results = pipeline.run(invocation)
    assert [(r.outcome, r.reason) for r in results] == [(ACK, None), (DEAD_LETTER, "record 1 is not JSON")]
    assert results[1].error is broken


def test_record_facts_are_read_once_and_only_when_asked() -> None:
    reads: list[str] = []

    def meta_of(record: dict[str, Any]) -> MessageMeta:
        reads.append(record["id"])
        return MessageMeta(record["id"], record["count"])

    invocation = Invocation(
        take_with_context.__portable_fn__,
        "aws",
        "req-1",
        meta_of=meta_of,  # type: ignore[attr-defined]
        raw_of=lambda record: ("raw", record["id"]),
    )
    invocation.add(event({}, "a"), {"id": "m-1", "count": 3})
    (result,) = pipeline.run(invocation)
    attempt, message, raw, traced = result.value
    assert (attempt, message.message_id, raw, traced) == (3, "m-1", ("raw", "m-1"), True)
    assert reads == ["m-1"]  # once, although attempt and message both need it

    untouched = Invocation(take.__portable_fn__, "aws", meta_of=meta_of)  # type: ignore[attr-defined]
    untouched.add(event({"n": 1}, "b"), {"id": "m-2", "count": 1})
    reads.clear()
    pipeline.run(untouched)
    assert reads == []  # the handler took no Context, no middleware asked for the attempt's source


def test_a_reader_that_fails_leaves_the_fact_unknown_not_the_call_failed() -> None:
    def broken(record: Any) -> MessageMeta:
        raise KeyError("attributes")

    invocation = Invocation(take_with_context.__portable_fn__, "aws", meta_of=broken)  # type: ignore[attr-defined]
    invocation.add(event({}, "a"), {"no": "attributes"})
    (result,) = pipeline.run(invocation)
    assert result.outcome == ACK and result.value[:2] == (1, None)


def test_a_request_through_the_pipeline_is_answered_and_a_crash_is_a_500(registered: list[Middleware]) -> None:
    use(registered, Recorder("a"))
    invocation = Invocation(create.__portable_fn__, "test")  # type: ignore[attr-defined]
    invocation.request(Request("POST", "/orders", body=b'{"crash": true}'))
    assert pipeline.serve(invocation).status == 500
    assert ("a", "on_error", 0, "RuntimeError") in SEEN and ("a", "after", 0, 500) in SEEN


@function(trigger=queue("orders"))
def quits(event: CloudEvent[dict]) -> None:  # type: ignore[type-arg]
    import sys

    sys.exit(event.data.get("code", 3))


@function(trigger=http("POST", "/quit"))
def quits_http(request: Request) -> Response:
    import sys

    sys.exit()


def test_a_handler_that_calls_sys_exit_failed_and_ends_nothing_else() -> None:
    """SystemExit went past the pipeline: `portable-fn invoke` exited 0 or 3 with nothing said, and the dev
    host's queue worker died with its messages kept and never retried."""
    invocation = Invocation(quits.__portable_fn__, "test")  # type: ignore[attr-defined]
    invocation.add(event({"code": 3}, "q1"))
    invocation.add(event({"code": 0}, "q2"))
    first, second = pipeline.run(invocation)
    assert (first.outcome, second.outcome) == (RETRY, RETRY)
    assert "sys.exit(3)" in (first.reason or "") and "sys.exit(0)" in (second.reason or "")
    served = Invocation(quits_http.__portable_fn__, "test")  # type: ignore[attr-defined]
    served.request(Request("POST", "/quit"))
    assert pipeline.serve(served).status == 500
