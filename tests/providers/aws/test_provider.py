"""The `aws` provider: found through the entry point, checks an app against Lambda's limits, and runs
native events through the shim for `portable-fn invoke --provider aws`."""

from __future__ import annotations

import copy
import json
import types
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.provider import AwsProvider

from portable_fn.cli import main
from portable_fn.provider import load_provider
from portable_fn.runtime import FunctionOptions, spec_of
from portable_fn.runtime.channels import Channel
from portable_fn.runtime.errors import UnsupportedTriggerError
from portable_fn.testing import emitted, local_state


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(list(argv))
    out, _ = capsys.readouterr()
    return code, json.loads(out)


def write(tmp_path: Path, name: str, event: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(event), encoding="utf-8")
    return str(path)


def test_the_entry_point_loads_the_aws_provider() -> None:
    provider = load_provider("aws", {"region": "eu-west-1"})
    assert isinstance(provider, AwsProvider) and provider.name == "aws"
    assert provider.settings == {"region": "eu-west-1"}


def fake_app(function: Any, **options: Any) -> Any:
    spec = spec_of(function)
    return types.SimpleNamespace(name="app", functions=[spec], options=lambda s: FunctionOptions(s.name, **options))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"timeout_s": 1200}, "timeout_s=1200 is over Lambda's limit of 900 seconds"),
        ({"memory_mb": 16384}, "memory_mb=16384 is over Lambda's limit of 10240 MB"),
    ],
)
def test_check_rejects_what_lambda_cannot_run(options, message, events_module) -> None:
    with pytest.raises(UnsupportedTriggerError, match=message):
        AwsProvider().check(fake_app(events_module.ack, **options))
    AwsProvider().check(fake_app(events_module.ack, timeout_s=900, memory_mb=10240))


def test_invoke_an_http_function_with_an_api_gateway_event(capsys, shop_copy, tmp_path, adapter) -> None:
    event = adapter.load_event("apiGatewayProxyV2Event.json")
    event["rawPath"] = "/orders"
    event["headers"]["content-type"] = "application/json"
    event["body"] = json.dumps({"id": "o-1", "customer": "ada", "lines": [{"sku": "book", "quantity": 2}]})
    with local_state(tmp_path / "states"), emitted() as sent:  # create_order starts the order's workflow
        code, out = run(
            capsys,
            "invoke",
            "create_order",
            "--app",
            str(shop_copy),
            "--provider",
            "aws",
            "--event",
            write(tmp_path, "v2.json", event),
        )
    assert code == 0
    assert [e.subject for e in sent.to(Channel("queue", "pfn-wf-place-order"))] == ["o-1"]
    assert out["status"] == 201 and out["source"].startswith("API Gateway HTTP API")
    assert json.loads(out["response"]["body"]) == {"id": "o-1", "lines": 1}
    assert out["response"]["headers"] == {"content-type": "application/json"}


def test_invoke_a_queue_function_with_an_sqs_batch(capsys, shop_copy, tmp_path, adapter) -> None:
    event = adapter.load_event("sqsEvent.json")
    good, recalled = event["Records"]
    good["body"] = json.dumps({"id": "o-1", "customer": "ada", "lines": [{"sku": "book", "quantity": 1}]})
    recalled["body"] = json.dumps({"id": "o-2", "customer": "bob", "lines": [{"sku": "recalled-widget"}]})
    code, out = run(
        capsys,
        "invoke",
        "fulfil",
        "--app",
        str(shop_copy),
        "--provider",
        "aws",
        "--event",
        write(tmp_path, "sqs.json", event),
    )
    assert code == 1
    assert [r["outcome"] for r in out["results"]] == ["ack", "dead_letter"]
    assert out["response"] == {"batchItemFailures": [{"itemIdentifier": recalled["messageId"]}]}


def test_invoke_a_schedule_with_an_eventbridge_scheduled_event(capsys, shop_copy, tmp_path, adapter) -> None:
    event = adapter.load_event("eventBridgeScheduledEvent.json")
    code, out = run(
        capsys,
        "invoke",
        "sweep",
        "--app",
        str(shop_copy),
        "--provider",
        "aws",
        "--event",
        write(tmp_path, "tick.json", event),
    )
    assert code == 0
    assert out["results"] == [{"outcome": "ack", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"}]
    assert "error" not in out and out["response"] is None


@pytest.mark.parametrize("function", ["fulfil", "on_upload", "create_order"])
def test_invoke_with_a_null_event_runs_nothing_and_says_so(capsys, shop_copy, tmp_path, function) -> None:
    """`--event` holding `null` is no event Lambda sends: an error and exit 1, not an empty success
    (the "nothing left after the trigger's filters" answer is for events the trigger filtered out)."""
    event = write(tmp_path, "null.json", None)
    code = main(["invoke", function, "--app", str(shop_copy), "--provider", "aws", "--event", event])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert f"Function {function!r} on aws has a" in err and "with a NoneType" in err


def test_invoke_a_topic_function_that_fails_reports_the_error(capsys, shop_copy, tmp_path, adapter) -> None:
    event = copy.deepcopy(adapter.load_event("snsEvent.json"))
    event["Records"][0]["Sns"]["Message"] = json.dumps({"specversion": "1.0", "id": "x"})  # no source/type
    code, out = run(
        capsys,
        "invoke",
        "notify",
        "--app",
        str(shop_copy),
        "--provider",
        "aws",
        "--event",
        write(tmp_path, "sns.json", event),
    )
    assert code == 1
    assert out["results"][0]["outcome"] == "dead_letter"
    assert "did not acknowledge" in out["error"]
