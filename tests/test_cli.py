"""The CLI as users run it: exit codes 0 ok / 1 failed / 2 usage, JSON where asked, progress on stderr."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from portable_fn.cli import main
from portable_fn.local.journal import Journal

DATA = Path(__file__).parent / "data" / "invoke"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_invoke_an_http_function_with_a_request_file(capsys, shop_copy: Path) -> None:
    code, out, _ = run(
        capsys, "invoke", "create_order", "--app", str(shop_copy), "--event", str(DATA / "order_request.json")
    )
    assert code == 0
    assert json.loads(out) == {
        "status": 201,
        "headers": {"content-type": "application/json"},
        "body": {"id": "o-1", "lines": 1},
    }
    with Journal(shop_copy / ".portable-fn" / "local" / "journal.sqlite3") as journal:
        assert journal.counts() == {"place_order-run": 1}  # the order's workflow starts with the next `dev`


def test_invoke_a_queue_function_with_a_cloudevent_from_stdin(capsys, shop_copy, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO((DATA / "order_event.json").read_text()))
    code, out, _ = run(capsys, "invoke", "fulfil", "--app", str(shop_copy), "--event", "-")
    assert code == 0
    assert json.loads(out) == {"function": "fulfil", "results": [{"outcome": "ack", "id": "evt-1"}]}


def test_invoke_reports_a_dead_letter_and_exits_1(capsys, shop_copy: Path) -> None:
    code, out, _ = run(
        capsys, "invoke", "fulfil", "--app", str(shop_copy), "--event", str(DATA / "recalled_order_event.json")
    )
    assert code == 1
    (result,) = json.loads(out)["results"]
    assert result == {"outcome": "dead_letter", "id": "evt-2", "reason": "order o-2 contains a recalled SKU"}


def test_invoke_with_a_missing_event_file_is_a_usage_error(capsys, shop_copy: Path) -> None:
    code, _, err = run(capsys, "invoke", "fulfil", "--app", str(shop_copy), "--event", "nope.json")
    assert code == 2 and "--event nope.json: cannot read it" in err


def test_dev_on_a_port_no_machine_has_is_a_usage_error(capsys, shop_copy: Path) -> None:
    code, _, err = run(capsys, "dev", str(shop_copy), "--port", "99999")
    assert code == 2 and "Invalid value for '--port': 99999 is not in the range 0<=x<=65535" in err


@pytest.mark.parametrize("verb", [("dev",), ("logs", "fulfil")])
def test_a_state_dir_that_is_a_file_is_a_usage_error_naming_it(capsys, shop_copy: Path, verb: tuple[str, ...]) -> None:
    code, _, err = run(capsys, *verb, str(shop_copy), "--state-dir", str(shop_copy / "pyproject.toml"))
    assert (
        code == 2 and f"Invalid value for '--state-dir': Directory '{shop_copy / 'pyproject.toml'}' is a file." in err
    )


@pytest.mark.parametrize("verb", [("plan", "--provider", "local"), ("invoke", "fulfil", "--event", "-"), ("dev",)])
def test_a_stage_the_app_does_not_declare_is_a_usage_error(capsys, shop_copy: Path, verb: tuple[str, ...]) -> None:
    code, _, err = run(capsys, *verb, str(shop_copy), "--stage", "nosuch")
    assert code == 2 and "stage 'nosuch' is not declared; declared stages are ['dev', 'prod']" in err


def test_a_state_dir_the_host_cannot_make_is_blamed_on_the_path_not_the_event(capsys, shop_copy: Path) -> None:
    event = str(DATA / "order_event.json")
    code, out, err = run(capsys, "invoke", "fulfil", str(shop_copy), "--event", event, "--state-dir", "/proc/nope")
    assert code == 1 and out == ""
    assert "failed before the event was delivered: No such file or directory: /proc/nope" in err
    assert "could not be delivered" not in err and "--state-dir" in err


@pytest.mark.parametrize("verb", [("plan", "--provider", "local"), ("invoke", "fulfil", "--event", "-")])
def test_an_app_directory_that_is_not_one_is_a_usage_error(capsys, tmp_path: Path, verb: tuple[str, ...]) -> None:
    (tmp_path / "afile").write_text("x")
    for given, what in ((tmp_path / "nowhere", "does not exist"), (tmp_path / "afile", "is a file")):
        code, out, err = run(capsys, *verb, str(given))
        assert (code, out) == (2, "") and f"The app directory '{given}' {what}" in err


def test_an_event_on_stdin_may_start_with_a_byte_order_mark(capsys, shop_copy: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("\ufeff" + (DATA / "order_event.json").read_text()))
    code, out, _ = run(capsys, "invoke", "fulfil", str(shop_copy), "--event", "-")
    assert code == 0 and json.loads(out)["results"] == [{"outcome": "ack", "id": "evt-1"}]


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ({"id": "o-1", "note": "x" * 60_000}, "larger than a queue message may be: at most 49,152 bytes"),
        ({"id": "o-1", "total": float("nan")}, "a number JSON cannot hold"),
    ],
)
def test_invoke_refuses_a_queue_message_dev_and_the_clouds_refuse(
    capsys, shop_copy: Path, tmp_path: Path, message: Any, said: str
) -> None:
    """A 10 MB message and a NaN reached the function under `invoke --provider local`; dev answers 413 and 400."""
    event = tmp_path / "message.json"
    event.write_text(json.dumps(message))
    code, out, err = run(capsys, "invoke", "fulfil", str(shop_copy), "--event", str(event))
    assert (code, out) == (1, "") and said in err


def test_unknown_function_is_a_usage_error_with_the_list(capsys, shop_copy: Path) -> None:
    code, _, err = run(capsys, "invoke", "ghost", "--app", str(shop_copy), "--event", "-")
    assert code == 2 and "has no function 'ghost'" in err and "create_order" in err


def test_a_misspelt_function_is_answered_with_the_name_meant(capsys, shop_copy: Path) -> None:
    code, _, err = run(capsys, "invoke", "fulfl", "--app", str(shop_copy), "--event", "-")
    assert code == 2 and err.rstrip().endswith("Try 'fulfil'.")


@pytest.mark.slow  # the CLI in a process of its own
def test_usage_errors_exit_2(capsys) -> None:
    assert main(["deploy", "--provider", "ibm"]) == 2
    err = capsys.readouterr().err
    assert "'ibm' is not an installed provider; installed: aws, azure, gcp, local" in err
    assert main([]) == 2 and "Commands:" in capsys.readouterr().err
    unknown = subprocess.run(["portable-fn", "deploy", "--provider", "ibm"], capture_output=True, text=True)
    assert unknown.returncode == 2 and unknown.stdout == ""


def test_plan_deploy_info_remove_round_trip_with_json(capsys, shop_copy: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PORTABLE_FN_LOCAL_CLOUD", str(tmp_path / "cloud"))
    app = ("--app", str(shop_copy))
    code, out, err = run(capsys, "plan", *app, "--json")
    assert code == 0 and json.loads(out)["plan"]["summary"].startswith("25 to create")
    assert "Packaging 'shop' for local" in err
    code, out, _ = run(capsys, "deploy", *app, "--json")
    assert code == 0 and json.loads(out)["applied"] == 25
    code, out, _ = run(capsys, "deploy", *app, "--json")
    assert code == 0 and json.loads(out)["applied"] == 0
    code, out, _ = run(capsys, "info", *app)
    assert code == 0 and re.search(r"^create_order +http +http://127\.0\.0\.1:8080/orders$", out, re.M)
    code, out, _ = run(capsys, "remove", *app)
    assert code == 0 and out.strip() == "Removed 25 resources."
    code, out, _ = run(capsys, "plan", *app, "--stage", "qa")
    assert code == 2  # a stage the app does not declare is a usage error


def test_package_prints_the_artifact_path(capsys, shop_copy: Path) -> None:
    code, out, _ = run(capsys, "package", "--app", str(shop_copy))
    assert code == 0 and Path(out.strip()).is_file() and out.strip().endswith("shop-local.zip")


def test_the_app_directory_may_be_given_positionally_as_for_dev(capsys, shop_copy: Path, monkeypatch) -> None:
    code, out, _ = run(capsys, "package", str(shop_copy))
    assert code == 0 and out.strip().endswith("shop-local.zip")
    code, out, _ = run(capsys, "plan", str(shop_copy), "--app", str(shop_copy / "."), "--json")
    assert code == 0 and json.loads(out)["plan"]["summary"].startswith("25 to create")
    monkeypatch.chdir(shop_copy)
    code, out, _ = run(capsys, "invoke", "create_order", "--event", str(DATA / "order_request.json"))
    assert code == 0 and json.loads(out)["status"] == 201


def test_two_different_app_directories_are_a_usage_error(capsys, shop_copy: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "plan", str(shop_copy), "--app", str(tmp_path))
    assert code == 2 and "Two app directories" in err and str(tmp_path) in err


@pytest.mark.slow  # the new app's own tests in a pytest of its own
def test_init_scaffolds_an_app_whose_own_tests_pass(tmp_path: Path) -> None:
    created = subprocess.run(["portable-fn", "init", "hello-app"], cwd=tmp_path, capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path / "hello-app",
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout
    again = subprocess.run(["portable-fn", "init", "hello-app"], cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_init_rejects_a_bad_name(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "init", "Bad_Name")
    assert code == 2 and "App name 'Bad_Name' is invalid" in err and err.rstrip().endswith("Try 'bad-name'.")
    assert not (tmp_path / "Bad_Name").exists()


def test_new_rejects_a_bad_name_as_a_usage_error_with_the_name_meant(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "init", "demo-app")[0] == 0
    code, _, err = run(capsys, "new", "Make Thumbnail", "demo-app", "--trigger", "storage")
    assert code == 2 and "Function name 'Make Thumbnail' is invalid" in err
    assert err.rstrip().endswith("Try 'make_thumbnail'.")


def test_version(capsys) -> None:
    assert main(["--version"]) == 0 and "portable-fn 0.1.0" in capsys.readouterr().out


def test_info_on_a_stage_with_nothing_deployed_says_so(capsys, shop_copy: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PORTABLE_FN_LOCAL_CLOUD", str(tmp_path / "cloud"))
    code, out, _ = run(capsys, "info", str(shop_copy), "--stage", "prod")
    assert code == 0
    assert out.strip() == (
        f"Nothing is deployed for app 'shop' (stage 'prod') on local. Deploy it with "
        f"`portable-fn deploy {shop_copy} --provider local --stage prod`."
    )
    code, out, _ = run(capsys, "info", str(shop_copy), "--stage", "prod", "--json")
    assert code == 0
    empty = json.loads(out)
    assert empty["deployed"] is False and empty["outputs"]["functions"] == {}
    assert (empty["app"], empty["provider"], empty["stage"]) == ("shop", "local", "prod")
    assert run(capsys, "deploy", str(shop_copy), "--stage", "prod")[0] == 0
    code, out, _ = run(capsys, "info", str(shop_copy), "--stage", "prod", "--json")
    deployed = json.loads(out)
    assert code == 0 and deployed["deployed"] is True and "create_order" in deployed["outputs"]["functions"]


@pytest.mark.parametrize("cloud", ["gcp", "azure"])
def test_dev_for_one_cloud_refuses_what_its_deploy_refuses(capsys, tmp_path: Path, cloud: str) -> None:
    """`dev --provider gcp` emulates that cloud: a declaration its deploy refuses is refused before serving."""
    (tmp_path / "pyproject.toml").write_text('[tool.portable-fn]\napp = "fifo"\nmodules = ["dev_fifo_jobs"]\n')
    (tmp_path / "dev_fifo_jobs.py").write_text(
        "from portable_fn import CloudEvent, function, queue\n\n\n"
        "@function(trigger=queue('jobs', fifo=True))\n"
        "def work(event: CloudEvent) -> None:\n    pass\n"
    )
    sys.modules.pop("dev_fifo_jobs", None)
    code, _, err = run(capsys, "dev", str(tmp_path), "--provider", cloud, "--port", "0")
    assert code == 1
    assert "queue('jobs', fifo=True) cannot be honoured" in err and f"Function 'work' on {cloud}" in err
