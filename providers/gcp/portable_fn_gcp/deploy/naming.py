"""Names and labels of everything deploy creates: one place, so read, plan and remove agree.

Every name starts with `<app>-<stage>-`. Functions and Pub/Sub topics carry the two labels below, and
remote state is found by them; Cloud Scheduler jobs cannot be labelled, so their description carries
the marker `portable-fn:<app>:<stage>` instead, and the Cloud Tasks queue is found by its name. Label
values allow only lowercase letters, digits, `_` and `-` (at most 63), so `label_value` folds anything
else to `_`; a name longer than Google allows is cut and ends in 8 hex digits of its SHA-256, so it
stays unique and stable.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from portable_fn.deploy.tags import TagRules

from ..secrets import secret_id

LABEL_APP = "portable-fn-app"
LABEL_STAGE = "portable-fn-stage"
LABEL_SOURCE = "portable-fn-source"  # the first 32 hex digits of the source zip's SHA-256
JOB_MARKER = "portable-fn"

MAX_FUNCTION, MAX_TOPIC, MAX_JOB, MAX_LABEL, MAX_DATABASE, MAX_QUEUE = 63, 255, 500, 63, 63, 100
MIN_ACCOUNT, MAX_ACCOUNT = 6, 30  # a service account id: [a-z][a-z0-9-]{4,28}[a-z0-9]
STATE_COLLECTION = "items"  # the one collection of a state's database
_NOT_FUNCTION = re.compile(r"[^a-z0-9-]+")
_NOT_LABEL = re.compile(r"[^a-z0-9_-]+")
_NOT_QUEUE = re.compile(r"[^A-Za-z0-9-]+")
DELAYS = "pfn-delays"  # the Cloud Tasks queue of an app and stage's delayed sends


def fit(name: str, limit: int) -> str:
    """`name` when it fits in `limit` characters, else a cut that ends in a short hash of it."""
    if len(name) <= limit:
        return name
    return f"{name[: limit - 9]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def label_value(value: str) -> str:
    """`value` as Google accepts it in a label: lowercase, `[a-z0-9_-]`, at most 63 characters."""
    return fit(_NOT_LABEL.sub("_", value.lower()), MAX_LABEL)


# What Google takes as a label (https://cloud.google.com/resource-manager/docs/labels-overview, read
# 2026-12-06): 64 a resource, keys of 1 to 63 characters starting with a lowercase letter, values of at most
# 63, both only lowercase letters, digits, `_` and `-` (Google also takes international letters; portable-fn
# keeps to ASCII, as every service accepts it). Three of the 64 are portable-fn's own.
TAG_RULES = TagRules(
    provider="gcp",
    noun="label",
    max_tags=64 - 3,
    max_key=63,
    max_value=63,
    key_pattern=re.compile(r"[a-z][a-z0-9_-]*"),
    value_pattern=re.compile(r"[a-z0-9_-]*"),
    allowed="Google takes only lowercase letters, digits, '_' and '-' in a label (a key starts with a letter)",
    reserved=("goog",),
)


def grant_name(thing: str, account: str, shared: bool) -> str:
    """A grant's name: what it is on, and, when each function runs as its own account (not `shared`), whose."""
    return thing if shared else f"{thing}/{account.split('@', 1)[0]}"


def labels(app: str, stage: str) -> dict[str, str]:
    return {LABEL_APP: label_value(app), LABEL_STAGE: label_value(stage)}


def has_labels(found: dict[str, str], app: str, stage: str) -> bool:
    wanted = labels(app, stage)
    return all(found.get(k) == v for k, v in wanted.items())


def source_label(sha256: str) -> str:
    return sha256[:32]


@dataclass(frozen=True)
class Names:
    """The physical names and resource paths for one app and stage in one project and region."""

    app: str
    stage: str
    project: str
    region: str
    buckets: tuple[tuple[str, str], ...] = ()  # settings `buckets`: logical name -> existing bucket

    @property
    def prefix(self) -> str:
        return f"{self.app}-{self.stage}"

    @property
    def location(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    def function_id(self, fn: str) -> str:
        """Cloud Functions ids are `[a-z][-a-z0-9]*[a-z0-9]`: `create_order` becomes `create-order`."""
        text = _NOT_FUNCTION.sub("-", f"{self.prefix}-{fn}".lower()).strip("-")
        return fit(text, MAX_FUNCTION)

    def function_path(self, function_id: str) -> str:
        return f"{self.location}/functions/{function_id}"

    def topic(self, logical: str) -> str:
        return fit(f"{self.prefix}-{logical}", MAX_TOPIC)

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.project}/topics/{topic}"

    def database(self, state: str) -> str:
        """A state's Firestore database id (`[a-z][a-z0-9-]*[a-z0-9]`, 4 to 63 characters): one per state, so
        IAM can scope a grant to it. Firestore databases carry no labels: remote finds them by this prefix."""
        return fit(_NOT_FUNCTION.sub("-", f"{self.prefix}-{state}".lower()).strip("-"), MAX_DATABASE)

    @property
    def database_prefix(self) -> str:
        return _NOT_FUNCTION.sub("-", f"{self.prefix}-".lower()).lstrip("-")

    def database_path(self, database: str) -> str:
        return f"projects/{self.project}/databases/{database}"

    def state_locator(self, state: str) -> str:
        """What `PORTABLE_FN_STATE_<NAME>` holds: the state's collection, as Firestore names it."""
        return f"{self.database_path(self.database(state))}/documents/{STATE_COLLECTION}"

    @property
    def delay_queue(self) -> str:
        """The id of the app and stage's Cloud Tasks queue (`[A-Za-z0-9-]`, at most 100): queues carry no
        labels, so remote finds it by this name."""
        return fit(_NOT_QUEUE.sub("-", f"{self.prefix}-{DELAYS}"), MAX_QUEUE)

    def queue_path(self, queue: str) -> str:
        return f"{self.location}/queues/{queue}"

    def secret(self, name: str) -> str:
        """A declared secret's Secret Manager id, `<app>-<stage>-<name>` (`[A-Za-z0-9_-]`): what the runtime
        reads under `secrets_locator`. Remote finds them by this prefix and their labels."""
        return secret_id(f"{self.prefix}-", name)

    def secret_path(self, secret: str) -> str:
        return f"projects/{self.project}/secrets/{secret}"

    @property
    def secrets_locator(self) -> str:
        """What `PORTABLE_FN_SECRETS` holds: the path every secret of the app and stage starts with."""
        return self.secret_path(self.secret(""))

    def function_account(self, fn: str) -> str:
        """The id of the service account function `fn` runs as when the app names none (6 to 30 characters of
        `[a-z0-9-]`, starting with a letter): `<app>-<stage>-<fn>`, cut to a hash-ended 30 when longer."""
        text = _NOT_FUNCTION.sub("-", f"{self.prefix}-{fn}".lower()).strip("-")
        text = text if text[:1].isalpha() else f"f{text}"
        return fit(text.ljust(MIN_ACCOUNT, "0"), MAX_ACCOUNT)

    def account_email(self, account_id: str) -> str:
        return f"{account_id}@{self.project}.iam.gserviceaccount.com"

    @property
    def account_marker(self) -> str:
        """The description of every service account deploy makes for this app and stage (accounts carry no labels:
        remote finds them by it)."""
        return f"{JOB_MARKER}:{self.app}:{self.stage}"

    @staticmethod
    def account_path(email: str) -> str:
        """A service account as IAM names it (`-`: the project is the account's own)."""
        return f"projects/-/serviceAccounts/{email}"

    def subscription_path(self, subscription: str) -> str:
        return f"projects/{self.project}/subscriptions/{subscription}"

    def job(self, fn: str) -> str:
        return fit(f"{self.prefix}-{fn}", MAX_JOB)

    def job_path(self, job: str) -> str:
        return f"{self.location}/jobs/{job}"

    @property
    def job_marker(self) -> str:
        """The description of every Cloud Scheduler job of this app and stage."""
        return f"{JOB_MARKER}:{self.app}:{self.stage}"

    def bucket(self, logical: str) -> str:
        return dict(self.buckets).get(logical) or f"{self.prefix}-{logical}"[:63]

    def owns_bucket(self, logical: str) -> bool:
        """False for a bucket the settings map to an existing one: deploy never creates or deletes it."""
        return logical not in dict(self.buckets)
