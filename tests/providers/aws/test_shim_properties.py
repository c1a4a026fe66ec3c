"""Property test of the AWS shim: the real payload corpus (tests/data/aws/events: Powertools' Lambda
events and this project's own), mutated, run through `make_handler(spec)`'s `lambda_handler` for a
queue function (SQS), the same function fed by streams (Kinesis, DynamoDB Streams), a topic and a
storage function (SNS, S3: delivered one at a time), and HTTP functions (API Gateway REST and HTTP API,
Function URL, ALB).

Whatever the mutation (a value replaced by another JSON type, a key dropped or added, a huge number, a
value nested, a record wrapped in a non-object), the entry point answers what Lambda expects and lets
no other exception out:

- a batch answers `{"batchItemFailures": [{"itemIdentifier": str}, ...]}`; on a standard queue a record
  left as the corpus had it is never among the failures unless a failure had no id to report (the
  empty identifier, which makes Lambda retry the whole batch);
- SNS and S3 answer None, or raise `DeliveryFailed` (how Lambda is told to retry);
- HTTP answers a response of its source's shape with an int status, and a 4xx names the problem in JSON;
- no allocation grows with a number found in the input.

The top-level `Records` key of a batch is kept (mutated, never dropped): an event without it is not a
malformed record but another kind of event, refused with InvalidEventError (tests/.../test_shim.py).
"""

from __future__ import annotations

import copy
import json
import tracemalloc
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from portable_fn_aws.shim import DeliveryFailed, make_handler

from portable_fn import Context, Request, function, http
from portable_fn.runtime import spec_of

from .conftest import EVENTS, LambdaContext, load_handlers

MAX_PEAK = 4 * 1024 * 1024  # far above what one of these events needs, far below any number drawn
BIG = [10**12, 10**9, 2**63, -(10**12), 10**30, 0, -1]

QUEUE = [
    "sqsEvent.json",
    "sqsFifoEvent.json",
    "sqsDlqTriggerEvent.json",
    "sqsCloudEventsEvent.json",
    "sqsUndecodableEvent.json",
    "snsSqsEvent.json",
    "snsSqsFifoEvent.json",
    "s3SqsEvent.json",
]
STREAM = ["kinesisStreamEvent.json", "kinesisStreamEventOneRecord.json", "dynamoStreamEvent.json"]
TOPIC = ["snsEvent.json", "snsCloudEventEvent.json"]
STORAGE = ["s3Event.json", "s3EventDecodedKey.json", "s3EventDeleteObject.json", "s3EventGlacier.json"]
HTTP = sorted(
    p.name for p in EVENTS.glob("*.json") if p.name.startswith(("apiGateway", "apigateway", "lambdaFunctionUrl", "alb"))
)
UNREADABLE_IDS = {"bad-0000-0000-0000-000000000001", "bad-0000-0000-0000-000000000003"}  # sqsUndecodableEvent
UNORDERED = {
    "sqsEvent.json",
    "sqsDlqTriggerEvent.json",
    "sqsCloudEventsEvent.json",
    "sqsUndecodableEvent.json",
    "snsSqsEvent.json",
    "s3SqsEvent.json",
}


def corpus(names: list[str]) -> dict[str, Any]:
    return {name: json.loads((EVENTS / name).read_text(encoding="utf-8")) for name in names}


odd = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(BIG),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "1000000000000",
            "9" * 40,
            "not base64!",
            "%",
            "{",
            "[]",
            "/",
            "$default",
            "aws:sqs",
            "aws:kinesis",
            "aws:dynamodb",
            "2.0",
            "GET",
            "\x00",
            "2024-13-45T99:00:00Z",
        ]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
)


@st.composite
def mutated(draw: st.DrawFn, value: Any, depth: int = 0, keep: frozenset[str] = frozenset()) -> Any:
    """`value` with one change somewhere inside: a member replaced by an odd value, removed, added, nested
    in a list or an object, or changed further down (never removing a key of `keep`)."""
    if isinstance(value, dict) and value and depth < 5:
        key = draw(st.sampled_from(sorted(value)))
        how = draw(st.sampled_from(["replace", "drop", "inside", "inside", "add", "nest"]))
        changed = dict(value)
        if how == "replace":
            changed[key] = draw(odd)
        elif how == "drop" and key not in keep:
            del changed[key]
        elif how == "add":
            changed[draw(st.text(max_size=8))] = draw(odd)
        elif how == "nest":
            changed[key] = draw(st.sampled_from([[value[key]], {"value": value[key]}]))
        else:
            changed[key] = draw(mutated(value[key], depth + 1))
        return changed
    if isinstance(value, list) and value and depth < 5:
        index = draw(st.integers(0, len(value) - 1))
        how = draw(st.sampled_from(["inside", "inside", "replace", "drop", "repeat"]))
        if how == "drop":
            return [*value[:index], *value[index + 1 :]]
        if how == "repeat":
            return [*value, value[index]]
        item = draw(odd) if how == "replace" else draw(mutated(value[index], depth + 1))
        return [*value[:index], item, *value[index + 1 :]]
    if isinstance(value, str) and value and draw(st.booleans()):
        return draw(st.sampled_from([value[: len(value) // 2], value + value[:3], value.upper(), f"{value}\x00"]))
    return draw(odd)


@st.composite
def events(draw: st.DrawFn, names: list[str]) -> tuple[str, dict[str, Any], Any]:
    """(fixture name, the original event, the event changed in one to three places)."""
    name = draw(st.sampled_from(names))
    original = CORPORA[name]
    value: Any = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 3))):
        value = draw(mutated(value, keep=frozenset({"Records"})))
    return name, original, value


CORPORA = corpus(QUEUE + STREAM + TOPIC + STORAGE + HTTP)


def run(handler: Any, event: Any) -> Any:
    """The handler's answer (or the DeliveryFailed it raised); an exception of any other kind fails the
    test, and so does an allocation peak that grew with the input."""
    tracemalloc.start()
    try:
        return handler(event, LambdaContext())
    except DeliveryFailed as exc:
        assert "did not acknowledge" in str(exc)
        return exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < MAX_PEAK, f"{peak} bytes allocated for one event"


# -- functions ---------------------------------------------------------------------------------------

EVENTS_MODULE = load_handlers("events")
WEB = load_handlers("web")


@function(trigger=http("ANY", "/{rest+}"))
def anything(request: Request) -> dict[str, Any]:
    """Every request that reaches a handler: reads what a handler reads."""
    return {
        "method": request.method,
        "path": request.path,
        "query": request.query.multi_items(),
        "headers": request.headers.multi_items(),
        "cookies": request.cookies,
        "size": len(request.body),
    }


@function(trigger=http("POST", "/my/{name}"))
def with_context(request: Request, ctx: Context) -> dict[str, Any]:
    return {"name": request.path_params["name"], "invocation": ctx.invocation_id}


def identifiers(response: Any) -> list[str]:
    assert isinstance(response, dict) and list(response) == ["batchItemFailures"], response
    failures = response["batchItemFailures"]
    assert isinstance(failures, list)
    for item in failures:
        assert isinstance(item, dict) and list(item) == ["itemIdentifier"] and isinstance(item["itemIdentifier"], str)
    return [item["itemIdentifier"] for item in failures]


def message_id(record: Any) -> str | None:
    value = record.get("messageId") if isinstance(record, dict) else None
    return value if isinstance(value, str) else None


@given(case=events(QUEUE), handler_name=st.sampled_from(["ack", "picky", "ordered"]))
def test_a_queue_batch_answers_its_failures_alone(case: tuple[str, dict[str, Any], Any], handler_name: str) -> None:
    name, original, event = case
    failed = identifiers(run(HANDLERS[handler_name], event))
    records = event["Records"] if isinstance(event["Records"], list) else []
    intact = {message_id(r) for r in records if r in original["Records"]} - UNREADABLE_IDS
    changed = {message_id(r) for r in records if r not in original["Records"]}
    if name in UNORDERED and handler_name == "ack" and "" not in failed:
        assert not set(failed) & (intact - changed), (failed, intact)


@given(case=events(STREAM), handler_name=st.sampled_from(["ack", "picky"]))
def test_a_stream_batch_answers_its_failures_alone(case: tuple[str, dict[str, Any], Any], handler_name: str) -> None:
    identifiers(run(HANDLERS[handler_name], case[2]))


@given(case=events(TOPIC + STORAGE))
def test_a_topic_or_storage_event_is_acknowledged_or_retried(case: tuple[str, dict[str, Any], Any]) -> None:
    name, _, event = case
    answer = run(HANDLERS["on_topic" if name.startswith("sns") else "on_upload"], event)
    assert answer is None or isinstance(answer, DeliveryFailed)


@given(case=events(HTTP), handler_name=st.sampled_from(["anything", "echo", "receive", "with_context"]))
def test_an_http_event_is_answered_in_its_shape(case: tuple[str, dict[str, Any], Any], handler_name: str) -> None:
    response = run(HANDLERS[handler_name], case[2])
    assert isinstance(response, dict), response
    status = response["statusCode"]
    assert status.__class__ is int and 200 <= status <= 599
    assert isinstance(response["body"], str) and isinstance(response["isBase64Encoded"], bool)
    assert isinstance(response.get("headers", response.get("multiValueHeaders")), dict)
    if 400 <= status < 500 and not response["isBase64Encoded"]:
        assert isinstance(json.loads(response["body"])["error"], str)
    assert status != 500 or handler_name == "receive", response  # only a handler crash is a 500


def _handlers() -> dict[str, Any]:
    functions = {name: getattr(EVENTS_MODULE, name) for name in ("ack", "picky", "ordered", "on_topic", "on_upload")}
    functions.update(echo=WEB.echo, receive=WEB.receive, anything=anything, with_context=with_context)
    found = {}
    for name, fn in functions.items():
        spec = spec_of(fn)
        assert spec is not None
        found[name] = make_handler(spec)
    return found


HANDLERS = _handlers()


@pytest.mark.parametrize("name", QUEUE + STREAM + TOPIC + STORAGE + HTTP)
def test_the_corpus_itself_is_answered(name: str) -> None:
    handler = (
        "ack"
        if name in QUEUE + STREAM
        else "on_topic"
        if name in TOPIC
        else "on_upload"
        if name in STORAGE
        else "anything"
    )
    answer = run(HANDLERS[handler], copy.deepcopy(CORPORA[name]))
    assert answer is None or isinstance(answer, (dict, DeliveryFailed))
