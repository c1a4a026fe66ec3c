"""The AWS export as a CloudFormation template (`template.json`), one writer per resource type.

Functions are plain `AWS::Lambda::Function`s whose `Code` is the zip's path beside the template, which
`aws cloudformation package` and `sam deploy` upload and replace with its S3 location; so the app's
deployment bucket and the zips in it (`DeploymentBucket`, `CodeObject`) are left to that step. S3 can only
notify a function of a bucket CloudFormation declares (its `NotificationConfiguration`): a bucket the
settings map to an existing one keeps its notification out of the template, said in the notes and in the
template's Metadata. The tenants' REST API (`rest_api`) is AWS::ApiGateway::* resources; CloudFormation makes a
deployment only when its logical id is new, so that id ends in a digest of the routes and CORS. Property names
follow the CloudFormation resource reference
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-template-resource-type-ref.html,
read 2026-12-06); `cfn-lint` checks them in the tests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from portable_fn.deploy import Resource
from portable_fn.export import Export

from . import edge, rest_api
from .export import ARN, PLACEHOLDER, Exported, Reference, logical_id, unused
from .policies import POLICY_NAME
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
    Permission,
    Queue,
    RestApi,
    RestApiPermission,
    Role,
    Schedule,
    ScheduleGroup,
    Subscription,
    Table,
    Topic,
)

TEMPLATE = "template.json"
PSEUDO = {PLACEHOLDER.partition: "${AWS::Partition}", PLACEHOLDER.region: "${AWS::Region}"}
PSEUDO[PLACEHOLDER.account] = "${AWS::AccountId}"
# The logical id of a resource ends in its type's word, so a function and its role named alike differ.
SUFFIX: dict[type[Resource], str] = {
    LogGroup: "Logs",
    Role: "Role",
    Function: "Function",
    InvokeConfig: "InvokeConfig",
    FunctionUrl: "Url",
    Permission: "Permission",
    HttpApi: "HttpApi",
    ApiIntegration: "Integration",
    ApiAuthorizer: "Authorizer",
    ApiRoute: "Route",
    ApiPermission: "ApiPermission",
    Queue: "Queue",
    EventSourceMapping: "EventSource",
    Topic: "Topic",
    Subscription: "Subscription",
    Bucket: "Bucket",
    Table: "Table",
    DeploymentBucket: "DeploymentBucket",
    CodeObject: "Code",
    BucketNotification: "Notification",
    ScheduleGroup: "ScheduleGroup",
    Schedule: "Schedule",
    RestApi: "RestApi",
    RestApiPermission: "Permission",
}
GET_ATT = frozenset({(Function, ARN), (Role, ARN), (Queue, ARN), (Table, ARN)})  # the rest: Ref


def cloudformation(exported: Exported) -> Export:
    """The export as `template.json`, with the zips its functions' `Code` names."""
    return Template(exported).export()


class Template:
    """The template being written: its resources by logical id, outputs and notes."""

    def __init__(self, exported: Exported) -> None:
        self.x = exported
        self.refs = exported.references()
        taken: set[str] = set()
        self.ids = {r.key: unused(logical_id(exported.short(r), SUFFIX[type(r)]), taken) for r in exported.resources}
        self.resources: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []

    def export(self) -> Export:
        for resource in self.x.resources:
            WRITERS[type(resource)](self, resource)
        text = json.dumps(self.template(), indent=2) + "\n"
        return Export("aws", "cloudformation", {TEMPLATE: text}, self.x.artifacts(), self.notes)

    def template(self) -> dict[str, Any]:
        app, stage = self.x.app.name, self.x.stage
        out: dict[str, Any] = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"portable-fn app {app}, stage {stage}, as portable-fn export wrote it",
            "Metadata": {
                "portable-fn": {
                    "app": app,
                    "stage": stage,
                    "deploy": "aws cloudformation package --template-file template.json --s3-bucket <bucket> "
                    "--output-template-file packaged.json && aws cloudformation deploy --template-file "
                    f"packaged.json --stack-name {app}-{stage} --capabilities CAPABILITY_NAMED_IAM",
                    "not-exported": self.notes,
                }
            },
            "Resources": self.resources,
        }
        if self.outputs:
            out["Outputs"] = self.outputs
        return out

    # -- values ----------------------------------------------------------------------------------------
    def value(self, text: str) -> Any:
        """A string of `desired` as the template says it: a reference to a resource of the template, a
        `Fn::Sub` naming the account, region and partition it is deployed to, or the string itself."""
        if text in self.refs:
            return self.reference(self.refs[text])
        if not any(p in text for p in PSEUDO):
            return text
        subbed = text.replace("${", "${!")
        for placeholder, pseudo in PSEUDO.items():
            subbed = subbed.replace(placeholder, pseudo)
        return {"Fn::Sub": subbed}

    def reference(self, reference: Reference) -> dict[str, Any]:
        logical = self.ids[reference.resource.key]
        if (type(reference.resource), reference.attribute) in GET_ATT:
            return {"Fn::GetAtt": [logical, "Arn"]}
        return {"Ref": logical}

    def document(self, text: str) -> Any:
        """A policy document of `desired` (canonical JSON) as an object, each ARN in it a `value`."""
        return self.x.policy(text, self.value)

    def tag_list(self, resource: Resource) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in self.x.tags(resource).items()]

    def function_ref(self, name: str) -> dict[str, Any]:
        """The ARN of the function `name` (desired lists every function a resource of it names)."""
        function = self.x.find(Function, name)
        assert function is not None, name
        return self.reference(Reference(function, ARN))

    def add(self, resource: Resource, kind: str, properties: dict[str, Any], **extra: Any) -> str:
        logical = self.ids[resource.key]
        self.resources[logical] = {"Type": kind, "Properties": properties, **extra}
        return logical

    def leave_out(self, resource: Resource, why: str) -> None:
        self.notes.append(f"{resource.kind} {resource.name}: {why}")

    # -- one writer per resource type ---------------------------------------------------------------------
    def log_group(self, r: LogGroup) -> None:
        self.add(
            r,
            "AWS::Logs::LogGroup",
            {"LogGroupName": r.name, "RetentionInDays": r.retention_days, "Tags": self.tag_list(r)},
        )

    def role(self, r: Role) -> None:
        properties = {
            "RoleName": r.name,
            "Path": r.path,
            "Description": "Created by portable-fn export",
            "AssumeRolePolicyDocument": self.document(r.trust),
            "Policies": [{"PolicyName": POLICY_NAME, "PolicyDocument": self.document(r.policy)}],
            "Tags": self.tag_list(r),
        }
        self.add(r, "AWS::IAM::Role", properties)

    def function(self, r: Function) -> None:
        properties: dict[str, Any] = {
            "FunctionName": r.name,
            "Role": self.value(r.role_arn),
            "Handler": r.handler,
            "Runtime": r.runtime,
            "MemorySize": r.memory_mb,
            "Timeout": r.timeout_s,
            "Architectures": [r.architecture],
            "Environment": {"Variables": {k: self.value(v) for k, v in r.env}},
            "Code": self.x.zip_of(r),
            "Tags": self.tag_list(r),
        }
        if r.tenancy:
            properties["TenancyConfig"] = {"TenantIsolationMode": r.tenancy}
        logs = self.x.find(LogGroup, f"/aws/lambda/{r.name}")
        depends = {"DependsOn": [self.ids[logs.key]]} if logs else {}
        self.add(r, "AWS::Lambda::Function", properties, **depends)

    def invoke_config(self, r: InvokeConfig) -> None:
        properties: dict[str, Any] = {
            "FunctionName": {"Ref": self.ids[(Function.kind, r.name)]},
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": r.max_retries,
        }
        if r.on_failure_arn:
            properties["DestinationConfig"] = {"OnFailure": {"Destination": self.value(r.on_failure_arn)}}
        self.add(r, "AWS::Lambda::EventInvokeConfig", properties)

    def function_url(self, r: FunctionUrl) -> None:
        properties = {"TargetFunctionArn": self.function_ref(r.name), "AuthType": r.auth_type}
        if r.cors:
            properties["Cors"] = edge.parameters(r.cors)
        logical = self.add(r, "AWS::Lambda::Url", properties)
        self.outputs[logical] = {
            "Description": f"The URL of {r.name}",
            "Value": {"Fn::GetAtt": [logical, "FunctionUrl"]},
        }

    def permission(self, r: Permission) -> None:
        properties: dict[str, Any] = {
            "FunctionName": self.function_ref(r.function),
            "Action": r.action,
            "Principal": r.principal,
        }
        if r.source_arn:
            properties["SourceArn"] = self.value(r.source_arn)
        if r.url_auth_type:
            properties["FunctionUrlAuthType"] = r.url_auth_type
        if r.via_function_url:
            properties["InvokedViaFunctionUrl"] = True
        self.add(r, "AWS::Lambda::Permission", properties)

    def http_api(self, r: HttpApi) -> None:
        tags = self.x.tags(r)
        properties: dict[str, Any] = {
            "Name": r.name,
            "ProtocolType": "HTTP",
            "Description": "Created by portable-fn export",
        }
        if r.cors:
            properties["CorsConfiguration"] = edge.parameters(r.cors)
        logical = self.add(r, "AWS::ApiGatewayV2::Api", {**properties, "Tags": tags})
        stage = {"ApiId": {"Ref": logical}, "StageName": "$default", "AutoDeploy": r.auto_deploy, "Tags": tags}
        self.resources[f"{logical}DefaultStage"] = {"Type": "AWS::ApiGatewayV2::Stage", "Properties": stage}
        self.outputs[logical] = {
            "Description": f"The endpoint of the HTTP API {r.name}",
            "Value": {"Fn::GetAtt": [logical, "ApiEndpoint"]},
        }

    def api_id(self, api: str) -> dict[str, Any]:
        found = self.x.find(HttpApi, api)
        assert found is not None, api
        return {"Ref": self.ids[found.key]}

    def api_integration(self, r: ApiIntegration) -> None:
        properties = {
            "ApiId": self.api_id(r.api),
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": self.value(r.function_arn),
            "PayloadFormatVersion": r.payload_format,
        }
        self.add(r, "AWS::ApiGatewayV2::Integration", properties)

    def api_authorizer(self, r: ApiAuthorizer) -> None:
        properties = {
            "ApiId": self.api_id(r.api),
            "AuthorizerType": "JWT",
            "Name": r.authorizer_name,
            "IdentitySource": [r.identity_source],
            "JwtConfiguration": {"Issuer": r.issuer, "Audience": list(r.audience)},
        }
        self.add(r, "AWS::ApiGatewayV2::Authorizer", properties)

    def api_route(self, r: ApiRoute) -> None:
        integration = self.x.integration(r)
        properties: dict[str, Any] = {
            "ApiId": self.api_id(r.api),
            "RouteKey": r.route_key,
            "AuthorizationType": r.authorization_type,
            "Target": {"Fn::Sub": f"integrations/${{{self.ids[integration.key]}}}"},
        }
        if r.authorizer:
            properties["AuthorizerId"] = {"Ref": self.ids[(ApiAuthorizer.kind, r.authorizer)]}
        if r.scopes:
            properties["AuthorizationScopes"] = list(r.scopes)
        self.add(r, "AWS::ApiGatewayV2::Route", properties)

    def api_permission(self, r: ApiPermission) -> None:
        self.api_gateway_invokes(r, r.function, self.api_id(r.api)["Ref"], r.source_route)

    def api_gateway_invokes(self, r: Resource, function: str, api: str, route: str) -> None:
        """The permission letting the API of logical id `api` invoke `function` on `route` alone."""
        source = f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api}}}/{route}"
        properties = {
            "FunctionName": self.function_ref(function),
            "Action": "lambda:InvokeFunction",
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {"Fn::Sub": source},
        }
        self.add(r, "AWS::Lambda::Permission", properties)

    def queue(self, r: Queue) -> None:
        properties: dict[str, Any] = {
            "QueueName": r.name,
            "VisibilityTimeout": r.visibility_timeout_s,
            "MessageRetentionPeriod": r.retention_s,
            "Tags": self.tag_list(r),
        }
        if r.fifo:
            properties["FifoQueue"] = True
        if r.dead_letter_arn:
            target = self.value(r.dead_letter_arn)
            properties["RedrivePolicy"] = {"deadLetterTargetArn": target, "maxReceiveCount": r.max_receive_count}
        self.add(r, "AWS::SQS::Queue", properties)

    def event_source_mapping(self, r: EventSourceMapping) -> None:
        properties = {
            "EventSourceArn": self.value(r.queue_arn),
            "FunctionName": self.function_ref(r.function),
            "Enabled": True,
            "BatchSize": r.batch_size,
            "MaximumBatchingWindowInSeconds": r.batching_window_s,
            "FunctionResponseTypes": list(r.response_types),
        }
        self.add(r, "AWS::Lambda::EventSourceMapping", properties)

    def topic(self, r: Topic) -> None:
        self.add(r, "AWS::SNS::Topic", {"TopicName": r.name, "Tags": self.tag_list(r)})

    def subscription(self, r: Subscription) -> None:
        properties = {"TopicArn": self.value(r.topic_arn), "Protocol": "lambda", "Endpoint": self.value(r.endpoint)}
        self.add(r, "AWS::SNS::Subscription", properties)

    def bucket(self, r: Bucket) -> None:
        """The bucket, secured as deploy secures it, with the notifications of the functions it triggers
        (after the permissions that let S3 invoke them, which S3 checks when the configuration is set). Like a
        state's table it is retained when the stack is deleted or it is replaced: its objects are data."""
        properties: dict[str, Any] = {"BucketName": r.name, "Tags": self.tag_list(r)}
        if r.public_access_blocked:
            properties["PublicAccessBlockConfiguration"] = {setting: True for setting in PUBLIC_ACCESS_BLOCK}
        if r.encrypted:
            by_default = {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
            properties["BucketEncryption"] = {"ServerSideEncryptionConfiguration": [by_default]}
        entries = self.x.notifications(r.name)
        if entries:
            properties["NotificationConfiguration"] = {"LambdaConfigurations": self.notifications(entries)}
        arns = {e.function_arn for e in entries}
        notified = {f.name for f in self.x.resources if isinstance(f, Function) and f.arn in arns}
        waits = [
            self.ids[p.key]
            for p in self.x.resources
            if isinstance(p, Permission) and p.principal == "s3.amazonaws.com" and p.function in notified
        ]
        retained = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
        self.add(r, "AWS::S3::Bucket", properties, **retained, **({"DependsOn": waits} if entries else {}))

    def notifications(self, entries: list[BucketNotification]) -> list[dict[str, Any]]:
        out = []
        for entry in entries:
            for event in entry.events:
                rules = [{"Name": n, "Value": v} for n, v in (("prefix", entry.prefix), ("suffix", entry.suffix)) if v]
                item: dict[str, Any] = {"Event": event, "Function": self.value(entry.function_arn)}
                if rules:
                    item["Filter"] = {"S3Key": {"Rules": rules}}
                out.append(item)
        return out

    def bucket_notification(self, r: BucketNotification) -> None:
        if self.x.find(Bucket, r.bucket) is None:  # a bucket of the app carries it (see `bucket`)
            self.leave_out(
                r,
                f"CloudFormation can only notify a function of a bucket the template declares, and {r.bucket} is "
                f"an existing bucket; add the notification ({', '.join(r.events)} to {r.name.split('/')[-1]}) "
                "to that bucket's own configuration.",
            )

    def table(self, r: Table) -> None:
        properties: dict[str, Any] = {
            "TableName": r.name,
            "BillingMode": r.billing_mode,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "SSESpecification": {"SSEEnabled": r.encrypted},
            "Tags": self.tag_list(r),
        }
        if r.ttl_attribute:
            properties["TimeToLiveSpecification"] = {"AttributeName": r.ttl_attribute, "Enabled": True}
        self.add(r, "AWS::DynamoDB::Table", properties, DeletionPolicy="Retain", UpdateReplacePolicy="Retain")

    def packaged(self, r: DeploymentBucket | CodeObject) -> None:
        """Large zips go to S3 through `aws cloudformation package`, into the bucket it is given."""
        note = (
            "deployment bucket: zips reach S3 through `aws cloudformation package --s3-bucket <bucket>` "
            "(or `sam deploy`), which uploads each function's Code; the app's deployment bucket is not in "
            "the template."
        )
        if note not in self.notes:
            self.notes.append(note)

    def schedule_group(self, r: ScheduleGroup) -> None:
        self.add(r, "AWS::Scheduler::ScheduleGroup", {"Name": r.name, "Tags": self.tag_list(r)})

    def schedule(self, r: Schedule) -> None:
        group = self.x.find(ScheduleGroup, r.group)
        properties = {
            "Name": r.name,
            "GroupName": {"Ref": self.ids[group.key]} if group else r.group,
            "ScheduleExpression": r.expression,
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": {"Arn": self.value(r.target_arn), "RoleArn": self.value(r.role_arn)},
        }
        self.add(r, "AWS::Scheduler::Schedule", properties)

    def rest_api(self, r: RestApi) -> None:
        """The tenants' REST API as AWS::ApiGateway::* resources: one per path part, per route its method (the
        tenant header required, checked by the request validator) with its Lambda proxy integration, the CORS
        preflights (`rest_api.Preflight`), the gateway responses carrying CORS headers on API Gateway's own
        refusals, a deployment and the stage. CloudFormation makes a deployment once: its logical id ends in a
        digest of the routes and CORS, so a change makes a new one for the stage."""
        tags = self.tag_list(r)
        properties: dict[str, Any] = {
            "Name": r.name,
            "Description": "Created by portable-fn export",
            "EndpointConfiguration": {"Types": ["REGIONAL"]},
            "Tags": tags,
        }
        api = self.add(r, "AWS::ApiGateway::RestApi", properties)
        ref = {"Ref": api}
        ids: dict[str, Any] = {"/": {"Fn::GetAtt": [api, "RootResourceId"]}}
        for path, parent, part in rest_api.tree(r.routes):
            logical = f"{api}Resource{logical_id(path, '')}"
            properties = {"RestApiId": ref, "ParentId": ids[parent], "PathPart": part}
            self.resources[logical] = {"Type": "AWS::ApiGateway::Resource", "Properties": properties}
            ids[path] = {"Ref": logical}
        validator = f"{api}Validator"
        properties = {
            "RestApiId": ref,
            "Name": rest_api.VALIDATOR,
            "ValidateRequestBody": False,
            "ValidateRequestParameters": True,
        }
        self.resources[validator] = {"Type": "AWS::ApiGateway::RequestValidator", "Properties": properties}
        methods = []
        for method, path, header, authorization, function_arn in r.routes:
            function = self.reference(self.refs[function_arn])["Fn::GetAtt"][0]
            uri = f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:{rest_api.invoke_path(f'${{{function}.Arn}}')}"
            integration = {
                "Type": "AWS_PROXY",
                "IntegrationHttpMethod": "POST",
                "Uri": {"Fn::Sub": uri},
                "RequestParameters": {rest_api.INTEGRATION_PARAMETER: rest_api.METHOD_HEADER + header},
            }
            properties = {
                "RestApiId": ref,
                "ResourceId": ids[path],
                "HttpMethod": method,
                "AuthorizationType": authorization,
                "RequestParameters": {rest_api.METHOD_HEADER + header: True},
                "RequestValidatorId": {"Ref": validator},
                "Integration": integration,
            }
            methods.append(f"{api}{logical_id(method.lower() + path, '')}")
            self.resources[methods[-1]] = {"Type": "AWS::ApiGateway::Method", "Properties": properties}
        if r.cors:
            methods += self.preflights(r, api, ids)
        methods += self.refusals(r, api)
        digest = hashlib.sha256(json.dumps([r.routes, r.cors]).encode()).hexdigest()[:10]
        deployment = f"{api}Deployment{digest}"
        properties = {"RestApiId": ref, "Description": "portable-fn export"}
        self.resources[deployment] = {
            "Type": "AWS::ApiGateway::Deployment",
            "Properties": properties,
            "DependsOn": methods,
        }
        stage = {"RestApiId": ref, "DeploymentId": {"Ref": deployment}, "StageName": r.stage, "Tags": tags}
        self.resources[f"{api}Stage"] = {"Type": "AWS::ApiGateway::Stage", "Properties": stage}
        self.outputs[api] = {
            "Description": f"The URL of the REST API {r.name}'s stage {r.stage}",
            "Value": {
                "Fn::Sub": f"https://${{{api}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{{api}Stage}}"
            },
        }

    def preflights(self, r: RestApi, api: str, ids: dict[str, Any]) -> list[str]:
        """An OPTIONS method answering CORS preflights on each path a route is on; their logical ids."""
        answer, made = rest_api.Preflight.of(r.cors), []
        status = rest_api.PREFLIGHT_STATUS
        for path in rest_api.preflight_paths(r.routes):
            integration = {
                "Type": "MOCK",
                "RequestTemplates": rest_api.PREFLIGHT_REQUEST,
                "IntegrationResponses": [
                    {
                        "StatusCode": status,
                        "ResponseParameters": answer.static,
                        "ResponseTemplates": {rest_api.JSON: answer.template},
                    }
                ],
            }
            properties = {
                "RestApiId": {"Ref": api},
                "ResourceId": ids[path],
                "HttpMethod": rest_api.PREFLIGHT,
                "AuthorizationType": "NONE",
                "Integration": integration,
                "MethodResponses": [{"StatusCode": status, "ResponseParameters": answer.declared}],
            }
            made.append(f"{api}{logical_id(rest_api.PREFLIGHT.lower() + path, '')}")
            self.resources[made[-1]] = {"Type": "AWS::ApiGateway::Method", "Properties": properties}
        return made

    def refusals(self, r: RestApi, api: str) -> list[str]:
        """The gateway responses carrying CORS headers on API Gateway's own refusals (`rest_api.refusals`, which
        the CORS policy in the deployment's digest decides); their logical ids."""
        made = []
        for kind, headers in (json.loads(r.gateway_responses) if r.gateway_responses else {}).items():
            properties = {
                "RestApiId": {"Ref": api},
                "ResponseType": kind,
                "ResponseParameters": rest_api.refusal_parameters(headers),
                "ResponseTemplates": rest_api.REFUSAL_BODY,
            }
            made.append(f"{api}GatewayResponse{logical_id(kind.lower(), '')}")
            self.resources[made[-1]] = {"Type": "AWS::ApiGateway::GatewayResponse", "Properties": properties}
        return made

    def rest_api_permission(self, r: RestApiPermission) -> None:
        api = self.x.find(RestApi, r.api)
        assert api is not None, r.api
        self.api_gateway_invokes(r, r.function, self.ids[api.key], r.source_route)


# What writes each type `desired` returns; a type missing here fails the export tests.
WRITERS: dict[type[Resource], Callable[[Template, Any], None]] = {
    LogGroup: Template.log_group,
    Role: Template.role,
    Function: Template.function,
    InvokeConfig: Template.invoke_config,
    FunctionUrl: Template.function_url,
    Permission: Template.permission,
    HttpApi: Template.http_api,
    ApiIntegration: Template.api_integration,
    ApiAuthorizer: Template.api_authorizer,
    ApiRoute: Template.api_route,
    ApiPermission: Template.api_permission,
    Queue: Template.queue,
    EventSourceMapping: Template.event_source_mapping,
    Topic: Template.topic,
    Subscription: Template.subscription,
    Bucket: Template.bucket,
    BucketNotification: Template.bucket_notification,
    Table: Template.table,
    DeploymentBucket: Template.packaged,
    CodeObject: Template.packaged,
    ScheduleGroup: Template.schedule_group,
    Schedule: Template.schedule,
    RestApi: Template.rest_api,
    RestApiPermission: Template.rest_api_permission,
}
