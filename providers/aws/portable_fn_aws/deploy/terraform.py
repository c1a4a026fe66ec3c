"""The AWS export as Terraform for the `hashicorp/aws` provider (`main.tf`), one writer per resource type.

Each resource becomes the provider's resource of the same meaning (some two or three: a bucket's public
access block and encryption are resources of their own there), named after the resource without the
app and stage (`aws_sqs_queue.orders_dlq`). A function's `filename` is its zip beside `main.tf`; a zip
over the direct upload limit goes through the deployment bucket as an `aws_s3_object`, as deploy sends
it. A bucket's notifications are one `aws_s3_bucket_notification`, which owns the bucket's whole
notification configuration. The tenants' REST API (`rest_api`) is the provider's aws_api_gateway_* resources,
its deployment's `triggers` hashing every method and integration and the gateway responses' headers, so a change
deploys the stage again. Arguments
follow the provider's documentation
(https://registry.terraform.io/providers/hashicorp/aws/latest/docs, read 2026-12-06).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from portable_fn.deploy import Resource
from portable_fn.export import Export, TerraformBuilder, TerraformDocument, terraform_export
from portable_fn.export.hcl import COMMENT
from portable_fn.export.terraform import identifier as snake_case

from . import edge, rest_api
from .export import ARN, PLACEHOLDER, URL, Exported, Reference, unused
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

PROVIDER = {"source": "hashicorp/aws", "version": "~> 6.0"}  # 6.0 names the region `region`
DATA: dict[str, Any] = {
    "aws_caller_identity": {"current": {}},
    "aws_partition": {"current": {}},
    "aws_region": {"current": {}},
}
PSEUDO = {
    PLACEHOLDER.partition: "${data.aws_partition.current.partition}",
    PLACEHOLDER.region: "${data.aws_region.current.region}",
    PLACEHOLDER.account: "${data.aws_caller_identity.current.account_id}",
}
# The Terraform resource type of each type `desired` returns (the first, when it makes several).
TYPES: dict[type[Resource], str] = {
    LogGroup: "aws_cloudwatch_log_group",
    Role: "aws_iam_role",
    Function: "aws_lambda_function",
    InvokeConfig: "aws_lambda_function_event_invoke_config",
    FunctionUrl: "aws_lambda_function_url",
    Permission: "aws_lambda_permission",
    HttpApi: "aws_apigatewayv2_api",
    ApiIntegration: "aws_apigatewayv2_integration",
    ApiAuthorizer: "aws_apigatewayv2_authorizer",
    ApiRoute: "aws_apigatewayv2_route",
    ApiPermission: "aws_lambda_permission",
    Queue: "aws_sqs_queue",
    EventSourceMapping: "aws_lambda_event_source_mapping",
    Topic: "aws_sns_topic",
    Subscription: "aws_sns_topic_subscription",
    Bucket: "aws_s3_bucket",
    BucketNotification: "aws_s3_bucket_notification",
    Table: "aws_dynamodb_table",
    DeploymentBucket: "aws_s3_bucket",
    CodeObject: "aws_s3_object",
    ScheduleGroup: "aws_scheduler_schedule_group",
    Schedule: "aws_scheduler_schedule",
    RestApi: "aws_api_gateway_rest_api",
    RestApiPermission: "aws_lambda_permission",
}
ATTRIBUTE = {ARN: "arn", URL: "url"}


def terraform(exported: Exported) -> Export:
    """The export as `main.tf`, with the zips its functions' `filename`s name."""
    return Configuration(exported).export()


class Configuration(TerraformBuilder):
    """The Terraform document being written (`TerraformBuilder`): each resource's label (`labels`, by its key)
    and the literal ARNs and URLs of the export (`refs`), which `value` spells as references."""

    def __init__(self, exported: Exported) -> None:
        super().__init__(data={kind: dict(sources) for kind, sources in DATA.items()})
        self.x = exported
        self.refs = exported.references()
        taken: dict[str, set[str]] = {}
        self.labels = {
            r.key: unused(identifier(exported.short(r)), taken.setdefault(TYPES[type(r)], set()))
            for r in exported.resources
        }

    def export(self) -> Export:
        for resource in self.x.resources:
            WRITERS[type(resource)](self, resource)
        return terraform_export("aws", self.main_tf(), self.x.artifacts(), self.notes)

    def main_tf(self) -> TerraformDocument:
        """The document written so far, its region a variable (the settings' region its default)."""
        region: dict[str, Any] = {"description": "The AWS region to deploy to"}
        if self.x.region:
            region["default"] = self.x.region
        return self.document("aws", PROVIDER, {"region": "${var.region}"}, {"region": region})

    # -- values ----------------------------------------------------------------------------------------
    def value(self, text: str) -> str:
        """A string of `desired` as Terraform says it: a reference to a resource of the configuration,
        the account, region and partition from the provider's data sources, or the string itself."""
        if text in self.refs:
            return self.reference(self.refs[text])
        spelled = text.replace("${", "$${").replace("%{", "%%{")
        for placeholder, data in PSEUDO.items():
            spelled = spelled.replace(placeholder, data)
        return spelled

    def reference(self, reference: Reference, attribute: str | None = None) -> str:
        return self.address(reference.resource, attribute or ATTRIBUTE[reference.attribute])

    def address(self, resource: Resource, attribute: str) -> str:
        return f"${{{TYPES[type(resource)]}.{self.labels[resource.key]}.{attribute}}}"

    def whole(self, resource: Resource, kind: str | None = None) -> str:
        """A reference to a resource itself (for `depends_on`), of type `kind` when not its first."""
        return f"${{{kind or TYPES[type(resource)]}.{self.labels[resource.key]}}}"

    def document_text(self, text: str) -> str:
        """A policy document of `desired` as indented JSON whose ARNs are references (a Terraform template,
        written as a heredoc)."""
        return json.dumps(self.x.policy(text, self.value), indent=2) + "\n"

    def function(self, name: str, attribute: str = "function_name") -> str:
        found = self.x.find(Function, name)
        assert found is not None, name  # desired lists every function a resource of it names
        return self.address(found, attribute)

    def put(self, resource: Resource, body: dict[str, Any], kind: str | None = None, suffix: str = "") -> str:
        """Declare `resource` (as a resource of type `kind` when not its first); return its label."""
        label = self.labels[resource.key] + suffix
        self.declare(kind or TYPES[type(resource)], label, body)
        return label

    # -- one writer per resource type ---------------------------------------------------------------------
    def log_group(self, r: LogGroup) -> None:
        self.put(r, {"name": r.name, "retention_in_days": r.retention_days, "tags": self.x.tags(r)})

    def role(self, r: Role) -> None:
        body = {
            "name": r.name,
            "path": r.path,
            "description": "Created by portable-fn export",
            "assume_role_policy": self.document_text(r.trust),
            "tags": self.x.tags(r),
        }
        self.put(r, body)
        policy = {"name": POLICY_NAME, "role": self.address(r, "id"), "policy": self.document_text(r.policy)}
        self.put(r, policy, "aws_iam_role_policy")

    def lambda_function(self, r: Function) -> None:
        body: dict[str, Any] = {
            "function_name": r.name,
            "role": self.value(r.role_arn),
            "handler": r.handler,
            "runtime": r.runtime,
            "memory_size": r.memory_mb,
            "timeout": r.timeout_s,
            "architectures": [r.architecture],
        }
        code = self.x.find(CodeObject, f"{r.code_bucket}/{r.code_key}") if r.code_key else None
        if code is not None:
            body["s3_bucket"] = self.address(code, "bucket")
            body["s3_key"] = self.address(code, "key")
        else:
            body["filename"] = f"${{path.module}}/{self.x.zip_of(r)}"
        body["source_code_hash"] = r.code_sha256
        body["environment"] = [{"variables": {k: self.value(v) for k, v in r.env}}]
        if r.tenancy:
            body["tenancy_config"] = [{"tenant_isolation_mode": r.tenancy}]
        body["tags"] = self.x.tags(r)
        # Its log group before it, and its role's policy: a queue's mapping is checked against it.
        logs = self.x.find(LogGroup, f"/aws/lambda/{r.name}")
        role = self.x.find(Role, r.role_arn.rsplit("/", 1)[-1])
        waits = [self.whole(logs) if logs else "", self.whole(role, "aws_iam_role_policy") if role else ""]
        body["depends_on"] = [w for w in waits if w]
        self.put(r, body)

    def invoke_config(self, r: InvokeConfig) -> None:
        body: dict[str, Any] = {"function_name": self.function(r.name), "maximum_retry_attempts": r.max_retries}
        if r.on_failure_arn:
            body["destination_config"] = [{"on_failure": [{"destination": self.value(r.on_failure_arn)}]}]
        self.put(r, body)

    def function_url(self, r: FunctionUrl) -> None:
        body: dict[str, Any] = {"function_name": self.function(r.name), "authorization_type": r.auth_type}
        if r.cors:
            body["cors"] = [cors_block(r.cors)]
        name = self.put(r, body)
        self.outputs[f"{name}_url"] = {"value": self.address(r, "function_url")}

    def permission(self, r: Permission) -> None:
        if r.via_function_url:
            self.leave_out_url_invoke(r)
            return
        body: dict[str, Any] = {
            "statement_id": r.statement_id,
            "action": r.action,
            "function_name": self.function(r.function),
            "principal": r.principal,
        }
        if r.source_arn:
            body["source_arn"] = self.value(r.source_arn)
        if r.url_auth_type:
            body["function_url_auth_type"] = r.url_auth_type
        self.put(r, body)

    def leave_out_url_invoke(self, r: Permission) -> None:
        """A public Function URL also needs lambda:InvokeFunction with InvokedViaFunctionUrl, which the
        provider's aws_lambda_permission cannot say (checked against hashicorp/aws 6.25.0)."""
        note = (
            f"lambda permission {r.name}: aws_lambda_permission has no invoked_via_function_url, which a public "
            "Function URL needs besides lambda:InvokeFunctionUrl; after apply, run aws lambda add-permission "
            f"--function-name {r.function} --statement-id {r.statement_id} --action lambda:InvokeFunction "
            "--principal '*' --invoked-via-function-url"
        )
        self.notes.append(note)
        url = self.resources.get("aws_lambda_function_url", {}).get(self.labels[(FunctionUrl.kind, r.function)])
        if url is not None:
            url[COMMENT] = [f"Not exported: {note}"]

    def http_api(self, r: HttpApi) -> None:
        tags = self.x.tags(r)
        api: dict[str, Any] = {"name": r.name, "protocol_type": "HTTP", "description": "Created by portable-fn export"}
        api["tags"] = tags
        if r.cors:
            api["cors_configuration"] = [cors_block(r.cors)]
        name = self.put(r, api)
        stage = {"api_id": self.address(r, "id"), "name": "$default", "auto_deploy": r.auto_deploy, "tags": tags}
        self.put(r, stage, "aws_apigatewayv2_stage")
        self.outputs[f"{name}_endpoint"] = {"value": self.address(r, "api_endpoint")}

    def api(self, name: str, attribute: str = "id") -> str:
        found = self.x.find(HttpApi, name)
        assert found is not None, name
        return self.address(found, attribute)

    def api_integration(self, r: ApiIntegration) -> None:
        body = {
            "api_id": self.api(r.api),
            "integration_type": "AWS_PROXY",
            "integration_uri": self.value(r.function_arn),
            "payload_format_version": r.payload_format,
        }
        self.put(r, body)

    def api_authorizer(self, r: ApiAuthorizer) -> None:
        body = {
            "api_id": self.api(r.api),
            "authorizer_type": "JWT",
            "name": r.authorizer_name,
            "identity_sources": [r.identity_source],
            "jwt_configuration": [{"issuer": r.issuer, "audience": list(r.audience)}],
        }
        self.put(r, body)

    def api_route(self, r: ApiRoute) -> None:
        integration = self.x.integration(r)
        body: dict[str, Any] = {
            "api_id": self.api(r.api),
            "route_key": r.route_key,
            "authorization_type": r.authorization_type,
            "target": f"integrations/{self.address(integration, 'id')}",
        }
        authorizer = self.x.find(ApiAuthorizer, r.authorizer) if r.authorizer else None
        if authorizer is not None:
            body["authorizer_id"] = self.address(authorizer, "id")
        if r.scopes:
            body["authorization_scopes"] = list(r.scopes)
        self.put(r, body)

    def api_permission(self, r: ApiPermission) -> None:
        body = {
            "statement_id": r.statement_id,
            "action": "lambda:InvokeFunction",
            "function_name": self.function(r.function),
            "principal": "apigateway.amazonaws.com",
            "source_arn": f"{self.api(r.api, 'execution_arn')}/{r.source_route}",
        }
        self.put(r, body)

    def queue(self, r: Queue) -> None:
        body: dict[str, Any] = {
            "name": r.name,
            "fifo_queue": r.fifo,
            "visibility_timeout_seconds": r.visibility_timeout_s,
            "message_retention_seconds": r.retention_s,
        }
        if r.dead_letter_arn:
            policy = {"deadLetterTargetArn": self.value(r.dead_letter_arn), "maxReceiveCount": r.max_receive_count}
            body["redrive_policy"] = json.dumps(policy, separators=(",", ":"))
        body["tags"] = self.x.tags(r)
        self.put(r, body)

    def event_source_mapping(self, r: EventSourceMapping) -> None:
        body = {
            "event_source_arn": self.value(r.queue_arn),
            "function_name": self.function(r.function, "arn"),
            "enabled": True,
            "batch_size": r.batch_size,
            "maximum_batching_window_in_seconds": r.batching_window_s,
            "function_response_types": list(r.response_types),
        }
        self.put(r, body)

    def topic(self, r: Topic) -> None:
        self.put(r, {"name": r.name, "tags": self.x.tags(r)})

    def subscription(self, r: Subscription) -> None:
        body = {"topic_arn": self.value(r.topic_arn), "protocol": "lambda", "endpoint": self.value(r.endpoint)}
        self.put(r, body)

    def bucket(self, r: Bucket | DeploymentBucket) -> None:
        """The bucket, then its public access block and default encryption, as deploy secures it. The
        deployment bucket's name is S3's to pick (`bucket_prefix`): it must be unique across all of S3."""
        if isinstance(r, DeploymentBucket):
            prefix = f"{self.x.names.prefix.lower()}-deploy-"[:37]  # the most bucket_prefix takes
            body: dict[str, Any] = {"bucket_prefix": prefix}
        else:
            body = {"bucket": r.name}
        self.put(r, {**body, "tags": self.x.tags(r)})
        bucket = self.address(r, "id")
        if r.public_access_blocked:
            block = {setting: True for setting in PUBLIC_ACCESS_SETTINGS}
            self.put(r, {"bucket": bucket, **block}, "aws_s3_bucket_public_access_block")
        if r.encrypted:
            rule = {"apply_server_side_encryption_by_default": [{"sse_algorithm": "AES256"}]}
            body = {"bucket": bucket, "rule": [rule]}
            self.put(r, body, "aws_s3_bucket_server_side_encryption_configuration")

    def code_object(self, r: CodeObject) -> None:
        bucket = self.x.find(DeploymentBucket, r.bucket)
        assert bucket is not None, r.bucket
        function = next(f for f in self.x.resources if isinstance(f, Function) and f.code_key == r.object_key)
        body = {
            "bucket": self.address(bucket, "id"),
            "key": r.object_key,
            "source": f"${{path.module}}/{self.x.zip_of(function)}",
            "content_type": "application/zip",
            "tags": self.x.tags(r),
        }
        self.put(r, body)

    def bucket_notification(self, r: BucketNotification) -> None:
        """All the entries of one bucket, written with its first: Terraform keeps one per bucket."""
        entries = self.x.notifications(r.bucket)
        if entries[0] != r:
            return
        bucket = self.x.find(Bucket, r.bucket)
        functions = [self.refs[e.function_arn].resource for e in entries]
        body: dict[str, Any] = {}
        if bucket is None:
            note = (
                f"bucket notification {r.bucket}: the existing bucket's whole notification configuration is "
                "set by aws_s3_bucket_notification; merge entries it has from elsewhere into it before applying."
            )
            self.notes.append(note)
            body[COMMENT] = [note]
        body |= {
            "bucket": self.address(bucket, "id") if bucket else r.bucket,
            "lambda_function": [self.notification(e) for e in entries],
            "depends_on": [self.permission_for(f.name) for f in functions],
        }
        self.put(r, body)

    def notification(self, entry: BucketNotification) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": entry.notification_id,
            "lambda_function_arn": self.value(entry.function_arn),
            "events": list(entry.events),
        }
        if entry.prefix:
            out["filter_prefix"] = entry.prefix
        if entry.suffix:
            out["filter_suffix"] = entry.suffix
        return out

    def permission_for(self, function: str) -> str:
        """The address of the permission letting S3 invoke `function`, which S3 checks for its notification."""
        found = next(
            p
            for p in self.x.resources
            if isinstance(p, Permission) and p.function == function and p.principal == "s3.amazonaws.com"
        )
        return self.whole(found)

    def table(self, r: Table) -> None:
        body: dict[str, Any] = {
            "name": r.name,
            "billing_mode": r.billing_mode,
            "hash_key": "pk",
            "attribute": [{"name": "pk", "type": "S"}],
            "server_side_encryption": [{"enabled": r.encrypted}],
        }
        if r.ttl_attribute:
            body["ttl"] = [{"attribute_name": r.ttl_attribute, "enabled": True}]
        body["tags"] = self.x.tags(r)
        self.put(r, body)

    def schedule_group(self, r: ScheduleGroup) -> None:
        self.put(r, {"name": r.name, "tags": self.x.tags(r)})

    def schedule(self, r: Schedule) -> None:
        group = self.x.find(ScheduleGroup, r.group)
        body = {
            "name": r.name,
            "group_name": self.address(group, "name") if group else r.group,
            "schedule_expression": r.expression,
            "schedule_expression_timezone": "UTC",
            "state": "ENABLED",
            "flexible_time_window": [{"mode": "OFF"}],
            "target": [{"arn": self.value(r.target_arn), "role_arn": self.value(r.role_arn)}],
        }
        self.put(r, body)

    def rest_api(self, r: RestApi) -> None:
        """The tenants' REST API as the provider's aws_api_gateway_* resources: one per path part, per route
        its method (the tenant header required, checked by the request validator) and Lambda proxy
        integration, the CORS preflights (`rest_api.Preflight`), the gateway responses carrying CORS headers on
        API Gateway's own refusals, and a deployment whose `triggers` hash every one of them, so a change deploys
        the stage again."""
        api = self.put(r, {"name": r.name, "description": "Created by portable-fn export"} | self.rest_api_body(r))
        rest_api_id = self.address(r, "id")
        ids = {"/": self.address(r, "root_resource_id")}
        for path, parent, part in rest_api.tree(r.routes):
            label = self.put(
                r,
                {"rest_api_id": rest_api_id, "parent_id": ids[parent], "path_part": part},
                "aws_api_gateway_resource",
                "_" + snake_case(path),
            )
            ids[path] = f"${{aws_api_gateway_resource.{label}.id}}"
        validator = {
            "name": rest_api.VALIDATOR,
            "rest_api_id": rest_api_id,
            "validate_request_body": False,
            "validate_request_parameters": True,
        }
        self.put(r, validator, "aws_api_gateway_request_validator")
        parts: list[str] = []  # what the deployment's trigger hashes
        for method, path, header, authorization, function_arn in r.routes:
            where = {"rest_api_id": rest_api_id, "resource_id": ids[path], "http_method": method}
            body = {
                **where,
                "authorization": authorization,
                "request_parameters": {rest_api.METHOD_HEADER + header: True},
                "request_validator_id": f"${{aws_api_gateway_request_validator.{api}.id}}",
            }
            label = self.put(r, body, "aws_api_gateway_method", f"_{snake_case(method + path)}")
            function = self.refs[function_arn].resource
            integration = {
                **where,
                "type": "AWS_PROXY",
                "integration_http_method": "POST",
                "uri": self.address(function, "invoke_arn"),
                "request_parameters": {rest_api.INTEGRATION_PARAMETER: rest_api.METHOD_HEADER + header},
                "depends_on": [f"${{aws_api_gateway_method.{label}}}"],
            }
            self.put(r, integration, "aws_api_gateway_integration", f"_{snake_case(method + path)}")
            parts += [f"aws_api_gateway_method.{label}.id", f"aws_api_gateway_integration.{label}.id"]
        if r.cors:
            parts += self.preflights(r, rest_api_id, ids)
        parts += self.refusals(r, rest_api_id)
        deployment = {
            "rest_api_id": rest_api_id,
            "description": "portable-fn export",
            "triggers": {"redeployment": f"${{sha1(jsonencode([{', '.join(parts)}]))}}"},
            "lifecycle": [{"create_before_destroy": True}],  # the stage moves to the new one before the old goes
        }
        self.put(r, deployment, "aws_api_gateway_deployment")
        stage = {
            "rest_api_id": rest_api_id,
            "deployment_id": f"${{aws_api_gateway_deployment.{api}.id}}",
            "stage_name": r.stage,
            "tags": self.x.tags(r),
        }
        self.put(r, stage, "aws_api_gateway_stage")
        self.outputs[f"{api}_api"] = {"value": f"${{aws_api_gateway_stage.{api}.invoke_url}}"}

    def rest_api_body(self, r: RestApi) -> dict[str, Any]:
        return {"endpoint_configuration": [{"types": ["REGIONAL"]}], "tags": self.x.tags(r)}

    def preflights(self, r: RestApi, rest_api_id: str, ids: dict[str, str]) -> list[str]:
        """An OPTIONS method answering CORS preflights on each path a route is on; what the trigger hashes."""
        answer, parts = rest_api.Preflight.of(r.cors), []
        for path in rest_api.preflight_paths(r.routes):
            suffix = f"_{snake_case(rest_api.PREFLIGHT + path)}"
            where = {"rest_api_id": rest_api_id, "resource_id": ids[path], "http_method": rest_api.PREFLIGHT}
            label = self.put(r, {**where, "authorization": "NONE"}, "aws_api_gateway_method", suffix)
            method = f"${{aws_api_gateway_method.{label}}}"
            response = {**where, "status_code": rest_api.PREFLIGHT_STATUS, "response_parameters": answer.declared}
            self.put(r, {**response, "depends_on": [method]}, "aws_api_gateway_method_response", suffix)
            integration = {**where, "type": "MOCK", "request_templates": rest_api.PREFLIGHT_REQUEST}
            self.put(r, {**integration, "depends_on": [method]}, "aws_api_gateway_integration", suffix)
            answered = {
                **where,
                "status_code": rest_api.PREFLIGHT_STATUS,
                "response_parameters": answer.static,
                "response_templates": {rest_api.JSON: self.value(answer.template)},
                "depends_on": [
                    f"${{aws_api_gateway_integration.{label}}}",
                    f"${{aws_api_gateway_method_response.{label}}}",
                ],
            }
            self.put(r, answered, "aws_api_gateway_integration_response", suffix)
            parts += [
                f"aws_api_gateway_method.{label}.id",
                f"aws_api_gateway_integration.{label}.id",
                f"aws_api_gateway_method_response.{label}.id",
                f"aws_api_gateway_integration_response.{label}.id",
            ]
        return parts

    def refusals(self, r: RestApi, rest_api_id: str) -> list[str]:
        """The gateway responses carrying CORS headers on API Gateway's own refusals (`rest_api.refusals`); what
        the trigger hashes: their headers, as an update keeps a gateway response's id."""
        parts = []
        for kind, headers in (json.loads(r.gateway_responses) if r.gateway_responses else {}).items():
            body = {
                "rest_api_id": rest_api_id,
                "response_type": kind,
                "response_parameters": rest_api.refusal_parameters(headers),
                "response_templates": {key: self.value(text) for key, text in rest_api.REFUSAL_BODY.items()},
            }
            label = self.put(r, body, "aws_api_gateway_gateway_response", f"_{snake_case(kind)}")
            parts.append(f"aws_api_gateway_gateway_response.{label}.response_parameters")
        return parts

    def rest_api_permission(self, r: RestApiPermission) -> None:
        api = self.x.find(RestApi, r.api)
        assert api is not None, r.api
        body = {
            "statement_id": r.statement_id,
            "action": "lambda:InvokeFunction",
            "function_name": self.function(r.function),
            "principal": "apigateway.amazonaws.com",
            "source_arn": f"{self.address(api, 'execution_arn')}/{r.source_route}",
        }
        self.put(r, body)


def identifier(short: str) -> str:
    """A Terraform resource name (letters, digits, underscores) from a resource's short name."""
    name = "".join(c if c.isalnum() else "_" for c in short.lower()).strip("_")
    return name if name[:1].isalpha() else f"r_{name}"


def cors_block(document: str) -> dict[str, Any]:
    """A CORS `edge.document` as the `cors` / `cors_configuration` block: the same fields, snake_case."""
    return {_snake(k): v for k, v in edge.parameters(document).items()}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


# The public access block's arguments, in `PUBLIC_ACCESS_BLOCK`'s order.
PUBLIC_ACCESS_SETTINGS = ("block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets")
assert len(PUBLIC_ACCESS_SETTINGS) == len(PUBLIC_ACCESS_BLOCK)

# What writes each type `desired` returns; a type missing here fails the export tests.
WRITERS: dict[type[Resource], Callable[[Configuration, Any], None]] = {
    LogGroup: Configuration.log_group,
    Role: Configuration.role,
    Function: Configuration.lambda_function,
    InvokeConfig: Configuration.invoke_config,
    FunctionUrl: Configuration.function_url,
    Permission: Configuration.permission,
    HttpApi: Configuration.http_api,
    ApiIntegration: Configuration.api_integration,
    ApiAuthorizer: Configuration.api_authorizer,
    ApiRoute: Configuration.api_route,
    ApiPermission: Configuration.api_permission,
    Queue: Configuration.queue,
    EventSourceMapping: Configuration.event_source_mapping,
    Topic: Configuration.topic,
    Subscription: Configuration.subscription,
    Bucket: Configuration.bucket,
    BucketNotification: Configuration.bucket_notification,
    Table: Configuration.table,
    DeploymentBucket: Configuration.bucket,
    CodeObject: Configuration.code_object,
    ScheduleGroup: Configuration.schedule_group,
    Schedule: Configuration.schedule,
    RestApi: Configuration.rest_api,
    RestApiPermission: Configuration.rest_api_permission,
}
