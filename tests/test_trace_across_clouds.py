"""One trace across clouds (issue 13 §7): an HTTP request to `dev` -> an SQS batch into the AWS shim's
`lambda_handler` -> Pub/Sub pushes into the GCP entry under functions-framework -> Storage Queue messages
into the Azure function, the app in tests/apps/trace_relay relaying an order.

Each hop's native delivery is built as that cloud builds it, with the portability contract's builders
(tests/portability/portability_contract), plus the trace context each transport carries: SQS's
AWSTraceHeader system attribute, Pub/Sub's googclient_traceparent attribute; and the platform's own trace
header for its delivery, which must not cut the trace: Lambda's `_X_AMZN_TRACE_ID`, the front end's
X-Cloud-Trace-Context and traceparent on a push request, the Azure host's context (a new trace for a queue
message). Every span is checked with the SDK's in-memory exporter and as an OTLP collector receives it.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from portable_fn_aws.shim import make_handler
from portable_fn_gcp.shim import generate_main

from portable_fn import otel
from portable_fn.app import App, load_app
from portable_fn.local.host import LocalHost
from portable_fn.runtime import CloudEvent, pipeline
from portable_fn.runtime.http_binding import STRUCTURED
from portable_fn.runtime.tracing import from_traceparent

from .otlp_receiver import OtlpReceiver, otlp_receiver

sys.path.insert(0, str(Path(__file__).with_name("portability")))  # the contract's builders, as its conftest does
from portability_contract import aws, azure, gcp
from portability_contract.events import Message

RELAY = Path(__file__).with_name("apps") / "trace_relay"
CLIENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"  # the W3C spec's example: the caller
TRACE = CLIENT[3:35]
# What each platform says about its own delivery (new traces, recorded): never the parent of a message.
LAMBDA_OWN = "Root=1-6620f3a1-9d3c4b5a6f7e8d9c0b1a2f3e;Parent=4c1d2e3f4a5b6c7d;Sampled=1"
FRONT_END = {
    "traceparent": "00-5d0fb7fb5b5b4c0da6f4cbd33ecb3b9a-1c5cd0a4d4fb2a11-01",
    "X-Cloud-Trace-Context": "5d0fb7fb5b5b4c0da6f4cbd33ecb3b9a/2043402455243032081;o=1",
}
AZURE_HOST = "00-8c3f1a3b4e1d4f0e9a3c2b1d0e9f8a7b-7a6b5c4d3e2f1a0b-01"


class Telemetry:
    def __init__(self, memory: InMemorySpanExporter, receiver: OtlpReceiver) -> None:
        self.memory, self.receiver = memory, receiver


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    memory = InMemorySpanExporter()
    with otlp_receiver() as receiver:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        exporter = OTLPSpanExporter(endpoint=receiver.endpoint + "/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
        before = pipeline.middleware()
        otel.install(provider, MeterProvider())
        try:
            yield Telemetry(memory, receiver)
        finally:
            for registered in pipeline.middleware():
                if registered not in before:  # what the runtime registered stays
                    pipeline.remove(registered)
            provider.shutdown()


@pytest.fixture
def app() -> App:
    return load_app(RELAY)  # puts the app's directory on sys.path: trace_relay is importable


def test_one_trace_from_dev_over_aws_and_gcp_to_azure(
    app: App, telemetry: Telemetry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = sys.modules["trace_relay"]  # the app's module: what each handler saw and sent
    relay.SEEN.clear()
    relay.OUTBOX.clear()
    _checkout_in_dev(app, tmp_path)
    _reserve_on_aws(app, _sent(relay, "lines"), monkeypatch)
    _pack_on_gcp(app, _sent(relay, "packing"), tmp_path, monkeypatch)
    _ship_on_azure(app, _sent(relay, "shipping"), tmp_path)

    spans = _by_name(telemetry.memory.get_finished_spans())
    [checkout], [reserve], packs, ships = (spans["POST /checkout"], spans["reserve"], spans["pack"], spans["ship"])
    assert (len(packs), len(ships)) == (2, 2)
    every = [checkout, reserve, *packs, *ships]
    assert {_hex(s.context.trace_id, 32) for s in every} == {TRACE}  # one trace, from the client on

    # each hop's parent is the hop that sent to it
    assert _parent(checkout) == CLIENT[36:52]
    assert _parent(reserve) == _id(checkout)
    assert [_parent(p) for p in packs] == [_id(reserve)] * 2
    sender_of = {event.id: trace.span_id for name, trace, event in relay.SEEN if name == "pack"}
    assert sorted(_parent(s) for s in ships) == sorted(sender_of.values())
    for name, trace, event in relay.SEEN:
        if name == "ship":
            assert trace.parent_id == sender_of[event.data["line"]]

    # the batch's records are linked to their producer; so is each single message
    assert [_hex(link.context.span_id, 16) for link in reserve.links] == [_id(checkout)] * 2
    assert [[_hex(link.context.span_id, 16) for link in p.links] for p in packs] == [[_id(reserve)]] * 2

    # what each handler saw as ctx.trace is its span
    seen_ids = {(name, trace.span_id) for name, trace, _ in relay.SEEN}
    assert seen_ids == {(s.name.split()[-1].lstrip("/"), _id(s)) for s in every}

    # the order's CloudEvent traceparent still names where it started; the parcel's, where it did
    lines = [event for name, _, event in relay.SEEN if name in ("reserve", "pack")]
    assert len(lines) == 4 and {e.extensions["traceparent"] for e in lines} == {f"00-{TRACE}-{_id(checkout)}-01"}
    parcels = [event for name, _, event in relay.SEEN if name == "ship"]
    assert {e.extensions["traceparent"] for e in parcels} == {f"00-{TRACE}-{_id(p)}-01" for p in packs}

    assert (checkout.kind, reserve.kind, packs[0].kind, ships[0].kind) == (
        SpanKind.SERVER,
        SpanKind.CONSUMER,
        SpanKind.CONSUMER,
        SpanKind.CONSUMER,
    )
    assert [(s.attributes or {}).get("cloud.provider") for s in (checkout, reserve, packs[0], ships[0])] == [
        None,
        "aws",
        "gcp",
        "azure",
    ]

    # an OTLP collector received the same spans, each flushed before its invocation returned
    received = {(s.name, s.trace_id, s.span_id, s.parent_id, s.links) for s in telemetry.receiver.spans}
    assert received == {
        (
            s.name,
            _hex(s.context.trace_id, 32),
            _id(s),
            _parent(s),
            tuple((_hex(k.context.trace_id, 32), _hex(k.context.span_id, 16)) for k in s.links),
        )
        for s in every
    }


# -- the hops ---------------------------------------------------------------------------------------


def _checkout_in_dev(app: App, tmp_path: Path) -> None:
    """A client's POST to `portable-fn dev`'s host, over HTTP, with its own traceparent."""
    order = {"id": "o-1", "lines": ["book", "lamp"]}
    with LocalHost(app, port=0, state_dir=tmp_path / "dev", log=lambda line: None) as host:
        request = urllib.request.Request(
            host.url + "/checkout",
            data=json.dumps(order).encode(),
            method="POST",
            headers={"content-type": "application/json", "traceparent": CLIENT},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 202


def _reserve_on_aws(
    app: App, sent: list[tuple[CloudEvent[Any], dict[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both lines in one SQS batch, as the event source mapping hands it to `lambda_handler`."""
    monkeypatch.setenv("_X_AMZN_TRACE_ID", LAMBDA_OWN)  # Lambda's own, set for every invocation
    queue_arn = f"arn:aws:sqs:{aws.REGION}:{aws.ACCOUNT}:relay-dev-lines"
    records = [_sqs_record(event, carrier, queue_arn, i) for i, (event, carrier) in enumerate(sent)]
    answer = make_handler(_spec(app, "reserve"))({"Records": records}, aws.LambdaContext("relay-dev-reserve"))
    assert answer == {"batchItemFailures": []}


def _sqs_record(event: CloudEvent[Any], carrier: dict[str, str], queue_arn: str, i: int) -> dict[str, Any]:
    """The contract's SQS record (a structured CloudEvent body), with the AWSTraceHeader system attribute
    SQS adds for a sender that passed one (as the X-Ray and OpenTelemetry SDKs do)."""
    message = Message(event.to_json().encode(), STRUCTURED, id=f"7d4a3b1e-0000-4000-8000-00000000000{i}")
    record: dict[str, Any] = aws.AwsRunner._sqs_record(None, message, queue_arn)  # type: ignore[arg-type]
    record["attributes"]["AWSTraceHeader"] = carrier["AWSTraceHeader"]
    return record


def _pack_on_gcp(
    app: App, sent: list[tuple[CloudEvent[Any], dict[str, str]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each line pushed on its own, as Eventarc's messagePublished event, to functions-framework."""
    source = tmp_path / "gcp" / "main.py"
    source.parent.mkdir()
    source.write_text(generate_main(app), encoding="utf-8")
    deployed = gcp.deployment(app)["pack"]
    for name, value in deployed.env.items():
        monkeypatch.setenv(name, value)
    client = gcp.framework_app("pack", source).test_client(use_cookies=False)
    for i, (event, carrier) in enumerate(sent):
        message = Message(
            event.to_json().encode(),
            STRUCTURED,
            attributes=tuple(carrier.items()),
            id=f"7d4a3b1e-0000-4000-8000-0000000001{i:02d}",
        )
        headers, body = gcp.pubsub_request(message, deployed)
        answer = client.post("/", headers={**headers, **FRONT_END}, data=body)
        assert answer.status_code == 200, answer.get_data(as_text=True)


def _ship_on_azure(app: App, sent: list[tuple[CloudEvent[Any], dict[str, str]]], tmp_path: Path) -> None:
    """Each parcel a Storage Queue message (its body only), through the generated function_app.py."""
    directory = tmp_path / "azure"
    directory.mkdir()
    functions = {f.get_function_name(): f for f in azure._import_function_app(app, directory).app.get_functions()}
    for i, (event, carrier) in enumerate(sent):
        assert carrier == {}  # a Storage Queue message has no attributes: the event carries the context
        native = azure._queue_message(Message(event.to_json().encode(), id=f"5f7c{i:04d}-0000-4000-8000-0000"))
        functions["ship"].get_user_function()(native, azure.PoisonQueue(), HostWithTrace("ship", i + 1))


class HostTraceContext:
    """The worker's TraceContext: the host's own span for the invocation."""

    def __init__(self, trace_parent: str) -> None:
        self.trace_parent, self.trace_state, self.attributes = trace_parent, "", {}


class HostWithTrace(azure.HostContext):
    """The contract's host context, with the trace context the host gives every invocation."""

    trace_context = property(lambda self: HostTraceContext(AZURE_HOST))


# -- helpers ----------------------------------------------------------------------------------------


def _sent(relay: Any, to: str) -> list[tuple[CloudEvent[Any], dict[str, str]]]:
    found = [(event, carrier) for target, event, carrier in relay.OUTBOX if target == to]
    assert found, f"nothing was sent to {to}"
    return found


def _spec(app: App, name: str) -> Any:
    return next(spec for spec in app.functions if spec.name == name)


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        found.setdefault(span.name, []).append(span)
    return found


def _hex(value: int, width: int) -> str:
    return f"{value:0{width}x}"


def _id(span: ReadableSpan) -> str:
    return _hex(span.context.span_id, 16)


def _parent(span: ReadableSpan) -> str | None:
    return _hex(span.parent.span_id, 16) if span.parent is not None else None


def test_the_platform_headers_used_here_are_valid() -> None:
    """So the test shows they are passed over, not that they were unreadable."""
    from portable_fn.runtime.tracing import context_from

    assert context_from({"x-amzn-trace-id": LAMBDA_OWN}) is not None
    assert from_traceparent(FRONT_END["traceparent"]) is not None
    assert context_from({"x-cloud-trace-context": FRONT_END["X-Cloud-Trace-Context"]}) is not None
    assert from_traceparent(AZURE_HOST) is not None
