"""What an app's IAM bindings grant on Google Cloud (`GcpProvider.grants`), read from the desired resources:
for the shop and every test app that declares `uses=`, with and without an app service account: no wildcard
permission, every resource named (the project-wide and pattern exceptions below, each with its reason), the
narrowest role for each use (viewer for a state only read), and each grant traced back to a declared use, the
function's own trigger or dead-letter topic; and every declaration honoured. A bucket only read gets
roles/storage.objectViewer on that bucket, a bucket written roles/storage.objectUser, neither on anything else."""

from __future__ import annotations

from pathlib import Path

import pytest
from portable_fn_gcp.deploy.desired import Target, dead_letter_topic, desired
from portable_fn_gcp.deploy.naming import Names
from portable_fn_gcp.provider import GcpProvider
from portable_fn_gcp.settings import GcpSettings

from portable_fn.app import App, load_app
from portable_fn.deploy import Artifact
from portable_fn.deploy.grants import Grant
from portable_fn.runtime.buckets import Bucket
from portable_fn.runtime.channels import QUEUE
from portable_fn.runtime.function import FunctionSpec
from portable_fn.runtime.secrets import Secret
from portable_fn.runtime.state import State
from portable_fn.runtime.triggers import Http, Storage

from ....grants_contract import untraced, unused

REPO = Path(__file__).resolve().parents[4]
APPS = [
    REPO / "samples" / "shop",
    REPO / "samples" / "telemetry",
    REPO / "samples" / "saas",
    REPO / "tests" / "apps" / "flow",
    REPO / "tests" / "apps" / "emitter",
    Path(__file__).with_name("apps") / "channels",
    Path(__file__).with_name("apps") / "stateful",
    Path(__file__).with_name("apps") / "secretive",
    Path(__file__).with_name("apps") / "files",
]
PROJECT, REGION, STAGE = "p", "europe-west1", "dev"
ACCOUNT = "app@p.iam.gserviceaccount.com"
# Grants on the whole project, and why nothing narrower exists for them.
PROJECT_WIDE = {
    "roles/eventarc.eventReceiver": "Eventarc's receiver role is granted on the project only",
    "roles/pubsub.publisher": "the Cloud Storage agent publishes to the topics Eventarc makes for storage triggers",
}
EVENTARC_SUBSCRIPTIONS = "the trigger's subscription is named by Eventarc when it makes it"

Allowed = dict[tuple[str | None, str], tuple[frozenset[str], str]]


def grants_of(app: App, account: str) -> list[Grant]:
    artifact = Artifact(Path("/tmp/app.zip"), "ab" * 32, 1, 1)
    target = Target(app, STAGE, Names(app.name, STAGE, PROJECT, REGION), artifact, GcpSettings(service_account=account))
    return GcpProvider().grants(desired(target))


def allowed(app: App, account: str) -> Allowed:
    """What the app's declarations allow, built from the app alone (paths from `Names`, roles spelled here): each
    function's own when it runs as its own account (`account` empty), else the app's as a whole (function None)."""
    names = Names(app.name, STAGE, PROJECT, REGION)
    out: Allowed = {}

    def allow(spec: FunctionSpec | None, resource: str, roles: set[str], why: str) -> None:
        key = (None if spec is None or account else spec.name, resource)
        out[key] = (out.get(key, (frozenset(), why))[0] | roles, why)

    if any(isinstance(s.trigger, Storage) for s in app.functions):
        allow(None, f"projects/{PROJECT}", {"roles/pubsub.publisher"}, "a storage trigger (the storage agent)")
    for spec in app.functions:
        out.update(function_allowed(app, names, spec, account))
        options = app.options(spec)
        if isinstance(spec.trigger, Storage):
            allow(spec, f"projects/{PROJECT}", {"roles/eventarc.eventReceiver"}, "its storage trigger")
        for use in options.uses:
            if isinstance(use.resource, State):
                database = names.database_path(names.database(use.resource.name))
                allow(spec, database, {"roles/datastore.user", "roles/datastore.viewer"}, f"uses {use.resource}")
            if isinstance(use.resource, Bucket):  # on that bucket alone, the role of the access declared
                path = f"projects/_/buckets/{names.bucket(use.resource.name)}"
                role = "roles/storage.objectUser" if use.writes else "roles/storage.objectViewer"
                allow(spec, path, {role}, f"uses {use.resource}")
        for channel in (c for c in app.channels if spec in app.senders(c)):
            allow(spec, names.topic_path(names.topic(channel.name)), {"roles/pubsub.publisher"}, "sends")
            if channel.kind == QUEUE:
                allow(spec, names.queue_path(names.delay_queue), {"roles/cloudtasks.enqueuer"}, "sends later")
                own = account or names.account_email(names.function_account(spec.name))
                allow(spec, f"projects/-/serviceAccounts/{own}", {"roles/iam.serviceAccountUser"}, "a delay's token")
    return out


def function_allowed(app: App, names: Names, spec: FunctionSpec, account: str) -> Allowed:
    fn, trigger, options = spec.name, spec.trigger, app.options(spec)
    service = f"{names.location}/services/{names.function_id(fn)}"
    out: Allowed = {}
    for use in options.uses:
        if isinstance(use.resource, Secret):
            path = f"projects/{PROJECT}/secrets/{names.secret(use.resource.name)}"
            out[(fn, path)] = (frozenset({"roles/secretmanager.secretAccessor"}), f"reads {use.resource}")
    if (isinstance(trigger, Http) and trigger.open_at_edge) or trigger.is_event:
        out[(fn, service)] = (frozenset({"roles/run.invoker"}), "its trigger")
    if dead_letter := dead_letter_topic(names, spec, options):
        out[(fn, names.topic_path(dead_letter))] = (frozenset({"roles/pubsub.publisher"}), "its dead-letter topic")
        if options.max_attempts > 1:
            subscriptions = f"projects/{PROJECT}/subscriptions/eventarc-{REGION}-{names.function_id(fn)}-*"
            out[(fn, subscriptions)] = (frozenset({"roles/pubsub.subscriber"}), "its trigger's dead-letter policy")
    return out


@pytest.fixture(params=APPS, ids=lambda p: p.name)
def app(request: pytest.FixtureRequest) -> App:
    return load_app(request.param)


@pytest.mark.parametrize("account", [ACCOUNT, ""], ids=["own-account", "default-account"])
def test_every_grant_traces_to_a_declaration_and_names_its_resource(app: App, account: str) -> None:
    grants = grants_of(app, account)
    patterns = {g.resource: EVENTARC_SUBSCRIPTIONS for g in grants if "/subscriptions/eventarc-" in g.resource}
    assert untraced(grants, allowed(app, account), patterns) == []
    assert unused(grants, allowed(app, account)) == []
    project_wide = [g for g in grants if g.resource == f"projects/{PROJECT}"]
    assert [g.describe() for g in project_wide if g.role not in PROJECT_WIDE] == []


def test_a_state_only_read_gets_the_viewer_role_on_its_database_alone() -> None:
    app = load_app(Path(__file__).with_name("apps") / "stateful")
    by_resource = {g.resource: g for g in grants_of(app, ACCOUNT) if g.resource.startswith("projects/p/databases/")}
    roles = {resource: g.role for resource, g in by_resource.items()}
    assert roles == {
        "projects/p/databases/stateful-dev-orders": "roles/datastore.user",
        "projects/p/databases/stateful-dev-audit": "roles/datastore.viewer",
        "projects/p/databases/stateful-dev-pfn-idempotency": "roles/datastore.user",
    }
    viewer = by_resource["projects/p/databases/stateful-dev-audit"]
    assert "datastore.entities.update" not in viewer.actions and "datastore.entities.get" in viewer.actions


WRITES_OBJECTS = {"storage.objects.create", "storage.objects.delete", "storage.objects.update"}


def test_each_function_gets_exactly_its_declared_access_on_each_bucket_and_a_reader_cannot_write() -> None:
    app = load_app(Path(__file__).with_name("apps") / "files")
    found = [(g.function, g.resource, g.role) for g in grants_of(app, "") if "/buckets/" in g.resource]
    viewer, user = "roles/storage.objectViewer", "roles/storage.objectUser"
    assert sorted(found) == [
        ("listing", "projects/_/buckets/files-dev-reports", viewer),
        ("listing", "projects/_/buckets/files-dev-uploads", viewer),
        ("summarise", "projects/_/buckets/files-dev-archive", user),
        ("summarise", "projects/_/buckets/files-dev-uploads", user),
        ("upload", "projects/_/buckets/files-dev-uploads", user),
    ]
    listing = [g for g in grants_of(app, "") if g.function == "listing" and "/buckets/" in g.resource]
    assert all({"storage.objects.get", "storage.objects.list"} <= set(g.actions) for g in listing)
    assert not [g.describe() for g in listing if WRITES_OBJECTS & set(g.actions)]  # what .read() must never hold
    writer = next(g for g in grants_of(app, "") if g.function == "upload")
    assert {"storage.objects.create", "storage.objects.delete"} <= set(writer.actions)
    assert not [g for g in grants_of(app, "") if any(a.startswith("storage.buckets.") for a in g.actions)]


def test_the_shop_fulfil_function_its_own_account_and_its_dead_letter_topic() -> None:
    grants = grants_of(load_app(REPO / "samples" / "shop"), "")
    fulfil = [g for g in grants if g.function == "fulfil"]
    own, agent = (
        "serviceAccount:shop-dev-fulfil@p.iam.gserviceaccount.com",
        "serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com",
    )
    assert fulfil == [
        Grant(
            "fulfil", own, ("pubsub.topics.publish",), "projects/p/topics/shop-dev-orders-dlq", "roles/pubsub.publisher"
        ),
        Grant(
            "fulfil",
            agent,
            ("pubsub.topics.publish",),
            "projects/p/topics/shop-dev-orders-dlq",
            "roles/pubsub.publisher",
        ),
        Grant(
            "fulfil",
            agent,
            ("pubsub.snapshots.seek", "pubsub.subscriptions.consume", "pubsub.topics.attachSubscription"),
            "projects/p/subscriptions/eventarc-europe-west1-shop-dev-fulfil-*",
            "roles/pubsub.subscriber",
        ),
        Grant(
            "fulfil",
            own,
            ("run.jobs.run", "run.routes.invoke"),
            "projects/p/locations/europe-west1/services/shop-dev-fulfil",
            "roles/run.invoker",
        ),
    ]


def test_each_function_that_reads_a_secret_is_granted_access_to_that_secret_alone() -> None:
    app = load_app(Path(__file__).with_name("apps") / "secretive")
    secrets = [g for g in grants_of(app, ACCOUNT) if "/secrets/" in g.resource]
    member, accessor, access = (
        f"serviceAccount:{ACCOUNT}",
        "roles/secretmanager.secretAccessor",
        ("resourcemanager.projects.get", "resourcemanager.projects.list", "secretmanager.versions.access"),
    )
    assert secrets == [
        Grant("charge", member, access, "projects/p/secrets/secretive-dev-stripe-key", accessor),
        Grant("refund", member, access, "projects/p/secrets/secretive-dev-stripe-key", accessor),
        Grant("refund", member, access, "projects/p/secrets/secretive-dev-webhook-secret", accessor),
        Grant("partners", member, access, "projects/p/secrets/secretive-dev-partner-keys", accessor),
    ]
    own = [(g.function, g.principal, g.resource) for g in grants_of(app, "") if "/secrets/" in g.resource]
    assert own == [
        (
            "charge",
            "serviceAccount:secretive-dev-charge@p.iam.gserviceaccount.com",
            "projects/p/secrets/secretive-dev-stripe-key",
        ),
        (
            "refund",
            "serviceAccount:secretive-dev-refund@p.iam.gserviceaccount.com",
            "projects/p/secrets/secretive-dev-stripe-key",
        ),
        (
            "refund",
            "serviceAccount:secretive-dev-refund@p.iam.gserviceaccount.com",
            "projects/p/secrets/secretive-dev-webhook-secret",
        ),
        (
            "partners",
            "serviceAccount:secretive-dev-partners@p.iam.gserviceaccount.com",
            "projects/p/secrets/secretive-dev-partner-keys",
        ),
    ]
