"""The dead-letter shape every shim writes: the original event plus three extensions."""

from __future__ import annotations

from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.dead_letters import ATTEMPT, FUNCTION, REASON, dead_letter_event, dead_letter_info


def _event() -> CloudEvent:
    return CloudEvent(id="1", source="/orders", type="shop.order", data={"id": "o-1"}, extensions={"tenant": "a"})


def test_dead_letter_keeps_the_event_and_adds_why() -> None:
    dead = dead_letter_event(_event(), function="fulfil", reason="recalled sku", attempt=3)
    assert (dead.id, dead.source, dead.type, dead.data) == ("1", "/orders", "shop.order", {"id": "o-1"})
    assert dead.extensions == {"tenant": "a", REASON: "recalled sku", FUNCTION: "fulfil", ATTEMPT: 3}
    assert dead_letter_info(dead) == {"reason": "recalled sku", "function": "fulfil", "attempt": 3}
    assert dead_letter_info(_event()) is None


def test_dead_letter_survives_the_json_format_and_cuts_long_reasons() -> None:
    dead = dead_letter_event(_event(), function="fulfil", reason="é" * 1000, attempt=1)
    again = CloudEvent.from_json(dead.to_json())
    assert again == dead
    assert len(again.extensions[REASON].encode("utf-8")) <= 1024


def test_dead_lettering_twice_replaces_the_first_reason() -> None:
    once = dead_letter_event(_event(), function="a", reason="first", attempt=1)
    twice = dead_letter_event(once, function="b", reason="second", attempt=2)
    assert dead_letter_info(twice) == {"reason": "second", "function": "b", "attempt": 2}


def test_an_attempt_carried_as_a_string_reads_back_as_a_number() -> None:
    """Pub/Sub and SQS attributes are strings: `ce-deadletterattempt: 4` arrives as "4"."""
    dead = _event().replace(extensions={REASON: "why", FUNCTION: "f", ATTEMPT: "4"})
    assert dead_letter_info(dead) == {"reason": "why", "function": "f", "attempt": 4}


def test_a_failed_send_is_described_by_status_and_body_or_by_the_error() -> None:
    import io
    import urllib.error

    from portable_fn.runtime.dead_letters import send_failure

    refused = urllib.error.HTTPError("http://127.0.0.1/q", 403, "Forbidden", {}, io.BytesIO(b"AccessDenied"))  # type: ignore[arg-type]
    assert send_failure(refused) == "HTTP 403 AccessDenied"
    assert send_failure(ConnectionRefusedError(111, "Connection refused")) == (
        "ConnectionRefusedError: [Errno 111] Connection refused"
    )
