"""How each kind of resource is created, updated and deleted: the only code here that mutates AWS.

One `Applier` per resource type (the shared `portable_fn.deploy.Applier`), all going through the same
`AwsClient`; `APPLIERS` is the map the shared `Executor` dispatches by. Every action is safe to repeat:
deletes accept "already gone", creates of what a failed run left half-done finish the job, so rerunning
`deploy` after a failure converges.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from portable_fn.deploy import Applier as BaseApplier
from portable_fn.deploy import ApplyContext as BaseApplyContext
from portable_fn.deploy import Resource, while_settling
from portable_fn.deploy.tags import managed, tag_changes

from ..settings import AwsSettings
from . import edge
from .client import AwsClient, error_code, missing
from .naming import TAG_RECORD, Arns, tag_dict, tag_list, tags
from .policies import POLICY_NAME
from .resources import (
    CODE_FIELDS,
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
    Permission,
    Queue,
    Role,
    Schedule,
    ScheduleGroup,
    Subscription,
    Table,
    Topic,
)

R = TypeVar("R", bound=Resource)
T = TypeVar("T")
# IAM is eventually consistent: a role or policy made a moment ago may not be usable yet by Lambda or
# Scheduler, which then answer with one of these codes and a message about the role.
PROPAGATION_CODES = frozenset({"InvalidParameterValueException", "ValidationException"})
DEFAULT_STAGE = "$default"


class ApplyContext(BaseApplyContext):
    """What every applier of one run shares: the client, the tags to put, ARNs, and wait/retry timings."""

    def __init__(self, aws: AwsClient, app: str, stage: str, arns: Arns, settings: AwsSettings) -> None:
        super().__init__()
        self.aws = aws
        self.tags = tags(app, stage)
        self.tag_list = tag_list(app, stage)
        self.arns = arns
        self.wait_delay_s = settings.wait_delay_s
        self.wait_attempts = settings.wait_max_attempts
        self.propagation_attempts = settings.iam_propagation_attempts
        self.api_ids: dict[str, str] = {}  # name -> id of the app's HTTP API, once made or found
        self.authorizer_ids: dict[str, str] = {}  # `ApiAuthorizer` name -> its id, once made or found

    def tags_for(self, resource: Resource) -> dict[str, str]:
        """What to tag `resource` with: the user's tags (its `tags`), portable-fn's own over them."""
        return {**managed(getattr(resource, "tags", ()), TAG_RECORD), **self.tags}

    def tag_list_for(self, resource: Resource) -> list[dict[str, str]]:
        """`tags_for` in the Key/Value list shape IAM, SNS, DynamoDB, S3 and Scheduler take."""
        return [{"Key": k, "Value": v} for k, v in self.tags_for(resource).items()]

    def api_id(self, name: str) -> str:
        """The id of the app's HTTP API `name`: made earlier in this run, or found by its name and tags."""
        if name not in self.api_ids:
            for api in self.aws.pages(self.aws.apigatewayv2, "get_apis", "Items"):
                if api["Name"] == name and (api.get("Tags") or {}).items() >= self.tags.items():
                    self.api_ids[name] = api["ApiId"]
        if name not in self.api_ids:
            raise RuntimeError(f"the HTTP API {name!r} tagged with this app and stage was not found")
        return self.api_ids[name]

    def integration_id(self, api: str, function_arn: str) -> str:
        """The id of the integration of the HTTP API `api` proxying to `function_arn`."""
        for item in self.aws.pages(self.aws.apigatewayv2, "get_integrations", "Items", ApiId=self.api_id(api)):
            if item.get("IntegrationUri") == function_arn:
                return str(item["IntegrationId"])
        raise RuntimeError(f"the HTTP API {api!r} has no integration with {function_arn}")

    def authorizer_id(self, authorizer: str, api: str) -> str:
        """The id of the JWT authorizer `authorizer` (an `ApiAuthorizer`'s name): made earlier in this run, or
        found through the routes that use it (API Gateway's GetAuthorizers is not read: remote reads the
        authorizers routes use, so these are the ones deploy knows)."""
        if authorizer not in self.authorizer_ids:
            client, api_id = self.aws.apigatewayv2, self.api_id(api)
            for route in self.aws.pages(client, "get_routes", "Items", ApiId=api_id):
                if route.get("AuthorizerId"):
                    found = client.get_authorizer(ApiId=api_id, AuthorizerId=route["AuthorizerId"])
                    self.authorizer_ids.setdefault(f"{api}/{found['Name']}", found["AuthorizerId"])
        if authorizer not in self.authorizer_ids:
            raise RuntimeError(f"the JWT authorizer {authorizer!r} of the HTTP API {api!r} was not found")
        return self.authorizer_ids[authorizer]

    def after_iam(self, call: Callable[[], T], what: str) -> T:
        """`call()`, retried while AWS says a freshly made role cannot be used yet (`propagating`), for as
        long as `iam_propagation_attempts` backed-off attempts would take."""
        backoff = sum(min(self.wait_delay_s * attempt, 10) for attempt in range(1, self.propagation_attempts))
        return while_settling(
            call,
            since=time.monotonic(),
            refusals=propagating,
            wait_s=backoff,
            every_s=self.wait_delay_s,
            progress=self.progress,
            what=what,
            waiting_for="IAM to make the new role usable",
            why="IAM changes can take longer to reach Lambda and Scheduler",
            setting="iam_propagation_attempts",
        )

    def wait(self, waiter: str, function: str) -> None:
        self.aws.lambda_.get_waiter(waiter).wait(
            FunctionName=function, WaiterConfig={"Delay": self.wait_delay_s, "MaxAttempts": self.wait_attempts}
        )


def propagating(exc: BaseException) -> bool:
    """Whether `exc` is AWS refusing a role or permission IAM has not made usable yet (`PROPAGATION_CODES`)."""
    text = str(exc).lower()
    return (
        isinstance(exc, ClientError)
        and error_code(exc) in PROPAGATION_CODES
        and ("role" in text or "permission" in text)
    )


class Applier(BaseApplier[R, ApplyContext]):
    """Create, update, delete one type of resource. Types whose every field is in their name (topics,
    schedule groups) are never updated: the planner only updates what has compared fields."""

    def __init__(self, ctx: ApplyContext) -> None:
        super().__init__(ctx)
        self.aws = ctx.aws

    def missing(self, exc: BaseException, *codes: str) -> bool:
        return isinstance(exc, ClientError) and missing(exc, *codes)

    def replace(self, resource: R, previous: R) -> None:
        self.delete(previous)
        self.create(resource)

    def retag(
        self,
        resource: R,
        previous: R,
        changes: tuple[str, ...],
        put: Callable[[dict[str, str]], Any],
        take_off: Callable[[list[str]], Any],
    ) -> tuple[str, ...]:
        """Apply a change of the user's tags (`tags` in `changes`): `take_off` the keys no longer wanted, `put`
        the rest with portable-fn's own; the other changes are left for the caller."""
        if "tags" in changes:
            _, gone = tag_changes(getattr(resource, "tags", ()), getattr(previous, "tags", ()), TAG_RECORD)
            if gone:
                take_off(gone)
            put(self.ctx.tags_for(resource))
        return tuple(c for c in changes if c != "tags")


class LogGroups(Applier[LogGroup]):
    def create(self, resource: LogGroup) -> None:
        try:
            self.aws.logs.create_log_group(logGroupName=resource.name, tags=self.ctx.tags_for(resource))
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
            self.aws.logs.tag_resource(resourceArn=self.arn(resource), tags=self.ctx.tags_for(resource))
        self.update(resource, resource, ("retention_days",))

    def update(self, resource: LogGroup, previous: LogGroup, changes: tuple[str, ...]) -> None:
        logs, arn = self.aws.logs, self.arn(resource)
        changes = self.retag(
            resource,
            previous,
            changes,
            lambda tags: logs.tag_resource(resourceArn=arn, tags=tags),
            lambda keys: logs.untag_resource(resourceArn=arn, tagKeys=keys),
        )
        if changes:
            logs.put_retention_policy(logGroupName=resource.name, retentionInDays=resource.retention_days)

    def arn(self, resource: LogGroup) -> str:
        return self.ctx.arns.log_group(resource.name)

    def delete(self, resource: LogGroup) -> None:
        self.tolerate_missing(lambda: self.aws.logs.delete_log_group(logGroupName=resource.name))


class Roles(Applier[Role]):
    def create(self, resource: Role) -> None:
        self.aws.iam.create_role(
            RoleName=resource.name,
            Path=resource.path,
            AssumeRolePolicyDocument=resource.trust,
            Tags=self.ctx.tag_list_for(resource),
            Description="Created by portable-fn deploy",
        )
        self.put_policy(resource)

    def update(self, resource: Role, previous: Role, changes: tuple[str, ...]) -> None:
        iam = self.aws.iam
        self.retag(
            resource,
            previous,
            changes,
            lambda tags: iam.tag_role(RoleName=resource.name, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]),
            lambda keys: iam.untag_role(RoleName=resource.name, TagKeys=keys),
        )
        if "trust" in changes:
            self.aws.iam.update_assume_role_policy(RoleName=resource.name, PolicyDocument=resource.trust)
        if "policy" in changes:
            self.put_policy(resource)

    def put_policy(self, resource: Role) -> None:
        self.aws.iam.put_role_policy(RoleName=resource.name, PolicyName=POLICY_NAME, PolicyDocument=resource.policy)

    def delete(self, resource: Role) -> None:
        self.tolerate_missing(
            lambda: self.aws.iam.delete_role_policy(RoleName=resource.name, PolicyName=POLICY_NAME), "NoSuchEntity"
        )
        self.tolerate_missing(lambda: self.aws.iam.delete_role(RoleName=resource.name), "NoSuchEntity")


class Functions(Applier[Function]):
    def create(self, resource: Function) -> None:
        self.ctx.after_iam(
            lambda: self.aws.lambda_.create_function(
                FunctionName=resource.name,
                PackageType="Zip",
                Code=self.code(resource),
                Architectures=[resource.architecture],
                Tags=self.ctx.tags_for(resource),
                **self.tenancy(resource),
                **self.configuration(resource),
            ),
            f"creating function {resource.name}",
        )
        self.ctx.wait("function_active_v2", resource.name)

    def update(self, resource: Function, previous: Function, changes: tuple[str, ...]) -> None:
        if "tenancy" in changes:  # Lambda sets it at creation only: the function is made again
            self.replace(resource, previous)
            return
        lambda_, arn = self.aws.lambda_, previous.arn or resource.arn
        changes = self.retag(
            resource,
            previous,
            changes,
            lambda tags: lambda_.tag_resource(Resource=arn, Tags=tags),
            lambda keys: lambda_.untag_resource(Resource=arn, TagKeys=keys),
        )
        if CODE_FIELDS.intersection(changes):
            self.aws.lambda_.update_function_code(
                FunctionName=resource.name, Architectures=[resource.architecture], **self.code(resource)
            )
            self.ctx.wait("function_updated_v2", resource.name)
        if set(changes) - CODE_FIELDS:
            self.ctx.after_iam(
                lambda: self.aws.lambda_.update_function_configuration(
                    FunctionName=resource.name, **self.configuration(resource)
                ),
                f"configuring function {resource.name}",
            )
            self.ctx.wait("function_updated_v2", resource.name)

    def delete(self, resource: Function) -> None:
        self.tolerate_missing(lambda: self.aws.lambda_.delete_function(FunctionName=resource.name))

    @staticmethod
    def configuration(resource: Function) -> dict[str, Any]:
        return {
            "Role": resource.role_arn,
            "Handler": resource.handler,
            "Runtime": resource.runtime,
            "MemorySize": resource.memory_mb,
            "Timeout": resource.timeout_s,
            "Environment": {"Variables": dict(resource.env)},
        }

    @staticmethod
    def tenancy(resource: Function) -> dict[str, Any]:
        return {"TenancyConfig": {"TenantIsolationMode": resource.tenancy}} if resource.tenancy else {}

    @staticmethod
    def code(resource: Function) -> dict[str, Any]:
        """Where Lambda takes the code from: the deployment bucket's object, or the zip sent in the request."""
        if resource.code_key:
            return {"S3Bucket": resource.code_bucket, "S3Key": resource.code_key}
        return {"ZipFile": Path(resource.zip_path).read_bytes()}


class InvokeConfigs(Applier[InvokeConfig]):
    def create(self, resource: InvokeConfig) -> None:
        on_failure = {"Destination": resource.on_failure_arn} if resource.on_failure_arn else {}
        self.ctx.after_iam(
            lambda: self.aws.lambda_.put_function_event_invoke_config(
                FunctionName=resource.name,
                MaximumRetryAttempts=resource.max_retries,
                DestinationConfig={"OnFailure": on_failure},
            ),
            f"configuring the retries of {resource.name}",
        )

    def update(self, resource: InvokeConfig, previous: InvokeConfig, changes: tuple[str, ...]) -> None:
        self.create(resource)

    def delete(self, resource: InvokeConfig) -> None:
        self.tolerate_missing(lambda: self.aws.lambda_.delete_function_event_invoke_config(FunctionName=resource.name))


class FunctionUrls(Applier[FunctionUrl]):
    def create(self, resource: FunctionUrl) -> None:
        cors = {"Cors": edge.parameters(resource.cors)} if resource.cors else {}
        self.aws.lambda_.create_function_url_config(FunctionName=resource.name, AuthType=resource.auth_type, **cors)

    def update(self, resource: FunctionUrl, previous: FunctionUrl, changes: tuple[str, ...]) -> None:
        self.aws.lambda_.update_function_url_config(
            FunctionName=resource.name, AuthType=resource.auth_type, Cors=edge.parameters(resource.cors)
        )

    def delete(self, resource: FunctionUrl) -> None:
        self.tolerate_missing(lambda: self.aws.lambda_.delete_function_url_config(FunctionName=resource.name))


class Permissions(Applier[Permission]):
    def create(self, resource: Permission) -> None:
        params: dict[str, Any] = {
            "FunctionName": resource.function,
            "StatementId": resource.statement_id,
            "Action": resource.action,
            "Principal": resource.principal,
        }
        if resource.source_arn:
            params["SourceArn"] = resource.source_arn
        if resource.url_auth_type:
            params["FunctionUrlAuthType"] = resource.url_auth_type
        if resource.via_function_url:
            params["InvokedViaFunctionUrl"] = True
        try:
            self.aws.lambda_.add_permission(**params)
        except ClientError as exc:
            if error_code(exc) != "ResourceConflictException":  # a statement of that id is left over
                raise
            self.delete(resource)
            self.aws.lambda_.add_permission(**params)

    def update(self, resource: Permission, previous: Permission, changes: tuple[str, ...]) -> None:
        self.replace(resource, previous)  # a statement cannot be edited, only removed and added again

    def delete(self, resource: Permission) -> None:
        self.tolerate_missing(
            lambda: self.aws.lambda_.remove_permission(
                FunctionName=resource.function, StatementId=resource.statement_id
            )
        )


class HttpApis(Applier[HttpApi]):
    def create(self, resource: HttpApi) -> None:
        made = self.aws.apigatewayv2.create_api(
            Name=resource.name,
            ProtocolType="HTTP",
            Tags=self.ctx.tags_for(resource),
            Description="Created by portable-fn deploy",
            **({"CorsConfiguration": edge.parameters(resource.cors)} if resource.cors else {}),
        )
        self.ctx.api_ids[resource.name] = made["ApiId"]
        self.create_stage(made["ApiId"])

    def update(self, resource: HttpApi, previous: HttpApi, changes: tuple[str, ...]) -> None:
        """Retag the API; for `auto_deploy`, make the `$default` stage exist and deploy automatically."""
        client = self.aws.apigatewayv2
        arn = f"arn:{self.ctx.arns.partition}:apigateway:{self.ctx.arns.region}::/apis/{previous.api_id}"
        changes = self.retag(
            resource,
            previous,
            changes,
            lambda tags: client.tag_resource(ResourceArn=arn, Tags=tags),
            lambda keys: client.untag_resource(ResourceArn=arn, TagKeys=keys),
        )
        if "cors" in changes:
            self.set_cors(resource, previous.api_id)
        if "auto_deploy" not in changes:
            return
        try:
            self.aws.apigatewayv2.get_stage(ApiId=previous.api_id, StageName=DEFAULT_STAGE)
        except ClientError as exc:
            if not missing(exc):
                raise
            self.create_stage(previous.api_id)
            return
        self.aws.apigatewayv2.update_stage(ApiId=previous.api_id, StageName=DEFAULT_STAGE, AutoDeploy=True)

    def set_cors(self, resource: HttpApi, api_id: str) -> None:
        client = self.aws.apigatewayv2
        if resource.cors:
            client.update_api(ApiId=api_id, CorsConfiguration=edge.parameters(resource.cors))
        else:
            self.tolerate_missing(lambda: client.delete_cors_configuration(ApiId=api_id))

    def create_stage(self, api_id: str) -> None:
        self.aws.apigatewayv2.create_stage(ApiId=api_id, StageName=DEFAULT_STAGE, AutoDeploy=True, Tags=self.ctx.tags)

    def delete(self, resource: HttpApi) -> None:
        self.tolerate_missing(lambda: self.aws.apigatewayv2.delete_api(ApiId=resource.api_id))
        self.ctx.api_ids.pop(resource.name, None)


class ApiIntegrations(Applier[ApiIntegration]):
    def create(self, resource: ApiIntegration) -> None:
        self.aws.apigatewayv2.create_integration(ApiId=self.ctx.api_id(resource.api), **self.settings(resource))

    def update(self, resource: ApiIntegration, previous: ApiIntegration, changes: tuple[str, ...]) -> None:
        self.aws.apigatewayv2.update_integration(
            ApiId=self.ctx.api_id(resource.api), IntegrationId=previous.integration_id, **self.settings(resource)
        )

    def delete(self, resource: ApiIntegration) -> None:
        self.tolerate_missing(
            lambda: self.aws.apigatewayv2.delete_integration(
                ApiId=self.ctx.api_id(resource.api), IntegrationId=resource.integration_id
            )
        )

    @staticmethod
    def settings(resource: ApiIntegration) -> dict[str, Any]:
        return {
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": resource.function_arn,
            "PayloadFormatVersion": resource.payload_format,
        }


class ApiAuthorizers(Applier[ApiAuthorizer]):
    """JWT authorizers: API Gateway checks the token's signature (the issuer's published keys), `iss`, `aud`
    and times before the function runs."""

    def create(self, resource: ApiAuthorizer) -> None:
        made = self.aws.apigatewayv2.create_authorizer(
            ApiId=self.ctx.api_id(resource.api), AuthorizerType="JWT", **self.settings(resource)
        )
        self.ctx.authorizer_ids[resource.name] = made["AuthorizerId"]

    def update(self, resource: ApiAuthorizer, previous: ApiAuthorizer, changes: tuple[str, ...]) -> None:
        self.aws.apigatewayv2.update_authorizer(
            ApiId=self.ctx.api_id(resource.api), AuthorizerId=previous.authorizer_id, **self.settings(resource)
        )

    def delete(self, resource: ApiAuthorizer) -> None:
        self.tolerate_missing(
            lambda: self.aws.apigatewayv2.delete_authorizer(
                ApiId=self.ctx.api_id(resource.api), AuthorizerId=resource.authorizer_id
            )
        )

    @staticmethod
    def settings(resource: ApiAuthorizer) -> dict[str, Any]:
        return {
            "Name": resource.authorizer_name,
            "IdentitySource": [resource.identity_source],
            "JwtConfiguration": {"Issuer": resource.issuer, "Audience": list(resource.audience)},
        }


class ApiRoutes(Applier[ApiRoute]):
    def create(self, resource: ApiRoute) -> None:
        self.aws.apigatewayv2.create_route(ApiId=self.ctx.api_id(resource.api), **self.settings(resource))

    def update(self, resource: ApiRoute, previous: ApiRoute, changes: tuple[str, ...]) -> None:
        self.aws.apigatewayv2.update_route(
            ApiId=self.ctx.api_id(resource.api), RouteId=previous.route_id, **self.settings(resource, previous)
        )

    def delete(self, resource: ApiRoute) -> None:
        self.tolerate_missing(
            lambda: self.aws.apigatewayv2.delete_route(ApiId=self.ctx.api_id(resource.api), RouteId=resource.route_id)
        )

    def settings(self, resource: ApiRoute, previous: ApiRoute | None = None) -> dict[str, Any]:
        target = self.ctx.integration_id(resource.api, resource.function_arn)
        out: dict[str, Any] = {
            "RouteKey": resource.route_key,
            "AuthorizationType": resource.authorization_type,
            "Target": f"integrations/{target}",
        }
        if resource.authorizer or (previous and previous.authorizer):  # '' takes a route off its authorizer
            jwt = self.ctx.authorizer_id(resource.authorizer, resource.api) if resource.authorizer else ""
            out["AuthorizerId"] = jwt
        if resource.scopes or (previous and previous.scopes):
            out["AuthorizationScopes"] = list(resource.scopes)
        return out


class ApiPermissions(Applier[ApiPermission]):
    """The statement letting the HTTP API invoke a function; its source ARN is made with the API's id."""

    def create(self, resource: ApiPermission) -> None:
        source_arn = self.ctx.arns.execute_api(self.ctx.api_id(resource.api), resource.source_route)
        Permissions(self.ctx).create(
            Permission(
                resource.name,
                function=resource.function,
                statement_id=resource.statement_id,
                principal="apigateway.amazonaws.com",
                source_arn=source_arn,
            )
        )

    def update(self, resource: ApiPermission, previous: ApiPermission, changes: tuple[str, ...]) -> None:
        self.replace(resource, previous)

    def delete(self, resource: ApiPermission) -> None:
        self.tolerate_missing(
            lambda: self.aws.lambda_.remove_permission(
                FunctionName=resource.function, StatementId=resource.statement_id
            )
        )


class Queues(Applier[Queue]):
    def create(self, resource: Queue) -> None:
        self.aws.sqs.create_queue(
            QueueName=resource.name,
            Attributes=self.attributes(resource, creating=True),
            tags=self.ctx.tags_for(resource),
        )

    def update(self, resource: Queue, previous: Queue, changes: tuple[str, ...]) -> None:
        sqs, url = self.aws.sqs, previous.url or self.url(resource.name)
        changes = self.retag(
            resource,
            previous,
            changes,
            lambda tags: sqs.tag_queue(QueueUrl=url, Tags=tags),
            lambda keys: sqs.untag_queue(QueueUrl=url, TagKeys=keys),
        )
        if changes:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=self.attributes(resource, creating=False))

    def delete(self, resource: Queue) -> None:
        self.tolerate_missing(
            lambda: self.aws.sqs.delete_queue(QueueUrl=resource.url or self.url(resource.name)),
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        )

    def url(self, name: str) -> str:
        return str(self.aws.sqs.get_queue_url(QueueName=name)["QueueUrl"])

    @staticmethod
    def attributes(resource: Queue, creating: bool) -> dict[str, str]:
        out = {
            "VisibilityTimeout": str(resource.visibility_timeout_s),
            "MessageRetentionPeriod": str(resource.retention_s),
        }
        if resource.fifo and creating:
            out["FifoQueue"] = "true"
        if resource.dead_letter_arn:
            out["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": resource.dead_letter_arn, "maxReceiveCount": resource.max_receive_count}
            )
        elif not creating:
            out["RedrivePolicy"] = ""
        return out


class EventSourceMappings(Applier[EventSourceMapping]):
    def create(self, resource: EventSourceMapping) -> None:
        self.ctx.after_iam(
            lambda: self.aws.lambda_.create_event_source_mapping(
                EventSourceArn=resource.queue_arn,
                FunctionName=resource.function,
                Enabled=True,
                **self.settings(resource),
            ),
            f"connecting {resource.function} to its queue",
        )

    def update(self, resource: EventSourceMapping, previous: EventSourceMapping, changes: tuple[str, ...]) -> None:
        self.aws.lambda_.update_event_source_mapping(UUID=previous.uuid, **self.settings(resource))

    def delete(self, resource: EventSourceMapping) -> None:
        self.tolerate_missing(lambda: self.aws.lambda_.delete_event_source_mapping(UUID=resource.uuid))

    @staticmethod
    def settings(resource: EventSourceMapping) -> dict[str, Any]:
        return {
            "BatchSize": resource.batch_size,
            "MaximumBatchingWindowInSeconds": resource.batching_window_s,
            "FunctionResponseTypes": list(resource.response_types),
        }


class Topics(Applier[Topic]):
    def create(self, resource: Topic) -> None:
        self.aws.sns.create_topic(Name=resource.name, Tags=self.ctx.tag_list_for(resource))

    def update(self, resource: Topic, previous: Topic, changes: tuple[str, ...]) -> None:
        sns, arn = self.aws.sns, self.ctx.arns.topic(resource.name)
        self.retag(
            resource,
            previous,
            changes,
            lambda tags: sns.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]),
            lambda keys: sns.untag_resource(ResourceArn=arn, TagKeys=keys),
        )

    def delete(self, resource: Topic) -> None:
        self.tolerate_missing(lambda: self.aws.sns.delete_topic(TopicArn=self.ctx.arns.topic(resource.name)))


class Subscriptions(Applier[Subscription]):
    def create(self, resource: Subscription) -> None:
        self.aws.sns.subscribe(
            TopicArn=resource.topic_arn, Protocol="lambda", Endpoint=resource.endpoint, ReturnSubscriptionArn=True
        )

    def delete(self, resource: Subscription) -> None:
        self.tolerate_missing(lambda: self.aws.sns.unsubscribe(SubscriptionArn=resource.arn))


def make_bucket(ctx: ApplyContext, resource: Bucket | DeploymentBucket) -> None:
    """Create the bucket `name` in the client's region, or take over one a failed run made, and tag it."""
    name = resource.name
    params: dict[str, Any] = {"Bucket": name}
    if ctx.aws.region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": ctx.aws.region}
    try:
        ctx.aws.s3.create_bucket(**params)
    except ClientError as exc:
        if error_code(exc) != "BucketAlreadyOwnedByYou":  # made by a run that failed before tagging it
            raise
    tag_bucket(ctx, resource)


def tag_bucket(ctx: ApplyContext, resource: Bucket | DeploymentBucket) -> None:
    """Set the bucket's tags (S3 replaces the whole set) to the user's and portable-fn's own, keeping the tags
    others put there (the audit trail's, the console's)."""
    s3, owner = ctx.aws.s3, ctx.arns.account
    try:
        found = tag_dict(s3.get_bucket_tagging(Bucket=resource.name, ExpectedBucketOwner=owner).get("TagSet", []))
    except ClientError as exc:
        if not missing(exc, "NoSuchTagSet"):
            raise
        found = {}
    ours = {TAG_RECORD, *ctx.tags, *found.get(TAG_RECORD, "").split()}
    kept = {k: v for k, v in found.items() if k not in ours}
    tag_set = [{"Key": k, "Value": v} for k, v in {**kept, **ctx.tags_for(resource)}.items()]
    s3.put_bucket_tagging(Bucket=resource.name, Tagging={"TagSet": tag_set}, ExpectedBucketOwner=owner)


def secure_bucket(ctx: ApplyContext, name: str, changes: tuple[str, ...]) -> None:
    """Block all public access to the bucket `name` and encrypt its objects by default (SSE-S3), as far as
    `changes` (of `public_access_blocked`, `encrypted`) asks."""
    owner = ctx.arns.account
    if "public_access_blocked" in changes:
        ctx.aws.s3.put_public_access_block(
            Bucket=name,
            ExpectedBucketOwner=owner,
            PublicAccessBlockConfiguration={setting: True for setting in PUBLIC_ACCESS_BLOCK},
        )
    if "encrypted" in changes:
        ctx.aws.s3.put_bucket_encryption(
            Bucket=name,
            ExpectedBucketOwner=owner,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )


class Buckets(Applier[Bucket]):
    def create(self, resource: Bucket) -> None:
        make_bucket(self.ctx, resource)
        secure_bucket(self.ctx, resource.name, ("public_access_blocked", "encrypted"))

    def update(self, resource: Bucket, previous: Bucket, changes: tuple[str, ...]) -> None:
        if "tags" in changes:
            tag_bucket(self.ctx, resource)
        secure_bucket(self.ctx, resource.name, changes)

    def delete(self, resource: Bucket) -> None:
        """Delete the bucket; one found holding objects is emptied first, since a plan deletes it only when
        told `--delete-data` (`Bucket.holds_data`). Objects put after the plan read it empty are never deleted:
        S3 refuses to delete the bucket then, and the error says so."""
        try:
            if resource.has_objects:
                empty_bucket(self.ctx, resource.name)
            self.aws.s3.delete_bucket(Bucket=resource.name, ExpectedBucketOwner=self.ctx.arns.account)
        except ClientError as exc:
            if error_code(exc) == "BucketNotEmpty":
                raise RuntimeError(
                    f"bucket {resource.name!r} still holds objects and deploy never deletes data; empty it "
                    f"(aws s3 rm s3://{resource.name} --recursive) if its objects can go, or run "
                    "`portable-fn remove --delete-data`"
                ) from exc
            if not missing(exc, "NoSuchBucket"):
                raise


def empty_bucket(ctx: ApplyContext, name: str) -> None:
    """Delete every object of the bucket `name`, every version of it should someone have turned versioning on.
    Every call names the expected owner, so a bucket of that name in another account is never emptied."""
    s3, owner = ctx.aws.s3, ctx.arns.account
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name, ExpectedBucketOwner=owner):
        found = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        if found:
            s3.delete_objects(Bucket=name, ExpectedBucketOwner=owner, Delete={"Objects": found, "Quiet": True})


class Tables(Applier[Table]):
    """State tables: key `pk` (a string), the settings of `Table`. DynamoDB takes one change of a table at a
    time, so each update waits for the table to be active again."""

    def create(self, resource: Table) -> None:
        try:
            self.aws.dynamodb.create_table(
                TableName=resource.name,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode=resource.billing_mode,
                SSESpecification={"Enabled": resource.encrypted},
                Tags=self.ctx.tag_list_for(resource),
            )
        except ClientError as exc:
            if error_code(exc) != "ResourceInUseException":  # made by a run that failed before its TTL was set
                raise
            self.aws.dynamodb.tag_resource(
                ResourceArn=self.ctx.arns.table(resource.name), Tags=self.ctx.tag_list_for(resource)
            )
        self.wait(resource.name)
        self.set_ttl(resource)

    def update(self, resource: Table, previous: Table, changes: tuple[str, ...]) -> None:
        dynamodb, arn = self.aws.dynamodb, self.ctx.arns.table(resource.name)
        self.retag(
            resource,
            previous,
            changes,
            lambda tags: dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]),
            lambda keys: dynamodb.untag_resource(ResourceArn=arn, TagKeys=keys),
        )
        if "billing_mode" in changes:
            self.aws.dynamodb.update_table(TableName=resource.name, BillingMode=resource.billing_mode)
            self.wait(resource.name)
        if "encrypted" in changes:
            sse = {"Enabled": True, "SSEType": "KMS"} if resource.encrypted else {"Enabled": False}
            self.aws.dynamodb.update_table(TableName=resource.name, SSESpecification=sse)
            self.wait(resource.name)
        if "ttl_attribute" in changes:
            if previous.ttl_attribute:  # DynamoDB turns time to live off before it names another attribute
                self.aws.dynamodb.update_time_to_live(
                    TableName=resource.name,
                    TimeToLiveSpecification={"Enabled": False, "AttributeName": previous.ttl_attribute},
                )
            self.set_ttl(resource)

    def delete(self, resource: Table) -> None:
        """Reached only for a table holding no items, or with `remove --delete-data` (the planner keeps the rest)."""
        self.tolerate_missing(lambda: self.aws.dynamodb.delete_table(TableName=resource.name))

    def set_ttl(self, resource: Table) -> None:
        if resource.ttl_attribute:
            self.aws.dynamodb.update_time_to_live(
                TableName=resource.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": resource.ttl_attribute},
            )

    def wait(self, name: str) -> None:
        self.aws.dynamodb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": self.ctx.wait_delay_s, "MaxAttempts": self.ctx.wait_attempts}
        )


class DeploymentBuckets(Applier[DeploymentBucket]):
    """The bucket zips over the direct upload limit go through. Every call names the expected owner, so
    a bucket of that name in another account is never written to or emptied."""

    def create(self, resource: DeploymentBucket) -> None:
        try:
            make_bucket(self.ctx, resource)
        except ClientError as exc:
            if error_code(exc) != "BucketAlreadyExists":
                raise
            raise RuntimeError(
                f"the bucket name {resource.name!r} is taken by another AWS account (bucket names are global); "
                'set deployment_bucket = "<a name of your own>" under [tool.portable-fn.aws]'
            ) from exc
        self.update(resource, resource, ("public_access_blocked", "encrypted"))

    def update(self, resource: DeploymentBucket, previous: DeploymentBucket, changes: tuple[str, ...]) -> None:
        if "tags" in changes:
            tag_bucket(self.ctx, resource)
        secure_bucket(self.ctx, resource.name, changes)

    def delete(self, resource: DeploymentBucket) -> None:
        """Empty the bucket (`empty_bucket`), then delete it."""
        try:
            empty_bucket(self.ctx, resource.name)
            self.aws.s3.delete_bucket(Bucket=resource.name, ExpectedBucketOwner=self.ctx.arns.account)
        except ClientError as exc:
            if not missing(exc, "NoSuchBucket"):
                raise


class CodeObjects(Applier[CodeObject]):
    """Zips in the deployment bucket: uploaded once (the key holds the hash), deleted once superseded."""

    def create(self, resource: CodeObject) -> None:
        with Path(resource.zip_path).open("rb") as body:
            self.aws.s3.put_object(
                Bucket=resource.bucket,
                Key=resource.object_key,
                Body=body,
                ContentType="application/zip",
                ExpectedBucketOwner=self.ctx.arns.account,
            )

    def delete(self, resource: CodeObject) -> None:
        self.tolerate_missing(
            lambda: self.aws.s3.delete_object(
                Bucket=resource.bucket, Key=resource.object_key, ExpectedBucketOwner=self.ctx.arns.account
            ),
            "NoSuchBucket",
        )


class BucketNotifications(Applier[BucketNotification]):
    """Entries of a bucket's one notification configuration: read, change ours, write back the rest."""

    def create(self, resource: BucketNotification) -> None:
        self.write(resource.bucket, resource.notification_id, self.entry(resource))

    def update(self, resource: BucketNotification, previous: BucketNotification, changes: tuple[str, ...]) -> None:
        self.create(resource)

    def delete(self, resource: BucketNotification) -> None:
        try:
            self.write(resource.bucket, resource.notification_id, None)
        except ClientError as exc:
            if not missing(exc, "NoSuchBucket"):
                raise

    def write(self, bucket: str, entry_id: str, entry: dict[str, Any] | None) -> None:
        config = self.aws.s3.get_bucket_notification_configuration(Bucket=bucket)
        config.pop("ResponseMetadata", None)
        kept = [e for e in config.get("LambdaFunctionConfigurations", []) if e.get("Id") != entry_id]
        config["LambdaFunctionConfigurations"] = kept + ([entry] if entry else [])
        self.aws.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)

    @staticmethod
    def entry(resource: BucketNotification) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Id": resource.notification_id,
            "LambdaFunctionArn": resource.function_arn,
            "Events": list(resource.events),
        }
        rules = [{"Name": n, "Value": v} for n, v in (("prefix", resource.prefix), ("suffix", resource.suffix)) if v]
        if rules:
            out["Filter"] = {"Key": {"FilterRules": rules}}
        return out


class ScheduleGroups(Applier[ScheduleGroup]):
    def create(self, resource: ScheduleGroup) -> None:
        self.aws.scheduler.create_schedule_group(Name=resource.name, Tags=self.ctx.tag_list_for(resource))

    def update(self, resource: ScheduleGroup, previous: ScheduleGroup, changes: tuple[str, ...]) -> None:
        scheduler = self.aws.scheduler
        arn = f"arn:{self.ctx.arns.partition}:scheduler:{self.ctx.arns.region}:{self.ctx.arns.account}"
        arn += f":schedule-group/{resource.name}"
        self.retag(
            resource,
            previous,
            changes,
            lambda tags: scheduler.tag_resource(
                ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
            ),
            lambda keys: scheduler.untag_resource(ResourceArn=arn, TagKeys=keys),
        )

    def delete(self, resource: ScheduleGroup) -> None:
        self.tolerate_missing(lambda: self.aws.scheduler.delete_schedule_group(Name=resource.name))


class Schedules(Applier[Schedule]):
    def create(self, resource: Schedule) -> None:
        self.ctx.after_iam(
            lambda: self.aws.scheduler.create_schedule(**self.definition(resource)),
            f"creating schedule {resource.name}",
        )

    def update(self, resource: Schedule, previous: Schedule, changes: tuple[str, ...]) -> None:
        self.ctx.after_iam(
            lambda: self.aws.scheduler.update_schedule(**self.definition(resource)),
            f"updating schedule {resource.name}",
        )

    def delete(self, resource: Schedule) -> None:
        self.tolerate_missing(lambda: self.aws.scheduler.delete_schedule(Name=resource.name, GroupName=resource.group))

    @staticmethod
    def definition(resource: Schedule) -> dict[str, Any]:
        return {
            "Name": resource.name,
            "GroupName": resource.group,
            "ScheduleExpression": resource.expression,
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": {"Arn": resource.target_arn, "RoleArn": resource.role_arn},
        }


APPLIERS: dict[type[Resource], type[Applier[Any]]] = {
    LogGroup: LogGroups,
    Role: Roles,
    Function: Functions,
    InvokeConfig: InvokeConfigs,
    FunctionUrl: FunctionUrls,
    Permission: Permissions,
    Queue: Queues,
    EventSourceMapping: EventSourceMappings,
    Topic: Topics,
    Subscription: Subscriptions,
    Bucket: Buckets,
    Table: Tables,
    BucketNotification: BucketNotifications,
    DeploymentBucket: DeploymentBuckets,
    CodeObject: CodeObjects,
    ScheduleGroup: ScheduleGroups,
    Schedule: Schedules,
    HttpApi: HttpApis,
    ApiIntegration: ApiIntegrations,
    ApiAuthorizer: ApiAuthorizers,
    ApiRoute: ApiRoutes,
    ApiPermission: ApiPermissions,
}
