"""Locally, handlers see the `env` the clouds give them, `dev --stage` applies its stage, and
`ctx.logger.info` shows in the dev log.

The rule (portable_fn.local.environment): `invoke --provider local` gives one function exactly what a
cloud gives it; `dev` serves every function in one process with one environment (defaults < stage <
every function's own env), refuses two functions that disagree on a variable, and puts the process
environment back when it stops.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.local.host import LocalHost
from portable_fn.local.provider import LocalProvider
from portable_fn.runtime.errors import ConfigError

from .conftest import LOCAL_APPS, Running

APP = LOCAL_APPS / "strict"
GET_ENV = {"method": "GET", "path": "/env"}


def test_dev_applies_defaults_the_first_stage_and_every_functions_env(start_host: Callable[..., Running]) -> None:
    dev = start_host(APP)
    seen = dev.client.request("GET", "/env").json()
    assert seen == {
        "SHARED": "from-defaults",
        "OVERRIDDEN": "from-function",
        "STAGE_NAME": "dev",
        "OWN": "env-function",
        "QUEUE_OWN": "queue-function",
        "PORTABLE_FN_APP": "strict",
        "PORTABLE_FN_STAGE": "dev",
        "PORTABLE_FN_FUNCTION": None,
        "PORTABLE_FN_PROVIDER": "local",
    }
    assert dev.client.request("GET", "/env-plain").json() == seen  # one process, one environment


def test_dev_stage_applies_that_stage(start_host: Callable[..., Running]) -> None:
    dev = start_host(APP, stage="prod")
    seen = dev.client.request("GET", "/env").json()
    assert (seen["STAGE_NAME"], seen["PORTABLE_FN_STAGE"], seen["SHARED"]) == ("prod", "prod", "from-defaults")
    assert seen["OVERRIDDEN"] == "from-function"  # defaults < stage < the function's own, as on a cloud
    assert "(stage 'prod'," in dev.logs[0]


def test_an_event_function_sees_the_env_while_delivered(
    start_host: Callable[..., Running], wait_for: Callable[..., Any]
) -> None:
    dev = start_host(APP)
    received = dev.app.functions[0].handler.__globals__["RECEIVED"]
    received.clear()
    assert dev.client.request("POST", "/_local/queues/orders", json_body={"n": 1}).status == 202
    delivered = wait_for(lambda: received.get("queued"), what="the queue delivery")
    assert delivered[0]["env"]["QUEUE_OWN"] == "queue-function"
    assert delivered[0]["env"]["STAGE_NAME"] == "dev"


def test_the_process_environment_is_put_back_when_dev_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARED", "the user's own")
    monkeypatch.delenv("STAGE_NAME", raising=False)
    with LocalHost(load_app(APP), port=0, state_dir=tmp_path, log=lambda line: None):
        assert (os.environ["SHARED"], os.environ["STAGE_NAME"]) == ("from-defaults", "dev")
    assert os.environ["SHARED"] == "the user's own" and "STAGE_NAME" not in os.environ


def test_an_unknown_stage_is_an_error_naming_the_declared_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"stage 'qa' is not declared; declared stages are \['dev', 'prod'\]"):
        LocalHost(load_app(APP), port=0, state_dir=tmp_path, stage="qa")


def test_dev_cli_refuses_an_unknown_stage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dev", str(APP), "--stage", "qa", "--port", "0"]) == 2  # a usage error
    assert "declared stages are ['dev', 'prod']" in capsys.readouterr().err


def test_two_functions_disagreeing_on_a_variable_are_refused_by_dev(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"  # a copy under another module name, so the real one stays importable
    app_dir.mkdir()
    source = (APP / "local_strict.py").read_text()
    (app_dir / "local_conflict.py").write_text(
        source.replace('env={"QUEUE_OWN": "queue-function"}', 'env={"OWN": "queue"}')
    )
    (app_dir / "pyproject.toml").write_text(
        (APP / "pyproject.toml").read_text().replace('modules = ["local_strict"]', 'modules = ["local_conflict"]')
    )
    with pytest.raises(ConfigError, match="Functions 'env_own' and 'queued' set env 'OWN' to different values"):
        LocalHost(load_app(app_dir), port=0, state_dir=tmp_path / "state")


def test_invoke_local_gives_one_function_exactly_its_cloud_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OWN", "QUEUE_OWN", "STAGE_NAME"):
        monkeypatch.delenv(name, raising=False)
    app = load_app(APP)
    provider = LocalProvider()
    provider.use_dev_state_dir(tmp_path)  # its journal, not in the app's directory
    result = provider.invoke(app, app.function("env_own"), GET_ENV, stage="prod")
    assert result["body"] == {
        "SHARED": "from-defaults",
        "OVERRIDDEN": "from-function",
        "STAGE_NAME": "prod",
        "OWN": "env-function",
        "QUEUE_OWN": None,
        "PORTABLE_FN_APP": "strict",
        "PORTABLE_FN_STAGE": "prod",
        "PORTABLE_FN_FUNCTION": "env_own",
        "PORTABLE_FN_PROVIDER": "local",
    }
    plain = provider.invoke(app, app.function("env_plain"), {"method": "GET", "path": "/env-plain"})["body"]
    assert (plain["OWN"], plain["OVERRIDDEN"], plain["STAGE_NAME"]) == (None, "from-defaults", "dev")
    assert "OWN" not in os.environ and "STAGE_NAME" not in os.environ


def test_invoke_cli_applies_env(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"method": "GET", "path": "/env"}))
    state = ["--state-dir", str(tmp_path / "dev")]
    assert main(["invoke", "env_own", str(APP), "--provider", "local", "--event", str(event), *state]) == 0
    seen = json.loads(capsys.readouterr().out)["body"]
    assert (seen["OWN"], seen["SHARED"], seen["PORTABLE_FN_FUNCTION"]) == ("env-function", "from-defaults", "env_own")


def test_invoke_cli_applies_the_stage_it_is_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"method": "GET", "path": "/env"}))
    target = [str(APP), "--provider", "local", "--stage", "prod", "--state-dir", str(tmp_path / "dev")]
    assert main(["invoke", "env_own", *target, "--event", str(event)]) == 0
    seen = json.loads(capsys.readouterr().out)["body"]
    assert (seen["STAGE_NAME"], seen["PORTABLE_FN_STAGE"]) == ("prod", "prod")


def test_ctx_logger_info_shows_in_the_dev_log(start_host: Callable[..., Running]) -> None:
    dev = start_host(APP)
    assert dev.client.request("GET", "/log").status == 200
    assert any("logs [log] INFO hello from the logger of logs" in line for line in dev.logs), dev.logs
