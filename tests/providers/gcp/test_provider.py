"""The `gcp` provider: found through the entry point, checks an app against what Cloud Functions can
honour, and runs native events through the shim (`portable-fn invoke --provider gcp`)."""

from __future__ import annotations

import base64
import json
import re
import types
from typing import Any

import pytest
from portable_fn_gcp.provider import GcpProvider

from portable_fn.provider import load_provider
from portable_fn.runtime import FunctionOptions, FunctionSpec, queue, spec_of
from portable_fn.runtime.errors import InvalidEventError, UnsupportedTriggerError

from .test_conformance import CONFORMANCE, EXPECTED


def test_the_entry_point_loads_the_gcp_provider() -> None:
    provider = load_provider("gcp", {"project": "p", "region": "europe-west1"})
    assert isinstance(provider, GcpProvider) and provider.name == "gcp"
    assert provider.settings == {"project": "p", "region": "europe-west1"}


def fake_app(handler: Any, **options: Any) -> Any:
    spec = spec_of(handler)
    return types.SimpleNamespace(name="probe", functions=[spec], options=lambda s: FunctionOptions(s.name, **options))


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("record", {"timeout_s": 600}, "timeout_s=600 is over the limit of 540 seconds"),
        ("record", {"architecture": "arm64"}, "Cloud Functions runs on x86_64 only"),
    ],
)
def test_check_rejects_what_cloud_functions_cannot_run(name, options, message, probe_app) -> None:
    with pytest.raises(UnsupportedTriggerError, match=message):
        GcpProvider().check(fake_app(probe_app.function(name).handler, **options))


def test_check_rejects_ordered_queues_and_accepts_the_probe(probe_app) -> None:
    handler = probe_app.function("record").handler
    ordered = FunctionSpec("ordered", handler, queue("jobs.fifo", fifo=True), FunctionOptions("ordered"))
    app = types.SimpleNamespace(name="probe", functions=[ordered], options=lambda s: s.options)
    with pytest.raises(UnsupportedTriggerError, match="deliver without ordering"):
        GcpProvider().check(app)
    GcpProvider().check(probe_app)
    GcpProvider().check(fake_app(probe_app.function("echo").handler, timeout_s=3600))


def test_invoke_an_http_function(probe_app) -> None:
    out = GcpProvider().invoke(
        probe_app,
        probe_app.function("echo"),
        {"method": "post", "path": "/items/9", "query": "a=1&a=2", "body": "hi", "headers": {"cookie": "k=v"}},
    )
    assert out["status"] == 201 and out["response"]["headers"]["set-cookie"] == ["a=1", "b=2"]
    assert json.loads(out["response"]["body"])["query"] == [["a", "1"], ["a", "2"]]


def test_invoke_an_event_function_with_an_eventarc_event(probe_app, seen) -> None:
    message = {"data": base64.b64encode(b'{"do": "retry"}').decode(), "messageId": "m-9"}
    event = {
        "specversion": "1.0",
        "id": "m-9",
        "source": "//pubsub.googleapis.com/projects/p/topics/t",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "data": {"message": message},
    }
    out = GcpProvider().invoke(probe_app, probe_app.function("record"), event)
    assert out == {
        "function": "record",
        "status": 500,
        "reason": "asked to retry",
        "results": [{"outcome": "retry", "id": "m-9", "reason": "asked to retry"}],
    }
    assert seen()["event"]["id"] == "m-9"


def test_invoke_a_schedule_with_the_message_its_cloud_scheduler_job_publishes(probe_app, seen) -> None:
    job = json.dumps({"name": "probe-dev-tick", "schedule": "rate(5 minutes)"}).encode()
    message = {"data": base64.b64encode(job).decode(), "messageId": "m-5", "publishTime": "2024-05-01T03:05:00.25Z"}
    event = {
        "specversion": "1.0",
        "id": "m-5",
        "source": "//pubsub.googleapis.com/projects/p/topics/probe-dev-tick",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "data": {"message": message},
    }
    out = GcpProvider().invoke(probe_app, probe_app.function("tick"), event)
    assert out["status"] == 200
    got = seen()
    assert got["tick"] == {"scheduled_time": "2024-05-01T03:05:00Z", "schedule": "rate(5 minutes)", "name": "tick"}
    assert (got["time"], got["message"]) == ("2024-05-01T03:05:00Z", None)


# -- invoke takes what the deployed function can be sent ------------------------------------------------


def conformance(name: str) -> Any:
    return json.loads((CONFORMANCE / name).read_text(encoding="utf-8"))


def test_invoke_takes_a_binary_mode_request(probe_app, seen) -> None:
    """What Eventarc sends, as an HTTP description: `ce-*` headers (percent-decoded) and the body."""
    envelope = conformance("pubsub_text-cloudevent-input.json")
    headers = {f"ce-{k}": v for k, v in envelope.items() if k not in ("data", "datacontenttype")}
    headers.update({"ce-id": "caf%C3%A9-1", "content-type": "application/json"})
    out = GcpProvider().invoke(probe_app, probe_app.function("record"), {"headers": headers, "body": envelope["data"]})
    assert out["status"] == 200 and out["results"][0]["outcome"] == "ack"
    assert seen()["event"] == json.loads((EXPECTED / "pubsub_text.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", ["storage", "legacy_pubsub", "firestore_simple"])
def test_invoke_takes_a_legacy_event_as_functions_framework_converts_it(case, probe_app, seen) -> None:
    function = "uploaded" if case == "storage" else "record"
    out = GcpProvider().invoke(probe_app, probe_app.function(function), conformance(f"{case}-legacy-input.json"))
    if case == "firestore_simple":  # a Firestore event is not what a topic trigger is deployed for
        assert "google.cloud.firestore.document.v1.written" in out["skipped"][0]["reason"]
        assert seen() is None
        return
    assert out["status"] == 200 and out["results"][0]["outcome"] == "ack"
    got = seen()
    if case == "storage":
        assert got["object"]["key"] == "folder/Test.cs"
    else:
        assert got["event"] == json.loads((EXPECTED / f"{case}.json").read_text(encoding="utf-8"))


def test_invoke_takes_a_pubsub_push_body(probe_app, seen) -> None:
    push = conformance("pubsub_text-cloudevent-input.json")["data"]
    out = GcpProvider().invoke(probe_app, probe_app.function("record"), {**push, "deliveryAttempt": 2})
    assert out["status"] == 200 and out["results"][0]["outcome"] == "ack"
    got = seen()
    assert got["event"]["data"] == "test message 3" and got["attempt"] == 2
    assert got["message"]["subscription"] == "projects/sample-project/subscriptions/sample-subscription"


def test_invoke_skips_what_the_deployed_trigger_would_not_deliver(probe_app, seen, capsys, tmp_path) -> None:
    """`storage("some-bucket")` is deployed for finalized events: a delete event does not run it, and that
    is no failure (the CLI exits 0)."""
    deleted = {**conformance("storage-cloudevent-input.json"), "type": "google.cloud.storage.object.v1.deleted"}
    out = GcpProvider().invoke(probe_app, probe_app.function("uploaded"), deleted)
    assert out["results"] == [] and out["status"] == 200 and out["skipped"][0]["id"] == deleted["id"]
    assert "google.cloud.storage.object.v1.deleted" in out["skipped"][0]["reason"] and seen() is None
    elsewhere = conformance("storage-cloudevent-input.json")
    elsewhere["data"]["name"] = "other/Test.cs"
    outside = GcpProvider().invoke(probe_app, probe_app.function("stored"), elsewhere)  # prefix="folder/"
    assert outside["results"] == [] and "prefix" in outside["skipped"][0]["reason"]
    assert invoke_cli(probe_app, "uploaded", deleted, tmp_path, capsys)[0] == 0


@pytest.mark.parametrize(
    "event, words",
    [
        ([1, 2], "pass a JSON object, not a list"),
        ({"hello": "world"}, "An event function takes a CloudEvent in the JSON format"),
        ({"headers": {"ce-specversion": 1}, "body": ""}, "'headers' must be an object of string values"),
        ({"headers": {"ce-specversion": "1.0"}, "body_base64": "!!"}, "cannot be read (Error"),
        (
            {"headers": {"ce-specversion": "1.0", "ce-id": "%FF", "ce-source": "/s", "ce-type": "t"}, "body": ""},
            "Header 'ce-id' is not valid percent-encoded UTF-8",
        ),
        (
            {"message": {"data": 5, "messageId": "m"}, "subscription": "projects/p/subscriptions/s"},
            "message.data must be a base64 string, got int",
        ),
        ({"context": {"eventType": "nope"}, "data": {}}, "the legacy event cannot be converted"),
        (
            {
                "specversion": "1.0",
                "id": "m",
                "source": "//pubsub.googleapis.com/projects/p/topics/t",
                "type": "google.cloud.pubsub.topic.v1.messagePublished",
                "data": {"message": {"attributes": {"n": 1}}},
            },
            "message.attributes must map strings to strings",
        ),
    ],
)
def test_invoke_answers_what_it_cannot_read_as_a_failure(event, words, probe_app, seen, capsys, tmp_path) -> None:
    out = GcpProvider().invoke(probe_app, probe_app.function("record"), event)
    assert out["status"] == 400 and words in out["reason"]
    assert [r["outcome"] for r in out["results"]] == ["dead_letter"] and seen() is None
    code, printed, errors = invoke_cli(probe_app, "record", event, tmp_path, capsys)
    assert code == 1 and json.loads(printed)["status"] == 400 and "Traceback" not in errors


def test_invoke_of_a_dead_letter_without_a_topic_fails(probe_app, seen, monkeypatch) -> None:
    monkeypatch.delenv("PORTABLE_FN_DEAD_LETTER_TOPIC", raising=False)
    message = {"data": base64.b64encode(b'{"do": "dead"}').decode(), "messageId": "m-3"}
    out = GcpProvider().invoke(
        probe_app, probe_app.function("record"), {"message": message, "subscription": "projects/p/subscriptions/s"}
    )
    assert out["status"] == 500 and "PORTABLE_FN_DEAD_LETTER_TOPIC is not set" in out["reason"]
    assert out["results"][0]["outcome"] == "dead_letter"


@pytest.mark.parametrize(
    "request_, words",
    [
        ([], "not a list"),
        ({"path": "/", "body_base64": "!!"}, "body | body_base64"),
        ({"path": "/", "method": 5}, "are strings"),
        ({"path": "/", "headers": {"x": 1}}, "'headers' must be an object of string values"),
        ({"Records": []}, "this one has no path (its keys: Records)"),  # an SQS event: it was served as GET /
    ],
)
def test_invoke_of_an_http_function_refuses_a_broken_description(request_, words, probe_app) -> None:
    with pytest.raises(InvalidEventError, match=re.escape(words)):
        GcpProvider().invoke(probe_app, probe_app.function("echo"), request_)


def test_invoke_of_an_http_function_answers_only_its_route(probe_app) -> None:
    out = GcpProvider().invoke(probe_app, probe_app.function("crashing-http"), {"method": "GET", "path": "/my/path"})
    assert out["status"] == 404
    assert json.loads(out["response"]["body"]) == {"error": "Nothing serves GET /my/path", "routes": ["GET /boom"]}


def invoke_cli(app: Any, function: str, event: Any, tmp_path: Any, capsys: Any) -> tuple[int, str, str]:
    from portable_fn.cli import main

    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    capsys.readouterr()
    code = main(["invoke", function, str(app.root), "--provider", "gcp", "--event", str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_plan_without_project_and_region_names_both_before_packaging(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from portable_fn.cli import main
    from portable_fn.scaffold import create_app

    for variable in ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "CLOUDSDK_FUNCTIONS_REGION"):
        monkeypatch.delenv(variable, raising=False)
    app = create_app(tmp_path / "orders")
    for command in ("plan", "deploy"):
        assert (
            main(
                [command, str(app), "--provider", "gcp", "--yes"]
                if command == "deploy"
                else [command, str(app), "--provider", "gcp"]
            )
            == 1
        )
        err = capsys.readouterr().err
        assert "Deploying to gcp needs a project and a region: set project = " in err
        assert "GOOGLE_CLOUD_PROJECT or CLOUDSDK_CORE_PROJECT environment variable; region = " in err
        assert "CLOUDSDK_FUNCTIONS_REGION" in err
        assert not (app / ".portable-fn" / "build").exists()  # said before packaging anything
