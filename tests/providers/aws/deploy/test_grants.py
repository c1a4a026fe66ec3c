"""What an app's IAM roles grant on AWS (`AwsProvider.grants`), read from the desired resources: for the shop
and every test app that declares `uses=`, no wildcard action, every resource an exact ARN (the three patterns
below, each with its reason), and each grant traced back to a declared use, the function's own trigger or
dead-letter queue, or its log group; and every declaration honoured."""

from __future__ import annotations

from pathlib import Path

import pytest
from portable_fn_aws.deploy.desired import Target, dead_letter_queue, desired
from portable_fn_aws.deploy.naming import Arns, Names
from portable_fn_aws.provider import AwsProvider

from portable_fn.app import App, load_app
from portable_fn.deploy import Artifact
from portable_fn.deploy.grants import Grant
from portable_fn.runtime.buckets import Bucket
from portable_fn.runtime.channels import TOPIC, Channel
from portable_fn.runtime.secrets import Secret
from portable_fn.runtime.state import State
from portable_fn.runtime.triggers import Queue, Schedule

from ....grants_contract import untraced, unused

REPO = Path(__file__).resolve().parents[4]
APPS = [
    REPO / "samples" / "shop",
    REPO / "samples" / "telemetry",
    REPO / "samples" / "saas",
    REPO / "tests" / "apps" / "flow",
    REPO / "tests" / "apps" / "emitter",
    Path(__file__).with_name("apps") / "senders",
    Path(__file__).with_name("apps") / "stateful",
    Path(__file__).with_name("apps") / "secured",
    Path(__file__).with_name("apps") / "files",
]
ARNS = Arns("aws", "eu-west-1", "123456789012")
STAGE = "dev"
LOGS = frozenset({"logs:CreateLogStream", "logs:PutLogEvents"})
RECEIVE = frozenset(
    {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}
)
SEND = frozenset({"sqs:SendMessage"})
READ = frozenset({"dynamodb:GetItem"})
WRITE = frozenset({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"})
LIST_OBJECTS = frozenset({"s3:ListBucket"})
READ_OBJECTS = frozenset({"s3:GetObject"})
WRITE_OBJECTS = frozenset({"s3:GetObject", "s3:PutObject", "s3:DeleteObject"})
# The only resources that are patterns, and why no exact ARN exists for them.
PATTERNS = {
    "log streams": "a function's log group's streams (`<log group ARN>:*`): Lambda names each stream when it starts",
    "delay schedules": "the delay group's schedules (`schedule/<group>/*`): a delayed send names its own",
    "bucket objects": "a declared bucket's objects (`arn:aws:s3:::<bucket>/*`): the function names each key",
}


STORES = ("ssm", "secretsmanager")


def grants_of(app: App, store: str = "ssm") -> list[Grant]:
    artifact = Artifact(Path("/tmp/app.zip"), "ab" * 32, 1, 1)
    return AwsProvider().grants(desired(Target(app, STAGE, Names(app.name, STAGE), ARNS, artifact, secrets=store)))


def secret_arn(app: App, name: str, store: str) -> str:
    """The one parameter or secret `name` is, spelled from the README's naming (not from the code under test)."""
    if store == "ssm":
        return f"arn:aws:ssm:eu-west-1:123456789012:parameter/portable-fn/{app.name}/{STAGE}/{name}"
    return f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:portable-fn/{app.name}/{STAGE}/{name}-??????"


def allowed(app: App, store: str = "ssm") -> dict[tuple[str | None, str], tuple[frozenset[str], str]]:
    """What the app's declarations allow, built from the app alone (names from `Names`, actions spelled here):
    a secret only for the functions the app says read it (`App.readers`)."""
    names = Names(app.name, STAGE)
    out: dict[tuple[str | None, str], tuple[frozenset[str], str]] = {}
    read = frozenset({"ssm:GetParameter"} if store == "ssm" else {"secretsmanager:GetSecretValue"})
    for declared in app.secrets:
        for reader in app.readers(declared):
            out[(reader.name, secret_arn(app, declared.name, store))] = (read, f"uses {declared}")
    for spec in app.functions:
        fn, options, trigger = spec.name, app.options(spec), spec.trigger
        out[(fn, f"{ARNS.log_group(names.log_group(fn))}:*")] = (LOGS, "its log group")
        if isinstance(trigger, Queue):
            out[(fn, ARNS.queue(names.queue(trigger.name, trigger.fifo)))] = (RECEIVE, "its trigger")
        if dead_letter := dead_letter_queue(names, spec, options):
            out[(fn, ARNS.queue(dead_letter))] = (SEND, "its dead-letter queue")
        for use in options.uses:
            resource = use.resource
            if isinstance(resource, Secret):
                continue  # from `App.readers` above
            if isinstance(resource, State):
                out[(fn, ARNS.table(names.table(resource.name)))] = (WRITE if use.writes else READ, f"uses {resource}")
            elif isinstance(resource, Bucket):
                bucket = f"arn:aws:s3:::{app.name}-{STAGE}-{resource.name}"  # the README's naming
                out[(fn, bucket)] = (LIST_OBJECTS, f"uses {resource}")
                out[(fn, f"{bucket}/*")] = (WRITE_OBJECTS if use.writes else READ_OBJECTS, f"uses {resource}")
            elif isinstance(resource, Channel) and resource.kind == TOPIC:
                out[(fn, ARNS.topic(names.topic(resource.name)))] = (frozenset({"sns:Publish"}), f"uses {resource}")
            elif isinstance(resource, Channel):
                queue = ARNS.queue(names.queue(resource.name, resource.fifo))
                # a queue it receives from too: both sets of actions on the one queue
                receives = out.get((fn, queue), (frozenset(), ""))[0]
                out[(fn, queue)] = (SEND | receives, f"uses {resource}")
                delay_role = ARNS.role(names.role_path, names.delay_role)
                out[(fn, ARNS.schedules_in(names.delay_group))] = (
                    frozenset({"scheduler:CreateSchedule"}),
                    "sends later",
                )
                out[(fn, delay_role)] = (frozenset({"iam:PassRole"}), "sends later")
                out[(None, queue)] = (SEND, f"the delay role sends later to {resource}")
        if isinstance(trigger, Schedule):
            out[(None, ARNS.function(names.function(fn)))] = (frozenset({"lambda:InvokeFunction"}), "its schedule")
    return out


def pattern_of(app: App, resource: str) -> str | None:
    """Which of `PATTERNS` a granted resource is, if any."""
    if resource.endswith(":*"):
        return "log streams"
    if resource == ARNS.schedules_in(Names(app.name, STAGE).delay_group):
        return "delay schedules"
    if resource.startswith("arn:aws:s3:::") and resource.endswith("/*"):
        return "bucket objects"
    return None


@pytest.fixture(params=APPS, ids=lambda p: p.name)
def app(request: pytest.FixtureRequest) -> App:
    return load_app(request.param)


@pytest.mark.parametrize("store", STORES)
def test_every_grant_traces_to_a_declaration_and_names_its_resource(app: App, store: str) -> None:
    grants = grants_of(app, store)
    assert grants, "the app's roles grant nothing"
    patterns = {g.resource: PATTERNS[pattern] for g in grants if (pattern := pattern_of(app, g.resource))}
    assert untraced(grants, allowed(app, store), patterns) == []
    assert unused(grants, allowed(app, store)) == []


@pytest.mark.parametrize("store", STORES)
def test_each_secret_is_granted_to_its_readers_alone_one_secret_a_grant(store: str) -> None:
    app = load_app(Path(__file__).with_name("apps") / "secured")
    found = {
        (g.function, g.actions, g.resource)
        for g in grants_of(app, store)
        if ":ssm:" in g.resource or ":secretsmanager:" in g.resource
    }
    action = ("ssm:GetParameter",) if store == "ssm" else ("secretsmanager:GetSecretValue",)
    assert found == {
        ("create_order", action, secret_arn(app, "stripe-key", store)),
        ("charge", action, secret_arn(app, "stripe-key", store)),
        ("partner_order", action, secret_arn(app, "partner-keys", store)),  # api_key(secret=...) declares it
    }


def test_a_secret_granted_to_a_function_that_did_not_declare_it_is_named() -> None:
    app = load_app(Path(__file__).with_name("apps") / "secured")
    role = "arn:aws:iam::123456789012:role/portable-fn/secured/dev/secured-dev-list_orders"
    taken = Grant("list_orders", role, ("ssm:GetParameter",), secret_arn(app, "stripe-key", "ssm"))
    assert untraced([taken], allowed(app)) == [f"not declared: {taken.describe()}"]


def test_the_shop_fulfilment_grants_exactly_its_queue_dead_letter_queue_and_logs() -> None:
    grants = [g for g in grants_of(load_app(REPO / "samples" / "shop")) if g.function == "fulfil"]
    role = "arn:aws:iam::123456789012:role/portable-fn/shop/dev/shop-dev-fulfil"
    assert grants == [
        Grant(
            "fulfil",
            role,
            ("logs:CreateLogStream", "logs:PutLogEvents"),
            "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/shop-dev-fulfil:*",
        ),
        Grant("fulfil", role, tuple(sorted(RECEIVE)), "arn:aws:sqs:eu-west-1:123456789012:shop-dev-orders"),
        Grant("fulfil", role, ("sqs:SendMessage",), "arn:aws:sqs:eu-west-1:123456789012:shop-dev-orders-dlq"),
    ]


def test_a_grant_nothing_declares_is_named() -> None:
    app = load_app(REPO / "samples" / "shop")
    extra = Grant("get_order", "arn:aws:iam::123456789012:role/x", ("dynamodb:GetItem",), ARNS.table("shop-dev-stock"))
    wide = Grant("get_order", "arn:aws:iam::123456789012:role/x", ("dynamodb:*",), "*")
    assert untraced([extra, wide], allowed(app)) == [
        f"not declared: {extra.describe()}",
        f"wildcard action ('dynamodb:*',): {wide.describe()}",
        f"unnamed resource: {wide.describe()}",
        f"not declared: {wide.describe()}",
    ]


def test_a_write_granted_to_a_function_that_declared_a_bucket_read_only_is_named() -> None:
    app = load_app(Path(__file__).with_name("apps") / "files")
    role = "arn:aws:iam::123456789012:role/portable-fn/files/dev/files-dev-download"
    objects, other_objects = "arn:aws:s3:::files-dev-uploads/*", "arn:aws:s3:::files-dev-reports/*"
    patterns = {objects: PATTERNS["bucket objects"], other_objects: PATTERNS["bucket objects"]}
    assert untraced([Grant("download", role, ("s3:GetObject",), objects)], allowed(app), patterns) == []
    widened = Grant("download", role, ("s3:DeleteObject", "s3:GetObject", "s3:PutObject"), objects)
    assert untraced([widened], allowed(app), patterns) == [f"not declared: {widened.describe()}"]
    other = Grant("download", role, ("s3:GetObject",), other_objects)
    assert untraced([other], allowed(app), patterns) == [f"not declared: {other.describe()}"]
