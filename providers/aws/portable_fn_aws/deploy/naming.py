"""Names, tags and ARNs of everything deploy creates: one place, so read, plan and remove agree.

Every name starts with `<app>-<stage>-` (IAM role paths, log groups and schedule groups say the same in
their own way) and every resource that AWS lets us tag carries both tags below. Remote state is found
by these tags; the names only make resources readable in the console. A name longer than AWS allows is
cut and ends in 8 hex digits of its SHA-256, so it stays unique and stable.

The deployment bucket (zips over the direct upload limit go through it) is one per app, stage, account
and region, and its name must be unique across all of S3: `<app>-<stage>-deploy-<12 hex digits>`, the
digits those of the SHA-256 of account, region, app and stage. The same inputs always give the same name,
two apps, stages, regions or accounts never share one, and the account id is not published in it. The
setting `deployment_bucket` names it instead (if that name is taken by another account, say).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from portable_fn.deploy.tags import TagRules

TAG_APP = "portable-fn:app"
TAG_STAGE = "portable-fn:stage"
STATEMENT_PREFIX = "portable-fn-"  # Sid of every Lambda permission statement deploy adds
DEFAULT_ROUTE = "$default"  # the HTTP API route key of what no other route takes
NOTIFICATION_PREFIX = "portable-fn"  # Id of every S3 notification entry: portable-fn:<app>:<stage>:<function>

MAX_LAMBDA, MAX_ROLE, MAX_QUEUE, MAX_TOPIC, MAX_BUCKET, MAX_SCHEDULE, MAX_API = 64, 64, 80, 256, 63, 64, 128
MAX_TABLE = 255
PARTITION_DOMAINS = {"aws-cn": "amazonaws.com.cn", "aws-iso": "c2s.ic.gov", "aws-iso-b": "sc2s.sgov.gov"}
NOT_IN_BUCKET_NAMES = re.compile(r"[^a-z0-9-]+")  # S3 allows lowercase letters, digits, '-' (and '.', avoided)


def fit(name: str, limit: int) -> str:
    """`name` when it fits in `limit` characters, else a cut that ends in a short hash of it."""
    if len(name) <= limit:
        return name
    return f"{name[: limit - 9]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


TAG_RECORD = "portable-fn:tags"  # the keys of the user's tags on a resource (`portable_fn.deploy.tags`)
# What AWS takes as a tag (https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html, read
# 2026-12-06): 50 a resource, keys up to 128 characters, values up to 256, letters, digits, spaces and
# `_ . : / = + - @`; keys starting with `aws:` are AWS's. Three of the 50 are portable-fn's own, and a key
# holds no space here (the record separates keys with one).
TAG_RULES = TagRules(
    provider="aws",
    noun="tag",
    max_tags=50 - 3,
    max_key=128,
    max_value=256,
    key_pattern=re.compile(r"[\w.:/=+\-@]+"),
    value_pattern=re.compile(r"[\w\s.:/=+\-@]*"),
    allowed="AWS takes letters, digits, spaces and _ . : / = + - @ in a tag (portable-fn no space in a key)",
    reserved=("aws:",),
    record=TAG_RECORD,
)


def tags(app: str, stage: str) -> dict[str, str]:
    return {TAG_APP: app, TAG_STAGE: stage}


def has_tags(found: dict[str, str], app: str, stage: str) -> bool:
    return found.get(TAG_APP) == app and found.get(TAG_STAGE) == stage


def tag_list(app: str, stage: str) -> list[dict[str, str]]:
    """The tags in the Key/Value list shape IAM and the tagging API use."""
    return [{"Key": k, "Value": v} for k, v in tags(app, stage).items()]


def tag_dict(pairs: list[dict[str, Any]]) -> dict[str, str]:
    return {p["Key"]: p["Value"] for p in pairs}


@dataclass(frozen=True)
class Names:
    """The physical names for one app and stage."""

    app: str
    stage: str
    buckets: tuple[tuple[str, str], ...] = ()  # settings `buckets`: logical name -> existing bucket
    deployment_bucket_name: str = ""  # setting `deployment_bucket`: the name of the deployment bucket

    @property
    def prefix(self) -> str:
        return f"{self.app}-{self.stage}"

    @property
    def role_path(self) -> str:
        return f"/portable-fn/{self.app}/{self.stage}/"

    def function(self, fn: str) -> str:
        return fit(f"{self.prefix}-{fn}", MAX_LAMBDA)

    def role(self, fn: str) -> str:
        return fit(f"{self.prefix}-{fn}", MAX_ROLE)

    @property
    def scheduler_role(self) -> str:
        return fit(f"{self.prefix}-scheduler", MAX_ROLE)

    @property
    def delay_role(self) -> str:
        """The role Scheduler sends delayed messages with (a '.' no function's role name holds)."""
        return fit(f"{self.prefix}-scheduler.delays", MAX_ROLE)

    def log_group(self, fn: str) -> str:
        return f"/aws/lambda/{self.function(fn)}"

    def queue(self, logical: str, fifo: bool = False) -> str:
        suffix = ".fifo" if fifo else ""
        return fit(f"{self.prefix}-{logical}", MAX_QUEUE - len(suffix)) + suffix

    def topic(self, logical: str) -> str:
        return fit(f"{self.prefix}-{logical}", MAX_TOPIC)

    def bucket(self, logical: str) -> str:
        return dict(self.buckets).get(logical) or fit(f"{self.prefix}-{logical}", MAX_BUCKET)

    def table(self, state: str) -> str:
        """The DynamoDB table of the declared state `state`."""
        return fit(f"{self.prefix}-{state}", MAX_TABLE)

    def owns_bucket(self, logical: str) -> bool:
        """False for a bucket the settings map to an existing one: deploy never creates or deletes it."""
        return logical not in dict(self.buckets)

    def deployment_bucket(self, arns: Arns) -> str:
        """The app's deployment bucket in `arns`' account and region (see the module docstring)."""
        if self.deployment_bucket_name:
            return self.deployment_bucket_name
        digest = hashlib.sha256(f"{arns.account}:{arns.region}:{self.app}:{self.stage}".encode()).hexdigest()[:12]
        readable = NOT_IN_BUCKET_NAMES.sub("-", self.prefix.lower()).strip("-")
        suffix = f"-deploy-{digest}"
        return f"{readable[: MAX_BUCKET - len(suffix)].rstrip('-')}{suffix}".lstrip("-")

    @property
    def schedule_group(self) -> str:
        return fit(self.prefix, MAX_SCHEDULE)

    def schedule(self, fn: str) -> str:
        return fit(fn, MAX_SCHEDULE)

    @property
    def schedule_groups_prefix(self) -> str:
        """What the names of the app's two schedule groups start with, however `fit` cut them."""
        return self.prefix[: MAX_SCHEDULE - 9]

    @property
    def delay_group(self) -> str:
        """The schedule group of the one-time schedules functions make to send a message later
        (`portable_fn_aws.publish`): apart from the app's schedules, which deploy owns one by one."""
        return fit(f"{self.prefix}-delays", MAX_SCHEDULE)

    @property
    def http_api(self) -> str:
        """The app's one API Gateway HTTP API (names need not be unique there: the tags find it)."""
        return fit(self.prefix, MAX_API)

    def notification_id(self, fn: str) -> str:
        return f"{self.notification_prefix}{fn}"

    @property
    def notification_prefix(self) -> str:
        return f"{NOTIFICATION_PREFIX}:{self.app}:{self.stage}:"


def api_route(api: str, route_key: str, function: str) -> str:
    """The name deploy knows an HTTP API route by: `<api>/<function>` for a function's `METHOD /path`, so a
    changed method or path updates that route; `<api>/<route key>` for `ANY /path` and `$default`, which
    either a function declares or deploy adds to hand API Gateway's refusals to a function
    (`desired.refusal_routes`): one name for the key, so one can become the other by an update, never by a
    create that API Gateway refuses while the other still holds the key. The same for `HEAD /path`, which
    a function may declare or deploy adds beside a `GET /path` (`desired.head_key`)."""
    if route_key == DEFAULT_ROUTE or route_key.startswith(("ANY ", "HEAD ")):
        return f"{api}/{route_key}"
    return f"{api}/{function}"


@dataclass(frozen=True)
class Arns:
    """ARNs built from names, for policies and for resources that reference each other."""

    partition: str
    region: str
    account: str

    def function(self, name: str) -> str:
        return f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:{name}"

    def role(self, path: str, name: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role{path}{name}"

    def log_group(self, name: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:{name}"

    def queue(self, name: str) -> str:
        return f"arn:{self.partition}:sqs:{self.region}:{self.account}:{name}"

    def queue_url(self, name: str) -> str:
        """The queue's URL, as SQS gives it (`https://sqs.<region>.<domain>/<account>/<name>`)."""
        domain = PARTITION_DOMAINS.get(self.partition, "amazonaws.com")
        return f"https://sqs.{self.region}.{domain}/{self.account}/{name}"

    def topic(self, name: str) -> str:
        return f"arn:{self.partition}:sns:{self.region}:{self.account}:{name}"

    def bucket(self, name: str) -> str:
        return f"arn:{self.partition}:s3:::{name}"

    def table(self, name: str) -> str:
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{name}"

    def parameter(self, name: str) -> str:
        """An SSM parameter's ARN; `name` is its full path (`/portable-fn/<app>/<stage>/<secret>`)."""
        return f"arn:{self.partition}:ssm:{self.region}:{self.account}:parameter{name}"

    def secret(self, name: str) -> str:
        """The ARN of the Secrets Manager secret named `name`, whatever the six random characters Secrets Manager
        ends it with: `??????` matches exactly six, so no other secret's name does (IAM's documented way to name
        one secret whose ARN suffix is random: https://docs.aws.amazon.com/secretsmanager/latest/userguide/
        permissions_grant-limited-resources.html, read 2026-12-06)."""
        return f"arn:{self.partition}:secretsmanager:{self.region}:{self.account}:secret:{name}-??????"

    def schedules_in(self, group: str) -> str:
        """Every schedule of the group `group` (their names are chosen when they are made)."""
        return f"arn:{self.partition}:scheduler:{self.region}:{self.account}:schedule/{group}/*"

    def execute_api(self, api_id: str, route: str) -> str:
        """What an HTTP API's call to a Lambda function is: `route` is `<stage>/<METHOD>/<path>` (globs allowed)."""
        return f"arn:{self.partition}:execute-api:{self.region}:{self.account}:{api_id}/{route}"
