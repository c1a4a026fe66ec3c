"""Idempotent functions through the real pipeline, against the SQLite backend in a file: a duplicate of a
completed call is answered from the store, one in progress is retried, a different payload is refused,
failures are never stored, and an unreachable store never lets the handler run unguarded."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portable_fn.runtime import (
    ACK,
    DEAD_LETTER,
    RETRY,
    CloudEvent,
    Context,
    DeadLetter,
    FunctionSpec,
    InvalidEventError,
    Request,
    Retry,
    call_event,
    call_http,
    spec_of,
)
from portable_fn.runtime.idempotency import STORE, Idempotency, idempotent
from portable_fn.runtime.state_sqlite import SqliteBackend

from .handlers import idempotent as handlers


@pytest.fixture(autouse=True)
def store(tmp_path: Path) -> Iterator[SqliteBackend]:
    backend = SqliteBackend(str(tmp_path / "pfn-idempotency.sqlite3"))
    previous, STORE.backend = STORE._backend, backend
    handlers.RUNS.clear()
    yield backend
    STORE.backend = previous
    handlers.FAIL_NEXT.clear()
    handlers.DURING.clear()


def spec(handler: Any) -> FunctionSpec:
    found = spec_of(handler)
    assert found is not None
    return found


def event(data: Any, event_id: str | None = None, source: str = "/shop/payments") -> CloudEvent[Any]:
    return CloudEvent(id=event_id or uuid.uuid4().hex, source=source, type="payment.requested", data=data)


def request(body: bytes = b'{"amount": 5}', key: str | None = "k-1", path: str = "/pay") -> Request:
    return Request("POST", path, headers={"Idempotency-Key": key} if key else {}, body=body)


# -- events ----------------------------------------------------------------------------------------


def test_a_duplicate_of_a_completed_event_gets_the_stored_result_without_running() -> None:
    payment = event({"amount": 42})
    first = call_event(spec(handlers.charge), payment)
    second = call_event(spec(handlers.charge), payment)
    assert (first.outcome, first.value) == (ACK, {"charged": 42})
    assert (second.outcome, second.value, second.event_id) == (ACK, {"charged": 42}, payment.id)
    assert handlers.RUNS == [{"amount": 42}]


def test_the_default_key_is_source_and_id() -> None:
    call_event(spec(handlers.charge), event({"amount": 1}, "same-id", source="/a"))
    call_event(spec(handlers.charge), event({"amount": 1}, "same-id", source="/b"))
    assert len(handlers.RUNS) == 2


def test_keys_are_scoped_by_function_name() -> None:
    payment = event({"amount": 3})
    assert call_event(spec(handlers.charge), payment).value == {"charged": 3}
    assert call_event(spec(handlers.charge_again), payment).value == {"charged again": 3}
    assert len(handlers.RUNS) == 2


def test_async_handlers_are_guarded_and_replayed() -> None:
    payment = event({"amount": 8})
    assert call_event(spec(handlers.charge_async), payment).value == {"charged": 8, "async": True}
    assert call_event(spec(handlers.charge_async), payment).value == {"charged": 8, "async": True}
    assert len(handlers.RUNS) == 1


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [(Retry("bank busy"), RETRY), (RuntimeError("crash"), RETRY), (DeadLetter("card stolen"), DEAD_LETTER)],
)
def test_failures_are_never_stored_so_the_retry_runs_again(failure: Exception, outcome: str) -> None:
    payment = event({"amount": 5})
    handlers.FAIL_NEXT.append(failure)
    assert call_event(spec(handlers.charge), payment).outcome == outcome
    retried = call_event(spec(handlers.charge), payment)
    assert (retried.outcome, retried.value) == (ACK, {"charged": 5})
    assert len(handlers.RUNS) == 2


def test_a_duplicate_while_the_first_runs_is_retried_after_the_lease() -> None:
    payment = event({"amount": 6})
    seen: list[Any] = []
    handlers.DURING.append(lambda: seen.append(call_event(spec(handlers.charge), payment)))
    deadline = time.time() + 600
    assert call_event(spec(handlers.charge), payment, Context(deadline=deadline)).ok
    (duplicate,) = seen
    assert duplicate.outcome == RETRY and duplicate.reason.startswith("in progress elsewhere")
    assert isinstance(duplicate.error, Retry) and 0 < duplicate.error.delay_s <= 600
    assert len(handlers.RUNS) == 1


def test_an_expired_lease_is_taken_over() -> None:
    payment = event({"amount": 6})
    seen: list[Any] = []
    handlers.DURING.append(lambda: seen.append(call_event(spec(handlers.charge), payment)))
    call_event(spec(handlers.charge), payment, Context(deadline=time.time() - 1))
    assert seen[0].outcome == ACK and len(handlers.RUNS) == 2


def test_without_a_deadline_the_lease_is_the_timeout_or_15_minutes(store: SqliteBackend) -> None:
    payment = event({"amount": 6})
    leases: list[float] = []
    handlers.DURING.append(lambda: leases.append(_stored(store)["lease"]))
    before = time.time()
    call_event(spec(handlers.charge), payment)
    assert before + 15 * 60 <= leases[0] <= time.time() + 15 * 60


def test_the_same_key_with_a_different_payload_is_refused() -> None:
    call_event(spec(handlers.charge), event({"amount": 5}, "pay-9"))
    refused = call_event(spec(handlers.charge), event({"amount": 500}, "pay-9"))
    assert refused.outcome == DEAD_LETTER
    assert "same key, different payload" in refused.reason and "/shop/payments#pay-9" in refused.reason
    assert len(handlers.RUNS) == 1


def test_a_key_from_a_path_into_the_data() -> None:
    call_event(spec(handlers.charge_order), event({"order": {"id": 17}, "note": "x"}, "a"))
    again = call_event(spec(handlers.charge_order), event({"order": {"id": 17}, "note": "x"}, "b"))
    assert (again.outcome, again.value, len(handlers.RUNS)) == (ACK, "17", 1)
    missing = call_event(spec(handlers.charge_order), event({"order": {}}))
    assert missing.outcome == DEAD_LETTER and "'order.id'" in missing.reason


def test_a_key_from_a_function_of_the_event() -> None:
    call_event(spec(handlers.charge_ref), event({"ref": "r-1"}))
    assert call_event(spec(handlers.charge_ref), event({"ref": "r-1"})).value == "r-1"
    call_event(spec(handlers.charge_ref), event({"ref": "r-2"}))
    assert len(handlers.RUNS) == 2


def test_completed_records_expire_after_the_ttl(store: SqliteBackend) -> None:
    payment = event({"order": {"id": 1}})
    call_event(spec(handlers.charge_order), payment)
    (expires_at,) = store._connection().execute("SELECT expires_at FROM items").fetchone()
    assert 59 < expires_at - time.time() <= 60


def test_a_record_that_could_not_be_read_is_dead_lettered_saying_why() -> None:
    result = call_event(spec(handlers.charge), InvalidEventError("the record is not a CloudEvent: no 'id'"))
    assert (result.outcome, result.reason) == (DEAD_LETTER, "the record is not a CloudEvent: no 'id'")


# -- HTTP ------------------------------------------------------------------------------------------


def test_an_http_duplicate_replays_the_stored_response_byte_for_byte() -> None:
    first = call_http(spec(handlers.pay), request())
    second = call_http(spec(handlers.pay), request())
    assert (second.status, second.body) == (first.status, first.body) == (201, b"\x00\xffpaid\r\n")
    assert second.headers.multi_items() == [*first.headers.multi_items(), ("Idempotent-Replayed", "true")]
    assert second.cookies == ["a=1", "b=2"] and "idempotent-replayed" not in first.headers
    assert len(handlers.RUNS) == 1


def test_an_http_call_without_the_header_runs_every_time() -> None:
    call_http(spec(handlers.pay), request(key=None))
    call_http(spec(handlers.pay), request(key=None))
    assert len(handlers.RUNS) == 2


def test_a_required_header_missing_is_a_400_naming_it() -> None:
    response = call_http(spec(handlers.pay_strict), request(key=None, path="/pay-strict"))
    assert response.status == 400 and b"Idempotency-Key" in response.body
    assert handlers.RUNS == []
    assert call_http(spec(handlers.pay_strict), request(path="/pay-strict")).status == 201


def test_an_http_duplicate_in_progress_is_a_409_with_retry_after() -> None:
    seen: list[Any] = []
    handlers.DURING.append(lambda: seen.append(call_http(spec(handlers.pay), request())))
    call_http(spec(handlers.pay), request(), Context(deadline=time.time() + 90))
    assert seen[0].status == 409 and 1 <= int(seen[0].headers["retry-after"]) <= 90


def test_an_http_key_reused_with_another_body_is_a_422() -> None:
    call_http(spec(handlers.pay), request(b'{"amount": 5}'))
    refused = call_http(spec(handlers.pay), request(b'{"amount": 6}'))
    assert refused.status == 422 and b"same key, different payload" in refused.body
    assert len(handlers.RUNS) == 1


def test_an_http_server_error_is_not_stored() -> None:
    assert call_http(spec(handlers.pay), request(b'{"status": 502}')).status == 502
    assert call_http(spec(handlers.pay), request(b'{"status": 502}')).status == 502
    assert len(handlers.RUNS) == 2
    call_http(spec(handlers.pay), request(b'{"status": 409}', key="k-2"))
    assert call_http(spec(handlers.pay), request(b'{"status": 409}', key="k-2")).status == 409
    assert len(handlers.RUNS) == 3  # a 4xx is the answer: stored and replayed


# -- the store -------------------------------------------------------------------------------------


class Unreachable:
    """A store that cannot be reached (every primitive raises, as an SDK does on a network error)."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any) -> Any:
            raise ConnectionError("connection refused")

        return fail


def test_an_unreachable_store_retries_the_call_without_running_it() -> None:
    STORE.backend = Unreachable()  # type: ignore[assignment]
    result = call_event(spec(handlers.charge), event({"amount": 1}))
    assert result.outcome == RETRY and "'pfn-idempotency' cannot be reached" in result.reason
    assert "connection refused" in result.reason
    response = call_http(spec(handlers.pay), request())
    assert response.status == 503 and b"cannot be reached" in response.body
    assert handlers.RUNS == []


def test_an_idempotent_function_declares_write_access_to_the_store() -> None:
    uses = spec(handlers.charge).options.uses
    assert [(u.resource.name, u.access) for u in uses] == [("pfn-idempotency", "write")]
    assert spec(handlers.charge_order).options.to_dict()["idempotent"] == (
        "idempotent(key='order.id', ttl=60, required=False)"
    )


def test_the_declaration_is_checked() -> None:
    from portable_fn.runtime import DeclarationError

    with pytest.raises(DeclarationError, match="ttl"):
        idempotent(ttl=0)
    with pytest.raises(DeclarationError, match="dotted path"):
        idempotent(key=".")
    assert isinstance(idempotent(), Idempotency)


def _stored(store: SqliteBackend) -> dict[str, Any]:
    import json

    (value,) = store._connection().execute("SELECT value FROM items").fetchone()
    found: dict[str, Any] = json.loads(value)
    return found
