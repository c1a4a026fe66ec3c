"""Topics and queues functions send to, deployed to a real moto server through the shared pipeline: made
and tagged whether or not a function of the app receives from them, each sender told where they are and
granted exactly them (a queue sender also the delay group and role), read back equal (a redeploy changes
nothing, even with a delayed send pending), shown by `plan` and deleted by `remove`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.deploy.policies import read_document
from portable_fn_aws.publish import DELAY_GROUP_ENV, DELAY_ROLE_ENV, AwsPublisher

from portable_fn.app import load_app
from portable_fn.deploy import pipeline
from portable_fn.runtime import CloudEvent
from portable_fn.runtime.channels import QUEUE, Channel
from portable_fn.runtime.errors import UnsupportedTriggerError

SENDERS = Path(__file__).with_name("apps") / "senders"
ACCOUNT = "123456789012"  # moto's default account
ARN = f"arn:aws:{{}}:eu-west-1:{ACCOUNT}:senders-test-{{}}"
TOPIC_ARN, ORDERS_ARN, AUDIT_ARN = (
    ARN.format("sns", "order-events"),
    ARN.format("sqs", "orders"),
    ARN.format("sqs", "audit"),
)
DELAY_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/portable-fn/senders/test/senders-test-scheduler.delays"
DELAY_SCHEDULES = f"arn:aws:scheduler:eu-west-1:{ACCOUNT}:schedule/senders-test-delays/*"
SENDER_ENV = ("PORTABLE_FN_TOPIC_", "PORTABLE_FN_QUEUE_", "PORTABLE_FN_DELAY_")
SEND_STATEMENTS = {"PublishTopics", "SendQueues", "DelaySends", "PassDelayRole"}


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return load_app(shutil.copytree(SENDERS, tmp_path / "senders", ignore=shutil.ignore_patterns("__pycache__")))


@pytest.fixture
def senders(endpoint: str, helpers: Any, app: Any) -> Any:
    return helpers.MotoProvider({**app.config.provider_settings("aws", "test"), "wait_delay_s": 0.1}, endpoint)


def policy(boto: Any, function: str) -> dict[str, Any]:
    role = f"senders-test-{function}"
    document = boto.iam.get_role_policy(RoleName=role, PolicyName="portable-fn")["PolicyDocument"]
    return {s["Sid"]: s for s in json.loads(read_document(document))["Statement"]}


def env(boto: Any, function: str) -> dict[str, str]:
    config = boto.lambda_.get_function_configuration(FunctionName=f"senders-test-{function}")
    return dict(config["Environment"]["Variables"])


def tags_of(pairs: list[dict[str, str]]) -> dict[str, str]:
    return {p["Key"]: p["Value"] for p in pairs}


def test_plan_shows_every_channel_the_delay_group_and_role(senders: Any, app: Any) -> None:
    planned = pipeline.plan(senders, app, "test").plan
    assert planned is not None
    made = {(s.resource.kind, s.resource.name) for s in planned.steps}
    assert {
        ("sns topic", "senders-test-order-events"),  # no function of the app receives from it
        ("sqs queue", "senders-test-audit"),  # nor from this one
        ("sqs queue", "senders-test-orders"),
        ("schedule group", "senders-test-delays"),
        ("iam role", "senders-test-scheduler.delays"),
    } <= made


def test_deploy_makes_the_channels_and_grants_each_sender_exactly_what_it_declares(
    senders: Any, app: Any, boto: Any
) -> None:
    pipeline.deploy(senders, app, "test")
    expected_tags = {"portable-fn:app": "senders", "portable-fn:stage": "test"}
    assert tags_of(boto.sns.list_tags_for_resource(ResourceArn=TOPIC_ARN)["Tags"]) == expected_tags
    audit_url = boto.sqs.get_queue_url(QueueName="senders-test-audit")["QueueUrl"]
    assert boto.sqs.list_queue_tags(QueueUrl=audit_url)["Tags"] == expected_tags
    group = boto.scheduler.get_schedule_group(Name="senders-test-delays")
    assert tags_of(boto.scheduler.list_tags_for_resource(ResourceArn=group["Arn"])["Tags"]) == expected_tags

    place, fulfil, nightly = policy(boto, "place"), policy(boto, "fulfil"), policy(boto, "nightly")
    assert (place["PublishTopics"]["Action"], place["PublishTopics"]["Resource"]) == (["sns:Publish"], [TOPIC_ARN])
    assert (place["SendQueues"]["Action"], place["SendQueues"]["Resource"]) == (["sqs:SendMessage"], [ORDERS_ARN])
    assert (fulfil["SendQueues"]["Action"], fulfil["SendQueues"]["Resource"]) == (["sqs:SendMessage"], [AUDIT_ARN])
    assert "PublishTopics" not in fulfil and not SEND_STATEMENTS & set(nightly)
    for statements in (place, fulfil):
        assert (statements["DelaySends"]["Action"], statements["DelaySends"]["Resource"]) == (
            ["scheduler:CreateSchedule"],
            [DELAY_SCHEDULES],
        )
        passing = statements["PassDelayRole"]
        assert (passing["Action"], passing["Resource"]) == (["iam:PassRole"], [DELAY_ROLE_ARN])
        assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    for statement in [*place.values(), *fulfil.values(), *nightly.values()]:
        assert not any("*" in action for action in statement["Action"]), statement

    delay_role = boto.iam.get_role(RoleName="senders-test-scheduler.delays")["Role"]
    assert delay_role["Path"] == "/portable-fn/senders/test/"
    assert json.loads(read_document(delay_role["AssumeRolePolicyDocument"]))["Statement"][0]["Principal"] == {
        "Service": "scheduler.amazonaws.com"
    }
    delays = json.loads(read_document(policy_document(boto, "senders-test-scheduler.delays")))["Statement"]
    assert [(s["Action"], s["Resource"]) for s in delays] == [(["sqs:SendMessage"], sorted([AUDIT_ARN, ORDERS_ARN]))]

    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/senders-test-{}"
    assert {k: v for k, v in env(boto, "place").items() if k.startswith(SENDER_ENV[:2])} == {
        "PORTABLE_FN_TOPIC_ORDER_EVENTS": TOPIC_ARN,
        "PORTABLE_FN_QUEUE_ORDERS": url.format("orders"),
    }
    assert env(boto, "fulfil")["PORTABLE_FN_QUEUE_AUDIT"] == url.format("audit")
    assert (env(boto, "place")[DELAY_GROUP_ENV], env(boto, "place")[DELAY_ROLE_ENV]) == (
        "senders-test-delays",
        DELAY_ROLE_ARN,
    )
    assert not [k for k in env(boto, "nightly") if k.startswith(SENDER_ENV)]


def policy_document(boto: Any, role: str) -> Any:
    return boto.iam.get_role_policy(RoleName=role, PolicyName="portable-fn")["PolicyDocument"]


def test_a_redeploy_changes_nothing_even_with_a_delayed_send_pending(
    senders: Any, app: Any, boto: Any, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    """A schedule a function made in the delay group belongs to it, not to deploy: the plan leaves it be."""
    pipeline.deploy(senders, app, "test")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # the publisher's clients, as in the function
    for name, value in env(boto, "place").items():
        monkeypatch.setenv(name, value)
    event = CloudEvent(id="later-1", source="//senders/place", type="shop.order.remind", data={"n": 1})
    AwsPublisher().publish(Channel(QUEUE, "orders"), [event], delay_s=7200)
    pending = boto.scheduler.list_schedules(GroupName="senders-test-delays")["Schedules"]
    assert len(pending) == 1 and pending[0]["Target"]["Arn"] == ORDERS_ARN

    again = pipeline.plan(senders, app, "test").plan
    assert again is not None and again.empty, [s.describe() for s in again.steps]
    client = senders.deployer.client
    client.calls.clear()
    redeployed = pipeline.deploy(senders, app, "test")
    assert redeployed.plan is not None and redeployed.plan.empty
    assert client.calls and client.mutating_calls() == []
    assert boto.scheduler.list_schedules(GroupName="senders-test-delays")["Schedules"] == pending


def test_remove_deletes_the_channels_the_delay_group_and_role(senders: Any, app: Any, boto: Any) -> None:
    pipeline.deploy(senders, app, "test")
    pipeline.remove(senders, app, "test")
    assert boto.sns.list_topics()["Topics"] == []
    assert boto.sqs.list_queues().get("QueueUrls", []) == []
    assert boto.scheduler.list_schedule_groups(NamePrefix="senders-test")["ScheduleGroups"] == []
    assert [r["RoleName"] for r in boto.iam.list_roles(PathPrefix="/portable-fn/senders/")["Roles"]] == []


def test_a_queue_whose_locator_is_the_shims_own_variable_is_refused(helpers: Any, app: Any, tmp_path: Path) -> None:
    functions = app.root / "senders" / "functions.py"
    functions.write_text(functions.read_text().replace('queue("audit")', 'queue("url")'))
    renamed = load_app(shutil.copytree(app.root, tmp_path / "renamed", ignore=shutil.ignore_patterns("__pycache__")))
    with pytest.raises(
        UnsupportedTriggerError, match=r"'fulfil'.*queue\('url'\).*PORTABLE_FN_QUEUE_URL.*Rename the queue"
    ):
        helpers.MotoProvider(renamed.config.provider_settings("aws", "test")).check(renamed)


def test_info_says_where_each_channel_is_and_who_sends_to_it(senders: Any, app: Any, boto: Any) -> None:
    deployed = pipeline.deploy(senders, app, "test").outputs["channels"]
    assert deployed == {
        "topic order-events": {"senders": ["place"], "topic_arn": TOPIC_ARN},
        "queue orders": {
            "senders": ["place"],
            "queue_url": boto.sqs.get_queue_url(QueueName="senders-test-orders")["QueueUrl"],
            "queue_arn": ORDERS_ARN,
        },
        "queue audit": {
            "senders": ["fulfil"],
            "queue_url": boto.sqs.get_queue_url(QueueName="senders-test-audit")["QueueUrl"],
            "queue_arn": AUDIT_ARN,
        },
    }
    assert pipeline.info(senders, app, "test").outputs["channels"] == deployed
