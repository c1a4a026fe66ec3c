"""Reading what an app and stage already have on AWS: found by tags, never by a local file.

Tagged resources are listed in one Resource Groups Tagging API query (functions, queues, topics,
buckets, log groups, state tables; the deployment bucket is the bucket of its name); IAM roles are
listed under the app's role path and their tags checked; schedule groups by name prefix and tags; the
HTTP API among the APIs of its name, by the tags it carries. What AWS cannot tag is read through its
tagged parent: a function's URL, permissions, async invoke config and event source mappings; a topic's
subscriptions; a schedule group's schedules (not the delay group's: functions make those); a bucket's
notification entries (whose `Id` names app and stage); an HTTP API's stage, integrations, routes and the
JWT authorizers its routes use; the tenants' REST API (by name and tags) with its methods and stage
(`rest_api`); the deployment bucket's objects (all of them are the app's zips). Only
Describe/Get/List calls are made here, and a Scan of one item of each state table: that Scan, and a listing of
one key of each bucket, say whether it holds data.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from portable_fn.deploy import RemoteState, Resource
from portable_fn.deploy.tags import user_tags

from . import edge, rest_api
from .client import AwsClient, missing
from .naming import STATEMENT_PREFIX, TAG_RECORD, Arns, Names, api_route, has_tags, tag_dict, tags
from .policies import POLICY_NAME, read_document
from .resources import (
    PUBLIC_ACCESS_BLOCK,
    ApiAuthorizer,
    ApiIntegration,
    ApiPermission,
    ApiRoute,
    Bucket,
    BucketNotification,
    CodeObject,
    DeploymentBucket,
    EventSourceMapping,
    Function,
    FunctionUrl,
    HttpApi,
    InvokeConfig,
    LogGroup,
    Pairs,
    Permission,
    Queue,
    Role,
    Schedule,
    ScheduleGroup,
    Subscription,
    Table,
    Topic,
    in_order,
)

TAGGED_TYPES = ["lambda:function", "sqs", "sns", "s3", "logs", "dynamodb:table"]
SERVICES = ("lambda", "sqs", "sns", "s3", "logs", "dynamodb")
API_STATEMENT = f"{STATEMENT_PREFIX}http-api"  # Sid of the statement letting the app's HTTP API invoke
DEFAULT_STAGE = "$default"
# Reads of one kind (each function, role, queue, ...) in flight at once. Each is a few Get calls whose time is
# mostly the round trip to AWS, so a stage of a dozen functions is read in about a quarter of the time; four
# stays well under the control-plane rates AWS documents for these Get calls, and the client retries a throttle.
READERS = 4
# The clients a read uses, made before any read runs in a thread: boto3 makes clients from a session
# thread-unsafely, but a made client may be used from several threads.
READ_SERVICES = ("lambda", "logs", "sqs", "sns", "s3", "dynamodb", "iam", "apigatewayv2", "scheduler")
T = TypeVar("T")
R = TypeVar("R")
TTL_ON = ("ENABLED", "ENABLING")


def arn_name(arn: str, service: str) -> str:
    """The resource name inside an ARN of a function, queue, topic, bucket, log group or table."""
    if service == "logs":
        return arn.split(":log-group:", 1)[1].removesuffix(":*")
    if service == "dynamodb":
        return arn.split(":table/", 1)[1]
    return arn.rsplit(":", 1)[-1]


class RemoteReader:
    """Reads one app and stage's resources into a `RemoteState`, in dependency order."""

    def __init__(self, aws: AwsClient, names: Names, arns: Arns) -> None:
        self.aws = aws
        self.names = names
        self.arns = arns
        self.api_names: dict[str, str] = {}  # id -> name of the app's HTTP APIs, for permissions naming them
        self.found_tags: dict[tuple[str, str], Pairs] = {}  # (service, name) -> the user's tags on it

    def read(self) -> RemoteState:
        for service in READ_SERVICES:
            self.aws.service(service)
        tagged = self.tagged()
        resources: list[Resource] = []
        resources += self.each(self.log_group, tagged["logs"])
        resources += self.queues(tagged["sqs"])
        resources += [Topic(name, tags=self.tags("sns", name)) for name in tagged["sns"]]
        deployment = self.names.deployment_bucket(self.arns)
        buckets = [name for name in tagged["s3"] if name != deployment]
        resources += self.each(self.bucket, buckets)
        resources += self.each(self.table, tagged["dynamodb"])
        if deployment in tagged["s3"]:
            resources += self.deployment_bucket(deployment)
        resources += self.roles()
        resources += self.http_apis()
        resources += rest_api.read(self.aws, self.names, self.api_names)
        for found in self.each(self.function, tagged["lambda"]):  # after http_apis: permissions name the APIs
            resources += found
        functions = {r.arn for r in resources if isinstance(r, Function)}
        for topic in tagged["sns"]:
            resources += self.subscriptions(topic, functions)
        for bucket in sorted({*buckets, *dict(self.names.buckets).values()}):
            resources += self.notifications(bucket)
        resources += self.schedules()
        return RemoteState(in_order(resources))

    @staticmethod
    def each(read: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`read` of every item, in the items' order, `READERS` at a time (an error of any is raised here)."""
        items = list(items)
        if len(items) < 2:
            return [read(item) for item in items]
        with ThreadPoolExecutor(max_workers=READERS) as pool:
            return list(pool.map(read, items))

    def tagged(self) -> dict[str, list[str]]:
        """Names of the tagged resources by service (`SERVICES`)."""
        filters = [{"Key": k, "Values": [v]} for k, v in tags(self.names.app, self.names.stage).items()]
        found: dict[str, list[str]] = defaultdict(list)
        for item in self.aws.pages(
            self.aws.tagging,
            "get_resources",
            "ResourceTagMappingList",
            TagFilters=filters,
            ResourceTypeFilters=TAGGED_TYPES,
        ):
            arn = item["ResourceARN"]
            service = arn.split(":")[2]
            found[service].append(arn_name(arn, service))
            self.found_tags[(service, arn_name(arn, service))] = user_tags(tag_dict(item.get("Tags", [])), TAG_RECORD)
        return {service: sorted(set(found[service])) for service in SERVICES}

    def tags(self, service: str, name: str) -> Pairs:
        """The user's tags on a resource the tagging query found (`tagged`)."""
        return self.found_tags.get((service, name), ())

    # -- tagged resources ------------------------------------------------------------------------
    def log_group(self, name: str) -> LogGroup:
        groups = self.aws.logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
        found: dict[str, Any] = next((g for g in groups if g["logGroupName"] == name), {})
        return LogGroup(name, retention_days=int(found.get("retentionInDays") or 0), tags=self.tags("logs", name))

    def queues(self, names: list[str]) -> list[Resource]:
        queues = self.each(self.queue, names)
        dead_letters = {q.dead_letter_arn.rsplit(":", 1)[-1] for q in queues}
        return sorted(queues, key=lambda q: q.name not in dead_letters)  # dead-letter queues first

    def queue(self, name: str) -> Queue:
        url = self.aws.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = self.aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
        return Queue(
            name,
            fifo=attributes.get("FifoQueue") == "true",
            visibility_timeout_s=int(attributes.get("VisibilityTimeout", 30)),
            retention_s=int(attributes.get("MessageRetentionPeriod", 345600)),
            dead_letter_arn=redrive.get("deadLetterTargetArn", ""),
            max_receive_count=int(redrive.get("maxReceiveCount", 0)),
            url=url,
            tags=self.tags("sqs", name),
        )

    def table(self, name: str) -> Table:
        dynamodb = self.aws.dynamodb
        described = dynamodb.describe_table(TableName=name)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
        scanned = dynamodb.scan(TableName=name, Limit=1, Select="COUNT")
        return Table(
            name,
            billing_mode=described.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
            encrypted=described.get("SSEDescription", {}).get("Status") in ("ENABLED", "ENABLING"),
            ttl_attribute=ttl.get("AttributeName", "") if ttl.get("TimeToLiveStatus") in TTL_ON else "",
            has_items=bool(scanned.get("Count")) or "LastEvaluatedKey" in scanned,
            tags=self.tags("dynamodb", name),
        )

    def roles(self) -> list[Resource]:
        listed = self.aws.pages(self.aws.iam, "list_roles", "Roles", PathPrefix=self.names.role_path)
        return [role for role in self.each(self.role, listed) if role is not None]

    def role(self, role: dict[str, Any]) -> Role | None:
        """A listed role, when it carries the app's and stage's tags."""
        name = role["RoleName"]
        found = tag_dict(self.aws.iam.list_role_tags(RoleName=name).get("Tags", []))
        if not has_tags(found, self.names.app, self.names.stage):
            return None
        return Role(
            name,
            path=role["Path"],
            trust=read_document(role["AssumeRolePolicyDocument"]),
            policy=self.role_policy(name),
            tags=user_tags(found, TAG_RECORD),
        )

    def role_policy(self, role: str) -> str:
        try:
            document = self.aws.iam.get_role_policy(RoleName=role, PolicyName=POLICY_NAME)["PolicyDocument"]
        except ClientError as exc:
            if missing(exc, "NoSuchEntity"):
                return ""
            raise
        return read_document(document)

    # -- the HTTP API and what hangs off it ------------------------------------------------------------
    def http_apis(self) -> list[Resource]:
        found: list[Resource] = []
        for api in self.aws.pages(self.aws.apigatewayv2, "get_apis", "Items"):
            if api["Name"] == self.names.http_api and has_tags(api.get("Tags") or {}, self.names.app, self.names.stage):
                found += self.http_api(api)
        return found

    def http_api(self, api: dict[str, Any]) -> list[Resource]:
        api_id, name, client = api["ApiId"], api["Name"], self.aws.apigatewayv2
        self.api_names[api_id] = name
        stages = self.aws.pages(client, "get_stages", "Items", ApiId=api_id)
        auto_deploy = any(s["StageName"] == DEFAULT_STAGE and s.get("AutoDeploy") for s in stages)
        integrations = list(self.aws.pages(client, "get_integrations", "Items", ApiId=api_id))
        uris = {i["IntegrationId"]: i.get("IntegrationUri", "") for i in integrations}
        routes = list(self.aws.pages(client, "get_routes", "Items", ApiId=api_id))
        authorizers = self.authorizers(name, api_id, routes)
        names = {a.authorizer_id: a.name for a in authorizers}
        return [
            HttpApi(
                name,
                auto_deploy=auto_deploy,
                cors=edge.read(api.get("CorsConfiguration")),
                api_id=api_id,
                endpoint=api.get("ApiEndpoint", ""),
                tags=user_tags(api.get("Tags"), TAG_RECORD),
            ),
            *(integration_from(name, i) for i in integrations),
            *authorizers,
            *(route_from(name, r, uris, names) for r in routes),
        ]

    def authorizers(self, api: str, api_id: str, routes: list[dict[str, Any]]) -> list[ApiAuthorizer]:
        """The JWT authorizers the API's routes use (each read by its id: what a route no longer uses is
        deleted with the route's change that left it, or with the API)."""
        ids = sorted({str(r["AuthorizerId"]) for r in routes if r.get("AuthorizerId")})
        found = [self._get(self.aws.apigatewayv2.get_authorizer, ApiId=api_id, AuthorizerId=i) for i in ids]
        return [authorizer_from(api, a) for a in found if a is not None and a.get("AuthorizerType") == "JWT"]

    # -- a function and what hangs off it ---------------------------------------------------------
    def function(self, name: str) -> list[Resource]:
        config = self.aws.lambda_.get_function_configuration(FunctionName=name)
        out: list[Resource] = [dataclasses.replace(function_from(config), tags=self.tags("lambda", name))]
        url = self._get(self.aws.lambda_.get_function_url_config, FunctionName=name)
        if url is not None:
            out.append(
                FunctionUrl(name, auth_type=url["AuthType"], cors=edge.read(url.get("Cors")), url=url["FunctionUrl"])
            )
        invoke = self._get(self.aws.lambda_.get_function_event_invoke_config, FunctionName=name)
        if invoke is not None:
            on_failure = invoke.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", "")
            out.append(
                InvokeConfig(
                    name, max_retries=int(invoke.get("MaximumRetryAttempts", 2)), on_failure_arn=on_failure or ""
                )
            )
        policy = self._get(self.aws.lambda_.get_policy, FunctionName=name)
        if policy is not None:
            out += permissions_from(name, json.loads(policy["Policy"]), self.api_names)
        for mapping in self.aws.pages(
            self.aws.lambda_, "list_event_source_mappings", "EventSourceMappings", FunctionName=name
        ):
            out.append(mapping_from(name, mapping))
        return out

    def _get(self, operation: Any, *codes: str, **params: Any) -> dict[str, Any] | None:
        """A Get call's answer, or None when what it asks about does not exist (`codes`: the error codes
        saying so besides the usual `...NotFound`)."""
        try:
            return dict(operation(**params))
        except ClientError as exc:
            if missing(exc, "ResourceNotFoundException", *codes):
                return None
            raise

    # -- buckets, the deployment bucket and the zips in it ----------------------------------------
    def bucket(self, name: str) -> Bucket:
        """A bucket of the app, and whether it holds any object (a ListObjectsV2 of one key)."""
        listed = self.aws.s3.list_objects_v2(Bucket=name, MaxKeys=1, ExpectedBucketOwner=self.arns.account)
        return Bucket(
            name, **self.bucket_settings(name), has_objects=bool(listed.get("KeyCount")), tags=self.tags("s3", name)
        )

    def bucket_settings(self, name: str) -> dict[str, bool]:
        """`public_access_blocked` (all four settings) and `encrypted` (a default encryption rule) of a bucket."""
        s3, owner = self.aws.s3, self.arns.account
        block = (
            self._get(
                s3.get_public_access_block,
                "NoSuchPublicAccessBlockConfiguration",
                Bucket=name,
                ExpectedBucketOwner=owner,
            )
            or {}
        )
        encryption = (
            self._get(
                s3.get_bucket_encryption,
                "ServerSideEncryptionConfigurationNotFoundError",
                Bucket=name,
                ExpectedBucketOwner=owner,
            )
            or {}
        )
        blocked = block.get("PublicAccessBlockConfiguration", {})
        return {
            "public_access_blocked": all(blocked.get(s) for s in PUBLIC_ACCESS_BLOCK),
            "encrypted": bool(encryption.get("ServerSideEncryptionConfiguration", {}).get("Rules")),
        }

    def deployment_bucket(self, name: str) -> list[Resource]:
        s3, owner = self.aws.s3, self.arns.account
        return [
            DeploymentBucket(name, **self.bucket_settings(name), tags=self.tags("s3", name)),
            *(
                CodeObject(f"{name}/{item['Key']}", bucket=name, object_key=item["Key"])
                for item in self.aws.pages(s3, "list_objects_v2", "Contents", Bucket=name, ExpectedBucketOwner=owner)
            ),
        ]

    # -- untaggable children of tagged parents ----------------------------------------------------
    def subscriptions(self, topic: str, functions: set[str]) -> list[Resource]:
        topic_arn = self.arns.topic(topic)
        found: list[Resource] = []
        for sub in self.aws.pages(self.aws.sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic_arn):
            if sub["Protocol"] == "lambda" and sub["Endpoint"] in functions:
                fn = sub["Endpoint"].rsplit(":", 1)[-1]
                found.append(
                    Subscription(
                        f"{topic}/{fn}", topic_arn=topic_arn, endpoint=sub["Endpoint"], arn=sub["SubscriptionArn"]
                    )
                )
        return found

    def notifications(self, bucket: str) -> list[Resource]:
        try:
            config = self.aws.s3.get_bucket_notification_configuration(Bucket=bucket)
        except ClientError as exc:
            if missing(exc, "NoSuchBucket"):
                return []
            raise
        prefix = self.names.notification_prefix
        return [
            notification_from(bucket, entry)
            for entry in config.get("LambdaFunctionConfigurations", [])
            if entry.get("Id", "").startswith(prefix)
        ]

    def schedules(self) -> list[Resource]:
        """The app's schedule groups, and the schedules of its schedule group (the delay group's belong to
        the functions that made them, not to deploy)."""
        found: list[Resource] = []
        prefix = self.names.schedule_groups_prefix
        for group in self.aws.pages(self.aws.scheduler, "list_schedule_groups", "ScheduleGroups", NamePrefix=prefix):
            group_tags = tag_dict(self.aws.scheduler.list_tags_for_resource(ResourceArn=group["Arn"]).get("Tags", []))
            if not has_tags(group_tags, self.names.app, self.names.stage):
                continue
            found.append(ScheduleGroup(group["Name"], tags=user_tags(group_tags, TAG_RECORD)))
            if group["Name"] == self.names.delay_group:
                continue
            for item in self.aws.pages(self.aws.scheduler, "list_schedules", "Schedules", GroupName=group["Name"]):
                schedule = self.aws.scheduler.get_schedule(Name=item["Name"], GroupName=group["Name"])
                found.append(
                    Schedule(
                        schedule["Name"],
                        group=group["Name"],
                        expression=schedule["ScheduleExpression"],
                        target_arn=schedule["Target"]["Arn"],
                        role_arn=schedule["Target"]["RoleArn"],
                    )
                )
        return found


# -- AWS answers -> resources (pure) -----------------------------------------------------------------
def function_from(config: dict[str, Any]) -> Function:
    return Function(
        config["FunctionName"],
        role_arn=config["Role"],
        handler=config.get("Handler", ""),
        runtime=config.get("Runtime", ""),
        memory_mb=int(config.get("MemorySize", 128)),
        timeout_s=int(config.get("Timeout", 3)),
        env=tuple(sorted(config.get("Environment", {}).get("Variables", {}).items())),
        architecture=(config.get("Architectures") or ["x86_64"])[0],
        code_sha256=config.get("CodeSha256", ""),
        tenancy=(config.get("TenancyConfig") or {}).get("TenantIsolationMode", ""),
        arn=config["FunctionArn"],
    )


def permissions_from(function: str, policy: dict[str, Any], api_names: dict[str, str]) -> list[Resource]:
    """The statements deploy added (Sid `portable-fn-...`) of a function's resource policy; `api_names`
    maps the ids of the app's HTTP APIs to their names."""
    return [
        api_permission_from(function, s, api_names)
        if s["Sid"] == API_STATEMENT
        else rest_api.permission_from(function, s, api_names)
        if s["Sid"] == rest_api.STATEMENT
        else permission_from(function, s)
        for s in policy.get("Statement", [])
        if str(s.get("Sid", "")).startswith(STATEMENT_PREFIX)
    ]


def api_permission_from(function: str, statement: dict[str, Any], api_names: dict[str, str]) -> ApiPermission:
    """An HTTP API's statement; one naming an API that is not the app's reads as naming none (so it is redone)."""
    source_arn = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn", "")
    api_id, _, route = source_arn.rsplit(":", 1)[-1].partition("/")
    return ApiPermission(
        f"{function}/{statement['Sid']}",
        function=function,
        statement_id=statement["Sid"],
        api=api_names.get(api_id, ""),
        source_route=route,
    )


def permission_from(function: str, statement: dict[str, Any]) -> Permission:
    principal = statement.get("Principal", "")
    if isinstance(principal, dict):
        principal = principal.get("Service") or principal.get("AWS") or ""
    condition = statement.get("Condition", {})
    # AWS turns these parameters into conditions; moto keeps them as top-level keys of the statement
    auth = condition.get("StringEquals", {}).get("lambda:FunctionUrlAuthType") or statement.get(
        "FunctionUrlAuthType", ""
    )
    via_url = condition.get("Bool", {}).get("lambda:InvokedViaFunctionUrl", statement.get("InvokedViaFunctionUrl"))
    return Permission(
        f"{function}/{statement['Sid']}",
        function=function,
        statement_id=statement["Sid"],
        action=statement.get("Action", ""),
        principal=str(principal),
        source_arn=condition.get("ArnLike", {}).get("AWS:SourceArn", ""),
        url_auth_type=auth,
        via_function_url=str(via_url).lower() == "true",
    )


def mapping_from(function: str, mapping: dict[str, Any]) -> EventSourceMapping:
    queue_arn = mapping["EventSourceArn"]
    return EventSourceMapping(
        f"{function}/{queue_arn.rsplit(':', 1)[-1]}",
        function=function,
        queue_arn=queue_arn,
        batch_size=int(mapping.get("BatchSize", 10)),
        batching_window_s=int(mapping.get("MaximumBatchingWindowInSeconds") or 0),
        response_types=tuple(sorted(mapping.get("FunctionResponseTypes") or ())),
        uuid=mapping["UUID"],
    )


def notification_from(bucket: str, entry: dict[str, Any]) -> BucketNotification:
    rules = {r["Name"].lower(): r["Value"] for r in entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])}
    function_arn = entry["LambdaFunctionArn"]
    return BucketNotification(
        f"{bucket}/{function_arn.rsplit(':', 1)[-1]}",
        bucket=bucket,
        notification_id=entry["Id"],
        function_arn=function_arn,
        events=tuple(sorted(entry.get("Events", []))),
        prefix=rules.get("prefix", ""),
        suffix=rules.get("suffix", ""),
    )


def integration_from(api: str, integration: dict[str, Any]) -> ApiIntegration:
    """An integration, named after the function it proxies to (or its id when it is not a function's)."""
    uri = integration.get("IntegrationUri", "")
    return ApiIntegration(
        f"{api}/{target_name(uri, integration['IntegrationId'])}",
        api=api,
        function_arn=uri,
        payload_format=integration.get("PayloadFormatVersion", ""),
        integration_id=integration["IntegrationId"],
    )


def route_from(api: str, route: dict[str, Any], uris: dict[str, str], authorizers: dict[str, str]) -> ApiRoute:
    """A route, named as deploy names it (`naming.api_route`: after the function its integration proxies to,
    or its id when there is none, or after its key); `authorizers` maps the ids of the JWT authorizers read
    to their names (`ApiAuthorizer`)."""
    uri = uris.get(str(route.get("Target", "")).removeprefix("integrations/"), "")
    jwt = route.get("AuthorizationType") == "JWT"
    return ApiRoute(
        api_route(api, route["RouteKey"], target_name(uri, route["RouteId"])),
        api=api,
        route_key=route["RouteKey"],
        authorization_type=route.get("AuthorizationType", "NONE"),
        authorizer=authorizers.get(str(route.get("AuthorizerId") or ""), "") if jwt else "",
        scopes=tuple(sorted(route.get("AuthorizationScopes") or ())) if jwt else (),
        function_arn=uri,
        route_id=route["RouteId"],
    )


def authorizer_from(api: str, found: dict[str, Any]) -> ApiAuthorizer:
    jwt = found.get("JwtConfiguration") or {}
    return ApiAuthorizer(
        f"{api}/{found['Name']}",
        api=api,
        issuer=jwt.get("Issuer", ""),
        audience=tuple(sorted(jwt.get("Audience") or ())),
        identity_source=",".join(found.get("IdentitySource") or ()),
        authorizer_id=found["AuthorizerId"],
    )


def target_name(uri: str, fallback: str) -> str:
    """The function name in a Lambda function ARN, else `fallback`."""
    return uri.rsplit(":", 1)[-1] if ":function:" in uri else fallback
