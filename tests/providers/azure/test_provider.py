"""`AzureProvider`: found through its entry point, rejects what Azure cannot bind, invokes through the shim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure.provider import AzureProvider

from portable_fn.provider import load_provider
from portable_fn.runtime.errors import UnsupportedTriggerError


def test_the_entry_point_loads_the_provider() -> None:
    assert isinstance(load_provider("azure"), AzureProvider)


def test_check_accepts_the_apps_and_rejects_long_timeouts_on_consumption(every_app: Any, shop_app: Any) -> None:
    AzureProvider().check(every_app)
    AzureProvider().check(shop_app)
    spec = every_app.function("work")
    original = spec.options.timeout_s
    spec.options.timeout_s = 900
    try:
        with pytest.raises(UnsupportedTriggerError, match="over the Consumption plan's limit of 600"):
            AzureProvider().check(every_app)
        AzureProvider({"plan_sku": "EP1"}).check(every_app)
    finally:
        spec.options.timeout_s = original


def test_invoke_runs_native_shapes_through_the_shim(every_app: Any, every_module: Any) -> None:
    provider = AzureProvider()
    got = provider.invoke(every_app, every_app.function("get_item"),
                          {"method": "GET", "path": "/items/9", "route_params": {"item_id": "9"}})
    assert got["status"] == 200 and '"id":"9"' in got["body"]
    work = every_app.function("work")
    acked = provider.invoke(every_app, work, {"id": "m1", "body": {"n": 1}})
    assert acked["results"] == [{"id": "m1", "outcome": "ack"}]
    retried = provider.invoke(every_app, work, {"id": "m2", "body": {"fail": "retry"}})["results"][0]
    assert (retried["outcome"], retried["reason"]) == ("retry", "try again")
    dead = provider.invoke(every_app, work, {"id": "m3", "body": {"fail": "dead"}})["results"][0]
    assert (dead["outcome"], dead["reason"]) == ("dead_letter", "never")
    assert (dead["dead_letter"]["data"], dead["dead_letter"]["deadletterfunction"]) == ({"fail": "dead"}, "work")


def test_generate_shim_writes_function_app_and_host_json(every_app: Any, tmp_path: Path) -> None:
    written = AzureProvider().generate_shim(every_app, tmp_path)
    assert [p.name for p in written] == ["function_app.py", "host.json"]
    assert "app = func.FunctionApp(" in (tmp_path / "function_app.py").read_text()
