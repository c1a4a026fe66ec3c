"""Retry policies in Azure's own settings: host.json's queue attempts and visibility, the timer's retry
strategy as the real `azure.functions` library indexes it, and the lines `plan` says where Azure clamps."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure.codegen import host_json_source
from portable_fn_azure.provider import AzureProvider

from portable_fn.app import App, load_app

RETRYING = Path(__file__).resolve().parent / "apps" / "retrying"


@pytest.fixture(scope="module")
def app() -> App:
    return load_app(RETRYING)


def test_queue_attempts_and_the_longest_first_delay_go_to_host_json(app: App) -> None:
    queues = json.loads(host_json_source(app))["extensions"]["queues"]
    assert queues["maxDequeueCount"] == 5  # take_order's 5 attempts, the most of any queue function
    assert queues["visibilityTimeout"] == "00:00:30"  # refund's fixed(30) > take_order's first 2 s


def test_without_a_declared_policy_host_json_keeps_the_hosts_visibility(every_app: App) -> None:
    assert "visibilityTimeout" not in json.loads(host_json_source(every_app))["extensions"]["queues"]


def test_timer_retries_follow_the_backoff(app: App, indexed: Callable[[App], dict[str, Any]]) -> None:
    functions = indexed(app)
    assert functions["tick"].get_settings_dict("retry_policy") == {
        "setting_name": "retry_policy",
        "strategy": "fixed_delay",
        "max_retry_count": "3",
        "delay_interval": "00:00:20",
    }
    assert functions["sweep"].get_settings_dict("retry_policy") == {
        "setting_name": "retry_policy",
        "strategy": "exponential_backoff",
        "max_retry_count": "2",
        "minimum_interval": "00:00:04",
        "maximum_interval": "00:01:30",
    }


def test_plan_notes_say_where_azure_clamps(app: App) -> None:
    notes = AzureProvider().plan_notes(app, "dev")
    assert notes == [
        "function take_order: the backoff exponential(2, max=60) is clamped to a fixed 30 s between deliveries "
        "(host.json visibilityTimeout: one fixed delay for every Storage Queue function of the app)",
        "function take_order: Retry(after=...) is clamped to 30 s: a Storage Queue message comes back after the "
        "app's visibilityTimeout",
        "function refund: Retry(after=...) is clamped to 30 s: a Storage Queue message comes back after the "
        "app's visibilityTimeout",
        "function tick: Retry(after=...) is not applied: the timer's retry policy waits its own delay",
        "function sweep: Retry(after=...) is not applied: the timer's retry policy waits its own delay",
        "function on_shipment: the backoff exponential(1, max=30) and Retry(after=...) are not applied: Event Grid "
        "retries a topic delivery on its own schedule (10 s, 30 s, 1 min, 5 min, ... up to 24 hours)",
    ]


def test_on_service_bus_plan_names_the_max_delivery_count_to_set(app: App) -> None:
    """The shim dead-letters on the last attempt; the entity's MaxDeliveryCount, one above, is the backstop
    for an invocation that never returned, and the namespace is the user's: `plan` names the value."""
    bus = copy.copy(app)
    bus.config = app.config.model_copy(
        update={"azure": {"queue_transport": "service_bus", "topic_transport": "service_bus"}}
    )
    notes = [n for n in AzureProvider().plan_notes(bus, "dev") if "MaxDeliveryCount" in n]
    assert notes == [
        "function take_order: set MaxDeliveryCount = 6 on the Service Bus queue 'orders' (the namespace is yours; "
        "deploy sets it when service_bus_namespace_id names the namespace): "
        "the shim dead-letters on attempt 5, and Service Bus moves a message whose invocation never returned to its "
        "$deadletterqueue after MaxDeliveryCount deliveries (default 10: a lower value cuts the attempts short)",
        "function refund: set MaxDeliveryCount = 4 on the Service Bus queue 'refunds' (the namespace is yours; "
        "deploy sets it when service_bus_namespace_id names the namespace): "
        "the shim dead-letters on attempt 3, and Service Bus moves a message whose invocation never returned to its "
        "$deadletterqueue after MaxDeliveryCount deliveries (default 10: a lower value cuts the attempts short)",
        "function on_shipment: set MaxDeliveryCount = 7 on the subscription 'on_shipment' of the Service Bus topic "
        "'shipments' (the namespace is yours; "
        "deploy sets it when service_bus_namespace_id names the namespace): the shim dead-letters on attempt 6, "
        "and Service Bus moves a message "
        "whose invocation never returned to its $deadletterqueue after MaxDeliveryCount deliveries (default 10: a "
        "lower value cuts the attempts short)",
    ]


def test_with_the_namespace_named_deploy_sets_the_count_and_plan_has_no_such_note(app: App) -> None:
    """With `service_bus_namespace_id`, deploy sets MaxDeliveryCount itself (`deploy.bus`, a plan step): no
    note asks the user to; the one about the backoff Service Bus cannot apply stays."""
    bus = copy.copy(app)
    bus.config = app.config.model_copy(
        update={"azure": {"queue_transport": "service_bus", "topic_transport": "service_bus"}}
    )
    namespace = "/subscriptions/s/resourceGroups/messaging/providers/Microsoft.ServiceBus/namespaces/bus"
    notes = AzureProvider({"service_bus_namespace_id": namespace}).plan_notes(bus, "dev")
    assert not [n for n in notes if "MaxDeliveryCount" in n]
    assert [n for n in notes if "backoff" in n and "take_order" in n]
