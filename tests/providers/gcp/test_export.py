"""`portable-fn export --provider gcp --format terraform`: every resource kind the GCP desired returns is in the
Terraform document (or said why not), the document's HCL reads back to it, and every type, argument and
reference is one hashicorp/google 6.50.0 has (its schema recorded in tests/export/data/google.json)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.deploy import GcpDeployer
from portable_fn_gcp.deploy import resources as gcp_resources
from portable_fn_gcp.deploy.export import EXPORTERS, terraform_document
from portable_fn_gcp.packaging import build_package
from portable_fn_gcp.provider import GcpProvider

from portable_fn.app import App, load_app
from portable_fn.cli import main
from portable_fn.deploy import Artifact, Resource
from portable_fn.export import render
from portable_fn.runtime.errors import DeployError, ProviderError

from ...export.hcl_roundtrip import parse, without_comments
from ...export.terraform_schema import evaluation_problems, problems

REPO = Path(__file__).resolve().parents[3]
ARTIFACT = Artifact(Path("/build/shop-gcp.zip"), "ab" * 32, 10, 1)
ACCOUNT = "app@proj.iam.gserviceaccount.com"
# Every app of the repository that deploys on Google Cloud (the others fail to load or are refused by `check`).
APPS = [
    "samples/shop",
    "samples/telemetry",
    "tests/apps/emitter",
    "tests/apps/flow",
    "tests/apps/invoking",
    "tests/apps/openapi_cases",
    "tests/apps/splits",
    "tests/apps/trace_relay",
    "tests/apps/vault",
    "tests/providers/gcp/apps/orders",
    "tests/providers/gcp/apps/probe",
    "tests/providers/gcp/apps/sender",
    "tests/providers/gcp/deploy/apps/secretive",
    "tests/providers/gcp/deploy/apps/files",
    "tests/providers/azure/apps/every_trigger",
    "tests/providers/azure/apps/retrying",
]
SETTINGS: dict[str, dict[str, Any]] = {
    "without an account": {},
    "with its own account": {"service_account": ACCOUNT},
    "on existing buckets, the agent granted by hand": {
        "service_account": ACCOUNT,
        "buckets": {"uploads": "team-uploads", "photos": "team-photos"},
        "grant_storage_agent": False,
    },
}


def export(app: App, **settings: Any) -> tuple[dict[str, Any], list[str], list[Resource]]:
    given = {"region": "europe-west1", **app.config.provider_settings("gcp", "dev"), "project": "proj", **settings}
    deployer = GcpDeployer(given)
    desired = deployer.desired(app, "dev", ARTIFACT)
    document, notes = terraform_document(
        app, "dev", desired, ARTIFACT, names=deployer.names(app, "dev"), settings=deployer.config
    )
    return document, notes, desired


@pytest.fixture(scope="module")
def shop() -> App:
    return load_app(REPO / "samples" / "shop")


def test_every_kind_desired_returns_has_an_exporter() -> None:
    """A kind added to the GCP resources (they must be in ORDER to be desired) without an exporter fails here."""
    assert set(EXPORTERS) == set(gcp_resources.ORDER)


def test_a_kind_without_an_exporter_is_refused_naming_it(shop: App) -> None:
    class Unknown(Resource):
        kind = "mystery"

    deployer = GcpDeployer({"project": "proj", "region": "europe-west1"})
    with pytest.raises(DeployError, match=r"kind 'mystery' have no exporter\. Add one to .*EXPORTERS"):
        terraform_document(shop, "dev", [Unknown("x")], ARTIFACT, names=deployer.names(shop, "dev"))


@pytest.mark.slow  # every app under each setting: rendered, read back by python-hcl2 and held to the schema
@pytest.mark.parametrize("settings", SETTINGS.values(), ids=SETTINGS.keys())
@pytest.mark.parametrize("path", APPS)
def test_the_export_of_each_app_reads_back_and_holds_to_the_google_schema(
    path: str, settings: dict[str, str], tmp_path: Path
) -> None:
    document, _, _ = export(load_app(REPO / path), **settings)
    main_tf = render(document)
    assert parse(main_tf) == without_comments(document)
    assert problems(document, "google") == []
    assert evaluation_problems(main_tf, document, tmp_path, "google") == []


def test_the_schema_check_fails_on_what_google_does_not_have(shop: App) -> None:
    document, _, _ = export(shop)
    function = document["resource"]["google_cloudfunctions2_function"]["fulfil"]
    function["service_config"][0]["memory"] = "1Gi"
    function["event_trigger"][0]["pubsub_topic"] = "${google_pubsub_topic.nowhere.id}"
    document["resource"]["google_pubsub_topic"]["orders"]["labels"] = "${google_pubsub_topic.orders.colour}"
    document["resource"]["google_function"] = {"x": {}}
    assert problems(document, "google") == [
        "google_cloudfunctions2_function.fulfil.service_config[0]: memory is not an argument of this block",
        "google_function: not a resource type of hashicorp/google 6.50.0",
        "${google_pubsub_topic.orders.colour}: google_pubsub_topic has no attribute colour",
        "${google_pubsub_topic.nowhere.id}: google_pubsub_topic.nowhere is not declared",
    ]


def test_resources_refer_to_each_other_not_to_literal_paths(shop: App) -> None:
    document, _, _ = export(shop, service_account=ACCOUNT)
    text = json.dumps(without_comments(document["resource"]))
    for literal in ("projects/proj/topics/", "projects/proj/databases/", "/queues/", "gs://"):
        assert literal not in text


def test_a_queue_function_keeps_its_memory_timeout_env_account_and_trigger(shop: App) -> None:
    document, _, _ = export(shop, service_account=ACCOUNT)
    fulfil = without_comments(document["resource"]["google_cloudfunctions2_function"]["fulfil"])
    assert fulfil == {
        "name": "shop-dev-fulfil",
        "location": "europe-west1",
        "labels": {"portable-fn-app": "shop", "portable-fn-stage": "dev", "portable-fn-source": "ab" * 16},
        "build_config": [
            {
                "runtime": "python311",
                "entry_point": "fulfil",
                "source": [
                    {
                        "storage_source": [
                            {
                                "bucket": "${google_storage_bucket_object.source.bucket}",
                                "object": "${google_storage_bucket_object.source.name}",
                            }
                        ]
                    }
                ],
            }
        ],
        "service_config": [
            {
                "available_memory": "256Mi",
                "timeout_seconds": 30,
                "environment_variables": {
                    "GOOGLE_CLOUD_PROJECT": "proj",
                    "PORTABLE_FN_APP": "shop",
                    "PORTABLE_FN_DEAD_LETTER_TOPIC": "${google_pubsub_topic.orders_dlq.id}",
                    "PORTABLE_FN_FUNCTION": "fulfil",
                    "PORTABLE_FN_PROVIDER": "gcp",
                    "PORTABLE_FN_REGION": "europe-west1",
                    "PORTABLE_FN_STAGE": "dev",
                    "PORTABLE_FN_TIMEOUT_S": "30",
                },
                "min_instance_count": 0,
                "max_instance_count": 100,
                "ingress_settings": "ALLOW_ALL",
                "all_traffic_on_latest_revision": True,
                "service_account_email": ACCOUNT,
            }
        ],
        "event_trigger": [
            {
                "trigger_region": "europe-west1",
                "event_type": "google.cloud.pubsub.topic.v1.messagePublished",
                "retry_policy": "RETRY_POLICY_RETRY",
                "pubsub_topic": "${google_pubsub_topic.orders.id}",
                "service_account_email": ACCOUNT,
            }
        ],
    }
    assert document["output"]["fulfil_trigger"] == {
        "value": "${google_cloudfunctions2_function.fulfil.event_trigger[0].trigger}"
    }


def test_the_source_zip_is_an_object_of_a_bucket_of_its_own(shop: App) -> None:
    document, notes, _ = export(shop)
    resources = document["resource"]
    assert without_comments(resources["google_storage_bucket_object"]["source"]) == {
        "name": f"shop-dev/{'ab' * 32}.zip",
        "bucket": "${google_storage_bucket.pfn_sources.name}",
        "source": "${path.module}/shop-gcp.zip",
    }
    assert resources["google_storage_bucket"]["pfn_sources"]["name"] == "proj-shop-dev-pfn-sources"
    assert notes[0] == (
        "gcp: deploy uploads the source zip through Cloud Functions' generateUploadUrl; Terraform uploads it to a "
        "bucket of its own, proj-shop-dev-pfn-sources, declared in main.tf."
    )


def test_a_storage_trigger_filters_on_its_bucket_and_waits_for_the_project_grants(shop: App) -> None:
    document, _, _ = export(shop, service_account=ACCOUNT)
    upload = document["resource"]["google_cloudfunctions2_function"]["on_upload"]
    assert upload["event_trigger"][0]["event_filters"] == [
        {"attribute": "bucket", "value": "${google_storage_bucket.uploads.name}"}
    ]
    assert upload["depends_on"] == [
        "${google_project_iam_member.storage_agent_publisher}",
        "${google_project_iam_member.event_receiver}",
    ]
    grants = document["resource"]["google_project_iam_member"]
    assert without_comments(grants["storage_agent_publisher"]) == {
        "project": "proj",
        "role": "roles/pubsub.publisher",
        "member": "serviceAccount:${data.google_storage_project_service_account.storage_agent.email_address}",
    }
    assert without_comments(grants["stock_access"])["condition"] == [
        {
            "title": "portable-fn shop-dev-stock",
            "description": "portable-fn: this state's database only",
            "expression": 'resource.name == "${google_firestore_database.stock.id}"',
        }
    ]


def test_a_storage_trigger_on_an_existing_bucket_names_it_and_waits_only_for_the_app_s_grant(shop: App) -> None:
    existing = {"buckets": {"uploads": "team-uploads"}, "grant_storage_agent": False}
    document, _, _ = export(shop, service_account=ACCOUNT, **existing)
    upload = document["resource"]["google_cloudfunctions2_function"]["on_upload"]
    assert upload["event_trigger"][0]["event_filters"] == [{"attribute": "bucket", "value": "team-uploads"}]
    assert upload["depends_on"] == ["${google_project_iam_member.event_receiver}"]
    assert sorted(document["resource"]["google_storage_bucket"]) == ["pfn_sources"]
    assert "google_storage_project_service_account" not in document.get("data", {})


def test_each_declared_bucket_s_grants_name_that_bucket_and_each_declaring_function_s_account() -> None:
    """The files app: a bucket deploy makes is referred to, the existing one its settings map `archive` to is named."""
    document, _, _ = export(load_app(REPO / "tests/providers/gcp/deploy/apps/files"))
    grants = {
        (g["bucket"], g["role"], g["member"])
        for g in without_comments(document["resource"])["google_storage_bucket_iam_member"].values()
    }
    viewer, user = "roles/storage.objectViewer", "roles/storage.objectUser"

    def account(function: str) -> str:
        return f"serviceAccount:${{google_service_account.{function}.email}}"

    assert grants == {
        ("${google_storage_bucket.uploads.name}", viewer, account("listing")),
        ("${google_storage_bucket.uploads.name}", user, account("summarise")),
        ("${google_storage_bucket.uploads.name}", user, account("upload")),
        ("${google_storage_bucket.reports.name}", viewer, account("listing")),
        ("company-archive", user, account("summarise")),
    }
    assert sorted(document["resource"]["google_storage_bucket"]) == ["pfn_sources", "reports", "uploads"]


def test_dead_letters_are_kept_and_their_policy_is_left_to_gcloud(shop: App) -> None:
    document, notes, _ = export(shop)
    resources = document["resource"]
    assert without_comments(resources["google_pubsub_subscription"]["orders_dlq"]) == {
        "name": "shop-dev-orders-dlq",
        "topic": "${google_pubsub_topic.orders_dlq.id}",
        "labels": {"portable-fn-app": "shop", "portable-fn-stage": "dev"},
        "message_retention_duration": "604800s",
        "retain_acked_messages": False,
        "ack_deadline_seconds": 60,
        "expiration_policy": [{"ttl": ""}],
    }
    assert without_comments(resources["google_pubsub_topic_iam_member"]["fulfil_dead_letters"]) == {
        "topic": "${google_pubsub_topic.orders_dlq.name}",
        "role": "roles/pubsub.publisher",
        "member": "serviceAccount:${google_service_account.fulfil.email}",  # the account fulfil runs as
    }
    assert resources["google_cloudfunctions2_function"]["fulfil"]["//"][-2:] == [
        "  gcloud pubsub subscriptions update $SUB --dead-letter-topic=projects/proj/topics/shop-dev-orders-dlq "
        "--max-delivery-attempts=5 --min-retry-delay=1s --max-retry-delay=300s",
        "  gcloud pubsub subscriptions add-iam-policy-binding $SUB --role=roles/pubsub.subscriber "
        "--member=serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com",
    ]
    assert [note.split(":", 2)[1].strip()[:40] for note in notes] == [
        "deploy uploads the source zip through Cl",
        "the Cloud Storage service agent's roles/",
        "the dead-letter and retry policies of th",
    ]


def test_a_schedule_publishes_the_tick_deploy_sends(shop: App) -> None:
    document, _, desired = export(shop)
    job = without_comments(document["resource"]["google_cloud_scheduler_job"]["sweep"])
    tick = next(r for r in desired if isinstance(r, gcp_resources.SchedulerJob) and r.name == "shop-dev-sweep")
    assert job["pubsub_target"] == [
        {"topic_name": "${google_pubsub_topic.sweep.id}", "data": base64.b64encode(tick.data.encode()).decode()}
    ]
    assert (job["schedule"], job["time_zone"], job["description"]) == ("*/5 * * * *", "Etc/UTC", "portable-fn:shop:dev")


def test_public_http_functions_get_the_invoker_on_their_service(shop: App) -> None:
    document, _, _ = export(shop)
    invokers = document["resource"]["google_cloud_run_service_iam_member"]
    public = [name for name, body in invokers.items() if body["member"] == "allUsers"]
    assert sorted(public) == ["confirm_payment_public", "create_order_public", "get_order_public"]
    assert without_comments(invokers["create_order_public"]) == {
        "location": "${google_cloudfunctions2_function.create_order.location}",
        "service": "${google_cloudfunctions2_function.create_order.name}",
        "role": "roles/run.invoker",
        "member": "allUsers",
    }
    assert document["output"]["create_order_url"] == {"value": "${google_cloudfunctions2_function.create_order.url}"}


def test_each_function_runs_as_an_account_of_its_own_referred_to_by_its_grants(shop: App) -> None:
    document, _, _ = export(shop)
    resources = document["resource"]
    assert without_comments(resources["google_service_account"]["fulfil"]) == {
        "account_id": "shop-dev-fulfil",
        "display_name": "portable-fn shop dev fulfil",
        "description": "portable-fn:shop:dev",
    }
    function = resources["google_cloudfunctions2_function"]["fulfil"]
    assert function["service_config"][0]["service_account_email"] == "${google_service_account.fulfil.email}"
    assert without_comments(resources["google_cloud_run_service_iam_member"]["fulfil_trigger_invoker"])["member"] == (
        "serviceAccount:${google_service_account.fulfil.email}"
    )
    assert "google_service_account" not in export(shop, service_account=ACCOUNT)[0]["resource"]


def test_the_stage_s_tags_are_carried_as_labels(tmp_path: Path) -> None:
    shutil.copytree(REPO / "samples" / "shop", tmp_path / "shop", ignore=shutil.ignore_patterns(".portable-fn"))
    pyproject = tmp_path / "shop" / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    text = text.replace('python = "3.11"\n', 'python = "3.11"\ntags = {team = "pay"}\n')
    stage = '[tool.portable-fn.stages.dev]\ntags = {team = "checkout", tier = "gold"}\n'
    pyproject.write_text(text.replace("[tool.portable-fn.stages.dev]\n", stage), encoding="utf-8")
    document, _, _ = export(load_app(tmp_path / "shop"))
    assert document["resource"]["google_pubsub_topic"]["orders"]["labels"] == {
        "team": "checkout",
        "tier": "gold",
        "portable-fn-app": "shop",
        "portable-fn-stage": "dev",
    }


def test_the_provider_exports_main_tf_with_the_zip_beside_it(shop: App) -> None:
    provider = GcpProvider({**shop.config.provider_settings("gcp", "dev"), "project": "proj"})
    exported = provider.export(shop, "dev", ARTIFACT, "terraform")
    document, notes, _ = export(shop)
    assert (exported.files, exported.artifacts, exported.notes) == (
        {"main.tf": render(document)},
        {"shop-gcp.zip": ARTIFACT.path},
        notes,
    )
    with pytest.raises(ProviderError, match=r"'gcp' cannot export --format cloudformation; it exports terraform"):
        provider.export(shop, "dev", ARTIFACT, "cloudformation")


def test_the_evaluation_fails_on_what_terraform_cannot_read(shop: App, tmp_path: Path) -> None:
    document, _, _ = export(shop)
    main_tf = render(document)
    broken = main_tf.replace('"shop-dev-orders"', '"shop-dev-orders', 1)
    declared = [f"{t}.{label}" for t, blocks in document["resource"].items() for label in blocks]
    declared += [f"data.{t}.{label}" for t, blocks in document["data"].items() for label in blocks]
    assert evaluation_problems(broken, document, tmp_path, "google") == [  # a syntax error: nothing is read
        f"{path}: not read from main.tf" for path in sorted(declared)
    ]
    document["resource"]["google_pubsub_topic"]["orders"]["name"] = "${google_pubsub_topic.nowhere.name}"
    assert evaluation_problems(render(document), document, tmp_path, "google") == [
        "google_pubsub_topic.nowhere.name: unresolved, and google_pubsub_topic.nowhere is not declared"
    ]


def test_portable_fn_export_writes_main_tf_and_the_zip_it_uploads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = tmp_path / "splits"
    shutil.copytree(REPO / "tests" / "apps" / "splits", app, ignore=shutil.ignore_patterns(".portable-fn"))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "proj")
    monkeypatch.setenv("CLOUDSDK_FUNCTIONS_REGION", "europe-west1")
    # the pins come from the packaging cache, filled here without PyPI: the CLI asks no index
    monkeypatch.setenv("PORTABLE_FN_CACHE_DIR", str(tmp_path / "cache"))
    pins = ["functions-framework==3.10.2"]
    build_package(load_app(app), "dev", tmp_path / "seed", lambda m: None, resolve=lambda r, t: pins)
    argv = ["export", str(app), "--provider", "gcp", "--format", "terraform", "-o", str(tmp_path / "tf")]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["files"], out["artifacts"]) == (["main.tf"], ["splits-gcp.zip"])
    built = app / ".portable-fn" / "build" / "gcp" / "dev" / "splits-gcp.zip"
    assert (tmp_path / "tf" / "splits-gcp.zip").read_bytes() == built.read_bytes()
    assert b"functions-framework==3.10.2" in zipfile.ZipFile(built).read("requirements.txt")
    document = parse((tmp_path / "tf" / "main.tf").read_text(encoding="utf-8"))
    source = document["resource"]["google_storage_bucket_object"]["source"]
    assert source["source"] == "${path.module}/splits-gcp.zip"
    assert source["name"] == f"splits-dev/{hashlib.sha256(built.read_bytes()).hexdigest()}.zip"
