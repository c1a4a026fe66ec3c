"""`portable-fn invoke` as users run it: stdout holds only the JSON result, the exit code says whether the
invocation failed (on every provider's result shape), events the deployed trigger filters out are skipped,
and no input ends in a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portable_fn.cli import main
from portable_fn.provider import invocation_failed

APP = Path(__file__).parent / "apps" / "invoking"
AWS_EVENTS = Path(__file__).parent / "data" / "aws" / "events"


def invoke(function: str, event: Any, *options: str, event_text: str | None = None) -> tuple[int, str, str]:
    """`portable-fn invoke FUNCTION APP --event FILE ...` in this process: (exit code, stdout, stderr). On the
    local provider the dev state (its journal) goes to the temporary folder, not into the app's directory."""
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "event.json"
        path.write_text(json.dumps(event) if event_text is None else event_text, encoding="utf-8")
        provider = options[options.index("--provider") + 1] if "--provider" in options else "local"
        state = ["--state-dir", str(Path(folder) / "dev")] if provider == "local" else []
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["invoke", function, str(APP), "--event", str(path), *state, *options])
    return code, out.getvalue(), err.getvalue()


def aws_event(name: str) -> Any:
    return json.loads((AWS_EVENTS / name).read_text(encoding="utf-8"))


def local_storage_event(change: str, key: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"{change}-{key}",
        "source": "//local/buckets/uploads",
        "type": f"dev.portablefn.storage.object.{change}",
        "datacontenttype": "application/json",
        "data": {"bucket": "uploads", "key": key, "size": 3},
    }


# -- stdout is the result's -----------------------------------------------------------------------------


def test_an_event_file_with_a_utf8_byte_order_mark_is_read() -> None:
    """What Windows editors save: it was refused as "not valid JSON"."""
    code, out, _ = invoke("echo", None, event_text="\ufeff" + json.dumps({"method": "POST", "path": "/echo"}))
    assert code == 0 and json.loads(out)["status"] == 200


def test_what_the_handler_prints_goes_to_stderr() -> None:
    code, out, err = invoke("echo", {"method": "POST", "path": "/echo", "body": "hi"})
    assert code == 0
    assert json.loads(out)["body"] == {"echo": "hi"}
    assert "echo was called" in err and "and wrote to stdout" in err


def test_through_main_with_capsys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    event = tmp_path / "job.json"
    event.write_text('"a job"', encoding="utf-8")
    code = main(["invoke", "work", str(APP), "--event", str(event), "--state-dir", str(tmp_path / "dev")])
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["results"][0]["outcome"] == "ack"
    assert "working on" in err and "working on" not in out


@pytest.mark.slow  # the CLI in a process of its own
def test_a_real_process_prints_only_json_on_stdout(tmp_path: Path) -> None:
    """The console script, as a user runs it: the app prints at import and logs to stdout in the handler."""
    ran = subprocess.run(
        ["portable-fn", "invoke", "logged", str(APP), "--event", "-", "--state-dir", str(tmp_path / "dev")],
        input='{"n": 1}',
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["results"][0]["outcome"] == "ack"
    assert "invoking_app imported" in ran.stderr and "logged " in ran.stderr


# -- exit 1 whenever the invocation failed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "event", "provider"),
    [
        ("teapot", {"method": "GET", "path": "/teapot"}, "local"),
        ("work", "boom", "local"),
        ("work", {"specversion": "1.0", "id": "b-1", "source": "//t", "type": "t", "data": "boom"}, "aws"),
    ],
)
def test_a_failed_invocation_exits_1_with_its_result(function: str, event: Any, provider: str) -> None:
    code, out, err = invoke(function, event, "--provider", provider)
    assert code == 1, err
    assert invocation_failed(json.loads(out))


def test_an_http_4xx_from_lambda_exits_1() -> None:
    event = aws_event("lambdaFunctionUrlEvent.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/teapot"
    code, out, _ = invoke("teapot", event, "--provider", "aws")
    assert code == 1 and json.loads(out)["status"] == 418


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        ({"method": "GET", "path": "/echo"}, 405),
        ({"method": "POST", "path": "/nowhere"}, 404),
    ],
)
def test_local_invoke_answers_only_the_declared_route(request_: dict[str, Any], status: int) -> None:
    code, out, err = invoke("echo", request_)
    result = json.loads(out)
    assert code == 1 and result["status"] == status
    assert "echo was called" not in err
    if status == 405:
        assert result["headers"]["allow"] == "POST"


@pytest.mark.parametrize(
    ("result", "failed"),
    [
        ({"status": 201, "headers": {}, "body": {}}, False),  # local http
        ({"function": "f", "results": [{"outcome": "ack"}]}, False),  # local event
        ({"function": "f", "results": [{"outcome": "dead_letter", "reason": "x"}]}, True),
        ({"function": "f", "results": [], "skipped": [{"id": "1", "reason": "deleted"}]}, False),  # filtered out
        (
            {
                "function": "f",
                "source": "S3",
                "response": None,
                "results": [{"outcome": "retry"}],
                "error": "Function 'f' did not acknowledge 1 S3 event(s)",
            },
            True,
        ),  # aws one at a time
        (
            {
                "function": "f",
                "source": "SQS",
                "response": {"batchItemFailures": [{"itemIdentifier": "m"}]},
                "results": [],
            },
            True,
        ),  # aws batch
        ({"function": "f", "source": "Function URL", "response": {"statusCode": 503}, "status": 503}, True),
        ({"function": "f", "status": 200, "results": [{"outcome": "dead_letter"}]}, True),  # gcp, no DLQ
        ({"function": "f", "status": 500, "results": [{"outcome": "retry"}]}, True),  # gcp retry
        ({"function": "f", "status": 200, "reason": "filtered out by the trigger's prefix/suffix"}, False),
        ({"function": "f", "status": 400, "reason": "invalid"}, True),
        ({"function": "f", "outcome": "retry", "error": "did not acknowledge"}, True),  # azure today
        ({"function": "f", "outcome": "ack"}, False),
        ({"function": "f", "status": 404, "body": "no route"}, True),  # azure http
        ({"function": "f", "results": ["not an object"]}, True),
    ],
)
def test_one_failure_rule_reads_every_providers_result(result: dict[str, Any], failed: bool) -> None:
    assert invocation_failed(result) is failed


# -- the deployed trigger's filters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "event", "why"),
    [
        ("on_upload", local_storage_event("deleted", "in/a.csv"), "was deleted"),
        ("on_csv", local_storage_event("created", "out/a.csv"), "outside the trigger's filter"),
        ("on_csv", local_storage_event("created", "in/a.txt"), "outside the trigger's filter"),
    ],
)
def test_local_invoke_skips_what_the_trigger_filters_out(function: str, event: Any, why: str) -> None:
    code, out, _ = invoke(function, event)
    assert code == 0
    result = json.loads(out)
    assert result["results"] == []
    (skipped,) = result["skipped"]
    assert skipped["id"] == event["id"] and why in skipped["reason"]


def test_local_invoke_runs_what_the_trigger_takes() -> None:
    code, out, err = invoke("on_csv", local_storage_event("created", "in/a.csv"))
    assert code == 0 and json.loads(out)["results"] == [{"outcome": "ack", "id": "created-in/a.csv"}]
    assert "csv in/a.csv" in err


@pytest.mark.parametrize(
    ("function", "fixture", "ran"),
    [
        ("on_upload", "s3Event.json", True),
        ("on_upload", "s3EventDeleteObject.json", False),  # ObjectRemoved:Delete: not on="created"
        ("on_photo", "s3Event.json", False),  # key without the .jpg suffix
        ("on_photo", "s3EventBridgeNotificationObjectCreatedEvent.json", True),
        ("on_photo", "s3EventBridgeNotificationObjectDeletedEvent.json", False),
    ],
)
def test_aws_invoke_applies_the_s3_notifications_filters(function: str, fixture: str, ran: bool) -> None:
    code, out, _ = invoke(function, aws_event(fixture), "--provider", "aws")
    result = json.loads(out)
    assert code == 0
    assert [r["outcome"] for r in result["results"]] == (["ack"] if ran else [])
    assert bool(result.get("skipped")) is not ran


def test_aws_invoke_skips_only_the_filtered_records_of_a_batch() -> None:
    created, deleted = aws_event("s3Event.json"), aws_event("s3EventDeleteObject.json")
    both = {"Records": created["Records"] + deleted["Records"]}
    code, out, _ = invoke("on_upload", both, "--provider", "aws")
    result = json.loads(out)
    assert code == 0 and [r["outcome"] for r in result["results"]] == ["ack"]
    assert len(result["skipped"]) == 1 and "deleted" in result["skipped"][0]["reason"]


# -- never a traceback --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv_tail", "event_text", "says"),
    [
        (["ghost"], "{}", "has no function 'ghost'"),
        (["work"], "{not json", "not valid JSON"),
        pytest.param(["work"], "[" * 100_000 + "]" * 100_000, "--event", id="nested-too-deeply"),
    ],
)
def test_usage_errors_exit_2_with_a_message(argv_tail: list[str], event_text: str, says: str) -> None:
    code, out, err = invoke(argv_tail[0], None, event_text=event_text)
    assert code == 2 and says in err and out == ""


def test_a_missing_event_file_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["invoke", "work", str(APP), "--event", "nope.json", "--state-dir", str(tmp_path / "dev")])
    assert code == 2 and "--event nope.json: cannot read it" in capsys.readouterr().err


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "specversion",
                    "id",
                    "source",
                    "type",
                    "data",
                    "path",
                    "method",
                    "headers",
                    "body",
                    "query",
                    "Records",
                    "detail-type",
                    "name",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=12,
)


@pytest.mark.slow  # 480 CLI invocations, about a minute
@pytest.mark.parametrize("provider", ["local", "aws", "gcp", "azure"])
@pytest.mark.parametrize("function", ["echo", "work", "on_csv"])
@settings(max_examples=40)
@given(event=JSON)
def test_no_json_value_ends_in_a_traceback(provider: str, function: str, event: Any) -> None:
    code, out, err = invoke(function, event, "--provider", provider)
    assert code in (0, 1), err
    if code == 1 and not out:
        assert err.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in err
    if out:
        json.loads(out)
