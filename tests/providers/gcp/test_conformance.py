"""Conformance: every input of functions-framework-conformance, sent over HTTP to the generated main.py
served by the real functions-framework, reaches the handler as the expected CloudEvent.

CloudEvent inputs go in binary mode, legacy background-event inputs as application/json (the shim has the
framework's converter turn those into CloudEvents, as its cloudevent signature does). The converted event
must be exactly `<case>-cloudevent-output.json`; the handler's own event is that same event, except for
Pub/Sub messages, which reach the handler as the message's CloudEvent, of type
`com.google.cloud.pubsub.message`, text as a str (golden files in tests/data/gcp/expected/).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from portable_fn.runtime import CloudEvent, to_binary

DATA = Path(__file__).resolve().parents[2] / "data" / "gcp"
CONFORMANCE = DATA / "functions-framework-conformance" / "events" / "generate" / "data"
EXPECTED = DATA / "expected"

CASES = sorted(p.name[: -len("-cloudevent-input.json")] for p in CONFORMANCE.glob("*-cloudevent-input.json"))
PUBSUB = {"legacy_pubsub", "pubsub_binary", "pubsub_text"}


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_corpus_is_complete_and_noticed() -> None:
    assert len(CASES) == 17
    for case in CASES:
        for suffix in ("cloudevent-input", "cloudevent-output", "legacy-input"):
            assert (CONFORMANCE / f"{case}-{suffix}.json").is_file()
    notice = (CONFORMANCE.parents[3] / "NOTICE").read_text(encoding="utf-8")
    assert "86ea7502" in notice and "Apache License 2.0" in notice
    assert sorted(p.stem for p in EXPECTED.glob("*.json")) == sorted(PUBSUB)


def binary(case: str) -> tuple[dict[str, str], bytes]:
    return to_binary(CloudEvent.from_dict(load(CONFORMANCE / f"{case}-cloudevent-input.json")))


def legacy(case: str) -> tuple[dict[str, str], bytes]:
    return {"content-type": "application/json"}, (CONFORMANCE / f"{case}-legacy-input.json").read_bytes()


@pytest.mark.parametrize("encode", [binary, legacy], ids=["cloudevent", "legacy"])
@pytest.mark.parametrize("case", CASES)
def test_the_handler_receives_the_expected_cloudevent(
    case: str, encode: Any, served: Any, seen: Any, send_to: Any
) -> None:
    headers, body = encode(case)
    reply = send_to(served.url("record"), body, headers)
    assert reply.status == 200, reply.body
    got = seen()
    expected = load(CONFORMANCE / f"{case}-cloudevent-output.json")
    if encode is binary:  # the shim read the request itself (the http signature)
        assert got["native"] == {"request": "POST", "ce-id": expected["id"]}
    else:  # functions-framework's own conversion of the legacy event, which the shim asks for
        assert got["native"] == expected
    assert got["event"] == (load(EXPECTED / f"{case}.json") if case in PUBSUB else expected)


@pytest.mark.parametrize("case", sorted(PUBSUB))
def test_a_pubsub_message_keeps_its_metadata(case: str, served: Any, seen: Any, send_to: Any) -> None:
    headers, body = binary(case)
    assert send_to(served.url("record"), body, headers).status == 200
    got = seen()
    message = load(CONFORMANCE / f"{case}-cloudevent-output.json")["data"]["message"]
    subscription = load(CONFORMANCE / f"{case}-cloudevent-input.json")["data"]["subscription"]
    assert got["message"] == {
        "id": message["messageId"],
        "attributes": message.get("attributes", {}),
        "published": message["publishTime"],
        "delivery_count": 1,
        "subscription": subscription,
    }
    assert got["attempt"] == 1 and got["provider"] == "gcp" and got["function"] == "record"
    assert got["invocation_id"] == message["messageId"]
