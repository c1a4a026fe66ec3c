"""The AWS resources deploy manages, as frozen dataclasses: plain values, no I/O.

`desired` builds them from the app, `remote` builds them from what AWS answers, and the shared planner
compares the two field by field. Fields in `ignore_on_compare` are filled in by AWS (ARNs, URLs, ids)
or only needed to act (the zip's path), so they never cause an update. Every field of a desired and a
remote resource is spelled the same way (sorted tuples, canonical JSON), so an unchanged app compares
equal and a redeploy makes no call that changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from portable_fn.deploy import Resource

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LogGroup(Resource):
    """A function's CloudWatch log group, created before the function so it is tagged and retained."""

    kind = "log group"
    retention_days: int = 14
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own


@dataclass(frozen=True)
class Role(Resource):
    """An IAM role under the app's path with one inline policy (`POLICY_NAME`); documents are canonical JSON."""

    kind = "iam role"
    ignore_on_compare = frozenset({"path"})
    path: str = "/"
    trust: str = ""
    policy: str = ""
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own


@dataclass(frozen=True)
class Function(Resource):
    """A Lambda function. `CODE_FIELDS` change through UpdateFunctionCode, the rest through
    UpdateFunctionConfiguration. Its code is sent in the request (`zip_path`), or, when `code_key` is
    set, read by Lambda from the deployment bucket (`code_bucket`, uploaded there as a `CodeObject`)."""

    kind = "lambda function"
    ignore_on_compare = frozenset({"zip_path", "code_bucket", "code_key", "arn"})
    role_arn: str = ""
    handler: str = ""
    runtime: str = ""
    memory_mb: int = 128
    timeout_s: int = 3
    env: Pairs = ()
    architecture: str = "x86_64"
    code_sha256: str = ""  # base64 of the zip's SHA-256 digest, as Lambda reports CodeSha256
    tenancy: str = ""  # "PER_TENANT" (`tenant_isolation=True`): set at creation only, so a change replaces it
    zip_path: str = ""
    code_bucket: str = ""
    code_key: str = ""
    arn: str = ""
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own


CODE_FIELDS = frozenset({"code_sha256", "architecture"})


@dataclass(frozen=True)
class InvokeConfig(Resource):
    """How Lambda handles asynchronous invocations (topic, storage, schedule): retries, then the
    on-failure destination (the function's dead-letter queue). Named after its function."""

    kind = "async invoke config"
    max_retries: int = 2
    on_failure_arn: str = ""


@dataclass(frozen=True)
class FunctionUrl(Resource):
    """The HTTPS endpoint of an HTTP function; named after its function."""

    kind = "function url"
    ignore_on_compare = frozenset({"url"})
    auth_type: str = "AWS_IAM"
    cors: str = ""  # its CORS configuration as canonical JSON (`cors.document`), '' for none
    url: str = ""


@dataclass(frozen=True)
class Permission(Resource):
    """One statement of a function's resource policy, named `<function>/<statement id>`."""

    kind = "lambda permission"
    function: str = ""
    statement_id: str = ""
    action: str = "lambda:InvokeFunction"
    principal: str = ""
    source_arn: str = ""
    url_auth_type: str = ""
    via_function_url: bool = False


@dataclass(frozen=True)
class HttpApi(Resource):
    """The app's API Gateway HTTP API (`http = "http-api"`), with its `$default` stage deploying every change."""

    kind = "http api"
    ignore_on_compare = frozenset({"api_id", "endpoint"})
    auto_deploy: bool = True  # the `$default` stage exists and deploys automatically
    cors: str = ""  # its CorsConfiguration as canonical JSON (`cors.document`), '' for none
    api_id: str = ""
    endpoint: str = ""
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own


@dataclass(frozen=True)
class ApiIntegration(Resource):
    """The Lambda proxy integration (payload 2.0) of one function, named `<api>/<function>`."""

    kind = "http api integration"
    ignore_on_compare = frozenset({"integration_id"})
    api: str = ""
    function_arn: str = ""
    payload_format: str = "2.0"
    integration_id: str = ""


@dataclass(frozen=True)
class ApiAuthorizer(Resource):
    """A JWT authorizer of the app's HTTP API, named `<api>/<authorizer>`: one per issuer and audiences some
    route declares (`auth=jwt(...)`), the token read from the Authorization header."""

    kind = "http api authorizer"
    ignore_on_compare = frozenset({"authorizer_id"})
    api: str = ""
    issuer: str = ""
    audience: tuple[str, ...] = ()
    identity_source: str = "$request.header.Authorization"
    authorizer_id: str = ""

    @property
    def authorizer_name(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ApiRoute(Resource):
    """The route of one function (`GET /orders/{id}`) to its integration, named `<api>/<function>`."""

    kind = "http api route"
    ignore_on_compare = frozenset({"route_id"})
    api: str = ""
    route_key: str = ""
    authorization_type: str = "AWS_IAM"
    authorizer: str = ""  # the `ApiAuthorizer` (its name) of a JWT route
    scopes: tuple[str, ...] = ()  # the scopes a JWT route requires (one of them)
    function_arn: str = ""  # whose integration the route targets
    route_id: str = ""


@dataclass(frozen=True)
class ApiPermission(Resource):
    """The statement letting the app's HTTP API invoke one function on its route, named
    `<function>/<statement id>`. The source ARN is kept as the API's name and the part after its id,
    since the id exists only once the API does."""

    kind = "http api permission"
    function: str = ""
    statement_id: str = ""
    api: str = ""
    source_route: str = ""  # `*/GET/orders/*`: any stage, the method, the path with parameters as globs


@dataclass(frozen=True)
class RestApi(Resource):
    """The app's API Gateway REST API for its tenant-isolated HTTP functions (`<app>-<stage>-tenants`, see
    `rest_api`): a stage named after the app's stage, and per function a route `(method, path, header,
    authorization, function ARN)`, its method requiring the tenant header and its Lambda proxy integration
    mapping that header onto `X-Amz-Tenant-Id`; with CORS, each route's path answers preflights and API Gateway's
    own refusals carry the allowed origin (`gateway_responses`). A change of routes or CORS rebuilds them and
    deploys the stage again; a change of the gateway responses alone puts them and deploys the stage again."""

    kind = "rest api"
    ignore_on_compare = frozenset({"api_id", "endpoint"})
    stage: str = ""
    routes: tuple[tuple[str, str, str, str, str], ...] = ()
    cors: str = ""  # the app's CORS policy (`edge.document`), answered by an OPTIONS method on each route's path
    gateway_responses: str = ""  # the headers of its DEFAULT_4XX and DEFAULT_5XX answers (`rest_api.refusals`)
    api_id: str = ""
    endpoint: str = ""
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own


@dataclass(frozen=True)
class RestApiPermission(Resource):
    """The statement letting the tenants' REST API invoke one function on its route, named
    `<function>/<statement id>`; like `ApiPermission`, the source ARN is kept as the API's name and the part
    after its id."""

    kind = "rest api permission"
    function: str = ""
    statement_id: str = ""
    api: str = ""
    source_route: str = ""


@dataclass(frozen=True)
class Queue(Resource):
    """An SQS queue; `dead_letter_arn` and `max_receive_count` make its redrive policy."""

    kind = "sqs queue"
    ignore_on_compare = frozenset({"url"})
    fifo: bool = False
    visibility_timeout_s: int = 30
    retention_s: int = 345600
    dead_letter_arn: str = ""
    max_receive_count: int = 0
    url: str = ""
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own


@dataclass(frozen=True)
class EventSourceMapping(Resource):
    """Lambda polling a queue, named `<function>/<queue>`; reports partial batch failures."""

    kind = "event source mapping"
    ignore_on_compare = frozenset({"uuid"})
    function: str = ""
    queue_arn: str = ""
    batch_size: int = 1
    batching_window_s: int = 0
    response_types: tuple[str, ...] = ()
    uuid: str = ""


@dataclass(frozen=True)
class Topic(Resource):
    """An SNS topic."""

    kind = "sns topic"
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own


@dataclass(frozen=True)
class Subscription(Resource):
    """A function subscribed to a topic, named `<topic>/<function>`."""

    kind = "sns subscription"
    ignore_on_compare = frozenset({"arn"})
    topic_arn: str = ""
    endpoint: str = ""
    arn: str = ""


@dataclass(frozen=True)
class Bucket(Resource):
    """An S3 bucket the app owns (not one the settings map to an existing bucket): a storage trigger's, a
    declared bucket's (`bucket("uploads")`), one bucket when both name it. Like the deployment bucket, public
    access is blocked and objects are encrypted at rest (SSE-S3 when deploy sets it), set explicitly rather
    than left to the account's defaults. `has_objects` is what remote found: a bucket holding objects
    `holds_data`, so `remove` keeps it unless told `--delete-data`."""

    kind = "s3 bucket"
    ignore_on_compare = frozenset({"has_objects"})
    public_access_blocked: bool = True  # all four settings of the bucket's public access block
    encrypted: bool = True  # the bucket has a default encryption rule
    has_objects: bool = False
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own

    def holds_data(self) -> bool:
        return self.has_objects


@dataclass(frozen=True)
class Table(Resource):
    """The DynamoDB table of one declared state (`portable_fn_aws.state`: key `pk`, TTL on `ttl`): on
    demand, encrypted with the AWS managed KMS key (`encrypted`: SSE on, rather than left to DynamoDB's
    own key), tagged. `has_items` is what remote found: a table holding items `holds_data`, so `remove`
    keeps it unless told `--delete-data`."""

    kind = "dynamodb table"
    ignore_on_compare = frozenset({"has_items"})
    billing_mode: str = "PAY_PER_REQUEST"
    encrypted: bool = True
    ttl_attribute: str = "ttl"  # '' when DynamoDB's time to live is off
    has_items: bool = False
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own

    def holds_data(self) -> bool:
        return self.has_items


@dataclass(frozen=True)
class DeploymentBucket(Resource):
    """The app's bucket for zips over the direct upload limit (`naming.Names.deployment_bucket`): it holds
    only `CodeObject`s, so removing the app empties and deletes it. Public access is blocked and objects
    are encrypted at rest (a default encryption rule of the owner's choosing: SSE-S3 when deploy makes it)."""

    kind = "deployment bucket"
    public_access_blocked: bool = True  # all four settings of the bucket's public access block
    encrypted: bool = True  # the bucket has a default encryption rule
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own


PUBLIC_ACCESS_BLOCK = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@dataclass(frozen=True)
class CodeObject(Resource):
    """One zip in the deployment bucket, named `<bucket>/<key>`. The key ends in the zip's SHA-256
    (`<function>/<sha256>.zip`), so a changed zip is a new object and an unchanged one is never uploaded
    again; objects no function runs from any more are deleted once the functions have moved on."""

    kind = "code object"
    ignore_on_compare = frozenset({"zip_path"})
    bucket: str = ""
    object_key: str = ""  # `key` is the planner's (kind, name)
    zip_path: str = ""


@dataclass(frozen=True)
class BucketNotification(Resource):
    """One entry of a bucket's notification configuration, named `<bucket>/<function>`; its `Id`
    (`notification_id`) says which app and stage own it, since S3 cannot tag it."""

    kind = "bucket notification"
    bucket: str = ""
    notification_id: str = ""
    function_arn: str = ""
    events: tuple[str, ...] = ()
    prefix: str = ""
    suffix: str = ""


@dataclass(frozen=True)
class ScheduleGroup(Resource):
    """The app's EventBridge Scheduler group: tagged, since schedules themselves cannot be."""

    kind = "schedule group"
    tags: Pairs = ()  # the user's tags (`portable_fn.deploy.tags`), beside portable-fn's own


@dataclass(frozen=True)
class Schedule(Resource):
    """An EventBridge Scheduler schedule invoking a function, named after the function."""

    kind = "schedule"
    group: str = ""
    expression: str = ""
    target_arn: str = ""
    role_arn: str = ""


# Dependencies first: the order `desired` lists resources in and `remote` reads them in (the planner
# deletes in reverse order of what was read, so dependents go before what they depend on).
ORDER: tuple[type[Resource], ...] = (
    LogGroup,
    Queue,
    Topic,
    Bucket,
    Table,
    DeploymentBucket,
    CodeObject,
    ScheduleGroup,
    HttpApi,
    Role,
    Function,
    InvokeConfig,
    FunctionUrl,
    Permission,
    ApiPermission,
    RestApi,
    RestApiPermission,
    ApiIntegration,
    ApiAuthorizer,
    ApiRoute,
    EventSourceMapping,
    Subscription,
    BucketNotification,
    Schedule,
)


def in_order(resources: list[Resource]) -> list[Resource]:
    """`resources` sorted by `ORDER` (stable within a type), first occurrence of each key kept."""
    seen: dict[tuple[str, str], Resource] = {}
    for resource in sorted(resources, key=lambda r: ORDER.index(type(r))):
        seen.setdefault(resource.key, resource)
    return list(seen.values())
