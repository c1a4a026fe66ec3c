"""The Terraform document builder the providers' exporters share: labels, references, exporters, assembly."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from portable_fn.deploy import Resource
from portable_fn.export import TerraformBuilder, render
from portable_fn.export.terraform import identifier
from portable_fn.runtime.errors import DeployError


@dataclass
class Shop(TerraformBuilder):
    """A provider's builder: its labels drop the app's prefix."""

    prefix: str = "shop-dev"

    def short(self, tf_type: str, name: str) -> str:
        return name.removeprefix(f"{self.prefix}-")


@dataclass(frozen=True)
class Queue(Resource):
    kind: ClassVar[str] = "queue"


def test_identifier_is_snake_case_starting_with_a_letter() -> None:
    assert [identifier(s) for s in ("Orders-DLQ", "2nd.queue", "--", "a--b")] == [
        "orders_dlq",
        "r_2nd_queue",
        "app",
        "a_b",
    ]


def test_a_label_is_the_short_name_and_the_same_every_time() -> None:
    doc = Shop()
    assert doc.label("google_pubsub_topic", "shop-dev-orders") == "orders"
    assert doc.label("google_pubsub_topic", "shop-dev-orders") == "orders"
    assert doc.stem("google_pubsub_topic", "shop-dev-orders") == "google_pubsub_topic.orders"


def test_a_name_folding_to_a_taken_label_gets_a_short_hash_of_its_name() -> None:
    doc = Shop()
    doc.label("t", "shop-dev-a.b")
    digest = hashlib.sha256(b"shop-dev-a-b").hexdigest()[:6]
    assert doc.label("t", "shop-dev-a-b") == f"a_b_{digest}"
    assert doc.label("other", "shop-dev-a-b") == "a_b"  # labels are per type


def test_add_declares_the_resource_with_what_it_is_as_a_comment() -> None:
    doc = Shop()
    assert doc.add("aws_sqs_queue", "shop-dev-orders", {"name": "orders"}, "the orders") == "aws_sqs_queue.orders"
    doc.add("aws_sqs_queue", "shop-dev-dlq", {"name": "dlq"})
    assert doc.resources == {
        "aws_sqs_queue": {"orders": {"//": ["the orders"], "name": "orders"}, "dlq": {"name": "dlq"}}
    }


def test_ref_replaces_a_known_id_where_it_is_the_value_or_starts_a_path_the_longest_first() -> None:
    doc = Shop()
    doc.ids |= {
        "projects/p/topics/orders": "${google_pubsub_topic.orders.id}",
        "projects/p/topics/orders/subscriptions/x": "${google_pubsub_subscription.x.id}",
        "https://acct.blob.core.windows.net/": "${azurerm_storage_account.app.primary_blob_endpoint}",
        "@marker:": "${azurerm_eventgrid_topic.t.endpoint}",
    }
    assert doc.ref("projects/p/topics/orders") == "${google_pubsub_topic.orders.id}"
    assert doc.ref("projects/p/topics/orders/iam") == "${google_pubsub_topic.orders.id}/iam"
    assert doc.ref("projects/p/topics/orders/subscriptions/x") == "${google_pubsub_subscription.x.id}"
    assert doc.ref("projects/p/topics/orders-dlq") == "projects/p/topics/orders-dlq"
    assert (
        doc.ref("https://acct.blob.core.windows.net/pkg") == "${azurerm_storage_account.app.primary_blob_endpoint}pkg"
    )
    assert doc.ref("@marker:topic") == "${azurerm_eventgrid_topic.t.endpoint}topic"


def test_write_sends_each_resource_to_its_exporter_and_refuses_a_kind_without_one() -> None:
    written: list[str] = []

    def queue(doc: Shop, resource: Any) -> None:
        written.append(resource.name)

    doc = Shop()
    doc.write([Queue("a"), Queue("b")], {Queue: queue}, where="Exporting 'shop'", table="EXPORTERS")
    assert written == ["a", "b"]
    with pytest.raises(DeployError) as error:
        doc.write([Queue("c")], {}, where="Exporting 'shop' to Terraform for gcp", table="portable_fn_gcp.EXPORTERS")
    assert str(error.value) == (
        "Exporting 'shop' to Terraform for gcp: resources of kind 'queue' have no exporter. "
        "Add one to portable_fn_gcp.EXPORTERS (or a note saying why it cannot be exported)."
    )


def test_document_puts_the_provider_then_variables_data_resources_and_outputs() -> None:
    doc = Shop()
    doc.add("google_pubsub_topic", "shop-dev-orders", {"name": "orders"})
    project = doc.source("google_project", "project")
    doc.outputs["project"] = {"value": f"${{{project}.number}}"}
    document = doc.document("google", {"source": "hashicorp/google"}, {"region": "${var.region}"}, {"region": {}})
    assert list(document) == ["terraform", "provider", "variable", "data", "resource", "output"]
    assert render(document) == (
        'terraform {\n  required_providers {\n    google = {\n      source = "hashicorp/google"\n    }\n  }\n}\n\n'
        'provider "google" {\n  region = var.region\n}\n\n'
        'variable "region" {}\n\n'
        'data "google_project" "project" {}\n\n'
        'resource "google_pubsub_topic" "orders" {\n  name = "orders"\n}\n\n'
        'output "project" {\n  value = data.google_project.project.number\n}\n'
    )


def test_document_leaves_out_what_is_empty() -> None:
    document = Shop().document("azurerm", {"source": "hashicorp/azurerm"}, {"features": [{}]})
    assert list(document) == ["terraform", "provider", "resource"]
