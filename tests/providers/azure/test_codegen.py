"""Schedules as NCRONTAB, host.json, routes and transports: what the generated bindings can express."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure.codegen import function_app_source, host_json_source, ncrontab
from portable_fn_azure.http_adapter import azure_route
from portable_fn_azure.names import dead_letter_queue
from portable_fn_azure.provider import AzureProvider

from portable_fn.runtime import FunctionSpec, cron, schedule
from portable_fn.runtime.errors import UnsupportedTriggerError
from portable_fn.runtime.function import FunctionOptions


def _spec(trigger: Any) -> FunctionSpec:
    return FunctionSpec("tick", lambda event: None, trigger, FunctionOptions("tick"))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(1 minute)", "0 * * * * *"),
        ("rate(5 minutes)", "0 */5 * * * *"),
        ("rate(30 minutes)", "0 */30 * * * *"),
        ("rate(60 minutes)", "0 0 * * * *"),
        ("rate(120 minutes)", "0 0 */2 * * *"),
        ("rate(6 hours)", "0 0 */6 * * *"),
        ("rate(1 day)", "0 0 0 * * *"),
    ],
)
def test_rates_that_divide_an_hour_or_a_day_become_steps(expression: str, expected: str) -> None:
    assert ncrontab(_spec(schedule(expression))) == expected


@pytest.mark.parametrize("expression", ["rate(7 minutes)", "rate(90 minutes)", "rate(5 hours)", "rate(2 days)"])
def test_rates_ncrontab_cannot_keep_are_rejected_with_the_ones_it_can(expression: str) -> None:
    with pytest.raises(UnsupportedTriggerError, match=r"cannot be expressed as an NCRONTAB timer.*every 1, 2, 3"):
        ncrontab(_spec(schedule(expression)))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 3 * * *", "0 0 3 * * *"),
        ("*/10 8-18 * * 1-5", "0 */10 8-18 * * 1-5"),
        ("30 2 * * MON-FRI", "0 30 2 * * 1,2,3,4,5"),
        ("0 0 1 JAN,JUL *", "0 0 0 1 1,7 *"),
        ("0 12 * * 7", "0 0 12 * * 0"),
        ("0 12 * * 5-7", "0 0 12 * * 0,5,6"),
        ("5/15 * * * *", "0 5,20,35,50 * * * *"),
        ("0 0 */2 * *", "0 0 0 */2 * *"),
    ],
)
def test_cron_gains_a_seconds_field_and_loses_what_ncrontab_reads_otherwise(expression: str, expected: str) -> None:
    assert ncrontab(_spec(cron(expression))) == expected


def test_cron_restricting_both_days_is_rejected() -> None:
    with pytest.raises(UnsupportedTriggerError, match="either matches, Azure's NCRONTAB only when both"):
        ncrontab(_spec(cron("0 0 1 * MON")))


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/", ""),
        ("/orders", "orders"),
        ("/orders/{id}", "orders/{id}"),
        ("/files/{rest+}", "files/{*rest}"),
    ],
)
def test_routes_drop_the_leading_slash_and_spell_greedy_parameters_as_catch_alls(path: str, route: str) -> None:
    assert azure_route(path) == route


def test_host_json_has_the_bundle_no_route_prefix_and_the_queue_limits(every_app: Any) -> None:
    host = json.loads(host_json_source(every_app))
    assert host["version"] == "2.0"
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    assert host["extensions"]["http"] == {"routePrefix": ""}
    assert host["extensions"]["queues"] == {"maxDequeueCount": 5, "batchSize": 4}  # work: retries=4, batch 4
    assert host["functionTimeout"] == "00:01:00"


def _with_settings(app: Any, **settings: Any) -> Any:
    app.config = app.config.model_copy(update={"azure": {**app.config.azure, **settings}})
    return app


def test_service_bus_is_the_configurable_alternative(tmp_path: Any) -> None:
    from portable_fn.app import load_app

    every = load_app(Path(__file__).resolve().parent / "apps" / "every_trigger")
    app = _with_settings(
        every, queue_transport="service_bus", topic_transport="service_bus", service_bus_connection="Bus"
    )
    source = function_app_source(app)
    assert "@app.service_bus_queue_trigger(arg_name='msg', queue_name='jobs', connection='Bus')" in source
    assert (
        "@app.service_bus_topic_trigger(arg_name='msg', topic_name='news', subscription_name='on_news', "
        "connection='Bus')"
    ) in source
    for function in ("work", "on_news"):  # each Service Bus function: its own dead-letter queue, app's storage
        dead = dead_letter_queue(function)
        assert f"@app.queue_output(arg_name='dead', queue_name={dead!r}, connection='AzureWebJobsStorage')" in source
    assert "-poison" not in source and "queues" not in json.loads(host_json_source(app))["extensions"]
    _with_settings(app, queue_transport="kafka")
    with pytest.raises(UnsupportedTriggerError, match="queue_transport = 'kafka'.*storage_queue"):
        AzureProvider().check(app)


def test_a_route_is_anonymous_at_the_edge_when_public_or_verified_in_the_function(indexed: Any) -> None:
    """`public=True` and `auth=` both let callers reach the function (`Http.open_at_edge`), which verifies
    `auth=` callers itself; any other route keeps the host's function key."""
    from portable_fn.app import load_app

    app = load_app(Path(__file__).resolve().parent / "apps" / "keyed")
    levels = {
        name: next(b.auth_level for b in fn.get_bindings() if b.type == "httpTrigger")
        for name, fn in indexed(app).items()
    }
    assert {name: str(level) for name, level in levels.items()} == {
        "charge": "ANONYMOUS",  # public=True
        "refund": "ANONYMOUS",  # auth=jwt(...)
        "ping": "FUNCTION",
        "zz_not_found": "ANONYMOUS",  # a path no route takes: open as soon as one route is
    }
