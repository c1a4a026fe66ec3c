"""The deploy side of portable-fn on AWS: plan, deploy, remove and info with boto3.

`AwsDeployer` (a `portable_fn.deploy.Deployer`) is what `AwsProvider` delegates `desired`,
`read_remote`, `executor` and `outputs` to. The parts follow the shared pipeline (see `portable_fn.deploy`):

    naming      names, the two tags and ARNs         resources   frozen dataclasses, no I/O
    desired     app -> resources (pure)              policies    least-privilege IAM documents
    remote      AWS -> RemoteState (reads only)      appliers    create/update/delete per resource (the
    client      AwsClient, the one I/O boundary                  map the shared Executor dispatches by)
    outputs     URLs and ARNs after a deploy         expressions 5-field cron -> AWS cron

Settings (`[tool.portable-fn.aws]`, stage overrides applied): `region` (else AWS_REGION or
AWS_DEFAULT_REGION), `profile`, `http` ("function-url", the default: one Function URL per HTTP function;
or "http-api": one API Gateway HTTP API for the app and stage, a route per HTTP function),
`log_retention_days` (14), `buckets` (logical bucket name -> an existing bucket to use instead of
creating `<app>-<stage>-<name>`), `wait_delay_s` (2) and `wait_max_attempts` (150) for the Lambda state
waiters, `iam_propagation_attempts` (10), `max_attempts` (8, botocore's
"standard" retry mode for throttling and transient errors), `secrets` ("ssm", the default: SSM Parameter Store
SecureStrings; or "secretsmanager": where the app's secrets live, `portable_fn_aws.secrets`).

Code: a zip of up to `direct_upload_limit_mb` (50, Lambda's limit; 0 sends every zip through S3) is sent
in the CreateFunction/UpdateFunctionCode request. A larger one is uploaded to the app's deployment bucket
(`<app>-<stage>-deploy-<hash>`, made when first needed, tagged, public access blocked, encrypted; the
setting `deployment_bucket` names it instead) under `<function>/<sha256>.zip`, and Lambda reads it from
there. `remove` empties and deletes that bucket: it only ever holds these zips.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from portable_fn.config import typed_settings
from portable_fn.deploy import Artifact, Deployer, DeployTarget, RemoteState, Resource
from portable_fn.deploy.executor import Appliers
from portable_fn.runtime.channels import Channel, locator_env
from portable_fn.runtime.errors import ConfigError, UnsupportedTriggerError
from portable_fn.runtime.triggers import Http, Schedule

from ..packaging import size_budget
from ..settings import AwsSettings
from ..visibility import QUEUE_URL_ENV
from . import rest_api
from .appliers import APPLIERS, ApplyContext
from .audit import S3AuditStore
from .client import AwsClient, explain
from .desired import (
    HANDLER_MODULE,
    HTTP_API,
    Target,
    code_sha256,
    desired,
)
from .expressions import schedule_expression
from .naming import TAG_APP, TAG_STAGE, Arns, Names
from .outputs import outputs
from .remote import RemoteReader

if TYPE_CHECKING:
    from portable_fn.app import App

__all__ = ["HANDLER_MODULE", "TAG_APP", "TAG_STAGE", "AwsClient", "AwsDeployer", "code_sha256"]


class AwsDeployer(Deployer[AwsClient, Names]):
    """The deploy half of the AWS provider for one set of settings and one endpoint. It reads the settings
    as `config`, an `AwsSettings` (a mapping given is validated into one)."""

    provider = "aws"

    def __init__(
        self,
        settings: AwsSettings | Mapping[str, Any] | None = None,
        endpoint_url: str | None = None,
        client: AwsClient | None = None,
    ) -> None:
        self.config = typed_settings(AwsSettings, settings, "tool.portable-fn.aws")
        super().__init__(self.config.model_dump(exclude_unset=True), endpoint_url, client)

    def make_client(self) -> AwsClient:
        """The one AwsClient every call goes through (made on first use, so `check` needs no region)."""
        return AwsClient(self.region(), self.endpoint_url, self.config.profile, self.config.max_attempts)

    def region(self) -> str:
        region = self.config.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not region:
            raise ConfigError(
                'Deploying to aws needs a region: set region = "eu-west-1" (for example) under '
                "[tool.portable-fn.aws] in pyproject.toml, or the AWS_REGION environment variable."
            )
        return region

    def check(self, app: App) -> None:
        """Raise UnsupportedTriggerError for a schedule EventBridge Scheduler cannot express, for two
        functions on one route of the HTTP API, for a queue whose locator would be the shim's own
        variable, or for a `tenant_isolation=True` no REST API can front (`check_tenancy`); the settings were
        checked when `config` was made."""
        if self.config.http == HTTP_API:
            check_routes(app)
        check_channels(app)
        check_tenancy(app)
        for spec in app.functions:
            if isinstance(spec.trigger, Schedule):
                schedule_expression(spec.name, spec.trigger)

    def names(self, app: App, stage: str) -> Names:
        return Names(app.name, stage, tuple(sorted(self.config.buckets.items())), self.config.deployment_bucket or "")

    def arns(self) -> Arns:
        return Arns(self.client.partition, self.client.region, self.client.account())

    def desired(self, app: App, stage: str, artifact: Artifact) -> list[Resource]:
        self.check(app)
        return desired(
            Target(
                app,
                stage,
                self.names(app, stage),
                self.arns(),
                artifact,
                self.config.log_retention_days,
                self.config.http,
                size_budget(self.config),
                self.config.secrets,
            )
        )

    def read_remote(self, app: App, stage: str) -> RemoteState:
        return RemoteReader(self.client, self.names(app, stage), self.arns()).read()

    def appliers(self, app: App, stage: str) -> Appliers:
        ctx = ApplyContext(self.client, app.name, stage, self.arns(), self.config)
        return {kind: make(ctx) for kind, make in {**APPLIERS, **rest_api.APPLIERS}.items()}

    def explain(self, exc: BaseException) -> str | None:
        return explain(exc)

    def outputs(self, app: App, stage: str, remote: RemoteState) -> dict[str, Any]:
        return outputs(app, stage, remote, self.names(app, stage), self.arns())

    def audit_store(self, app: App, stage: str) -> S3AuditStore:
        """The app and stage's audit records, in a bucket of their own (see `audit`), in the account deploy
        acts on, written through `audit_client`."""
        return S3AuditStore(self.audit_client, app.name, stage, self.client.account())

    @functools.cached_property
    def audit_client(self) -> AwsClient:
        """The audit trail's own client (`AwsClient.sibling`: same session, endpoint and API log): the
        record is not part of the change set, so `client.calls` stays exactly what deploy did to the app."""
        return self.client.sibling()

    def target(self) -> DeployTarget:
        """The account and region deploy acts on, and the caller's ARN (STS GetCallerIdentity)."""
        account, arn = self.client.caller()
        return DeployTarget(self.provider, "account", account, self.client.region, arn)


def check_channels(app: App) -> None:
    """A queue named so that its locator is `PORTABLE_FN_QUEUE_URL` would hide the URL of the queue a
    queue function receives from, which the shim sets each failed message's retry delay on."""
    for spec in app.functions:
        for use in spec.options.uses:
            if isinstance(use.resource, Channel) and locator_env(use.resource.kind, use.resource.name) == QUEUE_URL_ENV:
                raise UnsupportedTriggerError(
                    f"Function {spec.name!r} on aws: it sends to {use.resource!r}, whose locator {QUEUE_URL_ENV} is "
                    "the variable the Lambda shim reads its own queue's URL from. Rename the queue."
                )


def check_tenancy(app: App) -> None:
    """Lambda's tenant isolation needs each invocation to carry a tenant id, which only a direct Invoke (its
    TenantId) or an API Gateway REST API mapping a request value onto `X-Amz-Tenant-Id` can pass: not a Function
    URL, not an HTTP API, not the SQS, SNS, S3 and Scheduler triggers deploy makes
    (https://docs.aws.amazon.com/lambda/latest/dg/tenant-isolation-invoke.html, read 2026-12-06). An HTTP
    function whose tenant is a header deploys behind the tenants' REST API (`rest_api`); every other
    `tenant_isolation=True` is refused here, before anything is made (`rest_api.refusal` says why)."""
    refused = rest_api.refusal(app)
    if refused:
        raise UnsupportedTriggerError(refused)


def check_routes(app: App) -> None:
    """One HTTP API sends each method and path to one function: two functions cannot share a route."""
    owner: dict[str, str] = {}
    for spec in app.functions:
        if isinstance(spec.trigger, Http):
            key = f"{spec.trigger.method} {spec.trigger.path}"
            if key in owner:
                raise UnsupportedTriggerError(
                    f"Functions {owner[key]!r} and {spec.name!r} on aws: both declare {key}, and the app's HTTP "
                    "API routes a method and path to one function. Change one of the paths, or set "
                    'http = "function-url" under [tool.portable-fn.aws] to give each function its own URL.'
                )
            owner[key] = spec.name
