"""The `gcp` provider: found through the entry point, checks an app against what Cloud Functions can
honour, and runs native events through the shim (`portable-fn invoke --provider gcp`)."""

from __future__ import annotations

import base64
import json
import types
from typing import Any

import pytest
from portable_fn_gcp.provider import GcpProvider

from portable_fn.provider import load_provider
from portable_fn.runtime import FunctionOptions, FunctionSpec, queue, spec_of
from portable_fn.runtime.errors import UnsupportedTriggerError


def test_the_entry_point_loads_the_gcp_provider() -> None:
    provider = load_provider("gcp", {"project": "p", "region": "europe-west1"})
    assert isinstance(provider, GcpProvider) and provider.name == "gcp"
    assert provider.settings == {"project": "p", "region": "europe-west1"}


def fake_app(handler: Any, **options: Any) -> Any:
    spec = spec_of(handler)
    return types.SimpleNamespace(name="probe", functions=[spec],
                                 options=lambda s: FunctionOptions(s.name, **options))


@pytest.mark.parametrize("name, options, message", [
    ("record", {"timeout_s": 600}, "timeout_s=600 is over the limit of 540 seconds"),
    ("record", {"architecture": "arm64"}, "Cloud Functions runs on x86_64 only"),
])
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
    out = GcpProvider().invoke(probe_app, probe_app.function("echo"),
                               {"method": "post", "path": "/items/9", "query": "a=1&a=2", "body": "hi",
                                "headers": {"cookie": "k=v"}})
    assert out["status"] == 201 and out["response"]["headers"]["set-cookie"] == ["a=1", "b=2"]
    assert json.loads(out["response"]["body"])["query"] == [["a", "1"], ["a", "2"]]


def test_invoke_an_event_function_with_an_eventarc_event(probe_app, seen) -> None:
    message = {"data": base64.b64encode(b'{"do": "retry"}').decode(), "messageId": "m-9"}
    event = {"specversion": "1.0", "id": "m-9", "source": "//pubsub.googleapis.com/projects/p/topics/t",
             "type": "google.cloud.pubsub.topic.v1.messagePublished", "data": {"message": message}}
    out = GcpProvider().invoke(probe_app, probe_app.function("record"), event)
    assert out == {"function": "record", "status": 500, "reason": "asked to retry",
                   "results": [{"outcome": "retry", "id": "m-9", "reason": "asked to retry"}]}
    assert seen()["event"]["id"] == "m-9"
