"""Deploying samples/shop through the shared pipeline with the official Google clients (REST transport)
against the recording endpoint, the zip going to gcp-storage-emulator.

Each test starts from an empty project (see conftest). Two counts of what changed are checked: the
calls `GcpClient` recorded (anything not get_*/list_*) and the requests the endpoint saw (anything not GET).
Every deploy and remove also writes its audit record to the stage's audit bucket (`AUDIT`): those writes
are told apart by that bucket's name (`app_mutating_calls`, `GoogleApi.mutating` / `audit_writes`) and
checked exactly where a test is about a whole deploy or remove.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from portable_fn import audit
from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import DeployError

from .conftest import audit_bucket_of, audit_trail, audit_writes

PROJECT, REGION = "shop-project", "europe-west1"
LOCATION = f"projects/{PROJECT}/locations/{REGION}"
SHOP_FUNCTIONS = {
    "create_order": "create-order",
    "get_order": "get-order",
    "fulfil": "fulfil",
    "sweep": "sweep",
    "nightly_report": "nightly-report",
    "on_upload": "on-upload",
    "notify": "notify",
    "confirm_payment": "confirm-payment",
    "place_order-run": "place-order-run",  # the place_order workflow's runner
}
SENDING = (
    "PORTABLE_FN_DEAD_LETTER_TOPIC",
    "PORTABLE_FN_STATE_",
    "PORTABLE_FN_QUEUE_",
    "PORTABLE_FN_TOPIC_",
    "PORTABLE_FN_DELAY_",
)
LABELS = {"portable-fn-app": "shop", "portable-fn-stage": "dev"}
AUDIT = audit_bucket_of("dev")  # the stage's audit trail: shop-dev-audit-<12 hex>


def function(google: Any, fn: str) -> dict[str, Any]:
    return google.functions[f"{LOCATION}/functions/shop-dev-{SHOP_FUNCTIONS[fn]}"]


def topic(name: str) -> str:
    return f"projects/{PROJECT}/topics/shop-dev-{name}"


@pytest.fixture
def deployed(provider: Any, shop: Any, google: Any) -> Any:
    pipeline.deploy(provider, shop, "dev")
    provider.deployer.client.calls.clear()
    google.requests.clear()
    return provider


def test_first_deploy_creates_every_function_with_its_configuration(provider: Any, shop: Any, google: Any) -> None:
    messages: list[str] = []
    outcome = pipeline.deploy(provider, shop, "dev", messages.append)
    zip_bytes = outcome.artifact.path.read_bytes()
    assert sorted(google.functions) == sorted(f"{LOCATION}/functions/shop-dev-{i}" for i in SHOP_FUNCTIONS.values())
    for fn in SHOP_FUNCTIONS:
        found = function(google, fn)
        assert found["state"] == "ACTIVE" and found["environment"] == "GEN_2"
        assert found["buildConfig"]["runtime"] == "python311"
        assert found["buildConfig"]["entryPoint"] == fn
        assert found["labels"] == {**LABELS, "portable-fn-source": outcome.artifact.sha256[:32]}
        service = found["serviceConfig"]
        assert (service["availableMemory"], service["timeoutSeconds"]) == ("256Mi", 30)
        assert (service.get("minInstanceCount", 0), service["maxInstanceCount"]) == (0, 100)
        assert service["ingressSettings"] == "ALLOW_ALL"
        env = service["environmentVariables"]
        assert {k: env[k] for k in env if not k.startswith(SENDING)} == {
            "PORTABLE_FN_APP": "shop",
            "PORTABLE_FN_STAGE": "dev",
            "PORTABLE_FN_FUNCTION": fn,
            "PORTABLE_FN_PROVIDER": "gcp",
            "PORTABLE_FN_TIMEOUT_S": "30",
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "PORTABLE_FN_REGION": REGION,
        }
        assert google.source_bytes(found["name"]) == zip_bytes  # really PUT to the storage emulator
    assert any("creating function shop-dev-fulfil: waiting for projects/" in m for m in messages)
    assert any("creating function shop-dev-fulfil: done" in m for m in messages)
    # the stage's first record makes its audit bucket, which is no bucket of the app's
    assert audit_writes(google) == audit_trail(outcome.audit, made=True)
    assert google.app_buckets() == ["shop-dev-uploads"] and google.audit_buckets() == [AUDIT]
    assert f"Recorded in gs://{AUDIT}/pfn-audit/shop/dev/{outcome.audit.name}" in messages


def test_event_functions_get_triggers_topics_and_dead_letter_topics(deployed: Any, google: Any) -> None:
    fulfil = function(google, "fulfil")
    assert fulfil["eventTrigger"]["eventType"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert fulfil["eventTrigger"]["pubsubTopic"] == topic("orders")
    assert fulfil["eventTrigger"]["retryPolicy"] == "RETRY_POLICY_RETRY"
    assert fulfil["eventTrigger"]["triggerRegion"] == REGION
    assert fulfil["serviceConfig"]["environmentVariables"]["PORTABLE_FN_DEAD_LETTER_TOPIC"] == topic("orders-dlq")
    assert function(google, "notify")["eventTrigger"]["pubsubTopic"] == topic("order-events")
    upload = function(google, "on_upload")["eventTrigger"]
    assert upload["eventType"] == "google.cloud.storage.object.v1.finalized"
    assert upload["eventFilters"] == [{"attribute": "bucket", "value": "shop-dev-uploads"}]
    assert "eventTrigger" not in function(google, "create_order")
    assert sorted(google.topics) == sorted(
        topic(t)
        for t in [
            "orders",
            "orders-dlq",
            "order-events",
            "notify-dlq",
            "sweep",
            "sweep-dlq",
            "nightly_report",
            "nightly_report-dlq",
            "on_upload-dlq",
            "pfn-wf-place-order",
            "pfn-wf-place-order-dlq",
        ]
    )
    assert all(t["labels"] == LABELS for t in google.topics.values())


def subscription_of(google: Any, fn: str) -> dict[str, Any]:
    [found] = [
        s for s in google.subscriptions.values() if s.get("function", "").endswith(f"/shop-dev-{SHOP_FUNCTIONS[fn]}")
    ]
    return found


def test_dead_letter_routes_grant_publishing_and_set_the_trigger_subscriptions_policy(
    deployed: Any, google: Any
) -> None:
    runtime = f"serviceAccount:shop-dev-fulfil@{PROJECT}.iam.gserviceaccount.com"  # the account fulfil runs as
    agent = "serviceAccount:service-123456789@gcp-sa-pubsub.iam.gserviceaccount.com"
    # fulfil: retries=2 -> 3 attempts, raised to Pub/Sub's minimum of 5 on its subscription
    fulfil = subscription_of(google, "fulfil")
    assert fulfil["topic"] == topic("orders")
    assert fulfil["deadLetterPolicy"] == {"deadLetterTopic": topic("orders-dlq"), "maxDeliveryAttempts": 5}
    assert google.policies[topic("orders-dlq")]["bindings"] == [
        {"role": "roles/pubsub.publisher", "members": [runtime, agent]}
    ]
    assert google.policies[fulfil["name"]]["bindings"] == [{"role": "roles/pubsub.subscriber", "members": [agent]}]
    # notify, the schedules and on_upload (storage: on Eventarc's own transport topic) retry by default too
    for fn, dlq in [
        ("notify", "notify-dlq"),
        ("sweep", "sweep-dlq"),
        ("nightly_report", "nightly_report-dlq"),
        ("on_upload", "on_upload-dlq"),
    ]:
        assert subscription_of(google, fn)["deadLetterPolicy"]["deadLetterTopic"] == topic(dlq)
    assert google.policies[topic("on_upload-dlq")]["bindings"] == [
        {"role": "roles/pubsub.publisher", "members": [runtime.replace("fulfil", "on-upload"), agent]}
    ]
    assert subscription_of(google, "on_upload")["topic"] != topic("uploads")  # Eventarc's, not one of the app's
    assert google.policies[topic("orders")]["bindings"] == []  # nothing granted on the trigger topics


def test_a_lost_dead_letter_policy_is_put_back_and_nothing_else_changes(deployed: Any, shop: Any, google: Any) -> None:
    fulfil = subscription_of(google, "fulfil")
    del fulfil["deadLetterPolicy"]
    outcome = pipeline.deploy(deployed, shop, "dev")
    assert [s.describe() for s in outcome.plan.steps] == [
        "~ update dead-letter route shop-dev-fulfil (trigger_source, max_delivery_attempts, minimum_backoff_s, "
        "maximum_backoff_s)"
    ]
    assert fulfil["deadLetterPolicy"]["deadLetterTopic"] == topic("orders-dlq")
    assert [(r.method, r.path) for r in google.mutating()] == [("PATCH", "/v1/" + fulfil["name"])]


def test_schedules_become_cloud_scheduler_jobs_publishing_to_the_functions_topic(deployed: Any, google: Any) -> None:
    jobs = {name.rsplit("/", 1)[-1]: job for name, job in google.jobs.items()}
    assert sorted(jobs) == ["shop-dev-nightly_report", "shop-dev-sweep"]
    sweep = jobs["shop-dev-sweep"]
    assert (sweep["schedule"], sweep["timeZone"]) == ("*/5 * * * *", "Etc/UTC")
    assert sweep["pubsubTarget"]["topicName"] == topic("sweep")
    data = json.loads(base64.b64decode(sweep["pubsubTarget"]["data"]))
    assert data == {"schedule": "rate(5 minutes)", "name": "shop-dev-sweep"}
    assert sweep["description"] == "portable-fn:shop:dev"
    assert jobs["shop-dev-nightly_report"]["schedule"] == "0 3 * * *"
    assert function(google, "sweep")["eventTrigger"]["pubsubTopic"] == topic("sweep")


def test_public_http_functions_get_the_run_invoker_binding_for_all_users(deployed: Any, google: Any) -> None:
    for fn in ("create_order", "get_order"):
        service = function(google, fn)["serviceConfig"]["service"]
        assert google.policies[service]["bindings"] == [{"role": "roles/run.invoker", "members": ["allUsers"]}]
    fulfil = f"serviceAccount:shop-dev-fulfil@{PROJECT}.iam.gserviceaccount.com"  # its trigger's identity: itself
    assert google.policies[function(google, "fulfil")["serviceConfig"]["service"]]["bindings"] == [
        {"role": "roles/run.invoker", "members": [fulfil]}
    ]


def test_outputs_name_urls_topics_and_jobs(deployed: Any, shop: Any) -> None:
    out = pipeline.info(deployed, shop, "dev").outputs
    assert (out["provider"], out["project"], out["region"]) == ("gcp", PROJECT, REGION)
    assert out["functions"]["create_order"] == {
        "name": f"{LOCATION}/functions/shop-dev-create-order",
        "state": "ACTIVE",
        "trigger": "http",
        "url": "https://shop-dev-create-order-abcdefghij-ew.a.run.app",
        "auth": "public",
    }
    assert out["functions"]["fulfil"]["topic"] == topic("orders")
    assert out["functions"]["fulfil"]["dead_letter_topic"] == topic("orders-dlq")
    assert out["functions"]["on_upload"]["dead_letter_topic"] == topic("on_upload-dlq")
    assert "dead_letter_topic" not in out["functions"]["create_order"]
    assert out["functions"]["sweep"]["schedule"] == "*/5 * * * *"
    assert out["functions"]["on_upload"]["bucket"] == "shop-dev-uploads"


# -- plan, redeploy, change ------------------------------------------------------------------------
def test_plan_changes_nothing(provider: Any, shop: Any, google: Any) -> None:
    outcome = pipeline.plan(provider, shop, "dev")
    assert outcome.plan.summary() == "76 to create, 0 to update, 0 to delete, 0 unchanged"
    assert google.mutating() == [] and provider.deployer.client.mutating_calls() == []
    assert google.functions == {} and google.topics == {} and google.jobs == {}
    assert google.audit_writes() == [] and google.buckets == {}  # a plan is no change: nothing is recorded


def test_redeploy_with_nothing_changed_makes_no_mutating_call(deployed: Any, shop: Any, google: Any) -> None:
    outcome = pipeline.deploy(deployed, shop, "dev")
    assert outcome.plan.empty, outcome.plan.summary()
    client = deployed.deployer.client
    assert client.app_mutating_calls(AUDIT) == []
    assert google.mutating() == []
    # but the audit trail's: this deploy's record, and the audit bucket's labels set to name it
    record = outcome.audit
    assert client.audit_calls(AUDIT) == [
        ("storage", "insert_object", f"{AUDIT}/pfn-audit/shop/dev/{record.name}"),
        ("storage", "patch_bucket", AUDIT),
    ]
    assert audit_writes(google) == audit_trail(record)
    # GETs only, the IAM policy reads Google takes as a POST (the project's; the delay queue's and the accounts'
    # of the functions that send later, as each runs as its own), and the audit trail's writes
    accounts = ("create-order", "confirm-payment", "place-order-run")
    assert {r.path for r in google.requests if r.method != "GET"} == {
        f"/v3/projects/{PROJECT}:getIamPolicy",
        f"/v2/{LOCATION}/queues/shop-dev-pfn-delays:getIamPolicy",
        *(
            f"/v1/projects/-/serviceAccounts/shop-dev-{a}@{PROJECT}.iam.gserviceaccount.com:getIamPolicy"
            for a in accounts
        ),
        f"/upload/storage/v1/b/{AUDIT}/o",
        f"/storage/v1/b/{AUDIT}",
    }


def test_a_code_change_uploads_once_per_function_and_updates_only_the_source(
    deployed: Any, shop: Any, google: Any
) -> None:
    deployed.code = "# the second version\n"
    outcome = pipeline.deploy(deployed, shop, "dev")
    assert [s.changes for s in outcome.plan.steps] == [("source_sha",)] * len(SHOP_FUNCTIONS)
    patches = [r for r in google.mutating() if r.method == "PATCH"]
    assert len(patches) == len(SHOP_FUNCTIONS)
    assert {r.query["updateMask"] for r in patches} == {"buildConfig.source,labels"}
    assert {r.method for r in google.mutating()} == {"PATCH", "POST"}  # POSTs are generateUploadUrl
    client = deployed.deployer.client
    assert sorted(set(client.app_mutating_calls(AUDIT))) == [
        ("functions", "generate_upload_url"),
        ("functions", "update_function"),
        ("storage", "upload"),
    ]
    assert [method for _, method, _ in client.audit_calls(AUDIT)] == ["insert_object", "patch_bucket"]
    assert audit_writes(google) == audit_trail(outcome.audit)
    assert [c["fields"] for c in outcome.audit.changes] == [["source_sha"]] * len(SHOP_FUNCTIONS)
    for fn in SHOP_FUNCTIONS:
        assert google.source_bytes(function(google, fn)["name"]) == outcome.artifact.path.read_bytes()
        assert function(google, fn)["labels"]["portable-fn-source"] == outcome.artifact.sha256[:32]
    assert pipeline.plan(deployed, shop, "dev").plan.empty


def test_a_setting_change_updates_only_that_field(deployed: Any, shop: Any, google: Any) -> None:
    deployed.deployer.config = deployed.deployer.config.model_copy(update={"ingress": "ALLOW_INTERNAL_ONLY"})
    pipeline.deploy(deployed, shop, "dev")
    patches = [r for r in google.mutating() if r.method == "PATCH"]
    assert {r.query["updateMask"] for r in patches} == {"serviceConfig.ingressSettings"}
    assert len(google.mutating()) == len(SHOP_FUNCTIONS)  # no upload: the code did not change
    assert function(google, "fulfil")["serviceConfig"]["ingressSettings"] == "ALLOW_INTERNAL_ONLY"


def test_a_scheduler_job_changed_by_hand_is_put_back_with_an_update_mask(deployed: Any, shop: Any, google: Any) -> None:
    google.jobs[f"{LOCATION}/jobs/shop-dev-sweep"]["schedule"] = "0 * * * *"
    outcome = pipeline.deploy(deployed, shop, "dev")
    assert [s.describe() for s in outcome.plan.steps] == ["~ update scheduler job shop-dev-sweep (schedule)"]
    [patch] = google.mutating()
    assert (patch.method, patch.query["updateMask"]) == ("PATCH", "schedule")
    assert google.jobs[f"{LOCATION}/jobs/shop-dev-sweep"]["schedule"] == "*/5 * * * *"


# -- failures and reruns ---------------------------------------------------------------------------
def test_a_failure_half_way_names_the_resource_and_a_rerun_converges(provider: Any, shop: Any, google: Any) -> None:
    google.fail_next_operation("shop-dev-notify", "Build failed: could not resolve a requirement")
    with pytest.raises(DeployError) as failed:
        pipeline.deploy(provider, shop, "dev")
    message = str(failed.value)
    assert "'+ create cloud function shop-dev-notify'" in message
    assert "Build failed: could not resolve a requirement" in message and "portable-fn deploy" in message
    assert function(google, "notify")["state"] == "FAILED"
    assert google.jobs == {}  # steps after the failure did not run

    rerun = pipeline.deploy(provider, shop, "dev")
    assert "~ update cloud function shop-dev-notify (state)" in [s.describe() for s in rerun.plan.steps]
    assert function(google, "notify")["state"] == "ACTIVE" and len(google.jobs) == 2
    google.requests.clear()
    again = pipeline.deploy(provider, shop, "dev")
    assert again.plan.empty and google.mutating() == []
    assert audit_writes(google) == audit_trail(again.audit)  # its record, and nothing else


def test_a_rejected_request_fails_with_googles_reason(provider: Any, shop: Any, google: Any) -> None:
    # not an IngressSettings value (model_copy does not validate: the fake must refuse it)
    provider.deployer.config = provider.deployer.config.model_copy(update={"ingress": "ALLOW_EVERYONE"})
    with pytest.raises(DeployError, match=r"create cloud function shop-dev-.*ALLOW_EVERYONE"):
        pipeline.deploy(provider, shop, "dev")


# -- remove ----------------------------------------------------------------------------------------
def test_remove_deletes_exactly_what_the_app_and_stage_made(
    provider: Any, shop: Any, google: Any, helpers: Any
) -> None:
    prod = helpers.RecordingProvider({**provider.settings}, provider.endpoint_url)
    pipeline.deploy(prod, shop, "prod")
    prod_state = (set(google.functions), set(google.jobs), set(google.topics))
    assert "shop-prod-uploads" in google.buckets
    pipeline.deploy(provider, shop, "dev")
    google.topics[f"projects/{PROJECT}/topics/shop-dev-by-hand"] = {"name": "by-hand"}  # no labels: not ours

    google.requests.clear()
    outcome = pipeline.remove(provider, shop, "dev")
    assert outcome.plan.summary() == "0 to create, 0 to update, 75 to delete, 0 unchanged, 1 kept"
    assert not any("shop-dev-" in name for name in [*google.functions, *google.jobs, *google.app_buckets()])
    assert "shop-prod-uploads" in google.buckets
    # each stage's audit trail outlives it; the remove is its last record
    assert google.audit_buckets() == sorted([AUDIT, audit_bucket_of("prod")])
    assert audit_writes(google) == audit_trail(outcome.audit)
    assert not any(r.method == "DELETE" and AUDIT in r.path for r in google.requests)
    assert [t for t in google.topics if "shop-dev-" in t] == [f"projects/{PROJECT}/topics/shop-dev-by-hand"]
    assert prod_state == (
        set(google.functions),
        set(google.jobs),
        set(google.topics) - {f"projects/{PROJECT}/topics/shop-dev-by-hand"},
    )
    assert pipeline.remove(provider, shop, "dev").plan.empty


# -- buckets ---------------------------------------------------------------------------------------
def test_a_storage_trigger_gets_its_bucket_labelled_private_and_in_the_region(deployed: Any, google: Any) -> None:
    bucket = google.buckets["shop-dev-uploads"]
    assert bucket["labels"] == LABELS and bucket["location"] == REGION.upper()
    assert bucket["iamConfiguration"] == {
        "uniformBucketLevelAccess": {"enabled": True},
        "publicAccessPrevention": "enforced",
    }
    assert google.app_buckets() == ["shop-dev-uploads"] and google.audit_buckets() == [AUDIT]


def test_a_bucket_mapped_to_an_existing_one_is_neither_created_nor_deleted(
    google: Any, google_server: Any, shop: Any, helpers: Any
) -> None:
    google.buckets["company-uploads"] = {"name": "company-uploads", "project": PROJECT, "location": "EU"}
    settings = {
        **shop.config.provider_settings("gcp", "dev"),
        "project": PROJECT,
        "poll_s": 0.01,
        "buckets": {"uploads": "company-uploads"},
    }
    provider = helpers.RecordingProvider(settings, google_server.url)
    pipeline.deploy(provider, shop, "dev")
    assert google.app_buckets() == ["company-uploads"] and google.audit_buckets() == [AUDIT]
    assert function(google, "on_upload")["eventTrigger"]["eventFilters"] == [
        {"attribute": "bucket", "value": "company-uploads"}
    ]
    pipeline.remove(provider, shop, "dev")
    assert google.app_buckets() == ["company-uploads"] and "labels" not in google.buckets["company-uploads"]
    assert google.audit_buckets() == [AUDIT]


def test_remove_keeps_a_bucket_holding_objects_unless_told_to_delete_data(
    deployed: Any, shop: Any, google: Any
) -> None:
    google.put_object("shop-dev-uploads", "in/a.csv", b"a,b")
    google.put_object("shop-dev-uploads", "in/b.csv", b"c,d")
    google.put_object("shop-dev-uploads", "in/c.csv", b"e,f")  # more than one page of the fake's listing
    messages: list[str] = []
    pipeline.remove(deployed, shop, "dev", messages.append)
    assert google.app_buckets() == ["shop-dev-uploads"] and google.functions == {}
    assert any("storage bucket shop-dev-uploads" in m and "--delete-data" in m for m in messages), messages
    pipeline.remove(deployed, shop, "dev", delete_data=True)  # empties it, then deletes it
    assert google.app_buckets() == [] and google.audit_buckets() == [AUDIT]
    assert not [key for key in google.cloud_storage.objects if key[0] == "shop-dev-uploads"]
    trail = [(r.verb, r.outcome) for r in audit.history(deployed, shop, "dev")]
    assert trail == [("remove", "succeeded"), ("remove", "succeeded"), ("deploy", "succeeded")]


def test_a_bucket_left_unlabelled_by_a_failed_run_is_adopted(provider: Any, shop: Any, google: Any) -> None:
    google.buckets["shop-dev-uploads"] = {"name": "shop-dev-uploads", "project": PROJECT, "location": "EUROPE-WEST1"}
    pipeline.deploy(provider, shop, "dev")
    assert google.buckets["shop-dev-uploads"]["labels"] == LABELS
    assert pipeline.plan(provider, shop, "dev").plan.empty
