"""The app's Google Cloud resources as a Terraform document for hashicorp/google: `portable-fn export --provider gcp
--format terraform`.

Built from the same `desired` resources `plan` and `deploy` use, one exporter per resource type (`EXPORTERS`;
a type without one is an error, so a new kind of resource cannot be left out unnoticed). The document is plain
values in the shape of Terraform's JSON syntax (`portable_fn.export.hcl` writes it as `main.tf`); a resource
refers to another of the document by a Terraform reference (`${google_pubsub_topic.orders.id}`), never by its
literal path, so Terraform orders them itself.

What Terraform is given differently from deploy, or not at all, is said in the notes:

- the source zip: deploy uploads it through Cloud Functions' `generateUploadUrl` (Google's own upload
  bucket); Terraform cannot, so the document declares a bucket for it, `<project>-<app>-<stage>-pfn-sources`,
  and the zip as an object named after its SHA-256 (a new zip is a new object, which redeploys the functions);
- a dead-letter route's policy on the Pub/Sub subscription Eventarc makes for a trigger: Eventarc names that
  subscription only once it exists, so no Terraform resource can hold it; the note gives the gcloud command,
  and the trigger's name is an output;
- the Cloud Storage service agent's project-wide grant, which deploy never revokes, is destroyed with the rest
  by `terraform destroy`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portable_fn.deploy import Artifact, Resource
from portable_fn.deploy.tags import stage_tags
from portable_fn.export import TerraformBuilder, TerraformDocument
from portable_fn.export.hcl import COMMENT
from portable_fn.export.terraform import Body
from portable_fn.runtime.errors import DeployError

from ..settings import GcpSettings
from ..state import EXPIRES_AT
from .appliers import ACK_DEADLINE_S
from .naming import LABEL_SOURCE, STATE_COLLECTION, Names, fit, labels
from .resources import (
    Bucket,
    BucketGrant,
    DeadLetterRoute,
    DeadLetterSubscription,
    DelayQueue,
    EnqueuerGrant,
    EventReceiverGrant,
    Function,
    LeftoverBinding,
    PublicInvoker,
    PublisherGrant,
    SchedulerJob,
    SecretContainer,
    SecretGrant,
    ServiceAccount,
    StateDatabase,
    StateGrant,
    StorageAgentGrant,
    TokenGrant,
    Topic,
    TriggerInvoker,
)

if TYPE_CHECKING:
    from portable_fn.app import App

PROVIDER = {"source": "hashicorp/google", "version": "~> 6.50"}  # the release its schema was checked against
PUBLISHER = "roles/pubsub.publisher"
ROUTE_NOTE = "gcp: the dead-letter and retry policies of the Pub/Sub subscription"


@dataclass
class TerraformGcp(TerraformBuilder):
    """The document being built (`TerraformBuilder`), its `ids` the literal paths of what is in it."""

    app: App
    stage: str
    names: Names
    artifact: Artifact
    artifact_file: str
    settings: GcpSettings

    def short(self, tf_type: str, name: str) -> str:
        """`name` without its `<app>-<stage>-` prefix."""
        return name.removeprefix(f"{self.names.prefix}-") or name

    def resource_labels(self, **extra: str) -> dict[str, str]:
        """The user's tags for the stage (deploy checked them as labels) beside portable-fn's app and stage labels."""
        return {**stage_tags(self.app.config, self.stage), **labels(self.names.app, self.names.stage), **extra}

    def member_of(self, account: str) -> str:
        """`serviceAccount:<account>` (a reference to it when the document makes it), or Google's default compute
        account for none."""
        if account:
            return self.ref(f"serviceAccount:{account}")
        default = self.source("google_compute_default_service_account", "default")
        return f"serviceAccount:${{{default}.email}}"


def terraform_document(
    app: App,
    stage: str,
    desired: list[Resource],
    artifact: Artifact,
    *,
    names: Names,
    settings: GcpSettings | None = None,
    artifact_file: str = "",
) -> tuple[TerraformDocument, list[str]]:
    """The Terraform document of `desired` (`provider.desired(app, stage, artifact)`) and its notes. The zip
    is read from `artifact_file`, relative to the document (default: the artifact's file name)."""
    doc = TerraformGcp(app, stage, names, artifact, artifact_file or artifact.path.name, settings or GcpSettings())
    _register_ids(doc, desired)
    if any(isinstance(r, Function) for r in desired):
        _source_zip(doc)
    where = f"Exporting {app.name!r} to Terraform for gcp"
    doc.write(desired, EXPORTERS, where=where, table="portable_fn_gcp.deploy.export.EXPORTERS")
    configuration = {"project": doc.names.project, "region": doc.names.region}
    return doc.document("google", PROVIDER, configuration), doc.notes


def _register_ids(doc: TerraformGcp, desired: list[Resource]) -> None:
    """The paths others name these kinds by, as references, before any body is built."""
    names = doc.names
    kinds: dict[type[Resource], tuple[str, Callable[[str], str]]] = {
        Topic: ("google_pubsub_topic", names.topic_path),
        DelayQueue: ("google_cloud_tasks_queue", names.queue_path),
        StateDatabase: ("google_firestore_database", names.database_path),
        SecretContainer: ("google_secret_manager_secret", names.secret_path),
    }
    for resource in desired:
        if type(resource) in kinds:
            tf_type, path = kinds[type(resource)]
            doc.ids[path(resource.name)] = f"${{{doc.stem(tf_type, resource.name)}.id}}"
        if isinstance(resource, ServiceAccount):  # its email, as a member and as a function's account
            email = f"${{{doc.stem('google_service_account', resource.name)}.email}}"
            doc.ids[f"serviceAccount:{names.account_email(resource.name)}"] = f"serviceAccount:{email}"
            doc.ids[names.account_email(resource.name)] = email


def _source_zip(doc: TerraformGcp) -> None:
    names = doc.names
    bucket = doc.add(
        "google_storage_bucket",
        f"{names.prefix}-pfn-sources",
        {
            "name": fit(f"{names.project}-{names.prefix}-pfn-sources".lower(), 63),
            "location": names.region,
            "uniform_bucket_level_access": True,
            "public_access_prevention": "enforced",
            "labels": doc.resource_labels(),
        },
        "The functions' source zips (deploy uploads through generateUploadUrl instead)",
    )
    doc.add(
        "google_storage_bucket_object",
        f"{names.prefix}-source",
        {
            "name": f"{names.prefix}/{doc.artifact.sha256}.zip",
            "bucket": f"${{{bucket}.name}}",
            "source": f"${{path.module}}/{doc.artifact_file}",
        },
        "The source zip, named after its SHA-256: a new zip is a new object, and redeploys the functions",
    )
    doc.notes.append(
        f"gcp: deploy uploads the source zip through Cloud Functions' generateUploadUrl; Terraform uploads it to a "
        f"bucket of its own, {fit(f'{names.project}-{names.prefix}-pfn-sources'.lower(), 63)}, declared in main.tf."
    )


def _topic(doc: TerraformGcp, topic: Topic) -> None:
    body = {"name": topic.name, "labels": doc.resource_labels()}
    doc.add("google_pubsub_topic", topic.name, body, f"portable-fn {topic.kind} {topic.name}")


def _publisher(doc: TerraformGcp, grant: PublisherGrant) -> None:
    body = {"topic": doc.ref(grant.topic), "role": grant.role, "member": doc.ref(grant.member)}
    doc.add("google_pubsub_topic_iam_member", grant.name, body, f"portable-fn {grant.kind}")


def _delay_queue(doc: TerraformGcp, queue: DelayQueue) -> None:
    body = {"name": queue.name, "location": doc.names.region}
    doc.add("google_cloud_tasks_queue", queue.name, body, f"portable-fn {queue.kind}: delayed sends to queues")


def _enqueuer(doc: TerraformGcp, grant: EnqueuerGrant) -> None:
    queue = doc.ref(doc.names.queue_path(grant.name)).replace(".id}", ".name}")
    body = {"name": queue, "location": doc.names.region, "role": grant.role, "member": doc.ref(grant.member)}
    doc.add("google_cloud_tasks_queue_iam_member", grant.name, body, f"portable-fn {grant.kind}")


def _token(doc: TerraformGcp, grant: TokenGrant) -> None:
    body = {
        "service_account_id": f"projects/{doc.names.project}/serviceAccounts/{doc.ref(grant.name)}",
        "role": grant.role,
        "member": doc.ref(grant.member),
    }
    doc.add("google_service_account_iam_member", grant.name, body, f"portable-fn {grant.kind}")


def _bucket(doc: TerraformGcp, bucket: Bucket) -> None:
    body = {
        "name": bucket.name,
        "location": bucket.location,
        "uniform_bucket_level_access": True,
        "public_access_prevention": "enforced",
        "labels": doc.resource_labels(),
    }
    doc.add(
        "google_storage_bucket",
        bucket.name,
        body,
        f"portable-fn {bucket.kind}: a storage trigger's or a declared bucket's (force_destroy unset: `terraform "
        "destroy` leaves one holding objects, as `portable-fn remove` keeps it)",
    )


def _bucket_grant(doc: TerraformGcp, grant: BucketGrant) -> None:
    buckets = {r["name"]: label for label, r in doc.resources.get("google_storage_bucket", {}).items()}
    body = {"bucket": _bucket_ref(buckets, grant.bucket), "role": grant.role, "member": doc.ref(grant.member)}
    doc.add("google_storage_bucket_iam_member", grant.name, body, f"portable-fn {grant.kind}: this bucket only")


def _database(doc: TerraformGcp, database: StateDatabase) -> None:
    stem = doc.add(
        "google_firestore_database",
        database.name,
        {
            "name": database.name,
            "location_id": database.location,
            "type": "FIRESTORE_NATIVE",
            "concurrency_mode": "OPTIMISTIC",
            "delete_protection_state": "DELETE_PROTECTION_DISABLED",
            "deletion_policy": "ABANDON",
        },
        f"portable-fn state: its records are documents of collection {STATE_COLLECTION!r}, made as they are written.\n"
        "deletion_policy ABANDON: `terraform destroy` leaves the database and its data, as `portable-fn remove` "
        "keeps a state holding data.",
    )
    if database.ttl:
        body = {
            "database": f"${{{stem}.name}}",
            "collection": STATE_COLLECTION,
            "field": EXPIRES_AT,
            "ttl_config": [{}],
        }
        doc.add("google_firestore_field", f"{database.name}-ttl", body, "Firestore deletes expired records itself")


def _state_grant(doc: TerraformGcp, grant: StateGrant) -> None:
    condition = dict(grant.condition)
    condition["expression"] = f'resource.name == "{doc.ref(grant.database)}"'
    body = {"project": grant.project, "role": grant.role, "member": doc.ref(grant.member), "condition": [condition]}
    doc.add("google_project_iam_member", f"{grant.name}-access", body, "portable-fn: this state's database only")


def _leftover(doc: TerraformGcp, binding: LeftoverBinding) -> None:
    """Never desired (only read, to be taken back): written as the binding it is, should one ever be exported."""
    body: Body = {"project": binding.project, "role": binding.role, "member": doc.ref(binding.member)}
    if binding.condition:
        body["condition"] = [dict(binding.condition)]
    doc.add("google_project_iam_member", binding.name, body, f"portable-fn {binding.kind}")


def _service_account(doc: TerraformGcp, account: ServiceAccount) -> None:
    body = {"account_id": account.name, "display_name": account.display_name, "description": account.description}
    doc.add("google_service_account", account.name, body, "portable-fn: the account one function runs as")


def _secret(doc: TerraformGcp, secret: SecretContainer) -> None:
    body = {"secret_id": secret.name, "replication": [{"auto": [{}]}], "labels": doc.resource_labels()}
    comment = (
        f"portable-fn {secret.kind}: no version here; set its value with `portable-fn secrets set` (a value in "
        "Terraform would sit in its state)"
    )
    doc.add("google_secret_manager_secret", secret.name, body, comment)


def _secret_grant(doc: TerraformGcp, grant: SecretGrant) -> None:
    for fn, member in grant.readers:
        body = {"secret_id": doc.ref(grant.secret), "role": grant.role, "member": doc.ref(member)}
        doc.add("google_secret_manager_secret_iam_member", f"{grant.name}-{fn}", body, f"portable-fn: {fn} reads it")


def _storage_agent(doc: TerraformGcp, grant: StorageAgentGrant) -> None:
    agent = doc.source("google_storage_project_service_account", "storage_agent")
    body = {"project": grant.name, "role": PUBLISHER, "member": f"serviceAccount:${{{agent}.email_address}}"}
    doc.add("google_project_iam_member", "storage-agent-publisher", body, "Eventarc's storage triggers need it")
    doc.notes.append(
        f"gcp: the Cloud Storage service agent's {PUBLISHER} on project {grant.name} is project-wide; deploy never "
        "revokes it, but `terraform destroy` does. Remove it from the state first (terraform state rm) if other "
        "apps rely on it."
    )


def _event_receiver(doc: TerraformGcp, grant: EventReceiverGrant) -> None:
    body = {"project": grant.project, "role": grant.role, "member": doc.ref(f"serviceAccount:{grant.name}")}
    doc.add("google_project_iam_member", "event-receiver", body, f"portable-fn {grant.kind}: storage triggers")


def _function(doc: TerraformGcp, function: Function) -> None:
    names = doc.names
    service: Body = {
        "available_memory": f"{function.memory_mb}Mi",
        "timeout_seconds": function.timeout_s,
        "environment_variables": {key: doc.ref(value) for key, value in function.env},
        "min_instance_count": function.min_instances,
        "max_instance_count": function.max_instances,
        "ingress_settings": function.ingress,
        "all_traffic_on_latest_revision": True,
    }
    if function.service_account:
        service["service_account_email"] = doc.ref(function.service_account)
    source = doc.resources["google_storage_bucket_object"]
    object_stem = f"google_storage_bucket_object.{next(iter(source))}"
    body: Body = {
        "name": function.name,
        "location": names.region,
        "labels": doc.resource_labels(**{LABEL_SOURCE: function.source_sha}),
        "build_config": [
            {
                "runtime": function.runtime,
                "entry_point": function.entry_point,
                "source": [
                    {"storage_source": [{"bucket": f"${{{object_stem}.bucket}}", "object": f"${{{object_stem}.name}}"}]}
                ],
            }
        ],
        "service_config": [service],
    }
    if function.event_type:
        body["event_trigger"] = [_event_trigger(doc, function)]
        waits = [f"${{google_project_iam_member.{label}}}" for label in _project_grants(doc)]
        if function.event_filters and waits:
            body["depends_on"] = waits  # Eventarc refuses a storage trigger until these reach it
    stem = doc.add("google_cloudfunctions2_function", function.name, body, f"portable-fn {function.kind}")
    label = stem.split(".")[1]
    if function.event_type:
        doc.outputs[f"{label}_trigger"] = {"value": f"${{{stem}.event_trigger[0].trigger}}"}
    else:
        doc.outputs[f"{label}_url"] = {"value": f"${{{stem}.url}}"}


def _project_grants(doc: TerraformGcp) -> list[str]:
    """The project grants a storage trigger needs, as declared so far (desired lists them first)."""
    declared = doc.resources.get("google_project_iam_member", {})
    return [label for label in ("storage_agent_publisher", "event_receiver") if label in declared]


def _event_trigger(doc: TerraformGcp, function: Function) -> Body:
    trigger: Body = {
        "trigger_region": doc.names.region,
        "event_type": function.event_type,
        "retry_policy": function.retry_policy,
    }
    if function.pubsub_topic:
        trigger["pubsub_topic"] = doc.ref(function.pubsub_topic)
    if function.event_filters:
        buckets = {r["name"]: label for label, r in doc.resources.get("google_storage_bucket", {}).items()}
        trigger["event_filters"] = [
            {
                "attribute": key,
                "value": f"${{google_storage_bucket.{buckets[value]}.name}}" if value in buckets else value,
            }
            for key, value in function.event_filters
        ]
    if function.service_account:
        trigger["service_account_email"] = doc.ref(function.service_account)
    return trigger


def _bucket_ref(buckets: dict[str, str], name: str) -> str:
    return f"${{google_storage_bucket.{buckets[name]}.name}}" if name in buckets else name


def _function_stem(doc: TerraformGcp, function_id: str) -> str:
    for label, body in doc.resources.get("google_cloudfunctions2_function", {}).items():
        if body["name"] == function_id:
            return f"google_cloudfunctions2_function.{label}"
    raise DeployError(f"Exporting to Terraform for gcp: function {function_id!r} is not in the document.")


def _invoker(doc: TerraformGcp, grant: PublicInvoker | TriggerInvoker) -> None:
    function = _function_stem(doc, grant.name)
    body = {
        "location": f"${{{function}.location}}",
        "service": f"${{{function}.name}}",
        "role": grant.role,
        "member": doc.ref(grant.member),
    }
    suffix = "public" if isinstance(grant, PublicInvoker) else "trigger-invoker"
    doc.add("google_cloud_run_service_iam_member", f"{grant.name}-{suffix}", body, f"portable-fn {grant.kind}")


def _dead_letter_route(doc: TerraformGcp, route: DeadLetterRoute) -> None:
    """The publisher grant the shim needs; for a retrying trigger the Pub/Sub service agent's grant on the
    dead-letter topic, and a note for the policy on Eventarc's subscription, which Terraform cannot hold."""
    topic = doc.ref(route.dead_letter_topic).replace(".id}", ".name}")
    body = {"topic": topic, "role": PUBLISHER, "member": doc.member_of(route.publisher)}
    doc.add(
        "google_pubsub_topic_iam_member", f"{route.name}-dead-letters", body, "the shim publishes what it gave up on"
    )
    if not route.trigger_source:
        return
    project = doc.source("google_project", "project")
    agent = f"serviceAccount:service-${{{project}.number}}@gcp-sa-pubsub.iam.gserviceaccount.com"
    body = {"topic": topic, "role": PUBLISHER, "member": agent}
    doc.add("google_pubsub_topic_iam_member", f"{route.name}-dead-letter-agent", body, "Pub/Sub moves failures there")
    stem = _function_stem(doc, route.name)
    label, number = stem.split(".")[1], doc.settings.project_number or "PROJECT_NUMBER"
    doc.resources["google_cloudfunctions2_function"][label][COMMENT] += [
        "Not in Terraform: the dead-letter and retry policies of the Pub/Sub subscription Eventarc makes for this",
        "trigger (Eventarc names it once it exists). After `terraform apply`, run:",
        f"  SUB=$(gcloud eventarc triggers describe $(terraform output -raw {label}_trigger) "
        f"--location={doc.names.region} --format='value(transport.pubsub.subscription)')",
        f"  gcloud pubsub subscriptions update $SUB --dead-letter-topic={route.dead_letter_topic} "
        f"--max-delivery-attempts={route.max_delivery_attempts} --min-retry-delay={route.minimum_backoff_s}s "
        f"--max-retry-delay={route.maximum_backoff_s}s",
        f"  gcloud pubsub subscriptions add-iam-policy-binding $SUB --role=roles/pubsub.subscriber "
        f"--member=serviceAccount:service-{number}@gcp-sa-pubsub.iam.gserviceaccount.com",
    ]
    if not any(note.startswith(ROUTE_NOTE) for note in doc.notes):
        doc.notes.append(
            f"{ROUTE_NOTE} Eventarc makes for a retrying trigger cannot be declared in Terraform (Eventarc names the "
            "subscription once it exists): the comment on each such function in main.tf gives the gcloud commands "
            "that set them after `terraform apply`."
        )


def _dead_letter_subscription(doc: TerraformGcp, subscription: DeadLetterSubscription) -> None:
    body = {
        "name": subscription.name,
        "topic": doc.ref(subscription.topic),
        "labels": doc.resource_labels(),
        "message_retention_duration": f"{subscription.retention_s}s",
        "retain_acked_messages": False,
        "ack_deadline_seconds": ACK_DEADLINE_S,
        "expiration_policy": [{"ttl": ""}],  # never expires, however long nobody pulls
    }
    doc.add("google_pubsub_subscription", subscription.name, body, "keeps what reaches the dead-letter topic")


def _scheduler_job(doc: TerraformGcp, job: SchedulerJob) -> None:
    target = {"topic_name": doc.ref(job.topic), "data": base64.b64encode(job.data.encode()).decode()}
    body = {
        "name": job.name,
        "region": doc.names.region,
        "description": job.description,
        "schedule": job.schedule,
        "time_zone": job.time_zone,
        "pubsub_target": [target],
    }
    doc.add("google_cloud_scheduler_job", job.name, body, f"portable-fn {job.kind}")


# Every resource type `desired` returns, and how it is written.
EXPORTERS: dict[type[Resource], Callable[[TerraformGcp, Any], None]] = {
    ServiceAccount: _service_account,
    LeftoverBinding: _leftover,
    StorageAgentGrant: _storage_agent,
    EventReceiverGrant: _event_receiver,
    Topic: _topic,
    PublisherGrant: _publisher,
    DelayQueue: _delay_queue,
    EnqueuerGrant: _enqueuer,
    TokenGrant: _token,
    Bucket: _bucket,
    BucketGrant: _bucket_grant,
    StateDatabase: _database,
    StateGrant: _state_grant,
    SecretContainer: _secret,
    SecretGrant: _secret_grant,
    Function: _function,
    DeadLetterRoute: _dead_letter_route,
    DeadLetterSubscription: _dead_letter_subscription,
    PublicInvoker: _invoker,
    TriggerInvoker: _invoker,
    SchedulerJob: _scheduler_job,
}
__all__ = ["EXPORTERS", "terraform_document"]
