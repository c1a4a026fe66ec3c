"""Emit through the real pipeline: events are published only when the call succeeds, once per success (the
outbox ledger on SQLite in a file), with deterministic ids, the emitting span's traceparent and a hop count
that ends an event loop in a dead letter. The publisher is a recording fake (the boundary every cloud's
publisher implements); publishing to real topics and queues is tested per provider."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from portable_fn import emit
from portable_fn.runtime import (
    ACK,
    DEAD_LETTER,
    RETRY,
    CloudEvent,
    FunctionSpec,
    Request,
    UndeclaredResourceError,
    call_batch,
    call_event,
    call_http,
    spec_of,
)
from portable_fn.runtime.channels import Channel, PublishError, use_publisher
from portable_fn.runtime.emit import OUTBOX
from portable_fn.runtime.state import Record
from portable_fn.runtime.state_sqlite import SqliteBackend
from portable_fn.runtime.tracing import from_traceparent

from .handlers import emitting as handlers

TRACE = "0af7651916cd43dd8448eb211c80319c"
TOPIC = Channel("topic", "order-events")
QUEUE = Channel("queue", "work")


class Recording:
    """A Publisher that keeps every publish call; `fail` makes the next ones raise PublishError."""

    max_delay_s = 900.0

    def __init__(self) -> None:
        self.calls: list[tuple[Channel, list[CloudEvent[Any]], float]] = []
        self.fail: str | None = None

    def publish(self, channel: Channel, events: Sequence[CloudEvent[Any]], delay_s: float = 0.0) -> None:
        if self.fail is not None:
            raise PublishError(f"{channel!r}: {self.fail}")
        self.calls.append((channel, list(events), delay_s))

    def events(self, channel: Channel | None = None) -> list[CloudEvent[Any]]:
        return [e for c, events, _ in self.calls if channel in (None, c) for e in events]


class CountingBackend(SqliteBackend):
    """The ledger's store, counting the calls made to it."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.used = 0

    def read(self, key: str) -> Record | None:
        self.used += 1
        return super().read(key)

    def write(self, record: Record) -> None:
        self.used += 1
        super().write(record)


@pytest.fixture(autouse=True)
def ledger(tmp_path: Path) -> Iterator[CountingBackend]:
    backend = CountingBackend(str(tmp_path / "pfn-outbox.sqlite3"))
    previous, OUTBOX.backend = OUTBOX._backend, backend
    handlers.RUNS.clear()
    handlers.EMITTED.clear()
    yield backend
    OUTBOX.backend = previous


@pytest.fixture(autouse=True)
def published() -> Iterator[Recording]:
    recording = Recording()
    previous = use_publisher(recording)
    yield recording
    use_publisher(previous)


@pytest.fixture(autouse=True)
def idempotency_store(tmp_path: Path) -> Iterator[None]:
    from portable_fn.runtime.idempotency import STORE

    previous, STORE.backend = STORE._backend, SqliteBackend(str(tmp_path / "pfn-idempotency.sqlite3"))
    yield
    STORE.backend = previous


def spec(handler: Any) -> FunctionSpec:
    found = spec_of(handler)
    assert found is not None
    return found


def order(order_id: str = "o-1", fail: str | None = None, **extensions: Any) -> CloudEvent[Any]:
    return CloudEvent(
        id=uuid.uuid4().hex,
        source="/shop/orders",
        type="shop.order.placed",
        data={"id": order_id, **({"fail": fail} if fail else {})},
        extensions=extensions or None,
    )


def emitted_ids() -> list[str]:
    return [event.id for event, _ in handlers.EMITTED]


# -- publishing --------------------------------------------------------------------------------------


def test_a_succeeded_call_publishes_its_events_grouped_per_channel(published: Recording) -> None:
    result = call_event(spec(handlers.announce), order("o-1"))
    assert result.outcome == ACK
    assert [(c, [e.type for e in events]) for c, events, _ in published.calls] == [
        (TOPIC, ["shop.order.paid", "shop.order.counted"]),
        (QUEUE, ["shop.work"]),
    ]
    assert published.events() == [event for event, _ in handlers.EMITTED]  # what emit returned, as sent


def test_a_failing_record_publishes_nothing_and_its_batch_neighbours_publish(published: Recording) -> None:
    results = call_batch(spec(handlers.announce), [order("ok-1"), order("bad", fail="boom"), order("ok-2")])
    assert [r.outcome for r in results] == [ACK, RETRY, ACK]
    assert {e.data["id"] for e in published.events()} == {"ok-1", "ok-2"}
    assert len(published.calls) == 4  # two channels for each succeeded record


def test_a_failed_request_publishes_nothing_and_a_4xx_answer_publishes(published: Recording) -> None:
    failed = call_http(spec(handlers.place), Request("POST", "/orders", body=b'{"status": 500}'))
    assert failed.status == 500 and published.calls == []
    refused = call_http(spec(handlers.place), Request("POST", "/orders", body=b'{"status": 409}'))
    assert refused.status == 409 and [e.type for e in published.events()] == ["shop.order.placed"]


def test_a_publish_that_fails_makes_the_call_a_retry_naming_the_cause(published: Recording) -> None:
    published.fail = "the topic is gone"
    result = call_event(spec(handlers.announce), order())
    assert result.outcome == RETRY
    assert "announce: its emitted events were not published" in (result.reason or "")
    assert "topic('order-events'): the topic is gone" in (result.reason or "")
    response = call_http(spec(handlers.place), Request("POST", "/orders", body=b"{}"))
    assert response.status == 503 and response.headers.get("retry-after") == "1"
    assert b"the topic is gone" in response.body


def test_outside_an_invocation_emit_publishes_at_once(published: Recording) -> None:
    event = emit(handlers.ORDER_EVENTS, data={"id": "o-9"}, type="shop.order.imported")
    assert published.calls == [(TOPIC, [event], 0.0)]
    assert event.extensions["pfnhops"] == 1 and event.datacontenttype == "application/json"


# -- once per success ----------------------------------------------------------------------------


def test_a_duplicate_delivery_after_success_runs_again_but_publishes_nothing(
    published: Recording, ledger: CountingBackend
) -> None:
    placed = order("o-1")
    assert call_event(spec(handlers.announce), placed).outcome == ACK
    assert call_event(spec(handlers.announce), placed).outcome == ACK
    assert len(handlers.RUNS) == 2
    assert len(published.events()) == 3
    found = ledger.read(f"announce#/shop/orders#{placed.id}")
    assert found is not None and found.expires_at is not None


def test_a_redelivery_after_a_failed_publish_publishes(published: Recording) -> None:
    placed = order("o-1")
    published.fail = "throttled"
    assert call_event(spec(handlers.announce), placed).outcome == RETRY
    published.fail = None
    assert call_event(spec(handlers.announce), placed).outcome == ACK
    assert len(published.events()) == 3


def test_an_idempotent_function_needs_no_ledger(published: Recording, ledger: CountingBackend) -> None:
    payment = order("p-1")
    assert call_event(spec(handlers.pay), payment).value == {"paid": "p-1"}
    assert call_event(spec(handlers.pay), payment).value == {"paid": "p-1"}
    assert len(handlers.RUNS) == 1 and len(published.events()) == 1
    assert ledger.used == 0


def test_a_function_that_never_emits_leaves_the_ledger_alone(ledger: CountingBackend) -> None:
    assert call_event(spec(handlers.quiet), order()).outcome == ACK
    assert ledger.used == 0


def test_a_sender_is_granted_the_ledger() -> None:
    uses = {f"{u.resource.kind}:{u.resource.name}:{u.access}" for u in spec(handlers.announce).options.uses}
    assert uses == {"topic:order-events:write", "queue:work:write", "state:pfn-outbox:write"}
    assert [u.resource.name for u in spec(handlers.quiet).options.uses] == []


# -- ids -------------------------------------------------------------------------------------------


def test_ids_are_the_same_on_redelivery_and_differ_per_emit_function_and_trigger() -> None:
    placed = order("o-1")
    call_event(spec(handlers.announce), placed)
    first = emitted_ids()
    handlers.EMITTED.clear()
    call_event(spec(handlers.announce), placed)
    assert emitted_ids() == first
    assert len(set(first)) == 3 and all(len(i) == 64 and int(i, 16) >= 0 for i in first)
    handlers.EMITTED.clear()
    call_event(spec(handlers.announce_too), placed)
    call_event(spec(handlers.announce), order("o-1"))  # the same data, another event
    assert not set(emitted_ids()) & set(first)


def test_a_request_has_stable_ids_only_with_an_idempotency_key() -> None:
    def placed(headers: dict[str, str]) -> str:
        handlers.EMITTED.clear()
        call_http(spec(handlers.place), Request("POST", "/orders", headers=headers, body=b"{}"))
        return emitted_ids()[0]

    assert placed({}) != placed({})
    assert placed({"Idempotency-Key": "k-1"}) == placed({"Idempotency-Key": "k-1"})
    assert placed({"Idempotency-Key": "k-1"}) != placed({"Idempotency-Key": "k-2"})


# -- attributes and extensions -------------------------------------------------------------------


def test_the_event_names_its_function_app_and_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTABLE_FN_APP", "shop")
    call_event(spec(handlers.announce), order("o-1"))
    paid, _, work = (event for event, _ in handlers.EMITTED)
    assert paid.source == "/apps/shop/functions/announce"
    assert (paid.type, paid.subject, paid.data, paid.datacontenttype) == (
        "shop.order.paid",
        "o-1",
        {"id": "o-1"},
        "application/json",
    )
    assert paid.time is not None and paid.time.endswith("Z")
    assert work.extensions["tenant"] == "t1"


def test_the_event_carries_the_emitting_span_and_the_hop_count() -> None:
    parent = f"00-{TRACE}-b7ad6b7169203331-01"
    call_event(spec(handlers.announce), order("o-1", traceparent=parent, pfnhops=3))
    for event, trace in handlers.EMITTED:
        assert event.extensions["traceparent"] == f"00-{TRACE}-{trace.span_id}-01"
        assert trace.parent_id == "b7ad6b7169203331"
        assert event.extensions["pfnhops"] == 4
    handlers.EMITTED.clear()
    call_event(spec(handlers.announce), order("o-2"))
    assert {event.extensions["pfnhops"] for event, _ in handlers.EMITTED} == {1}
    handlers.EMITTED.clear()
    call_http(spec(handlers.place), Request("POST", "/orders", headers={"traceparent": parent}, body=b"{}"))
    (event, trace), *_ = handlers.EMITTED
    assert event.extensions["pfnhops"] == 1 and event.extensions["traceparent"] == trace.traceparent


def test_the_receiver_continues_the_trace_of_the_event(published: Recording) -> None:
    call_event(spec(handlers.announce), order("o-1", traceparent=f"00-{TRACE}-b7ad6b7169203331-01"))
    sent, sender = handlers.EMITTED[0]
    handlers.EMITTED.clear()
    # as every shim hands over a carried CloudEvent: unchanged, whatever the transport's own header says
    received = CloudEvent.from_json(published.events(TOPIC)[0].to_json())
    assert received == sent
    call_event(spec(handlers.relay), received)
    _, receiver = handlers.EMITTED[0]
    assert (receiver.trace_id, receiver.parent_id) == (TRACE, sender.span_id)


def test_an_emitted_event_names_its_sender_over_the_transports_header() -> None:
    from portable_fn.runtime.pipeline import Invocation

    sender = f"00-{TRACE}-b7ad6b7169203331-01"
    xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
    invocation = Invocation(spec(handlers.relay), "aws")
    call = invocation.add(order(traceparent=sender, pfnhops=1), carrier={"awstraceheader": xray})
    assert call.trace.parent_id == "b7ad6b7169203331" and call.trace.trace_id == TRACE
    foreign = Invocation(spec(handlers.relay), "aws").add(order(traceparent=sender), carrier={"awstraceheader": xray})
    assert foreign.trace.trace_id == "5759e988bd862e3fe1be46a994272793"  # not emitted by us: the carrier first
    assert from_traceparent(sender) is not None


# -- the hop limit -------------------------------------------------------------------------------


def test_a_hop_past_the_maximum_dead_letters_the_call_saying_why(published: Recording) -> None:
    result = call_event(spec(handlers.relay), order(pfnhops=16))
    assert result.outcome == DEAD_LETTER
    assert "event loop: 'relay' emitting 'shop.relayed' would make hop 17 > max 16" in (result.reason or "")
    assert "max_hops" in (result.reason or "")
    assert published.calls == []
    assert call_event(spec(handlers.relay), order(pfnhops=15)).outcome == ACK


def test_the_maximum_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, published: Recording) -> None:
    monkeypatch.setenv("PORTABLE_FN_MAX_HOPS", "3")
    assert call_event(spec(handlers.relay), order(pfnhops=2)).outcome == ACK
    assert call_event(spec(handlers.relay), order(pfnhops=3)).outcome == DEAD_LETTER
    monkeypatch.setenv("PORTABLE_FN_MAX_HOPS", "many")
    result = call_event(spec(handlers.relay), order())
    assert "PORTABLE_FN_MAX_HOPS='many' is not a whole number" in (result.reason or "")


def test_a_loop_of_emits_ends_dead_lettered(published: Recording) -> None:
    event: CloudEvent[Any] = order()
    for _ in range(20):
        result = call_event(spec(handlers.relay), event)
        if result.outcome != ACK:
            break
        event = published.events()[-1]
    assert result.outcome == DEAD_LETTER and "hop 17 > max 16" in (result.reason or "")
    assert [None, *range(1, 17)] == handlers.RUNS


# -- declarations --------------------------------------------------------------------------------


def test_an_undeclared_target_is_an_error_naming_the_declaration(published: Recording) -> None:
    result = call_event(spec(handlers.sneaky), order())
    assert result.outcome != ACK and isinstance(result.error, UndeclaredResourceError)
    assert "Function 'sneaky' emits to topic('audit-log') without declaring it" in str(result.error)
    assert "uses=[audit_log.publish()]" in str(result.error)
    assert published.calls == []


def test_emit_refuses_what_is_not_a_topic_or_queue() -> None:
    with pytest.raises(Exception, match="emit to a topic or queue"):
        emit("order-events", data={}, type="x")


def test_data_that_is_not_json_fails_the_emit_saying_so() -> None:
    with pytest.raises(Exception, match="'shop.odd': the event cannot be sent as JSON"):
        emit(handlers.ORDER_EVENTS, data={"when": object()}, type="shop.odd")


def test_the_outbox_has_work_only_for_a_function_that_declares_a_topic_or_queue_to_send_to() -> None:
    """The pipeline asks `wanted` once per function: one that declares nothing to send to (and so cannot
    emit: `emit` refuses an undeclared channel) runs none of the outbox's hooks."""
    from portable_fn.runtime.emit import OutboxMiddleware

    outbox = OutboxMiddleware()
    wanted = {h.__name__: outbox.wanted(spec_of(h)) for h in (handlers.announce, handlers.announce_too, handlers.quiet)}
    assert wanted == {"announce": True, "announce_too": True, "quiet": False}
