"""The shim's outcomes: partial batch failures, FIFO and stream ordering, undecodable records, raises for
asynchronous sources, the Context, and the neutral views reading what the converters produce."""

from __future__ import annotations

import base64
import copy
import json
import logging
from typing import Any

import pytest
from portable_fn_aws.shim import DeliveryFailed, deliver, make_handler

from portable_fn.runtime import ACK, DEAD_LETTER, RETRY, InvalidEventError, Retry, spec_of


def handler_for(function: Any) -> Any:
    spec = spec_of(function)
    assert spec is not None
    return make_handler(spec)


def sqs_batch(adapter: Any, bodies: list[Any], fifo: bool = False) -> dict[str, Any]:
    """An SQS event with one record per body, cloned from the corpus's standard (or FIFO) payload."""
    template = adapter.load_event("sqsFifoEvent.json" if fifo else "sqsEvent.json")["Records"][0]
    records = []
    for i, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"m{i}"
        record["body"] = body if isinstance(body, str) else json.dumps(body)
        records.append(record)
    return {"Records": records}


def failures(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


# -- SQS -------------------------------------------------------------------------------------------


def test_sqs_reports_exactly_the_records_that_failed(adapter, events_module, lambda_context) -> None:
    event = sqs_batch(adapter, [{"n": 0}, {"do": "retry"}, {"n": 2}, {"do": "dead"}, {"do": "crash"}, "text"])
    response = handler_for(events_module.picky)(event, lambda_context)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}, {"itemIdentifier": "m4"}]
    }


def test_sqs_all_acknowledged_is_an_empty_failure_list(adapter, events_module, lambda_context) -> None:
    event = adapter.load_event("sqsEvent.json")
    assert handler_for(events_module.picky)(event, lambda_context) == {"batchItemFailures": []}


def test_outcomes_per_record_including_dead_letter(adapter, events_module, lambda_context) -> None:
    spec = spec_of(events_module.picky)
    event = sqs_batch(adapter, [{"n": 0}, {"do": "dead"}, {"do": "retry"}])
    delivery = deliver(spec, event, lambda_context)
    assert [r.outcome for r in delivery.results] == [ACK, DEAD_LETTER, RETRY]
    assert failures(delivery.response) == ["m1", "m2"]  # dead letters too: the redrive policy moves them


def test_dead_letters_and_retries_are_logged_with_their_reason(
    adapter, events_module, lambda_context, caplog: pytest.LogCaptureFixture
) -> None:
    event = sqs_batch(adapter, [{"do": "dead"}])
    with caplog.at_level(logging.WARNING, logger="portable_fn.aws"):
        handler_for(events_module.picky)(event, lambda_context)
    assert "dead_letter" in caplog.text and "asked to dead-letter" in caplog.text and "picky" in caplog.text


def test_each_failed_record_is_one_line_saying_what_becomes_of_it(
    adapter, events_module, lambda_context, caplog: pytest.LogCaptureFixture
) -> None:
    event = sqs_batch(adapter, [{"n": 0}, {"do": "crash"}, {"do": "retry"}, {"do": "dead"}])
    with caplog.at_level(logging.DEBUG, logger="portable_fn"):
        handler_for(events_module.picky)(event, lambda_context)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("portable_fn")]
    fate = "reported as a batch item failure, attempt 1"
    assert lines == [
        ("ERROR", f"function picky: SQS event m1 -> retry ({fate}): RuntimeError: boom"),
        ("WARNING", f"function picky: SQS event m2 -> retry ({fate}): asked to retry"),
        ("WARNING", f"function picky: SQS event m3 -> dead_letter ({fate}): asked to dead-letter"),
    ]
    crash = caplog.records[0]
    assert crash.exc_info is not None and str(crash.exc_info[1]) == "boom"
    assert crash.exc_info[2] is not None  # the traceback, down to the handler, held by the line


def test_a_record_that_cannot_be_read_is_logged_by_its_message_id(
    adapter, events_module, lambda_context, caplog: pytest.LogCaptureFixture
) -> None:
    event = sqs_batch(adapter, [{"n": 0}])
    event["Records"][0]["body"] = {"n": 0}  # not a string: no event to name it by ("None" was logged)
    with caplog.at_level(logging.DEBUG, logger="portable_fn"):
        handler_for(events_module.picky)(event, lambda_context)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "portable_fn.aws"]
    assert line.startswith("function picky: SQS event m0 -> dead_letter")


def test_an_asynchronous_failure_is_one_line_saying_lambda_retries_it(
    adapter, events_module, lambda_context, caplog: pytest.LogCaptureFixture
) -> None:
    event = adapter.load_event("snsEvent.json")
    event["Records"][0]["Sns"]["Message"] = "fail"
    with caplog.at_level(logging.DEBUG, logger="portable_fn"), pytest.raises(DeliveryFailed):
        handler_for(events_module.on_topic)(event, lambda_context)
    (line,) = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("portable_fn")]
    message_id = event["Records"][0]["Sns"]["MessageId"]
    assert line == (
        "ERROR",
        f"function on_topic: SNS event {message_id} -> retry (raised to Lambda for its retries, attempt 1): "
        "RuntimeError: topic handler failed",
    )


def test_fifo_stops_at_the_first_failure_and_reports_it_and_all_after(adapter, events_module, lambda_context) -> None:
    event = adapter.load_event("sqsFifoEvent.json")  # the second of three asks for a retry
    delivery = deliver(spec_of(events_module.picky), event, lambda_context)
    assert [r.outcome for r in delivery.results] == [ACK, RETRY, RETRY]
    assert failures(delivery.response) == [r["messageId"] for r in event["Records"][1:]]
    assert "not attempted" in (delivery.results[2].reason or "")


def test_a_fifo_trigger_is_ordered_even_if_the_arn_does_not_say_so(adapter, events_module, lambda_context) -> None:
    event = sqs_batch(adapter, [{"n": 0}, {"do": "retry"}, {"n": 2}])
    assert failures(handler_for(events_module.ordered)(event, lambda_context)) == ["m1", "m2"]


def test_a_fifo_batch_stays_ordered_when_its_first_record_names_no_queue(
    adapter, events_module, lambda_context
) -> None:
    """Order was read from the first record alone: with its ARN missing (a record that cannot be read, failed
    alone), m2 ran and was acknowledged ahead of the m1 to be redelivered. The first failure stops the batch."""
    event = sqs_batch(adapter, [{"n": 0}, {"do": "retry"}, {"n": 2}], fifo=True)
    del event["Records"][0]["eventSourceARN"]
    assert failures(handler_for(events_module.picky)(event, lambda_context)) == ["m0", "m1", "m2"]


def test_a_standard_queue_carries_on_after_a_failure(adapter, events_module, lambda_context) -> None:
    event = sqs_batch(adapter, [{"n": 0}, {"do": "retry"}, {"n": 2}])
    assert failures(handler_for(events_module.picky)(event, lambda_context)) == ["m1"]


def test_an_undecodable_record_fails_alone(adapter, events_module, lambda_context) -> None:
    event = adapter.load_event("sqsUndecodableEvent.json")
    delivery = deliver(spec_of(events_module.ack), event, lambda_context)
    assert [r.outcome for r in delivery.results] == [DEAD_LETTER, ACK, DEAD_LETTER]
    assert delivery.results[1].value["event"]["data"] == {"item": "pen"}
    assert failures(delivery.response) == ["bad-0000-0000-0000-000000000001", "bad-0000-0000-0000-000000000003"]
    assert "'id' is missing" in (delivery.results[0].reason or "")


def test_an_undecodable_record_in_a_fifo_batch_stops_the_rest(adapter, events_module, lambda_context) -> None:
    event = sqs_batch(adapter, [{"n": 0}, {"specversion": "1.0"}, {"n": 2}], fifo=True)
    assert failures(handler_for(events_module.picky)(event, lambda_context)) == ["m1", "m2"]


def test_context_from_the_lambda_context_and_the_sqs_record(adapter, events_module, lambda_context) -> None:
    event = adapter.load_event("sqsDlqTriggerEvent.json")  # ApproximateReceiveCount 2
    result = deliver(spec_of(events_module.ack), event, lambda_context).results[0]
    seen = result.value
    assert seen["attempt"] == 2
    assert seen["invocation_id"] == lambda_context.aws_request_id
    assert seen["function_name"] == "ack" and seen["provider"] == "aws"  # the portable name, not Lambda's
    assert 0 < seen["remaining_ms"] <= 30_000  # the context's deadline, however long the call took
    assert seen["message_id"] == "db37cc61-1bb0-4e77-b6f3-7cf87f44a72a"


def test_message_attributes_reach_the_context(adapter, events_module, lambda_context) -> None:
    result = deliver(spec_of(events_module.ack), adapter.load_event("sqsEvent.json"), lambda_context).results[0]
    assert result.value["attributes"] == {"testAttr": "100"}


def with_content_type(record: dict[str, Any], value: str) -> dict[str, Any]:
    record["messageAttributes"] = {
        "content-type": {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    return record


def test_a_content_type_attribute_declares_the_media_type_of_an_sqs_body(
    adapter, events_module, lambda_context
) -> None:
    """Rule 1 of the portability contract: the declared type wins over what the body looks like, and it
    is the body's media type, not a custom attribute."""
    event = sqs_batch(adapter, ["42", '{"a": 1}', '{"a": 1}'])
    for record, declared in zip(event["Records"], ["text/plain", "application/octet-stream", "application/json"]):
        with_content_type(record, declared)
    results = deliver(spec_of(events_module.ack), event, lambda_context).results
    seen = [
        (r.value["event"]["datacontenttype"], r.value["event"].get("data", r.value["event"].get("data_base64")))
        for r in results
    ]
    assert seen == [("text/plain", "42"), ("application/octet-stream", "eyJhIjogMX0="), ("application/json", {"a": 1})]
    assert [r.value["attributes"] for r in results] == [{}, {}, {}]


def test_a_content_type_attribute_declares_the_media_type_of_an_sns_message(
    adapter, events_module, lambda_context
) -> None:
    event = adapter.load_event("snsEvent.json")
    sns = event["Records"][0]["Sns"]
    sns["Message"], sns["MessageAttributes"] = "[1, 2]", {"content-type": {"Type": "String", "Value": "text/csv"}}
    [result] = deliver(spec_of(events_module.ack_topic), event, lambda_context).results
    assert (result.value["event"]["datacontenttype"], result.value["event"]["data"]) == ("text/csv", "[1, 2]")
    assert result.value["attributes"] == {}


@pytest.mark.parametrize(
    "body, data, media_type",
    [
        ('{"a": 1}', {"a": 1}, "application/json"),
        ("héllo", "héllo", "text/plain; charset=utf-8"),
        ("\x01\x02 control", b"\x01\x02 control", "application/octet-stream"),
        ("", None, None),
    ],
)
def test_an_undeclared_sqs_body_is_read_as_on_every_cloud(body, data, media_type, adapter, events_module) -> None:
    """`undeclared_data`: JSON, else text without control characters, else bytes; empty is no data."""
    [result] = deliver(spec_of(events_module.native_event), sqs_batch(adapter, [body]), None).results
    assert (result.value.data, result.value.datacontenttype) == (data, media_type)


def test_the_raw_native_record_stays_reachable(adapter, events_module, lambda_context) -> None:
    results = deliver(spec_of(events_module.native), adapter.load_event("sqsEvent.json"), lambda_context).results
    assert [r.value for r in results] == [
        {"message_id": mid, "records": 2, "request_id": lambda_context.aws_request_id, "type": "NativeInvocation"}
        for mid in ("059f36b4-87a3-44ab-83d2-661975830a7d", "2e1424d4-f796-459a-8184-9c92662be6da")
    ]


def test_no_lambda_context_still_works(adapter, events_module) -> None:
    response = handler_for(events_module.ack)(adapter.load_event("sqsEvent.json"), None)
    assert response == {"batchItemFailures": []}


# -- streams ---------------------------------------------------------------------------------------


def kinesis_batch(adapter: Any, payloads: list[dict[str, Any]]) -> dict[str, Any]:
    template = adapter.load_event("kinesisStreamEvent.json")["Records"][0]
    records = []
    for i, payload in enumerate(payloads):
        record = copy.deepcopy(template)
        record["kinesis"]["sequenceNumber"] = f"seq{i}"
        record["eventID"] = f"shardId-000000000006:seq{i}"
        record["kinesis"]["data"] = base64.b64encode(json.dumps(payload).encode()).decode()
        records.append(record)
    return {"Records": records}


def test_kinesis_stops_at_the_first_failure_and_reports_sequence_numbers(
    adapter, events_module, lambda_context
) -> None:
    event = kinesis_batch(adapter, [{"n": 0}, {"do": "crash"}, {"n": 2}])
    assert failures(handler_for(events_module.picky)(event, lambda_context)) == ["seq1", "seq2"]


def test_kinesis_bad_base64_fails_that_record(adapter, events_module, lambda_context) -> None:
    event = kinesis_batch(adapter, [{"n": 0}, {"n": 1}])
    event["Records"][1]["kinesis"]["data"] = "not base64!"
    delivery = deliver(spec_of(events_module.picky), event, lambda_context)
    assert [r.outcome for r in delivery.results] == [ACK, DEAD_LETTER]
    assert failures(delivery.response) == ["seq1"]


def test_dynamodb_reports_sequence_numbers_in_order(adapter, events_module, lambda_context) -> None:
    event = adapter.load_event("dynamoStreamEvent.json")
    spec = spec_of(events_module.picky)
    assert failures(deliver(spec, event, lambda_context).response) == []
    event["Records"][0].pop("eventID")  # the first record is unreadable: it and the rest are reported
    assert failures(deliver(spec, event, lambda_context).response) == ["111", "222"]


# -- asynchronous sources: one event, a raise asks Lambda to retry -----------------------------------


def test_sns_failure_raises_so_lambda_retries(adapter, events_module, lambda_context) -> None:
    event = adapter.load_event("snsEvent.json")
    handler = handler_for(events_module.on_topic)
    assert handler(event, lambda_context) is None
    event["Records"][0]["Sns"]["Message"] = "fail"
    with pytest.raises(DeliveryFailed, match="on_topic.*95df01b4.*retry"):
        handler(event, lambda_context)


def test_an_unreadable_s3_record_raises_rather_than_being_lost(adapter, events_module, lambda_context) -> None:
    event = adapter.load_event("s3Event.json")
    del event["Records"][0]["responseElements"]
    with pytest.raises(DeliveryFailed, match="dead_letter"):
        handler_for(events_module.on_upload)(event, lambda_context)


@pytest.mark.parametrize("field", ["x-amz-id-2", "x-amz-request-id"])
def test_an_s3_record_without_a_field_is_refused_naming_the_field(
    field, adapter, events_module, lambda_context
) -> None:
    """The reason was a bare `KeyError: 'x-amz-id-2'`."""
    event = adapter.load_event("s3Event.json")
    del event["Records"][0]["responseElements"][field]
    with pytest.raises(DeliveryFailed, match=f"The S3 record has no '{field}' field"):
        handler_for(events_module.on_upload)(event, lambda_context)


@pytest.mark.parametrize(
    "name, expected",
    [
        (
            "s3Event.json",
            {
                "bucket": "lambda-artifacts-deafc19498e3f2df",
                "key": "b21b84d653bb07b05b1e6b33684dc11b",
                "size": 1305107,
                "etag": "b21b84d653bb07b05b1e6b33684dc11b",
                "event": "created",
                "time": "2019-09-03T19:37:27.192Z",
            },
        ),
        (
            "s3EventDecodedKey.json",
            {
                "bucket": "sourcebucket",
                "key": "Happy Face.jpg",
                "size": 1024,
                "etag": "d41d8cd98f00b204e9800998ecf8427e",
                "event": "created",
                "time": "1970-01-01T00:00:00.123Z",
            },
        ),
        (
            "s3EventDeleteObject.json",
            {
                "bucket": "lambda-artifacts-deafc19498e3f2df",
                "key": "b21b84d653bb07b05b1e6b33684dc11b",
                "event": "deleted",
                "time": "2019-09-03T19:37:27.192Z",
            },
        ),
        (
            "s3SqsEvent.json",
            {
                "bucket": "xxx",
                "key": "test.pdf",
                "size": 104681,
                "etag": "2e3ad1e983318bbd8e73b080e2997980",
                "event": "created",
                "time": "2023-04-12T20:43:38.021Z",
            },
        ),
        (
            "s3EventBridgeNotificationObjectCreatedEvent.json",
            {
                "bucket": "example-bucket",
                "key": "IMG_m7fzo3.jpg",
                "size": 184662,
                "etag": "4e68adba0abe2dc8653dc3354e14c01d",
                "event": "created",
                "time": "2023-03-08T17:50:14Z",
            },
        ),
        (
            "s3EventBridgeNotificationObjectDeletedEvent.json",
            {"bucket": "example-bucket", "key": "IMG_m7fzo3.jpg", "event": "deleted", "time": "2021-11-12T00:00:00Z"},
        ),
    ],
)
def test_storage_object_reads_s3_events(name, expected, adapter, events_module, lambda_context) -> None:
    results = deliver(spec_of(events_module.on_upload), adapter.load_event(name), lambda_context).results
    assert [r.value for r in results] == [expected]


@pytest.mark.parametrize(
    "name, due",
    [
        ("eventBridgeScheduledEvent.json", "2015-10-08T16:53:06Z"),
        ("schedulerScheduledEvent.json", "2024-05-01T03:00:00Z"),
    ],
)
def test_schedule_tick_is_the_event_time_and_the_declared_schedule(
    name, due, adapter, events_module, lambda_context
) -> None:
    """The event names the rule or schedule (deploy's physical name) but not its expression: both come from
    the declaration, as on every cloud."""
    results = deliver(spec_of(events_module.on_tick), adapter.load_event(name), lambda_context).results
    assert [r.value for r in results] == [{"scheduled_time": due, "schedule": "rate(5 minutes)", "name": "on_tick"}]


def test_a_cloudevent_in_the_json_format_is_delivered_as_it_is(events_module, lambda_context) -> None:
    event = {
        "specversion": "1.0",
        "id": "tick-1",
        "source": "//scheduler/sweep",
        "type": "com.example.tick",
        "time": "2024-05-01T03:00:00Z",
        "data": {"schedule": "rate(5 minutes)"},
    }
    results = deliver(spec_of(events_module.on_tick), event, lambda_context).results
    assert results[0].value == {"scheduled_time": "2024-05-01T03:00:00Z", "schedule": "rate(5 minutes)"}


def test_carried_cloudevents_arrive_identical(adapter, events_module, lambda_context) -> None:
    results = deliver(
        spec_of(events_module.ack), adapter.load_event("sqsCloudEventsEvent.json"), lambda_context
    ).results
    assert [r.value["event"]["id"] for r in results] == ["order-7", "order-8"]
    assert results[0].value["event"]["hop"] == 1  # extensions survive
    assert [r.value["attempt"] for r in results] == [1, 2]  # the transport's delivery count still counts


# -- events of the wrong kind ------------------------------------------------------------------------


def test_an_unknown_event_says_what_the_adapter_reads(events_module, lambda_context) -> None:
    with pytest.raises(InvalidEventError, match="does not recognise.*keys: foo"):
        handler_for(events_module.ack)({"foo": 1}, lambda_context)


def test_an_http_event_for_a_queue_function_is_refused(adapter, events_module, lambda_context) -> None:
    with pytest.raises(InvalidEventError, match="'ack' on aws has a queue trigger.*HTTP event"):
        handler_for(events_module.ack)(adapter.load_event("albEvent.json"), lambda_context)


def test_a_queue_event_for_an_http_function_is_refused(adapter, web_module, lambda_context) -> None:
    with pytest.raises(InvalidEventError, match="'echo' on aws has a http trigger.*SQS event"):
        handler_for(web_module.echo)(adapter.load_event("sqsEvent.json"), lambda_context)


CARRIED = {"specversion": "1.0", "id": "c-1", "source": "//other/cloud", "type": "com.example.moved", "data": {"n": 1}}


def test_nested_envelopes_unwrap_to_what_they_carry(adapter, events_module, lambda_context) -> None:
    s3_record = adapter.load_event("s3Event.json")["Records"][0]
    sns_envelope = json.loads(adapter.load_event("snsSqsEvent.json")["Records"][0]["body"])
    sns_envelope["Message"] = json.dumps({"Records": [s3_record]})  # S3 -> SNS -> SQS
    event = sqs_batch(adapter, [json.dumps(sns_envelope), json.dumps({**sns_envelope, "Message": json.dumps(CARRIED)})])
    results = deliver(spec_of(events_module.ack), event, lambda_context).results
    assert results[0].value["event"]["type"] == "com.amazonaws.s3.ObjectCreated:Put"
    assert results[0].value["event"]["subject"] == "b21b84d653bb07b05b1e6b33684dc11b"
    assert results[1].value["event"] == CARRIED


def test_kinesis_and_eventbridge_carry_cloudevents_too(adapter, events_module, lambda_context) -> None:
    stream = kinesis_batch(adapter, [CARRIED])
    bus = {**adapter.load_event("eventBridgeEvent.json"), "detail": CARRIED}
    assert deliver(spec_of(events_module.ack), stream, lambda_context).results[0].value["event"] == CARRIED
    assert deliver(spec_of(events_module.ack_topic), bus, lambda_context).results[0].value["event"] == CARRIED


@pytest.mark.parametrize(
    ("function", "payload", "said"),
    [
        ("on_tick", "sqsEvent.json", "a schedule trigger but Lambda invoked it with an SQS event"),
        ("ack", "snsEvent.json", "a queue trigger but Lambda invoked it with an SNS event"),
        ("ack", "s3Event.json", "a queue trigger but Lambda invoked it with an S3 event"),
        ("ack", "eventBridgeEvent.json", "a queue trigger but Lambda invoked it with an EventBridge event"),
        ("on_topic", "s3Event.json", "a topic trigger but Lambda invoked it with an S3 event"),
        ("on_upload", "kinesisStreamEvent.json", "a storage trigger but Lambda invoked it with a Kinesis event"),
        ("on_tick", "s3Event.json", "a schedule trigger but Lambda invoked it with an S3 event"),
        # EventBridge: a schedule function takes ticks, a storage function S3's object events
        ("on_tick", "s3EventBridgeNotificationObjectCreatedEvent.json", "whose detail-type is 'Object Created'"),
        ("on_tick", "eventBridgeEvent.json", "whose detail-type is 'EC2 Instance State-change Notification'"),
        ("on_upload", "eventBridgeEvent.json", "a storage trigger but Lambda invoked it with an EventBridge event"),
    ],
)
def test_an_event_wired_to_the_wrong_kind_of_function_is_refused_whole_never_acknowledged(
    function, payload, said, adapter, events_module, lambda_context
) -> None:
    """A schedule function ran its handler for each SQS message and acknowledged it (the messages were gone); an
    untyped queue function did the same for an S3 notification. Raised, Lambda keeps the event for its retries
    and dead-letter queue."""
    with pytest.raises(InvalidEventError, match=said):
        handler_for(getattr(events_module, function))(adapter.load_event(payload), lambda_context)


# -- a malformed record fails alone, never the whole invocation ----------------------------------------
# Each of these raised out of `lambda_handler` before (so Lambda retried the whole batch, acknowledged
# records included): the record is now failed alone, reported by its id where one can be read.


def test_a_record_that_is_not_an_object_fails_alone(adapter, events_module, lambda_context) -> None:
    event = sqs_batch(adapter, [{"n": 0}, {"n": 1}])
    event["Records"].insert(1, "not a record")
    delivery = deliver(spec_of(events_module.picky), event, lambda_context)
    assert [r.outcome for r in delivery.results] == [ACK, DEAD_LETTER, ACK]
    assert "Record 1 of the SQS event is a str, not an object" in (delivery.results[1].reason or "")
    assert failures(delivery.response) == [""]  # no id to name: Lambda retries the whole batch


def test_a_first_record_that_is_not_an_object_does_not_hide_the_source(adapter, events_module, lambda_context) -> None:
    event = sqs_batch(adapter, [{"n": 0}, {"do": "retry"}])
    event["Records"].insert(0, 7)
    assert failures(handler_for(events_module.picky)(event, lambda_context)) == ["", "m1"]


@pytest.mark.parametrize("field", ["kinesis", "dynamodb"])
def test_a_stream_record_of_the_wrong_type_fails_alone(field, adapter, events_module, lambda_context) -> None:
    event = adapter.load_event("kinesisStreamEvent.json" if field == "kinesis" else "dynamoStreamEvent.json")
    event["Records"][1][field] = "not an object"
    delivery = deliver(spec_of(events_module.ack), event, lambda_context)
    assert [r.outcome for r in delivery.results][:2] == [ACK, DEAD_LETTER]
    assert f"'{field}' must be an object, got str" in (delivery.results[1].reason or "")
    assert failures(delivery.response)[0] == ""  # its sequence number cannot be read


def test_an_event_source_that_is_not_a_string_is_read_as_the_trigger_source(
    adapter, events_module, lambda_context
) -> None:
    event = sqs_batch(adapter, [{"n": 0}, {"n": 1}])
    event["Records"][0]["eventSource"] = ["aws:sqs"]
    assert failures(handler_for(events_module.picky)(event, lambda_context)) == []


@pytest.mark.parametrize("named", ["aws:kinesis", "aws:dynamodb", "aws:sns", "aws:s3"])
@pytest.mark.parametrize("position", [0, 1])
def test_a_record_naming_another_source_does_not_decide_how_the_batch_is_read(
    named, position, adapter, events_module, lambda_context
) -> None:
    # Lambda sends one source's records in an event: one record that names another is one malformed record.
    # Named first, it read the whole SQS batch as Kinesis (every record failed, so Lambda retried them all
    # for ever) or raised out of the handler (SNS, S3).
    event = sqs_batch(adapter, [{"n": 0}, {"do": "retry"}, {"n": 2}])
    event["Records"][position]["eventSource"] = named
    delivery = deliver(spec_of(events_module.picky), event, lambda_context)
    assert delivery.error is None and delivery.source == "SQS"
    assert failures(delivery.response) == ["m1"]


def test_a_stream_wired_to_a_queue_function_is_still_read_as_the_stream(adapter, events_module, lambda_context) -> None:
    event = adapter.load_event("kinesisStreamEvent.json")
    delivery = deliver(spec_of(events_module.picky), event, lambda_context)
    assert delivery.source == "Kinesis" and failures(delivery.response) == []


@pytest.mark.parametrize("count", ["1025", "100000", str(10**30)])
def test_a_huge_receive_count_waits_the_longest_delay_and_raises_nothing(count, events_module) -> None:
    # ApproximateReceiveCount 1025 made the backoff overflow a float (OverflowError out of lambda_handler).
    from portable_fn_aws import visibility

    from portable_fn.runtime.outcomes import Result

    spec = spec_of(events_module.picky)
    longest = visibility.clamp(spec.options.retry_policy.backoff.max_s)
    assert visibility.delay_s(spec, Result(RETRY, error=Retry("again")), int(count)) == longest


@pytest.mark.parametrize("value", [{"stringValue": 5}, {"binaryValue": ["a"]}, {"stringValue": {"a": 1}}])
def test_an_sqs_message_attribute_that_is_not_a_string_fails_alone(
    value, adapter, events_module, lambda_context
) -> None:
    # It reached ctx.message.attributes as an int (or a list, a dict).
    event = sqs_batch(adapter, [{"n": 0}, {"n": 1}])
    event["Records"][0]["messageAttributes"] = {"k": {"dataType": "String", **value}}
    delivery = deliver(spec_of(events_module.picky), event, lambda_context)
    assert failures(delivery.response) == ["m0"] and [r.outcome for r in delivery.results] == [DEAD_LETTER, ACK]
    assert "SQS message attribute 'k' must hold a string value" in (delivery.results[0].reason or "")


def test_an_sqs_body_that_is_not_a_string_fails_alone(adapter, events_module, lambda_context) -> None:
    event = sqs_batch(adapter, [{"n": 0}, {"n": 1}])
    event["Records"][0]["body"] = {"n": 0}
    delivery = deliver(spec_of(events_module.picky), event, lambda_context)
    assert failures(delivery.response) == ["m0"]
    assert "The SQS 'body' must be a string, got dict" in (delivery.results[0].reason or "")


@pytest.mark.parametrize("records", [None, 5, "x", {"messageId": "m0"}])
def test_records_that_are_not_a_list_fail_the_batch_without_an_exception(
    records, events_module, lambda_context
) -> None:
    delivery = deliver(spec_of(events_module.picky), {"Records": records}, lambda_context)
    assert delivery.response == {"batchItemFailures": [{"itemIdentifier": ""}]}
    assert "'Records' must be a list" in (delivery.results[0].reason or "")


def test_records_that_are_not_a_list_make_an_asynchronous_source_retry(events_module, lambda_context) -> None:
    with pytest.raises(DeliveryFailed, match="'Records' must be a list, got int"):
        handler_for(events_module.on_topic)({"Records": 5}, lambda_context)


def test_an_empty_batch_is_acknowledged(events_module, lambda_context) -> None:
    assert handler_for(events_module.picky)({"Records": []}, lambda_context) == {"batchItemFailures": []}


# -- trace context from what Lambda carries ----------------------------------------------------------


def test_lambdas_sampled_trace_header_is_the_parent_of_a_request_without_one(
    adapter: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portable_fn.runtime import Context, Request, function, http

    @function(trigger=http("GET", "/trace"))
    def traced(request: Request, ctx: Context) -> dict[str, Any]:
        return {"trace": ctx.trace.trace_id, "parent": ctx.trace.parent_id, "span": ctx.trace.span_id}

    event = adapter.load_event("apiGatewayProxyV2Event_GET.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/trace"
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    seen = json.loads(make_handler(spec_of(traced))(event, lambda_context)["body"])
    assert (seen["trace"], seen["parent"]) == ("5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8")
    assert len(seen["span"]) == 16 and seen["span"] != "53995c3f42cd8ad8"  # the invocation's own span

    event["headers"]["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    seen = json.loads(make_handler(spec_of(traced))(event, lambda_context)["body"])
    assert (seen["trace"], seen["parent"]) == ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")  # the caller


def test_an_sqs_records_aws_trace_header_is_its_producer(adapter: Any, lambda_context: Any) -> None:
    from portable_fn.runtime import CloudEvent, Context, function, queue

    @function(trigger=queue("orders"))
    def traced(event: CloudEvent, ctx: Context) -> tuple[str, str | None, list[str]]:
        return ctx.trace.trace_id, ctx.trace.parent_id, [link.span_id for link in ctx.trace.links]

    batch = sqs_batch(adapter, [{"n": 1}])
    batch["Records"][0]["attributes"]["AWSTraceHeader"] = (
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    )
    (result,) = deliver(spec_of(traced), batch, lambda_context).results
    assert result.value == ("5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", ["53995c3f42cd8ad8"])
