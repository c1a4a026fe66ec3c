"""What each cloud publishes about delivering a trigger's events, beyond the sizes `limits.py` enforces:
batch sizes, retention, ordering, delivery guarantees, retry delays and timeouts, each with the page that
publishes it.

docs/portability.md is rendered from this table and from limits.py (by
tests/portability/portability_contract/docs.py), so the page and the figures cannot drift apart. Nothing
here is enforced by `portable-fn dev`. A `{name}` in a figure is a value our own deploy chooses (a
visibility timeout, a retry count); the renderer fills it from the provider's code, so this module holds
only what the clouds decide.
"""

from __future__ import annotations

from dataclasses import dataclass

ASPECTS = ("batch", "retention", "ordering", "delivery", "retry delay")
HTTP_ASPECTS = ("timeout",)
SCHEDULE_ASPECTS = ("rates", "delivery", "retry delay")

DEV = "the dev host (README: The local dev host)"

LAMBDA_SQS = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html"
SQS_CREATE_QUEUE = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html"
SQS_STANDARD = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html"
SQS_FIFO = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues.html"
SQS_VISIBILITY = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html"
)
LAMBDA_ASYNC = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html"
LAMBDA_LIMITS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
HTTP_API_QUOTAS = "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html"
S3_NOTIFICATIONS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html"
SCHEDULER_TYPES = "https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html"
SCHEDULER_RETRY = "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_RetryPolicy.html"
WITH_SNS = "https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html"

EVENTARC_RETRY = "https://cloud.google.com/eventarc/docs/retry-events"
PUBSUB_PUSH = "https://cloud.google.com/pubsub/docs/push"
PUBSUB_ORDERING = "https://cloud.google.com/pubsub/docs/ordering"
FUNCTIONS_QUOTAS = "https://cloud.google.com/functions/quotas"
CLOUD_SCHEDULER = "https://cloud.google.com/scheduler/docs/overview"
STORAGE_TRIGGERS = "https://cloud.google.com/functions/docs/calling/storage"

QUEUE_TRIGGER = "https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue"
PUT_MESSAGE = "https://learn.microsoft.com/rest/api/storageservices/put-message"
QUEUES_COMPARED = (
    "https://learn.microsoft.com/azure/service-bus-messaging/"
    "service-bus-azure-and-service-bus-queues-compared-contrasted"
)
EVENT_GRID_DELIVERY = "https://learn.microsoft.com/azure/event-grid/delivery-and-retry"
FUNCTIONS_TIMEOUT = "https://learn.microsoft.com/azure/azure-functions/functions-scale#timeout"
TIMER_TRIGGER = "https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer"
RETRY_POLICIES = "https://learn.microsoft.com/azure/azure-functions/functions-bindings-error-pages#retries"


@dataclass(frozen=True)
class Figure:
    """What a cloud does (`text`, as the page shows it) and the page that says so (`source`)."""

    text: str
    source: str = DEV


AT_LEAST_ONCE_DEV = Figure("at least once: the journal keeps a message until it is settled, across restarts")
LAMBDA_ASYNC_RETRIES = Figure(
    "Lambda's: 1 min, then 2 min; at most {aws_async_retries} retries whatever `retries` says", LAMBDA_ASYNC
)
DEV_BACKOFF = Figure("1 s * 2**(attempt-1), or the `Retry(delay_s=...)` the handler asked for")
PUBSUB_BACKOFF = Figure("exponential, from 10 s to 600 s", EVENTARC_RETRY)
EVENT_GRID_BACKOFF = Figure(
    "10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, then hourly; at most {azure_event_attempts} attempts",
    EVENT_GRID_DELIVERY,
)

# trigger kind -> aspect -> cloud -> figure
DELIVERY: dict[str, dict[str, dict[str, Figure]]] = {
    "queue": {
        "batch": {
            "local": Figure("`batch_size` messages per call"),
            "aws": Figure(
                "`batch_size` messages per call: up to 10,000 (FIFO: 10); over 10, Lambda waits up to "
                "{aws_batch_window} s to fill a batch",
                LAMBDA_SQS,
            ),
            "gcp": Figure("1 message per call: a push subscription sends each message in its own request", PUBSUB_PUSH),
            "azure": Figure(
                "1 message per call; the host fetches up to 32 at a time: the app's largest "
                "`batch_size` ({azure_queue_batch})",
                QUEUE_TRIGGER,
            ),
        },
        "retention": {
            "local": Figure("until settled"),
            "aws": Figure(
                "{aws_queue_retention} (SQS's default); dead-letter queues {aws_dlq_retention}", SQS_CREATE_QUEUE
            ),
            "gcp": Figure("24 hours (Eventarc's subscription)", EVENTARC_RETRY),
            "azure": Figure("7 days (a message's default time-to-live)", PUT_MESSAGE),
        },
        "ordering": {
            "local": Figure("`fifo=True` keeps the order (a failed message holds back the ones behind it)"),
            "aws": Figure(
                "none (best effort); `fifo=True` makes an SQS FIFO queue, in order per message group", SQS_FIFO
            ),
            "gcp": Figure("none: Eventarc's subscription does not order; `fifo=True` is refused", PUBSUB_ORDERING),
            "azure": Figure("none: Queue Storage does not guarantee order (`fifo=True` is refused)", QUEUES_COMPARED),
        },
        "delivery": {
            "local": AT_LEAST_ONCE_DEV,
            "aws": Figure("at least once", SQS_STANDARD),
            "gcp": Figure("at least once", EVENTARC_RETRY),
            "azure": Figure("at least once", QUEUES_COMPARED),
        },
        "retry delay": {
            "local": DEV_BACKOFF,
            "aws": Figure("the queue's visibility timeout: {aws_visibility}", SQS_VISIBILITY),
            "gcp": PUBSUB_BACKOFF,
            "azure": Figure(
                "none: the message is visible again at once (host.json `visibilityTimeout`, 0)", QUEUE_TRIGGER
            ),
        },
    },
    "topic": {
        "batch": {
            "local": Figure("1 message per call"),
            "aws": Figure("1 message per call: SNS invokes Lambda asynchronously with each message", WITH_SNS),
            "gcp": Figure("1 message per call", PUBSUB_PUSH),
            "azure": Figure("1 event per call", EVENT_GRID_DELIVERY),
        },
        "retention": {
            "local": Figure("until settled"),
            "aws": Figure("6 hours (Lambda's queue of asynchronous events)", LAMBDA_ASYNC),
            "gcp": Figure("24 hours (Eventarc's subscription)", EVENTARC_RETRY),
            "azure": Figure("{azure_event_ttl} (Event Grid's retry policy)", EVENT_GRID_DELIVERY),
        },
        "ordering": {
            "local": Figure("in publish order"),
            "aws": Figure("none", LAMBDA_ASYNC),
            "gcp": Figure("none", PUBSUB_ORDERING),
            "azure": Figure("none", EVENT_GRID_DELIVERY),
        },
        "delivery": {
            "local": AT_LEAST_ONCE_DEV,
            "aws": Figure("at least once", LAMBDA_ASYNC),
            "gcp": Figure("at least once", EVENTARC_RETRY),
            "azure": Figure("at least once", EVENT_GRID_DELIVERY),
        },
        "retry delay": {
            "local": DEV_BACKOFF,
            "aws": LAMBDA_ASYNC_RETRIES,
            "gcp": PUBSUB_BACKOFF,
            "azure": EVENT_GRID_BACKOFF,
        },
    },
    "storage": {
        "batch": {
            "local": Figure("1 change per call"),
            "aws": Figure("1 change per call", S3_NOTIFICATIONS),
            "gcp": Figure("1 change per call", STORAGE_TRIGGERS),
            "azure": Figure("1 change per call", EVENT_GRID_DELIVERY),
        },
        "retention": {
            "local": Figure("until settled"),
            "aws": Figure("6 hours (Lambda's queue of asynchronous events)", LAMBDA_ASYNC),
            "gcp": Figure("24 hours (Eventarc's subscription)", EVENTARC_RETRY),
            "azure": Figure("{azure_event_ttl} (Event Grid's retry policy)", EVENT_GRID_DELIVERY),
        },
        "ordering": {
            "local": Figure("in the order the folder watcher sees the changes"),
            "aws": Figure(
                "none: S3 may send notifications out of order and late (usually within seconds)", S3_NOTIFICATIONS
            ),
            "gcp": Figure("none", EVENTARC_RETRY),
            "azure": Figure("none", EVENT_GRID_DELIVERY),
        },
        "delivery": {
            "local": AT_LEAST_ONCE_DEV,
            "aws": Figure("at least once", S3_NOTIFICATIONS),
            "gcp": Figure("at least once", EVENTARC_RETRY),
            "azure": Figure("at least once", EVENT_GRID_DELIVERY),
        },
        "retry delay": {
            "local": DEV_BACKOFF,
            "aws": LAMBDA_ASYNC_RETRIES,
            "gcp": PUBSUB_BACKOFF,
            "azure": EVENT_GRID_BACKOFF,
        },
    },
    "schedule": {
        "rates": {
            "local": Figure("any `rate(...)` or cron"),
            "aws": Figure(
                "any `rate(...)`, from 1 minute; a cron restricting both day fields is refused", SCHEDULER_TYPES
            ),
            "gcp": Figure(
                "rates of minutes dividing 60, hours dividing 24, or 1 day (unix-cron); others are refused",
                CLOUD_SCHEDULER,
            ),
            "azure": Figure(
                "rates of {azure_minute_steps} minutes, {azure_hour_steps} hours or 1 day "
                "(NCRONTAB); others are refused",
                TIMER_TRIGGER,
            ),
        },
        "delivery": {
            "local": Figure("once per firing while the dev host runs"),
            "aws": Figure("at least once (EventBridge Scheduler retries delivery to Lambda)", SCHEDULER_RETRY),
            "gcp": Figure("at least once per firing", CLOUD_SCHEDULER),
            "azure": Figure("once per firing, on one instance (the timer holds a lock)", TIMER_TRIGGER),
        },
        "retry delay": {
            "local": DEV_BACKOFF,
            "aws": LAMBDA_ASYNC_RETRIES,
            "gcp": PUBSUB_BACKOFF,
            "azure": Figure(
                "fixed, {azure_timer_delay} between attempts (the function's retry policy)", RETRY_POLICIES
            ),
        },
    },
    "http": {
        "timeout": {
            "local": Figure("`timeout_s`"),
            "aws": Figure(
                "`timeout_s`, up to {aws_max_timeout} through a Function URL; 30 s through the HTTP API "
                '(`http = "http-api"`)',
                HTTP_API_QUOTAS,
            ),
            "gcp": Figure("`timeout_s`, up to 60 min", FUNCTIONS_QUOTAS),
            "azure": Figure("230 s at most, whatever `timeout_s` (Azure's load balancer)", FUNCTIONS_TIMEOUT),
        },
    },
}

# cloud -> the longest `timeout_s` an event-driven function may declare, as the page shows it
EVENT_TIMEOUTS: dict[str, Figure] = {
    "local": Figure("3,600 s (the declaration's own limit)"),
    "aws": Figure("{aws_max_timeout} (Lambda)", LAMBDA_LIMITS),
    "gcp": Figure("{gcp_max_event_timeout} (event-driven Cloud Run functions)", FUNCTIONS_QUOTAS),
    "azure": Figure(
        "{azure_consumption_timeout} on the Consumption plan (`Y1`); none on `FC1` and `EP*`", FUNCTIONS_TIMEOUT
    ),
}

# trigger kind -> cloud -> the page publishing the size limit limits.py enforces (its docstring cites the same)
SIZE_SOURCES: dict[str, dict[str, str]] = {
    "http": {
        "aws": LAMBDA_LIMITS,
        "gcp": FUNCTIONS_QUOTAS,
        "azure": "https://learn.microsoft.com/azure/azure-functions/functions-bindings-http-webhook-trigger#limits",
    },
    "queue": {
        "aws": "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
        "gcp": "https://cloud.google.com/pubsub/quotas#resource_limits",
        "azure": "https://learn.microsoft.com/rest/api/storageservices/queue-service-rest-api",
    },
    "topic": {
        "aws": "https://docs.aws.amazon.com/sns/latest/dg/large-message-payloads.html",
        "gcp": "https://cloud.google.com/pubsub/quotas#resource_limits",
        "azure": "https://learn.microsoft.com/azure/event-grid/quotas-limits",
    },
    "storage": {
        "aws": "https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html",
        "gcp": "https://cloud.google.com/storage/docs/objects#naming",
        "azure": "https://learn.microsoft.com/rest/api/storageservices/"
        "naming-and-referencing-containers--blobs--and-metadata",
    },
}
