"""The app's tags as labels on every resource Google lets deploy label (functions, Pub/Sub topics and the
dead-letter subscriptions, buckets), beside portable-fn's own, through the official clients against the
recording endpoint: a changed tag is an update of each that deploy applies, a rerun and a label the audit trail
wrote (`pfn-audit-*`) change nothing, and tags Google would refuse as labels are refused before any call."""

from __future__ import annotations

from typing import Any

import pytest

from portable_fn.app import App
from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import ConfigError

from ....tags_contract import with_tags

OWN = {"portable-fn-app": "shop", "portable-fn-stage": "dev"}
LABELLED_KINDS = {"cloud function": 9, "pubsub topic": 11, "dead-letter subscription": 6, "storage bucket": 1}


def all_labels(google: Any) -> dict[str, dict[str, str]]:
    """The labels of every labelled resource of the shop the endpoint holds, without portable-fn's source label and
    those the audit trail writes on each deploy."""
    found: dict[str, dict[str, str]] = {}
    for kind in ("functions", "topics", "subscriptions", "buckets"):
        for name, item in getattr(google, kind).items():
            labels = dict(item.get("labels") or {})
            if labels.get("portable-fn-app") == "shop":
                found[f"{kind}/{name}"] = {
                    k: v for k, v in labels.items() if not k.startswith(("portable-fn-source", "pfn-audit-"))
                }
    return found


def test_tags_reach_every_labelled_resource_change_in_place_and_rerun_as_nothing(
    provider: Any, shop: App, google: Any
) -> None:
    app = with_tags(shop, 'tags = { team = "payments", cost-center = "42" }', 'tags = { cost-center = "43" }')
    pipeline.deploy(provider, app, "dev")
    found = all_labels(google)
    assert len(found) == sum(LABELLED_KINDS.values()), sorted(found)
    assert {
        name: labels for name, labels in found.items() if labels != {**OWN, "team": "payments", "cost-center": "43"}
    } == {}

    app = with_tags(shop, 'tags = { team = "checkout" }')
    planned = pipeline.plan(provider, app, "dev").plan
    assert planned is not None
    assert {(s.action, s.changes) for s in planned.steps} == {("update", ("tags",))}
    kinds: dict[str, int] = {}
    for step in planned.steps:
        kinds[step.resource.kind] = kinds.get(step.resource.kind, 0) + 1
    assert kinds == LABELLED_KINDS

    pipeline.deploy(provider, app, "dev")
    assert {name: labels for name, labels in all_labels(google).items() if labels != {**OWN, "team": "checkout"}} == {}
    assert pipeline.plan(provider, app, "dev").plan.empty  # type: ignore[union-attr]


def test_a_label_the_audit_trail_wrote_is_no_change_and_survives_a_retag(provider: Any, shop: App, google: Any) -> None:
    app = with_tags(shop, 'tags = { team = "payments" }')
    pipeline.deploy(provider, app, "dev")
    function = "projects/shop-project/locations/europe-west1/functions/shop-dev-fulfil"
    topic = "projects/shop-project/topics/shop-dev-orders"
    for item in (google.functions[function], google.topics[topic], google.buckets["shop-dev-uploads"]):
        item["labels"]["pfn-audit-by"] = "ci"
    assert pipeline.plan(provider, app, "dev").plan.empty  # type: ignore[union-attr]

    pipeline.deploy(provider, with_tags(shop, 'tags = { team = "checkout" }'), "dev")
    for item in (google.functions[function], google.topics[topic], google.buckets["shop-dev-uploads"]):
        labels = {k: v for k, v in item["labels"].items() if k != "portable-fn-source"}
        assert labels == {**OWN, "team": "checkout", "pfn-audit-by": "ci"}


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ('{ Team = "x" }', "Tag Team = 'x' is not a valid gcp label: Google takes only lowercase letters"),
        ('{ team = "Payments" }', "Tag team = 'Payments' is not a valid gcp label: Google takes only lowercase"),
        ('{ "cost.center" = "42" }', "Tag cost.center = '42' is not a valid gcp label: Google takes only lowercase"),
        ('{ "1team" = "x" }', "(a key starts with a letter)"),
        (f'{{ team = "{"x" * 64}" }}', "is not a valid gcp label: its value must be at most 63 characters"),
    ],
)
def test_tags_google_would_refuse_as_labels_are_refused_before_any_call(
    provider: Any, shop: App, google: Any, tags: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        pipeline.plan(provider, with_tags(shop, f"tags = {tags}"), "dev")
    assert message in str(caught.value)
    assert "under [tool.portable-fn] tags" in str(caught.value)
    assert google.requests == []
