"""Reading what an app and stage already have on AWS: found by tags, never by a local file.

Tagged resources are listed in one Resource Groups Tagging API query (functions, queues, topics,
buckets, log groups); IAM roles are listed under the app's role path and their tags checked; schedule
groups by name prefix and tags. What AWS cannot tag is read through its tagged parent: a function's URL,
permissions, async invoke config and event source mappings; a topic's subscriptions; a bucket's
notification entries (whose `Id` names app and stage). Only Describe/Get/List calls are made here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from portable_fn.deploy import RemoteState, Resource

from .client import AwsClient, missing
from .naming import STATEMENT_PREFIX, Arns, Names, has_tags, tag_dict, tags
from .policies import POLICY_NAME, read_document
from .resources import (
    Bucket,
    BucketNotification,
    EventSourceMapping,
    Function,
    FunctionUrl,
    InvokeConfig,
    LogGroup,
    Permission,
    Queue,
    Role,
    Schedule,
    ScheduleGroup,
    Subscription,
    Topic,
    in_order,
)

TAGGED_TYPES = ["lambda:function", "sqs", "sns", "s3", "logs"]


def arn_name(arn: str, service: str) -> str:
    """The resource name inside an ARN of a function, queue, topic, bucket or log group."""
    if service == "logs":
        return arn.split(":log-group:", 1)[1].removesuffix(":*")
    return arn.rsplit(":", 1)[-1]


class RemoteReader:
    """Reads one app and stage's resources into a `RemoteState`, in dependency order."""

    def __init__(self, aws: AwsClient, names: Names, arns: Arns) -> None:
        self.aws = aws
        self.names = names
        self.arns = arns

    def read(self) -> RemoteState:
        tagged = self.tagged()
        resources: list[Resource] = []
        resources += [self.log_group(name) for name in tagged["logs"]]
        resources += self.queues(tagged["sqs"])
        resources += [Topic(name) for name in tagged["sns"]]
        resources += [Bucket(name) for name in tagged["s3"]]
        resources += self.roles()
        for name in tagged["lambda"]:
            resources += self.function(name)
        functions = {r.arn for r in resources if isinstance(r, Function)}
        for topic in tagged["sns"]:
            resources += self.subscriptions(topic, functions)
        for bucket in sorted({*tagged["s3"], *dict(self.names.buckets).values()}):
            resources += self.notifications(bucket)
        resources += self.schedules()
        return RemoteState(in_order(resources))

    def tagged(self) -> dict[str, list[str]]:
        """Names of the tagged resources by service (`lambda`, `sqs`, `sns`, `s3`, `logs`)."""
        filters = [{"Key": k, "Values": [v]} for k, v in tags(self.names.app, self.names.stage).items()]
        found: dict[str, list[str]] = defaultdict(list)
        for item in self.aws.pages(self.aws.tagging, "get_resources", "ResourceTagMappingList",
                                   TagFilters=filters, ResourceTypeFilters=TAGGED_TYPES):
            arn = item["ResourceARN"]
            service = arn.split(":")[2]
            found[service].append(arn_name(arn, service))
        return {service: sorted(set(found[service])) for service in ("lambda", "sqs", "sns", "s3", "logs")}

    # -- tagged resources ------------------------------------------------------------------------
    def log_group(self, name: str) -> LogGroup:
        groups = self.aws.logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
        found: dict[str, Any] = next((g for g in groups if g["logGroupName"] == name), {})
        return LogGroup(name, retention_days=int(found.get("retentionInDays") or 0))

    def queues(self, names: list[str]) -> list[Resource]:
        queues = [self.queue(name) for name in names]
        dead_letters = {q.dead_letter_arn.rsplit(":", 1)[-1] for q in queues}
        return sorted(queues, key=lambda q: q.name not in dead_letters)  # dead-letter queues first

    def queue(self, name: str) -> Queue:
        url = self.aws.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = self.aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
        return Queue(
            name, fifo=attributes.get("FifoQueue") == "true",
            visibility_timeout_s=int(attributes.get("VisibilityTimeout", 30)),
            retention_s=int(attributes.get("MessageRetentionPeriod", 345600)),
            dead_letter_arn=redrive.get("deadLetterTargetArn", ""),
            max_receive_count=int(redrive.get("maxReceiveCount", 0)), url=url,
        )

    def roles(self) -> list[Resource]:
        roles: list[Resource] = []
        for role in self.aws.pages(self.aws.iam, "list_roles", "Roles", PathPrefix=self.names.role_path):
            name = role["RoleName"]
            found = tag_dict(self.aws.iam.list_role_tags(RoleName=name).get("Tags", []))
            if has_tags(found, self.names.app, self.names.stage):
                roles.append(Role(name, path=role["Path"], trust=read_document(role["AssumeRolePolicyDocument"]),
                                  policy=self.role_policy(name)))
        return roles

    def role_policy(self, role: str) -> str:
        try:
            document = self.aws.iam.get_role_policy(RoleName=role, PolicyName=POLICY_NAME)["PolicyDocument"]
        except ClientError as exc:
            if missing(exc, "NoSuchEntity"):
                return ""
            raise
        return read_document(document)

    # -- a function and what hangs off it ---------------------------------------------------------
    def function(self, name: str) -> list[Resource]:
        config = self.aws.lambda_.get_function_configuration(FunctionName=name)
        out: list[Resource] = [function_from(config)]
        url = self._get(self.aws.lambda_.get_function_url_config, FunctionName=name)
        if url is not None:
            out.append(FunctionUrl(name, auth_type=url["AuthType"], url=url["FunctionUrl"]))
        invoke = self._get(self.aws.lambda_.get_function_event_invoke_config, FunctionName=name)
        if invoke is not None:
            on_failure = invoke.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", "")
            out.append(InvokeConfig(name, max_retries=int(invoke.get("MaximumRetryAttempts", 2)),
                                    on_failure_arn=on_failure or ""))
        policy = self._get(self.aws.lambda_.get_policy, FunctionName=name)
        if policy is not None:
            out += permissions_from(name, json.loads(policy["Policy"]))
        for mapping in self.aws.pages(self.aws.lambda_, "list_event_source_mappings", "EventSourceMappings",
                                      FunctionName=name):
            out.append(mapping_from(name, mapping))
        return out

    def _get(self, operation: Any, **params: Any) -> dict[str, Any] | None:
        """A Get call's answer, or None when what it asks about does not exist."""
        try:
            return dict(operation(**params))
        except ClientError as exc:
            if missing(exc, "ResourceNotFoundException"):
                return None
            raise

    # -- untaggable children of tagged parents ----------------------------------------------------
    def subscriptions(self, topic: str, functions: set[str]) -> list[Resource]:
        topic_arn = self.arns.topic(topic)
        found: list[Resource] = []
        for sub in self.aws.pages(self.aws.sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic_arn):
            if sub["Protocol"] == "lambda" and sub["Endpoint"] in functions:
                fn = sub["Endpoint"].rsplit(":", 1)[-1]
                found.append(Subscription(f"{topic}/{fn}", topic_arn=topic_arn, endpoint=sub["Endpoint"],
                                          arn=sub["SubscriptionArn"]))
        return found

    def notifications(self, bucket: str) -> list[Resource]:
        try:
            config = self.aws.s3.get_bucket_notification_configuration(Bucket=bucket)
        except ClientError as exc:
            if missing(exc, "NoSuchBucket"):
                return []
            raise
        prefix = self.names.notification_prefix
        return [notification_from(bucket, entry) for entry in config.get("LambdaFunctionConfigurations", [])
                if entry.get("Id", "").startswith(prefix)]

    def schedules(self) -> list[Resource]:
        found: list[Resource] = []
        for group in self.aws.pages(self.aws.scheduler, "list_schedule_groups", "ScheduleGroups",
                                    NamePrefix=self.names.schedule_group):
            group_tags = tag_dict(self.aws.scheduler.list_tags_for_resource(ResourceArn=group["Arn"]).get("Tags", []))
            if not has_tags(group_tags, self.names.app, self.names.stage):
                continue
            found.append(ScheduleGroup(group["Name"]))
            for item in self.aws.pages(self.aws.scheduler, "list_schedules", "Schedules", GroupName=group["Name"]):
                schedule = self.aws.scheduler.get_schedule(Name=item["Name"], GroupName=group["Name"])
                found.append(Schedule(schedule["Name"], group=group["Name"],
                                      expression=schedule["ScheduleExpression"],
                                      target_arn=schedule["Target"]["Arn"], role_arn=schedule["Target"]["RoleArn"]))
        return found


# -- AWS answers -> resources (pure) -----------------------------------------------------------------
def function_from(config: dict[str, Any]) -> Function:
    return Function(
        config["FunctionName"], role_arn=config["Role"], handler=config.get("Handler", ""),
        runtime=config.get("Runtime", ""), memory_mb=int(config.get("MemorySize", 128)),
        timeout_s=int(config.get("Timeout", 3)),
        env=tuple(sorted(config.get("Environment", {}).get("Variables", {}).items())),
        architecture=(config.get("Architectures") or ["x86_64"])[0],
        code_sha256=config.get("CodeSha256", ""), arn=config["FunctionArn"],
    )


def permissions_from(function: str, policy: dict[str, Any]) -> list[Resource]:
    """The statements deploy added (Sid `portable-fn-...`) of a function's resource policy."""
    return [permission_from(function, s) for s in policy.get("Statement", [])
            if str(s.get("Sid", "")).startswith(STATEMENT_PREFIX)]


def permission_from(function: str, statement: dict[str, Any]) -> Permission:
    principal = statement.get("Principal", "")
    if isinstance(principal, dict):
        principal = principal.get("Service") or principal.get("AWS") or ""
    condition = statement.get("Condition", {})
    # AWS turns these parameters into conditions; moto keeps them as top-level keys of the statement
    auth = condition.get("StringEquals", {}).get("lambda:FunctionUrlAuthType") or statement.get(
        "FunctionUrlAuthType", "")
    via_url = condition.get("Bool", {}).get("lambda:InvokedViaFunctionUrl", statement.get("InvokedViaFunctionUrl"))
    return Permission(
        f"{function}/{statement['Sid']}", function=function, statement_id=statement["Sid"],
        action=statement.get("Action", ""), principal=str(principal),
        source_arn=condition.get("ArnLike", {}).get("AWS:SourceArn", ""), url_auth_type=auth,
        via_function_url=str(via_url).lower() == "true",
    )


def mapping_from(function: str, mapping: dict[str, Any]) -> EventSourceMapping:
    queue_arn = mapping["EventSourceArn"]
    return EventSourceMapping(
        f"{function}/{queue_arn.rsplit(':', 1)[-1]}", function=function, queue_arn=queue_arn,
        batch_size=int(mapping.get("BatchSize", 10)),
        batching_window_s=int(mapping.get("MaximumBatchingWindowInSeconds") or 0),
        response_types=tuple(sorted(mapping.get("FunctionResponseTypes") or ())), uuid=mapping["UUID"],
    )


def notification_from(bucket: str, entry: dict[str, Any]) -> BucketNotification:
    rules = {r["Name"].lower(): r["Value"] for r in entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])}
    function_arn = entry["LambdaFunctionArn"]
    return BucketNotification(
        f"{bucket}/{function_arn.rsplit(':', 1)[-1]}", bucket=bucket, notification_id=entry["Id"],
        function_arn=function_arn, events=tuple(sorted(entry.get("Events", []))),
        prefix=rules.get("prefix", ""), suffix=rules.get("suffix", ""),
    )
