"""Deploying samples/shop to a real moto server through the shared pipeline, checked with boto3.

Each test starts from an empty account (see conftest). Calls are counted from botocore's own
`before-call` event through `AwsClient`; a mutating call is any operation not named Describe/Get/List.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from portable_fn_aws.deploy import TAG_APP, TAG_STAGE, AwsClient
from portable_fn_aws.deploy.audit import audit_bucket

from portable_fn.app import load_app
from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import DeployError

ACCOUNT = "123456789012"
SHOP_FUNCTIONS = [
    "create_order",
    "get_order",
    "confirm_payment",
    "place_order-run",  # the order workflow's runner
    "fulfil",
    "sweep",
    "nightly_report",
    "on_upload",
    "notify",
]
SHOP_RESOURCES = 66  # what a deploy of the shop makes
EDGE = Path(__file__).with_name("apps") / "edge"
DEAD_LETTER_QUEUES = {
    "fulfil": "shop-dev-orders-dlq",
    "sweep": "shop-dev-sweep-dlq",
    "notify": "shop-dev-notify-dlq",
    "nightly_report": "shop-dev-nightly_report-dlq",
    "on_upload": "shop-dev-on_upload-dlq",
    "place_order-run": "shop-dev-pfn-wf-place-order-dlq",
}
QUEUE_URL = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/{{}}"
DELAYS = {  # a function sending to a queue: the delay group and role (`portable_fn_aws.publish`)
    "PORTABLE_FN_DELAY_SCHEDULE_GROUP": "shop-dev-delays",
    "PORTABLE_FN_DELAY_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/portable-fn/shop/dev/shop-dev-scheduler.delays",
}
WORKFLOW_STARTER = {  # create_order and confirm_payment start or continue the order workflow
    "PORTABLE_FN_STATE_PFN_WORKFLOWS": "shop-dev-pfn-workflows",
    "PORTABLE_FN_QUEUE_PFN_WF_PLACE_ORDER": QUEUE_URL.format("shop-dev-pfn-wf-place-order"),
    **DELAYS,
}
STATE_AND_CHANNEL_ENV = {
    "create_order": WORKFLOW_STARTER,
    "confirm_payment": WORKFLOW_STARTER,
    "place_order-run": {
        **WORKFLOW_STARTER,
        "PORTABLE_FN_STATE_STOCK": "shop-dev-stock",
        "PORTABLE_FN_STATE_PAYMENTS": "shop-dev-payments",
        "PORTABLE_FN_STATE_PFN_OUTBOX": "shop-dev-pfn-outbox",
        "PORTABLE_FN_TOPIC_ORDER_EVENTS": f"arn:aws:sns:eu-west-1:{ACCOUNT}:shop-dev-order-events",
    },
}
OWN_QUEUE = {"fulfil": "shop-dev-orders", "place_order-run": "shop-dev-pfn-wf-place-order"}


def arn(service: str, name: str) -> str:
    return f"arn:aws:{service}:eu-west-1:{ACCOUNT}:{name}"


def shop_tagged(boto: Any, app: str = "shop", stage: str = "dev") -> list[str]:
    filters = [{"Key": TAG_APP, "Values": [app]}, {"Key": TAG_STAGE, "Values": [stage]}]
    return [r["ResourceARN"] for r in boto.tagging.get_resources(TagFilters=filters)["ResourceTagMappingList"]]


@pytest.fixture
def deployed(provider: Any, shop: Any) -> Any:
    pipeline.deploy(provider, shop, "dev")
    provider.deployer.client.calls.clear()
    return provider


# -- what one deploy creates (deployed once for these tests: `deployed_shop`) ---------------------------
def test_roles_have_exact_least_privilege_policies(deployed_shop: Any) -> None:
    boto = deployed_shop.boto
    roles = boto.iam.list_roles(PathPrefix="/portable-fn/shop/dev/")["Roles"]
    assert sorted(r["RoleName"] for r in roles) == sorted(
        [f"shop-dev-{f}" for f in SHOP_FUNCTIONS] + ["shop-dev-scheduler", "shop-dev-scheduler.delays"]
    )

    def statements(role: str) -> dict[str, tuple[list[str], list[str]]]:
        doc = boto.iam.get_role_policy(RoleName=role, PolicyName="portable-fn")["PolicyDocument"]
        return {s["Sid"]: (s["Action"], s["Resource"]) for s in doc["Statement"]}

    logs = ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statements("shop-dev-fulfil") == {
        "Logs": (logs, [arn("logs", "log-group:/aws/lambda/shop-dev-fulfil:*")]),
        "ConsumeQueue": (
            ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            [arn("sqs", "shop-dev-orders")],
        ),
        "DeadLetter": (["sqs:SendMessage"], [arn("sqs", "shop-dev-orders-dlq")]),  # the shim sends dead letters
    }
    assert statements("shop-dev-notify") == {
        "Logs": (logs, [arn("logs", "log-group:/aws/lambda/shop-dev-notify:*")]),
        "DeadLetter": (["sqs:SendMessage"], [arn("sqs", "shop-dev-notify-dlq")]),
    }
    assert statements("shop-dev-get_order") == {
        "Logs": (logs, [arn("logs", "log-group:/aws/lambda/shop-dev-get_order:*")])
    }
    assert statements("shop-dev-create_order") == {
        "Logs": (logs, [arn("logs", "log-group:/aws/lambda/shop-dev-create_order:*")]),
        "WriteState": (
            ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            [arn("dynamodb", "table/shop-dev-pfn-workflows")],
        ),
        "SendQueues": (["sqs:SendMessage"], [arn("sqs", "shop-dev-pfn-wf-place-order")]),
        "DelaySends": (["scheduler:CreateSchedule"], [arn("scheduler", "schedule/shop-dev-delays/*")]),
        "PassDelayRole": (
            ["iam:PassRole"],
            [f"arn:aws:iam::{ACCOUNT}:role/portable-fn/shop/dev/shop-dev-scheduler.delays"],
        ),
    }
    assert statements("shop-dev-scheduler") == {
        "InvokeScheduledFunctions": (
            ["lambda:InvokeFunction"],
            [arn("lambda", "function:shop-dev-nightly_report"), arn("lambda", "function:shop-dev-sweep")],
        )
    }
    tags = {t["Key"]: t["Value"] for t in boto.iam.list_role_tags(RoleName="shop-dev-fulfil")["Tags"]}
    assert tags == {TAG_APP: "shop", TAG_STAGE: "dev"}


def test_functions_are_configured_and_tagged(deployed_shop: Any) -> None:
    boto, shop = deployed_shop.boto, deployed_shop.app
    zip_bytes = (shop.root / ".portable-fn/build/aws/dev/app.zip").read_bytes()
    for name in SHOP_FUNCTIONS:
        found = boto.lambda_.get_function(FunctionName=f"shop-dev-{name}")
        config = found["Configuration"]
        assert config["Handler"] == f"portable_fn_entry.{name}"
        assert (config["Runtime"], config["MemorySize"], config["Timeout"]) == ("python3.11", 256, 30)
        assert config["Architectures"] == ["x86_64"] and config["State"] == "Active"
        assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
        assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/portable-fn/shop/dev/shop-dev-{name}"
        dead_letters = DEAD_LETTER_QUEUES.get(name)
        assert config["Environment"]["Variables"] == {
            "PORTABLE_FN_APP": "shop",
            "PORTABLE_FN_STAGE": "dev",
            "PORTABLE_FN_FUNCTION": name,
            "PORTABLE_FN_PROVIDER": "aws",
            **(
                {"PORTABLE_FN_DEAD_LETTER_QUEUE_URL": f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/{dead_letters}"}
                if dead_letters
                else {}
            ),
            # its own queue, where the shim sets each failed message's retry delay
            **({"PORTABLE_FN_QUEUE_URL": QUEUE_URL.format(OWN_QUEUE[name])} if name in OWN_QUEUE else {}),
            **STATE_AND_CHANNEL_ENV.get(name, {}),
        }
        assert found["Tags"] == {TAG_APP: "shop", TAG_STAGE: "dev"}
        group = boto.logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/shop-dev-{name}")["logGroups"]
        assert [g["retentionInDays"] for g in group] == [14]


def test_http_functions_get_public_function_urls(deployed_shop: Any) -> None:
    boto = deployed_shop.boto
    url = boto.lambda_.get_function_url_config(FunctionName="shop-dev-create_order")
    assert url["AuthType"] == "NONE" and url["FunctionUrl"].startswith("https://")
    policy = json.loads(boto.lambda_.get_policy(FunctionName="shop-dev-create_order")["Policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["portable-fn-url"]["Action"] == "lambda:InvokeFunctionUrl"
    assert by_sid["portable-fn-url"]["Principal"] == "*"
    assert by_sid["portable-fn-url-invoke"]["Action"] == "lambda:InvokeFunction"


def test_queue_has_dead_letter_redrive_and_partial_batch_mapping(deployed_shop: Any) -> None:
    boto = deployed_shop.boto
    url = boto.sqs.get_queue_url(QueueName="shop-dev-orders")["QueueUrl"]
    attributes = boto.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == arn("sqs", "shop-dev-orders-dlq")
    assert int(redrive["maxReceiveCount"]) == 3  # retries=2: the first delivery and two more
    assert int(attributes["VisibilityTimeout"]) == 180  # six times the function's timeout
    assert boto.sqs.list_queue_tags(QueueUrl=url)["Tags"] == {TAG_APP: "shop", TAG_STAGE: "dev"}
    [mapping] = boto.lambda_.list_event_source_mappings(FunctionName="shop-dev-fulfil")["EventSourceMappings"]
    assert mapping["EventSourceArn"] == arn("sqs", "shop-dev-orders")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10


def test_topic_subscription_and_invoke_permission(deployed_shop: Any) -> None:
    boto = deployed_shop.boto
    topic = arn("sns", "shop-dev-order-events")
    [sub] = boto.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert (sub["Protocol"], sub["Endpoint"]) == ("lambda", arn("lambda", "function:shop-dev-notify"))
    policy = json.loads(boto.lambda_.get_policy(FunctionName="shop-dev-notify")["Policy"])
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == topic
    invoke = boto.lambda_.get_function_event_invoke_config(FunctionName="shop-dev-notify")
    assert invoke["MaximumRetryAttempts"] == 2
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == arn("sqs", "shop-dev-notify-dlq")


def test_schedules_in_a_tagged_group(deployed_shop: Any) -> None:
    boto = deployed_shop.boto
    group = boto.scheduler.get_schedule_group(Name="shop-dev")
    tags = boto.scheduler.list_tags_for_resource(ResourceArn=group["Arn"])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {TAG_APP: "shop", TAG_STAGE: "dev"}
    sweep = boto.scheduler.get_schedule(Name="sweep", GroupName="shop-dev")
    nightly = boto.scheduler.get_schedule(Name="nightly_report", GroupName="shop-dev")
    assert sweep["ScheduleExpression"] == "rate(5 minutes)"
    assert nightly["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert nightly["Target"]["Arn"] == arn("lambda", "function:shop-dev-nightly_report")
    assert nightly["Target"]["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/portable-fn/shop/dev/shop-dev-scheduler"


def test_bucket_notification_with_prefix_and_permission(deployed_shop: Any) -> None:
    boto = deployed_shop.boto
    config = boto.s3.get_bucket_notification_configuration(Bucket="shop-dev-uploads")
    [entry] = config["LambdaFunctionConfigurations"]
    assert entry["LambdaFunctionArn"] == arn("lambda", "function:shop-dev-on_upload")
    assert entry["Events"] == ["s3:ObjectCreated:*"]
    assert entry["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "in/"}]
    tags = boto.s3.get_bucket_tagging(Bucket="shop-dev-uploads")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {TAG_APP: "shop", TAG_STAGE: "dev"}
    policy = json.loads(boto.lambda_.get_policy(FunctionName="shop-dev-on_upload")["Policy"])
    assert policy["Statement"][0]["Condition"]["ArnLike"]["AWS:SourceArn"] == "arn:aws:s3:::shop-dev-uploads"


def test_outputs_name_urls_and_arns(deployed_shop: Any) -> None:
    provider, shop, outcome = deployed_shop.provider, deployed_shop.app, deployed_shop.outcome
    functions = outcome.outputs["functions"]
    assert sorted(functions) == sorted(SHOP_FUNCTIONS)
    assert functions["create_order"]["url"].startswith("https://")
    assert functions["fulfil"]["queue_arn"] == arn("sqs", "shop-dev-orders")
    assert functions["nightly_report"]["schedule"] == "cron(0 3 * * ? *)"
    assert pipeline.info(provider, shop, "dev").outputs == outcome.outputs


# -- redeploys ---------------------------------------------------------------------------------------
def test_unchanged_redeploy_makes_no_mutating_call(deployed: Any, shop: Any) -> None:
    outcome = pipeline.deploy(deployed, shop, "dev")
    assert outcome.plan.empty and len(outcome.plan.unchanged) == SHOP_RESOURCES
    calls = deployed.deployer.client.calls
    assert calls and deployed.deployer.client.mutating_calls() == []


def test_code_change_updates_only_code(deployed: Any, shop: Any, boto: Any) -> None:
    deployed.code = "# the handlers changed\n"
    outcome = pipeline.deploy(deployed, shop, "dev")
    assert {s.changes for s in outcome.plan.steps} == {("code_sha256",)}
    assert deployed.deployer.client.mutating_calls() == [("lambda", "UpdateFunctionCode")] * len(SHOP_FUNCTIONS)
    assert pipeline.plan(deployed, shop, "dev").plan.empty


def test_config_change_updates_only_configuration(deployed: Any, shop: Any, boto: Any) -> None:
    pyproject = shop.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.portable-fn.stages.dev]\n", '[tool.portable-fn.stages.dev]\nenv = { LOG_LEVEL = "debug" }\n'
        )
    )
    changed = load_app(shop.root)
    outcome = pipeline.deploy(deployed, changed, "dev")
    assert {s.changes for s in outcome.plan.steps} == {("env",)}
    assert deployed.deployer.client.mutating_calls() == [("lambda", "UpdateFunctionConfiguration")] * len(
        SHOP_FUNCTIONS
    )
    config = boto.lambda_.get_function_configuration(FunctionName="shop-dev-sweep")
    assert config["Environment"]["Variables"]["LOG_LEVEL"] == "debug"
    assert pipeline.plan(deployed, changed, "dev").plan.empty


# -- failures, throttling, plan, remove ---------------------------------------------------------------
def test_failure_half_way_names_the_step_and_a_rerun_converges(provider: Any, shop: Any, boto: Any) -> None:
    failures = []

    def fail_once(model: Any, params: dict[str, Any], **_: Any) -> None:
        if not failures and params["FunctionName"] == "shop-dev-fulfil":
            failures.append(model.name)
            raise ClientError({"Error": {"Code": "ServiceException", "Message": "injected outage"}}, model.name)

    provider.deployer.client.register("before-parameter-build.lambda.CreateEventSourceMapping", fail_once)
    with pytest.raises(DeployError) as raised:
        pipeline.deploy(provider, shop, "dev")
    message = str(raised.value)
    assert "event source mapping shop-dev-fulfil/shop-dev-orders" in message
    assert "ServiceException" in message and "injected outage" in message
    assert "run `portable-fn deploy` again" in message
    assert boto.lambda_.list_event_source_mappings(FunctionName="shop-dev-fulfil")["EventSourceMappings"] == []

    rerun = pipeline.deploy(provider, shop, "dev")
    assert {s.describe() for s in rerun.plan.steps} >= {"+ create event source mapping shop-dev-fulfil/shop-dev-orders"}
    assert rerun.plan.count("update") == 0 and rerun.plan.count("delete") == 0
    assert pipeline.plan(provider, shop, "dev").plan.empty
    assert len(boto.lambda_.list_event_source_mappings(FunctionName="shop-dev-fulfil")["EventSourceMappings"]) == 1


def test_throttling_is_retried_with_backoff(provider: Any, shop: Any) -> None:
    sent = []

    def throttle_first(request: Any, **_: Any) -> AWSResponse | None:
        sent.append(request.url)
        if len(sent) > 1:
            return None
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "ThrottlingException"}, RawBody(body))

    client = provider.deployer.client
    assert client.config.retries["mode"] == "standard"
    client.register("before-send.resource-groups-tagging-api.GetResources", throttle_first)
    assert len(provider.read_remote(shop, "dev")) == 0
    assert len(sent) == 2  # throttled once, then answered
    assert client.calls.count(("resourcegroupstaggingapi", "GetResources")) == 1


class RawBody:
    """The `raw` of an AWSResponse built by hand."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


def test_plan_prints_and_changes_nothing(provider: Any, shop: Any, boto: Any) -> None:
    outcome = pipeline.plan(provider, shop, "dev")
    printed = [step.describe() for step in outcome.plan.steps]  # what `portable-fn plan` prints
    assert outcome.plan.count("create") == SHOP_RESOURCES
    assert "+ create lambda function shop-dev-fulfil" in printed
    assert "+ create event source mapping shop-dev-fulfil/shop-dev-orders" in printed
    assert provider.deployer.client.mutating_calls() == []
    assert boto.lambda_.list_functions()["Functions"] == [] and shop_tagged(boto) == []


def test_remove_deletes_exactly_what_the_app_created(
    provider: Any, shop: Any, boto: Any, tmp_path: Path, endpoint: str, helpers: Any
) -> None:
    other_dir = tmp_path / "depot"
    shutil.copytree(shop.root, other_dir, ignore=shutil.ignore_patterns(".portable-fn"))
    pyproject = other_dir / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('app = "shop"', 'app = "depot"'))
    other = load_app(other_dir)
    other_provider = helpers.MotoProvider({"region": "eu-west-1", "wait_delay_s": 0.1}, endpoint)
    pipeline.deploy(other_provider, other, "dev")
    shop = load_app(shop.root)
    pipeline.deploy(provider, shop, "dev")
    pipeline.deploy(provider, shop, "prod")
    other_before = sorted(shop_tagged(boto, "depot"))

    outcome = pipeline.remove(provider, shop, "dev")
    assert outcome.plan.count("delete") == SHOP_RESOURCES
    assert shop_tagged(boto) == []
    assert boto.iam.list_roles(PathPrefix="/portable-fn/shop/dev/")["Roles"] == []
    assert [
        g["Name"] for g in boto.scheduler.list_schedule_groups()["ScheduleGroups"] if g["Name"].startswith("shop-dev")
    ] == []
    assert not [f for f in boto.lambda_.list_functions()["Functions"] if f["FunctionName"].startswith("shop-dev-")]
    # the data buckets of the other app and stage stay, and every stage's audit trail (no plan's), its own too
    trails = [
        audit_bucket(a, s, ACCOUNT, "eu-west-1") for a, s in (("depot", "dev"), ("shop", "dev"), ("shop", "prod"))
    ]
    buckets = sorted(b["Name"] for b in boto.s3.list_buckets()["Buckets"])
    assert buckets == sorted(["depot-dev-uploads", "shop-prod-uploads", *trails])
    assert boto.lambda_.list_event_source_mappings(FunctionName="depot-dev-fulfil")["EventSourceMappings"]
    assert sorted(shop_tagged(boto, "depot")) == other_before
    assert len(shop_tagged(boto, "shop", "prod")) == len(other_before)
    assert pipeline.plan(other_provider, load_app(other_dir), "dev").plan.empty
    assert pipeline.remove(provider, shop, "dev").plan.empty  # nothing left to find


# -- the edge app: private URL, FIFO without dead letters, mapped bucket, arm64 ------------------------
def test_edge_app_variants(endpoint: str, boto: Any, helpers: Any, tmp_path: Path) -> None:
    app_dir = tmp_path / "edge"
    shutil.copytree(EDGE, app_dir)
    app = load_app(app_dir)
    boto.s3.create_bucket(Bucket="existing-inbox-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    settings = {**app.config.provider_settings("aws", "test"), "wait_delay_s": 0.1}
    provider = helpers.MotoProvider(settings, endpoint)
    pipeline.deploy(provider, app, "test")

    assert boto.lambda_.get_function_url_config(FunctionName="edge-test-private_api")["AuthType"] == "AWS_IAM"
    with pytest.raises(ClientError):
        boto.lambda_.get_policy(FunctionName="edge-test-private_api")
    config = boto.lambda_.get_function_configuration(FunctionName="edge-test-private_api")
    assert (config["Architectures"], config["Runtime"], config["MemorySize"]) == (["arm64"], "python3.12", 512)
    url = boto.sqs.get_queue_url(QueueName="edge-test-jobs.fifo")["QueueUrl"]
    attributes = boto.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["FifoQueue"] == "true" and "RedrivePolicy" not in attributes
    weekdays = boto.scheduler.get_schedule(Name="weekdays", GroupName="edge-test")
    assert weekdays["ScheduleExpression"] == "cron(30 6 ? * 2,3,4,5,6 *)"
    [entry] = boto.s3.get_bucket_notification_configuration(Bucket="existing-inbox-bucket")[
        "LambdaFunctionConfigurations"
    ]
    assert entry["Events"] == ["s3:ObjectRemoved:*"]
    group = boto.logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/edge-test-work")["logGroups"]
    assert group[0]["retentionInDays"] == 30
    provider.deployer.client.calls.clear()
    assert pipeline.deploy(provider, app, "test").plan.empty
    assert provider.deployer.client.mutating_calls() == []

    pipeline.remove(provider, app, "test")
    assert (
        boto.s3.get_bucket_notification_configuration(Bucket="existing-inbox-bucket").get(
            "LambdaFunctionConfigurations", []
        )
        == []
    )
    assert "existing-inbox-bucket" in [b["Name"] for b in boto.s3.list_buckets()["Buckets"]]  # not ours


def test_every_client_honours_aws_endpoint_url(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    client = AwsClient("eu-west-1")
    for service in (
        client.iam,
        client.lambda_,
        client.sqs,
        client.sns,
        client.s3,
        client.logs,
        client.scheduler,
        client.tagging,
        client.sts,
    ):
        assert service.meta.endpoint_url == endpoint
    assert client.account() == ACCOUNT
