"""`AzureProvider`: found through its entry point, rejects what Azure cannot bind, invokes through the shim."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure.provider import AzureProvider

from portable_fn.provider import invocation_failed, load_provider
from portable_fn.runtime.errors import InvalidEventError, PortableFnError, UnsupportedTriggerError

from .conftest import DATA

EXAMPLES = (
    DATA
    / "azure-rest-api-specs"
    / "specification"
    / "eventgrid"
    / "data-plane"
    / "Microsoft.Storage"
    / "stable"
    / "2018-01-01"
    / "examples"
)


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
    got = provider.invoke(
        every_app,
        every_app.function("get_item"),
        {"method": "GET", "path": "/items/9", "route_params": {"item_id": "9"}},
    )
    assert got["status"] == 200 and '"id":"9"' in got["body"]
    work = every_app.function("work")
    acked = provider.invoke(every_app, work, {"id": "m1", "body": {"n": 1}})
    assert acked["results"] == [{"id": "m1", "outcome": "ack"}]
    retried = provider.invoke(every_app, work, {"id": "m2", "body": {"fail": "retry"}})["results"][0]
    assert (retried["outcome"], retried["reason"]) == ("retry", "try again")
    dead = provider.invoke(every_app, work, {"id": "m3", "body": {"fail": "dead"}})["results"][0]
    assert (dead["outcome"], dead["reason"]) == ("dead_letter", "never")
    assert (dead["dead_letter"]["data"], dead["dead_letter"]["deadletterfunction"]) == ({"fail": "dead"}, "work")


def test_invoke_takes_an_object_without_a_body_as_the_message_body(every_app: Any, every_module: Any) -> None:
    """`portable-fn invoke work --provider azure --event order.json`, the order as its sender wrote it: its
    `id` is the order's, not the queue message's, and the handler gets the whole object as its data."""
    order = {"id": "o-1", "customer": "ada", "n": 1}
    got = AzureProvider().invoke(every_app, every_app.function("work"), order)
    assert [r["outcome"] for r in got["results"]] == ["ack"]
    event, attempt = every_module.SEEN[-1][1]
    assert (event.data, attempt) == (order, 1)


@pytest.mark.parametrize("event", [{"order": "o-1"}, [{"order": "o-1"}], 7])
def test_invoke_refuses_what_is_no_event_grid_event_for_a_topic_saying_what_it_takes(
    every_app: Any, every_module: Any, event: Any
) -> None:
    """Event Grid delivers only events: a bare object is refused with what to send, not run and failed
    with the shim's KeyError."""
    with pytest.raises(PortableFnError, match=r"takes an Event Grid event .*eventType.*specversion.*, not ") as refused:
        AzureProvider().invoke(every_app, every_app.function("on_news"), event)
    assert "KeyError" not in str(refused.value)


def test_generate_shim_writes_function_app_and_host_json(every_app: Any, tmp_path: Path) -> None:
    written = AzureProvider().generate_shim(every_app, tmp_path)
    assert [p.name for p in written] == ["function_app.py", "host.json"]
    assert "app = func.FunctionApp(" in (tmp_path / "function_app.py").read_text()


def _blob_event(kind: str, schema: str, name: str, container: str = "photos") -> dict[str, Any]:
    """A real Event Grid blob event (tests/data/azure) moved to `container/name`."""
    example = json.loads((EXAMPLES / schema / f"blob_{kind}.json").read_text(encoding="utf-8"))
    url = f"https://acct.blob.core.windows.net/{container}/{name}"
    return {
        **example,
        "subject": f"/blobServices/default/containers/{container}/blobs/{name}",
        "data": {**example["data"], "url": url},
    }


@pytest.mark.parametrize("schema", ["event-grid-schema", "cloud-events-schema"])
def test_invoke_takes_event_grid_blob_events_and_skips_what_the_trigger_filters_out(
    every_app: Any, every_module: Any, schema: str
) -> None:
    provider, photo = AzureProvider(), every_app.function("on_photo")  # storage("photos", prefix="raw/", suffix=".jpg")
    got = provider.invoke(
        every_app,
        photo,
        [
            _blob_event("created", schema, "raw/a%20b+%C3%BC.jpg"),
            _blob_event("created", schema, "raw/a.png"),
            _blob_event("created", schema, "raw/b.jpg", container="other"),
            _blob_event("deleted", "cloud-events-schema", "raw/c.jpg"),
        ],
    )
    assert [r["outcome"] for r in got["results"]] == ["ack"]
    seen = every_module.SEEN[-1][1]
    assert seen.data.key == "raw/a b+ü.jpg"
    # every result and skip names the event by the id the handler gets (a created blob's ETag), never null
    assert got["results"][0]["id"] == seen.id and seen.id
    assert [s["id"] for s in got["skipped"][:2]] == [seen.id, seen.id]
    reasons = [s["reason"] for s in got["skipped"]]
    assert "outside the trigger's filter" in reasons[0] and "'other' is not the trigger's 'photos'" in reasons[1]
    assert "runs only for Microsoft.Storage.BlobCreated" in reasons[2]
    assert not invocation_failed(got)
    deleted = provider.invoke(
        every_app, every_app.function("on_photo_deleted"), _blob_event("created", schema, "raw/d.jpg")
    )
    assert deleted["results"] == [] and "BlobDeleted" in deleted["skipped"][0]["reason"]


def test_invoke_names_a_timer_tick_by_the_id_its_handler_gets(every_app: Any, every_module: Any) -> None:
    """A TimerRequest carries no id; the result names the tick's CloudEvent id, never null."""
    got = AzureProvider().invoke(every_app, every_app.function("every_quarter"), {})
    (result,) = got["results"]
    assert result["outcome"] == "ack" and result["id"] == every_module.SEEN[-1][1].id
    assert result["id"].startswith("every_quarter:")


def test_invoke_marks_a_failed_invocation_failed(every_app: Any, every_module: Any) -> None:
    provider, work = AzureProvider(), every_app.function("work")
    assert invocation_failed(provider.invoke(every_app, work, {"id": "m", "body": {"fail": "retry"}}))
    assert invocation_failed(provider.invoke(every_app, work, [{"body": {"n": 1}}, {"body": {"fail": "dead"}}]))
    assert not invocation_failed(provider.invoke(every_app, work, [{"body": {"n": 1}}, {"body": {"n": 2}}]))
    news = provider.invoke(every_app, every_app.function("on_news"), [_blob_event("created", "event-grid-schema", "x")])
    assert news["results"][0]["outcome"] == "ack"
    broken = provider.invoke(every_app, every_app.function("on_news"), {"id": "e", "eventType": "t"})
    assert broken["results"][0]["outcome"] == "dead_letter" and invocation_failed(broken)


@pytest.mark.parametrize(
    "name, event",
    [
        ("work", 5),
        ("work", "text"),
        ("work", {"body": 10**12}),
        ("work", [None]),
        ("on_news", 7),
        ("on_photo", {"name": 3}),
        ("on_photo", [1]),
        ("every_quarter", "x"),
        ("get_item", []),
        ("get_item", {"headers": ["x"]}),
        ("get_item", {"body": "%%%", "isBase64Encoded": True}),
        ("get_item", {"method": 5, "path": "/items/1"}),
    ],
)
def test_invoke_never_ends_in_a_traceback(every_app: Any, every_module: Any, name: str, event: Any) -> None:
    """Odd events give a result or an error naming the problem, and no allocation sized by a number."""
    try:
        got = AzureProvider().invoke(every_app, every_app.function(name), event)
    except PortableFnError as exc:
        assert f"Invoking {name!r} on azure" in str(exc)
    else:
        assert got["function"] == name


def test_invoke_of_an_http_function_refuses_an_object_that_is_no_request(every_app: Any) -> None:
    """An SQS event given to an HTTP function was served as GET / (a 404), as if it were a request."""
    http_function = next(s for s in every_app.functions if s.trigger.kind == "http")
    with pytest.raises(InvalidEventError, match=r"neither url nor path \(its keys: Records\)"):
        AzureProvider().invoke(every_app, http_function, {"Records": []})
