"""What an app needs on AWS: its functions and triggers turned into resources. Pure: no AWS call.

One function brings its log group, role and Lambda function (and, when its zip is over the direct
upload limit, the zip as an object of the app's deployment bucket, which Lambda reads it from), then
what its trigger needs:

    http      a Function URL (AWS_IAM, or NONE plus the public invoke permissions when the trigger is open at
              the edge: public=True, or auth= the function verifies); or, with `http = "http-api"`, a route
              (AWS_IAM, NONE when open at the edge, JWT with its authorizer for an `auth=jwt(...)` API
              Gateway can verify, `edge.at_edge`) on the app's one HTTP API, its Lambda proxy integration
              and the permission for that API and route; the API's refusals go to a function too
              (`refusal_routes`). `[tool.portable-fn.cors]` is the HTTP API's or each
              Function URL's CORS configuration (`edge`). A `tenant_isolation=True` function is on neither:
              it is a route of the tenants' REST API, which passes Lambda its tenant (`rest_api`).
    queue     the queue, its dead-letter queue with a redrive policy, an event source mapping
    topic     the topic, a subscription and the permission for SNS to invoke the function
    storage   the bucket (unless settings map it: public access blocked, SSE-S3 default encryption), a
              notification entry and the permission for S3
    schedule  the app's schedule group and scheduler role, and a schedule

Every resource AWS lets deploy tag carries the app's tags (`[tool.portable-fn] tags`, a stage's over them,
checked against `naming.TAG_RULES`) beside portable-fn's own.

Each state some function declares in `uses=` is a DynamoDB table (`Table`, `<app>-<stage>-<state>`). A
function that declares it gets the table's name in `PORTABLE_FN_STATE_<NAME>` (what
`portable_fn_aws.state` opens) and, in its role, GetItem on that table (`.read()`) or GetItem, PutItem,
UpdateItem and DeleteItem (`.write()`); a function that does not declare it gets neither.

Each bucket some function declares in `uses=` (`uploads = bucket("uploads")`) is the S3 bucket a
`storage(uploads)` trigger gets (`Bucket`, `<app>-<stage>-<name>`, made unless the settings `buckets` map it to
an existing one, which is granted but never made or deleted). A function that declares it gets the bucket's name
in `PORTABLE_FN_BUCKET_<NAME>` (what `portable_fn_aws.buckets` opens) and, in its role, `s3:ListBucket` on the
bucket and `s3:GetObject` on its objects (`.read()`), or `s3:GetObject`, `s3:PutObject` and `s3:DeleteObject`
(`.write()`); a function that does not declare it gets neither.

Each secret a function declares (`uses=[stripe_key]`) lives under the app and stage's prefix in SSM Parameter
Store or Secrets Manager (the setting `secrets`, `portable_fn_aws.secrets`): deploy never makes or reads it
(`portable-fn secrets set` does). The function gets the prefix in `PORTABLE_FN_SECRETS` and, in its role,
`ssm:GetParameter` on each declared parameter or `secretsmanager:GetSecretValue` on each declared secret.

Each topic and queue some function sends to (`uses=[order_events.publish()]`, a `Channel`) is an SNS
topic or SQS queue, made whether or not a function of the app receives from it. A function that declares
it gets its ARN (topic) or URL (queue) in `PORTABLE_FN_TOPIC_<NAME>` / `PORTABLE_FN_QUEUE_<NAME>` and, in
its role, `sns:Publish` or `sqs:SendMessage` on it alone. When some function sends to a queue, the app
also gets its delay group (a schedule group) and the delay role Scheduler assumes to send to the app's
queues: a queue sender gets both names (`portable_fn_aws.publish.DELAY_GROUP_ENV`, `DELAY_ROLE_ENV`) and
may make schedules in that group and pass that role, for delays past SQS's 900 seconds.

Topic, storage and schedule invoke asynchronously, so their retries and dead-letter queue are the
function's own: an `InvokeConfig` with the retries and an on-failure destination, the dead-letter queue
`<function>-dlq`. Every event function with a dead-letter queue (its queue's, or its own) gets the queue's
URL in `PORTABLE_FN_DEAD_LETTER_QUEUE_URL` and `sqs:SendMessage` on that queue alone: the shim sends what
the handler dead-letters there itself (`portable_fn_aws.dead_letter`), with the reason. A queue function
gets its queue's URL in `PORTABLE_FN_QUEUE_URL` and `sqs:ChangeMessageVisibility` on it: the shim hides
each failed message for its retry policy's delay (`portable_fn_aws.visibility`).
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portable_fn.deploy import Artifact, Resource
from portable_fn.deploy.tags import checked, with_tags
from portable_fn.runtime.buckets import Bucket as DeclaredBucket
from portable_fn.runtime.buckets import locator_env as bucket_env
from portable_fn.runtime.channels import QUEUE, TOPIC, Channel
from portable_fn.runtime.channels import locator_env as channel_env
from portable_fn.runtime.function import FunctionOptions, FunctionSpec
from portable_fn.runtime.routes import path_shape
from portable_fn.runtime.secrets import LOCATOR_ENV as SECRETS_ENV
from portable_fn.runtime.secrets import Secret
from portable_fn.runtime.state import State, locator_env
from portable_fn.runtime.triggers import Http, Queue, Schedule, Storage, Topic, Trigger

from ..http_routes import FRONT_ENV
from ..packaging import LAMBDA_LIMITS, LambdaArtifact, SizeBudget
from ..publish import DELAY_GROUP_ENV, DELAY_ROLE_ENV
from ..secrets import SSM
from ..secrets import locator as secrets_locator
from ..secrets import prefix as secrets_prefix
from ..visibility import QUEUE_URL_ENV
from . import edge, policies, rest_api
from .expressions import schedule_expression
from .naming import DEFAULT_ROUTE, STATEMENT_PREFIX, TAG_RULES, Arns, Names, api_route
from .resources import (
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
    Role,
    ScheduleGroup,
    Subscription,
    Table,
    in_order,
)
from .resources import Queue as QueueResource
from .resources import Schedule as ScheduleResource
from .resources import Topic as TopicResource

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.runtime.function import FunctionSpec

HANDLER_MODULE = "portable_fn_entry"  # the module the packaged zip exposes one handler per function from
DEFAULT_LOG_RETENTION_DAYS = 14
DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S = 128, 3
MAX_ASYNC_RETRIES = 2  # Lambda retries an asynchronous invocation at most twice
DLQ_RETENTION_S = 1_209_600  # 14 days, the most SQS keeps a message
S3_EVENTS = {"created": "s3:ObjectCreated:*", "deleted": "s3:ObjectRemoved:*"}
FUNCTION_URL, HTTP_API = "function-url", "http-api"  # the settings' `http`: what fronts HTTP functions
HTTP_FRONTS = (FUNCTION_URL, HTTP_API)
DEAD_LETTER_ENV = "PORTABLE_FN_DEAD_LETTER_QUEUE_URL"  # read by the shim (`portable_fn_aws.dead_letter`)


def code_sha256(artifact: Artifact) -> str:
    """Lambda's CodeSha256 (base64 of the digest) from the artifact's hex SHA-256."""
    return base64.b64encode(bytes.fromhex(artifact.sha256)).decode("ascii")


def artifact_of(artifact: Artifact, function: str) -> Artifact:
    """The zip the function runs from: its own when the app was packaged one zip per function."""
    return artifact.for_function(function) if isinstance(artifact, LambdaArtifact) else artifact


@dataclass(frozen=True)
class Target:
    """Everything the builders need besides the function: app, stage, names, ARNs and settings."""

    app: App
    stage: str
    names: Names
    arns: Arns
    artifact: Artifact
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    http: str = FUNCTION_URL  # one of HTTP_FRONTS
    budget: SizeBudget = LAMBDA_LIMITS  # a zip over `direct_upload` goes through the deployment bucket
    secrets: str = SSM  # where the app's secrets live: the setting `secrets`


def desired(target: Target) -> list[Resource]:
    """Every resource of the app, dependencies first."""
    resources: list[Resource] = []
    for spec in target.app.functions:
        resources += FunctionResources(target, spec).build()
    resources += [Table(target.names.table(state.name)) for state in target.app.states]
    resources += [Bucket(target.names.bucket(b.name)) for b in target.app.buckets if target.names.owns_bucket(b.name)]
    resources += channel_resources(target)  # after the functions: a queue's receiver says how it is made
    resources += scheduler_resources(target)
    resources += http_api_resources(target)
    resources += rest_api.resources(target.app, target.stage, target.names, target.arns)
    resources += deployment_bucket(target, resources)
    return with_tags(in_order(resources), checked(target.app.config, target.stage, TAG_RULES))


class FunctionResources:
    """The resources one function brings."""

    def __init__(self, target: Target, spec: FunctionSpec) -> None:
        self.t = target
        self.spec = spec
        self.options: FunctionOptions = target.app.options(spec)
        self.name = target.names.function(spec.name)
        self.arn = target.arns.function(self.name)

    def build(self) -> list[Resource]:
        trigger = self.spec.trigger
        dead_letter = self.dead_letter_queue()
        dead_letter_arn = self.t.arns.queue(dead_letter) if dead_letter else ""
        code = code_object(self.t, self.spec.name)
        own: list[Resource] = [
            LogGroup(self.t.names.log_group(self.spec.name), retention_days=self.t.log_retention_days),
            self.role(self.queue_arn(), dead_letter_arn),
            self.function(code, dead_letter),
            *([code] if code else []),
        ]
        if dead_letter and not isinstance(trigger, Queue):  # a queue's dead-letter queue comes with it
            own.append(QueueResource(dead_letter, retention_s=DLQ_RETENTION_S))
        if trigger.is_event and not isinstance(trigger, Queue):
            retries = min(self.options.max_attempts - 1, MAX_ASYNC_RETRIES)
            own.append(InvokeConfig(self.name, max_retries=retries, on_failure_arn=dead_letter_arn))
        return own + self.trigger_resources(trigger)

    # -- the function itself ----------------------------------------------------------------------
    def role(self, queue_arn: str, dead_letter_arn: str) -> Role:
        names = self.t.names
        log_arn = self.t.arns.log_group(names.log_group(self.spec.name))
        return Role(
            names.role(self.spec.name),
            path=names.role_path,
            trust=policies.trust("lambda.amazonaws.com"),
            policy=policies.function_policy(
                log_arn,
                queue_arn,
                dead_letter_arn,
                {self.t.arns.table(table): writes for table, writes in self.tables().items()},
                self.sends(),
                self.reads(),
                {self.t.arns.bucket(bucket): writes for bucket, writes in self.buckets().items()},
            ),
        )

    def secrets(self) -> list[Secret]:
        """The secrets the function declares reading, by name."""
        found = {u.resource.name: u.resource for u in self.options.uses if isinstance(u.resource, Secret)}
        return [found[name] for name in sorted(found)]

    def reads(self) -> policies.Reads:
        """What its role may read: each secret it declares, that one parameter or secret alone."""
        store, arns = self.t.secrets, self.t.arns
        where = secrets_prefix(store, self.t.app.name, self.t.stage)
        by_name = arns.parameter if store == SSM else arns.secret
        return policies.Reads(store, tuple(by_name(where + s.name) for s in self.secrets()))

    def channels(self) -> list[Channel]:
        """The topics and queues the function declares sending to."""
        return [use.resource for use in self.options.uses if isinstance(use.resource, Channel)]

    def sends(self) -> policies.Sends:
        """What its role may send to: each declared channel, and the delay group when it sends to a queue."""
        names, arns = self.t.names, self.t.arns
        queues = [channel_arn(self.t, c) for c in self.channels() if c.kind == QUEUE]
        return policies.Sends(
            topics=tuple(channel_arn(self.t, c) for c in self.channels() if c.kind == TOPIC),
            queues=tuple(queues),
            schedules=arns.schedules_in(names.delay_group) if queues else "",
            delay_role=arns.role(names.role_path, names.delay_role) if queues else "",
        )

    def tables(self) -> dict[str, bool]:
        """The table of each state the function declares in `uses=`, and whether it writes it."""
        return {
            self.t.names.table(use.resource.name): use.writes
            for use in self.options.uses
            if isinstance(use.resource, State)
        }

    def buckets(self) -> dict[str, bool]:
        """The S3 bucket of each bucket the function declares in `uses=`, and whether it writes it."""
        found: dict[str, bool] = {}
        for use in self.options.uses:
            if isinstance(use.resource, DeclaredBucket):
                bucket = self.t.names.bucket(use.resource.name)
                found[bucket] = found.get(bucket, False) or use.writes
        return found

    def function(self, code: CodeObject | None, dead_letter: str) -> Function:
        names, options = self.t.names, self.options
        artifact = artifact_of(self.t.artifact, self.spec.name)
        return Function(
            self.name,
            role_arn=self.t.arns.role(names.role_path, names.role(self.spec.name)),
            handler=f"{HANDLER_MODULE}.{self.spec.name}",
            runtime=f"python{self.t.app.config.python}",
            memory_mb=options.memory_mb or DEFAULT_MEMORY_MB,
            timeout_s=math.ceil(options.timeout_s or DEFAULT_TIMEOUT_S),
            env=tuple(sorted(self.env(dead_letter).items())),
            architecture=options.architecture or "x86_64",
            code_sha256=code_sha256(artifact),
            zip_path=str(artifact.path),
            code_bucket=code.bucket if code else "",
            code_key=code.object_key if code else "",
            tenancy="PER_TENANT" if getattr(options, "tenant_isolation", False) else "",
            arn=self.arn,
        )

    def env(self, dead_letter: str = "") -> dict[str, str]:
        """App defaults < stage < the function's own < portable-fn's own variables (the app's runtime
        settings, `AppConfig.runtime_env`; the URL of the dead-letter queue `dead_letter`, when it has one;
        the table of each state and the S3 bucket of each bucket it declares)."""
        config = self.t.app.config
        stage = config.stages.get(self.t.stage)
        own = {DEAD_LETTER_ENV: self.t.arns.queue_url(dead_letter)} if dead_letter else {}
        trigger = self.spec.trigger
        if isinstance(trigger, Queue):  # the shim sets each failed message's retry delay on it
            own[QUEUE_URL_ENV] = self.t.arns.queue_url(self.t.names.queue(trigger.name, trigger.fifo))
        own |= {
            locator_env(use.resource.name): self.t.names.table(use.resource.name)
            for use in self.options.uses
            if isinstance(use.resource, State)
        }
        own |= {
            bucket_env(use.resource.name): self.t.names.bucket(use.resource.name)
            for use in self.options.uses
            if isinstance(use.resource, DeclaredBucket)
        }
        own |= {channel_env(c.kind, c.name): channel_locator(self.t, c) for c in self.channels()}
        if self.secrets():  # where they live, never a value
            own[SECRETS_ENV] = secrets_locator(self.t.secrets, self.t.app.name, self.t.stage)
        if self.t.http == HTTP_API and self.spec in http_api_functions(self.t):  # `http_routes`: how it refuses
            own[FRONT_ENV] = HTTP_API
        if any(c.kind == QUEUE for c in self.channels()):
            names = self.t.names
            own[DELAY_GROUP_ENV] = names.delay_group
            own[DELAY_ROLE_ENV] = self.t.arns.role(names.role_path, names.delay_role)
        return {
            **config.defaults.env,
            **(stage.env if stage else {}),
            **self.spec.options.env,
            "PORTABLE_FN_APP": self.t.app.name,
            "PORTABLE_FN_STAGE": self.t.stage,
            **config.runtime_env(),
            "PORTABLE_FN_FUNCTION": self.spec.name,
            "PORTABLE_FN_PROVIDER": "aws",
            **own,
        }

    def queue_arn(self) -> str:
        trigger = self.spec.trigger
        if not isinstance(trigger, Queue):
            return ""
        return self.t.arns.queue(self.t.names.queue(trigger.name, trigger.fifo))

    def dead_letter_queue(self) -> str:
        return dead_letter_queue(self.t.names, self.spec, self.options)

    # -- what the trigger needs -------------------------------------------------------------------
    def trigger_resources(self, trigger: Trigger) -> list[Resource]:
        if isinstance(trigger, Http):
            return self.http(trigger)
        if isinstance(trigger, Queue):
            return self.queue(trigger)
        if isinstance(trigger, Topic):
            return self.topic(trigger)
        if isinstance(trigger, Storage):
            return self.storage(trigger)
        if isinstance(trigger, Schedule):
            return self.schedule(trigger)
        return []

    def http(self, trigger: Http) -> list[Resource]:
        if rest_api.isolated(self.options):  # behind the tenants' REST API (`rest_api`) instead
            return [rest_api.permission(self.t.app, self.t.names, self.spec)]
        if self.t.http == HTTP_API:
            return self.http_api_route(trigger)
        cors = edge.document(self.t.app.config.cors)
        if not trigger.open_at_edge:
            return [FunctionUrl(self.name, auth_type="AWS_IAM", cors=cors)]
        return [
            FunctionUrl(self.name, auth_type="NONE", cors=cors),
            self.permission("url", "*", action="lambda:InvokeFunctionUrl", url_auth_type="NONE"),
            self.permission("url-invoke", "*", via_function_url=True),
        ]

    def http_api_route(self, trigger: Http) -> list[Resource]:
        api, sid = self.t.names.http_api, f"{STATEMENT_PREFIX}http-api"
        authorizer = jwt_authorizer(api, trigger)
        refusals = [key for key, owner in refusal_keys(self.t).items() if owner is self.spec]
        head = head_key(self.t, trigger)
        keys = [route_key(trigger), *([head] if head else [])]
        return [
            *([authorizer] if authorizer else []),
            ApiPermission(
                f"{self.name}/{sid}",
                function=self.name,
                statement_id=sid,
                api=api,
                source_route=source_route(trigger, [*refusals, *keys[1:]]),
            ),
            ApiIntegration(f"{api}/{self.name}", api=api, function_arn=self.arn),
            *(
                ApiRoute(
                    api_route(api, key, self.name),
                    api=api,
                    route_key=key,
                    authorization_type="JWT" if authorizer else "NONE" if trigger.open_at_edge else "AWS_IAM",
                    authorizer=authorizer.name if authorizer else "",
                    scopes=tuple(sorted(trigger.auth.scopes)) if authorizer and edge.at_edge(trigger.auth) else (),
                    function_arn=self.arn,
                )
                for key in keys
            ),
        ]

    def queue(self, trigger: Queue) -> list[Resource]:
        names, arns, options = self.t.names, self.t.arns, self.options
        queue_name = names.queue(trigger.name, trigger.fifo)
        visibility = min(43_200, max(30, 6 * math.ceil(options.timeout_s or DEFAULT_TIMEOUT_S)))
        out: list[Resource] = []
        dead_letter_arn, receives = "", 0
        dlq_name = self.dead_letter_queue()
        if dlq_name:
            out.append(QueueResource(dlq_name, fifo=trigger.fifo, retention_s=DLQ_RETENTION_S))
            dead_letter_arn, receives = arns.queue(dlq_name), options.max_attempts
        out.append(
            QueueResource(
                queue_name,
                fifo=trigger.fifo,
                visibility_timeout_s=visibility,
                dead_letter_arn=dead_letter_arn,
                max_receive_count=receives,
            )
        )
        window = 1 if trigger.batch_size > 10 else 0  # Lambda requires a window for batches over 10
        out.append(
            EventSourceMapping(
                f"{self.name}/{queue_name}",
                function=self.name,
                queue_arn=arns.queue(queue_name),
                batch_size=trigger.batch_size,
                batching_window_s=window,
                response_types=("ReportBatchItemFailures",),
            )
        )
        return out

    def topic(self, trigger: Topic) -> list[Resource]:
        topic_name = self.t.names.topic(trigger.name)
        topic_arn = self.t.arns.topic(topic_name)
        return [
            TopicResource(topic_name),
            self.permission("sns", "sns.amazonaws.com", source_arn=topic_arn),
            Subscription(f"{topic_name}/{self.name}", topic_arn=topic_arn, endpoint=self.arn),
        ]

    def storage(self, trigger: Storage) -> list[Resource]:
        names = self.t.names
        bucket = names.bucket(trigger.bucket)
        owned: list[Resource] = [Bucket(bucket)] if names.owns_bucket(trigger.bucket) else []
        notification = BucketNotification(
            f"{bucket}/{self.name}",
            bucket=bucket,
            notification_id=names.notification_id(self.spec.name),
            function_arn=self.arn,
            events=(S3_EVENTS[trigger.on],),
            prefix=trigger.prefix,
            suffix=trigger.suffix,
        )
        return [*owned, self.permission("s3", "s3.amazonaws.com", source_arn=self.t.arns.bucket(bucket)), notification]

    def schedule(self, trigger: Schedule) -> list[Resource]:
        names = self.t.names
        return [
            ScheduleResource(
                names.schedule(self.spec.name),
                group=names.schedule_group,
                expression=schedule_expression(self.spec.name, trigger),
                target_arn=self.arn,
                role_arn=self.t.arns.role(names.role_path, names.scheduler_role),
            )
        ]

    def permission(
        self,
        purpose: str,
        principal: str,
        action: str = "lambda:InvokeFunction",
        source_arn: str = "",
        url_auth_type: str = "",
        via_function_url: bool = False,
    ) -> Permission:
        sid = f"{STATEMENT_PREFIX}{purpose}"
        return Permission(
            f"{self.name}/{sid}",
            function=self.name,
            statement_id=sid,
            action=action,
            principal=principal,
            source_arn=source_arn,
            url_auth_type=url_auth_type,
            via_function_url=via_function_url,
        )


def dead_letter_queue(names: Names, spec: FunctionSpec, options: FunctionOptions) -> str:
    """The function's dead-letter queue ('' for HTTP and dead_letter=False): a queue trigger's
    `<queue>-dlq` (also its redrive target), else `<function>-dlq` (also the on-failure destination
    of asynchronous invocations); the setting `dead_letter` may name it."""
    trigger, dead_letter = spec.trigger, options.dead_letter
    if not trigger.is_event or dead_letter is False:
        return ""
    if isinstance(trigger, Queue):
        logical = dead_letter if isinstance(dead_letter, str) else f"{trigger.name}-dlq"
        return names.queue(logical, trigger.fifo)
    logical = dead_letter if isinstance(dead_letter, str) else f"{spec.name}-dlq"
    return names.queue(logical)


def code_object(target: Target, function: str) -> CodeObject | None:
    """The deployment bucket's copy of the zip `function` runs from, when that zip is over the direct upload
    limit: keyed `<function>/<sha256>.zip`, or `<app>/<sha256>.zip` for the app's one zip (one object
    however many functions run from it)."""
    artifact = artifact_of(target.artifact, function)
    if not target.budget.via_s3(artifact.size):
        return None
    owner = function if artifact is not target.artifact else target.app.name
    bucket, key = target.names.deployment_bucket(target.arns), f"{owner}/{artifact.sha256}.zip"
    return CodeObject(f"{bucket}/{key}", bucket=bucket, object_key=key, zip_path=str(artifact.path))


def deployment_bucket(target: Target, resources: list[Resource]) -> list[Resource]:
    """The app's deployment bucket, when any zip goes through it."""
    if not any(isinstance(r, CodeObject) for r in resources):
        return []
    return [DeploymentBucket(target.names.deployment_bucket(target.arns))]


def channel_name(names: Names, channel: Channel) -> str:
    """The SNS topic or SQS queue of a channel: the one a function receiving from it is subscribed to."""
    if channel.kind == TOPIC:
        return names.topic(channel.name)
    return names.queue(channel.name, channel.fifo)


def channel_arn(target: Target, channel: Channel) -> str:
    name = channel_name(target.names, channel)
    return target.arns.topic(name) if channel.kind == TOPIC else target.arns.queue(name)


def channel_locator(target: Target, channel: Channel) -> str:
    """What `portable_fn_aws.publish` sends to: the topic's ARN, the queue's URL."""
    name = channel_name(target.names, channel)
    return target.arns.topic(name) if channel.kind == TOPIC else target.arns.queue_url(name)


def channel_resources(target: Target) -> list[Resource]:
    """Each channel's topic or queue, and, when some function sends to a queue, the delay group and the
    role Scheduler sends delayed messages with (to the app's queues alone)."""
    channels = target.app.channels
    made: list[Resource] = [
        TopicResource(channel_name(target.names, c))
        if c.kind == TOPIC
        else QueueResource(channel_name(target.names, c), fifo=c.fifo)
        for c in channels
    ]
    queues = [channel_arn(target, c) for c in channels if c.kind == QUEUE]
    if not queues:
        return made
    names = target.names
    return [
        *made,
        ScheduleGroup(names.delay_group),
        Role(
            names.delay_role,
            path=names.role_path,
            trust=policies.trust("scheduler.amazonaws.com"),
            policy=policies.delay_policy(queues),
        ),
    ]


def scheduler_resources(target: Target) -> list[Resource]:
    """The schedule group and the role Scheduler assumes, when the app has any schedule."""
    scheduled = [s for s in target.app.functions if isinstance(s.trigger, Schedule)]
    if not scheduled:
        return []
    names, arns = target.names, target.arns
    function_arns = [arns.function(names.function(s.name)) for s in scheduled]
    return [
        ScheduleGroup(names.schedule_group),
        Role(
            names.scheduler_role,
            path=names.role_path,
            trust=policies.trust("scheduler.amazonaws.com"),
            policy=policies.scheduler_policy(function_arns),
        ),
    ]


def http_api_functions(target: Target) -> list[FunctionSpec]:
    """The HTTP functions the app's HTTP API fronts (the tenant-isolated ones are on the tenants' REST API),
    by name."""
    return sorted(
        (
            spec
            for spec in target.app.functions
            if isinstance(spec.trigger, Http) and not rest_api.isolated(target.app.options(spec))
        ),
        key=lambda spec: spec.name,
    )


def http_api_resources(target: Target) -> list[Resource]:
    """The app's HTTP API and the routes of its refusals, when HTTP functions are fronted by one and the app
    has any."""
    if target.http != HTTP_API or not http_api_functions(target):
        return []
    cors = edge.document(getattr(target.app.config, "cors", None))
    return [HttpApi(target.names.http_api, cors=cors), *refusal_routes(target)]


def route_key(trigger: Http) -> str:
    return f"{trigger.method} {trigger.path}"


def head_key(target: Target, trigger: Http) -> str | None:
    """`HEAD /path` for a `GET /path` function, routed to it with the same authorization as its GET: API
    Gateway routes a HEAD apart from a GET (to `ANY /path`, whose refusal would be a 405), where `portable-fn
    dev`, a Function URL, Cloud Functions and Azure serve a HEAD with the GET's handler and no body. None when
    the function is no GET or another function declares HEAD or ANY on the same path (its route takes it)."""
    if trigger.method != "GET":
        return None
    shape = path_shape(trigger.path)
    for spec in http_api_functions(target):
        other = spec.trigger_as(Http)
        if other.method in ("HEAD", "ANY") and path_shape(other.path) == shape:
            return None
    return f"HEAD {trigger.path}"


def refusal_keys(target: Target) -> dict[str, FunctionSpec]:
    """The routes that hand to a function what API Gateway would otherwise refuse itself, with a bare
    `404 {"message":"Not Found"}`, and the function each goes to: `ANY /path` for each declared path no
    function declared ANY on (a method not declared there: API Gateway picks an explicit method's route
    first), and `$default` (a path no route takes). Each goes to the first function by name open at the edge
    (public=True or auth=) among those it may go to, else to the first of them (`refusal_routes` says why).
    Paths differing only in their parameters' names are one path to API Gateway."""
    fronted = http_api_functions(target)
    if target.http != HTTP_API or not fronted:
        return {}
    by_shape: dict[str, list[FunctionSpec]] = {}
    for spec in fronted:
        by_shape.setdefault(path_shape(spec.trigger_as(Http).path), []).append(spec)
    cors = getattr(target.app.config, "cors", None) is not None
    keys = {}
    for specs in by_shape.values():
        owner = _most_open(specs)
        if any(spec.trigger_as(Http).method == "ANY" for spec in specs):
            continue  # a function takes every method there
        if cors and not owner.trigger_as(Http).open_at_edge:
            continue  # an AWS_IAM `ANY` would refuse the preflights API Gateway answers (`refusal_routes`)
        keys[f"ANY {owner.trigger_as(Http).path}"] = owner
    return {**keys, DEFAULT_ROUTE: _most_open(fronted)}


def _most_open(specs: list[FunctionSpec]) -> FunctionSpec:
    return next((spec for spec in specs if spec.trigger_as(Http).open_at_edge), specs[0])


def refusal_routes(target: Target) -> list[Resource]:
    """The routes of `refusal_keys`, each to its function's integration; the function's shim answers what
    they bring as `portable-fn dev` does: 405 with `Allow`, or 404 (`portable_fn_aws.http_routes`).

    They open nothing. What they bring never reaches a handler (the shim serves only the route key its
    function declared), and a 405 or 404 holds no data; every method a function declared still goes
    through its own route with its AWS_IAM or JWT authorizer. Each is as open as the function it goes to:
    no authorization to a function open at the edge (anyone may invoke it already), AWS_IAM to a private
    one (an unsigned request gets API Gateway's 403, a signed one the 405 or 404), so no route lets anyone
    invoke a private function. A CORS preflight on a declared path goes through `ANY /path` to the
    function, whose runtime answers it under the same `[tool.portable-fn.cors]` as the API's; API Gateway
    answers preflights itself only where no route takes OPTIONS, so a private path of an app with CORS keeps
    API Gateway's own refusal of a method it does not serve (its 404) rather than refuse the preflight."""
    api, names, arns = target.names.http_api, target.names, target.arns
    return [
        ApiRoute(
            api_route(api, key, names.function(spec.name)),
            api=api,
            route_key=key,
            authorization_type="NONE" if spec.trigger_as(Http).open_at_edge else "AWS_IAM",
            function_arn=arns.function(names.function(spec.name)),
        )
        for key, spec in refusal_keys(target).items()
    ]


def jwt_authorizer(api: str, trigger: Http) -> ApiAuthorizer | None:
    """The JWT authorizer of the route's `auth=jwt(...)` when API Gateway can verify it (`edge.at_edge`):
    one per issuer and audiences, so routes declaring the same `jwt` share it."""
    auth = trigger.auth
    if not edge.at_edge(auth):
        return None
    audiences = tuple(sorted(auth.audiences))
    name = edge.authorizer_name(auth.issuer, audiences)
    return ApiAuthorizer(f"{api}/{name}", api=api, issuer=auth.issuer, audience=audiences)


def source_route(trigger: Http, refusals: list[str] | tuple[str, ...] = ()) -> str:
    """The part after the API id of the ARN the routes invoke the function with: any stage, the method
    (`*` for ANY), the path with each `{param}` as a glob, so the permission holds for every value of it.
    `refusals`: the other route keys that go to the function too: `ANY` on its path (any method), its `HEAD`
    (`head_key`; one statement for both methods), `$default` (any method and path: `*/*`, the ARN API Gateway
    invokes a `$default` route with)."""
    if DEFAULT_ROUTE in refusals:
        return "*/*"
    method = "*" if trigger.method == "ANY" or refusals else trigger.method
    return f"*/{method}{re.sub(r'[{][^}]*[}]', '*', trigger.path)}"
