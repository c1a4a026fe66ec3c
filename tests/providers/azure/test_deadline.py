"""`ctx.deadline` on Azure is when the host stops the function: host.json's `functionTimeout` (one for the
app: the longest `timeout_s` declared), else the plan's default. An idempotent call's lease ends there, so a
call the host cut off does not block its retry for 15 minutes (Consumption stops it after 5) nor lose its
lease while it still runs (Flex and Premium let it run 30)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from portable_fn_azure.codegen import host_json_source, host_timeout_s
from portable_fn_azure.packaging import plan_sku

from portable_fn.app import App, load_app

from .conftest import import_function_app
from .host_objects import Captured, HostContext

DEADLINES = Path(__file__).resolve().parent / "apps" / "deadlines"


@pytest.fixture
def app() -> App:
    return load_app(DEADLINES)


def functions(app: App, sku: str, directory: Path) -> dict[str, Any]:
    """The generated function_app.py for plan `sku`, imported, its functions by name as the host indexes them."""
    module = import_function_app(app, directory, sku)
    return {fn.get_function_name(): fn.get_user_function() for fn in module.app.get_functions()}


@pytest.mark.parametrize("sku, seconds", [("Y1", 300), ("FC1", 1800), ("EP1", 1800)])
def test_without_a_declared_timeout_the_deadline_is_the_plans_default(
    app: App, sku: str, seconds: int, tmp_path: Path
) -> None:
    import deadlines

    assert "functionTimeout" not in json.loads(host_json_source(app))  # the host keeps its own default
    fns = functions(app, sku, tmp_path)
    before = time.time()
    answer = fns["deadline"](func.HttpRequest("GET", "https://x/deadline", body=b""), HostContext("deadline"))
    after = time.time()
    deadline = json.loads(answer.get_body())["deadline"]
    assert before + seconds <= deadline <= after + seconds

    deadlines.DEADLINES.clear()
    fns["work"](QueueMessage(id="m", body=b'{"n": 1}', dequeue_count=1), Captured(), HostContext("work"))
    [queued] = deadlines.DEADLINES
    assert queued is not None and time.time() + seconds - 60 < queued <= time.time() + seconds


def test_a_declared_timeout_is_every_functions_deadline_as_host_json_applies_it_to_all(app: App) -> None:
    app.function("work").options.timeout_s = 119.5
    try:
        assert json.loads(host_json_source(app))["functionTimeout"] == "00:02:00"
        assert host_timeout_s(app, "Y1") == host_timeout_s(app, "FC1") == 120
    finally:
        app.function("work").options.timeout_s = None


def test_packaging_reads_the_stages_plan(app: App) -> None:
    assert plan_sku(app, "dev") == "Y1"
    app.config.azure = {**app.config.azure, "plan_sku": "FC1"}
    assert plan_sku(app, "dev") == "FC1"
