"""IAM documents: least privilege derived from a function's triggers, as canonical JSON strings.

A function's role may write its own log group, consume its own queue (and set the visibility of a message it
failed, the retry policy's backoff), send to its own dead-letter queue (the on-failure destination of asynchronous
invocations), read, or read and write, the table of each state it declares in `uses=`, list each bucket it
declares and read, or read and write, its objects, read each secret it declares (`ssm:GetParameter` on its
parameter, or `secretsmanager:GetSecretValue` on its secret), and publish to each topic and send to each queue it
declares; nothing else, no `*` action, every resource an exact ARN or one of the patterns below. A function that sends
to a queue may also make one-time schedules in the app's delay group (a delay past SQS's 900 s, see
`portable_fn_aws.publish`) and pass them the delay role, which may only send to the queues some function of the
app sends to. The patterns are the log group's streams (`<log group ARN>:*`), which Lambda names, that group's
schedules, whose names are picked when they are made, and a declared bucket's objects (`arn:aws:s3:::<bucket>/*`),
whose keys the function picks at run time. The topics, buckets and
schedules that trigger a function invoke it through its resource policy (see `Permission`), so being triggered
needs nothing in the role. Documents are serialised one canonical way, so the document read back from IAM
compares equal to the one built here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

POLICY_NAME = "portable-fn"
VERSION = "2012-10-17"
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
QUEUE_ACTIONS = ("sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
DEAD_LETTER_ACTIONS = ("sqs:SendMessage",)
# What `portable_fn_aws.state` calls: GetItem to read; PutItem (conditional) and DeleteItem to write.
STATE_READ_ACTIONS = ("dynamodb:GetItem",)
STATE_WRITE_ACTIONS = ("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
# What `portable_fn_aws.buckets` calls: ListObjectsV2 on the bucket; GetObject (HeadObject) on its objects to
# read, PutObject and DeleteObject too to write. ListBucket also makes a missing object a 404, not a 403.
BUCKET_LIST_ACTIONS = ("s3:ListBucket",)
OBJECT_READ_ACTIONS = ("s3:GetObject",)
OBJECT_WRITE_ACTIONS = ("s3:DeleteObject", "s3:GetObject", "s3:PutObject")
SCHEDULER_ACTIONS = ("lambda:InvokeFunction",)
# What `portable_fn_aws.publish` calls: Publish(Batch) on a topic, SendMessage(Batch) on a queue, and,
# for a delay past SQS's, CreateSchedule with the delay role (which sends to the queue).
PUBLISH_ACTIONS = ("sns:Publish",)
SEND_ACTIONS = ("sqs:SendMessage",)
DELAY_ACTIONS = ("scheduler:CreateSchedule",)
PASS_ROLE_ACTIONS = ("iam:PassRole",)
# What `portable_fn_aws.secrets` calls, by store. No kms:Decrypt: the values are encrypted with the AWS managed
# keys (aws/ssm, aws/secretsmanager), whose key policies let the account's principals decrypt through the
# service (https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-restrict-decryption.html,
# https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html, read 2026-12-06).
SECRET_ACTIONS = {"ssm": ("ssm:GetParameter",), "secretsmanager": ("secretsmanager:GetSecretValue",)}
SCHEDULER_SERVICE = "scheduler.amazonaws.com"


def canonical(document: dict[str, Any]) -> str:
    """The one spelling of a policy document that desired and remote state share."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def trust(service: str) -> str:
    """Who may assume the role: one AWS service principal."""
    return canonical(
        {
            "Version": VERSION,
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def statement(sid: str, actions: tuple[str, ...], resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": sorted(resources)}


@dataclass(frozen=True)
class Reads:
    """The secrets a function declares: where they live (`ssm`, `secretsmanager`) and the ARN of each."""

    store: str = "ssm"
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sends:
    """What a function may send to: the ARNs of the topics and queues it declares, and, when it sends to
    a queue, the ARN pattern of the delay group's schedules and the delay role's ARN."""

    topics: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    schedules: str = ""
    delay_role: str = ""


def function_policy(
    log_group_arn: str,
    queue_arn: str,
    dead_letter_arn: str,
    tables: Mapping[str, bool] | None = None,
    sends: Sends = Sends(),
    reads: Reads = Reads(),
    buckets: Mapping[str, bool] | None = None,
) -> str:
    """The inline policy of one function's role; `tables` maps the ARN of each state's table the function
    declares to whether it writes it, `buckets` the ARN of each bucket it declares; `reads` names the secrets
    it declares."""
    statements = [statement("Logs", LOG_ACTIONS, [f"{log_group_arn}:*"])]
    if queue_arn:
        statements.append(statement("ConsumeQueue", QUEUE_ACTIONS, [queue_arn]))
    if dead_letter_arn:
        statements.append(statement("DeadLetter", DEAD_LETTER_ACTIONS, [dead_letter_arn]))
    tables = tables or {}
    read, written = [arn for arn, w in tables.items() if not w], [arn for arn, w in tables.items() if w]
    if read:
        statements.append(statement("ReadState", STATE_READ_ACTIONS, read))
    if written:
        statements.append(statement("WriteState", STATE_WRITE_ACTIONS, written))
    if reads.secrets:
        statements.append(statement("ReadSecrets", SECRET_ACTIONS[reads.store], list(reads.secrets)))
    statements += bucket_statements(buckets or {})
    return canonical({"Version": VERSION, "Statement": statements + send_statements(sends)})


def bucket_statements(buckets: Mapping[str, bool]) -> list[dict[str, Any]]:
    """Listing each declared bucket (its ARN), reading the objects of those declared `.read()` and reading and
    writing those of the buckets declared `.write()` (`<bucket ARN>/*`)."""
    if not buckets:
        return []
    read = [f"{arn}/*" for arn, writes in buckets.items() if not writes]
    written = [f"{arn}/*" for arn, writes in buckets.items() if writes]
    out = [statement("ListBuckets", BUCKET_LIST_ACTIONS, list(buckets))]
    if read:
        out.append(statement("ReadObjects", OBJECT_READ_ACTIONS, read))
    if written:
        out.append(statement("WriteObjects", OBJECT_WRITE_ACTIONS, written))
    return out


def send_statements(sends: Sends) -> list[dict[str, Any]]:
    out = []
    if sends.topics:
        out.append(statement("PublishTopics", PUBLISH_ACTIONS, list(sends.topics)))
    if sends.queues:
        out.append(statement("SendQueues", SEND_ACTIONS, list(sends.queues)))
    if sends.schedules:
        out.append(statement("DelaySends", DELAY_ACTIONS, [sends.schedules]))
        passing = statement("PassDelayRole", PASS_ROLE_ACTIONS, [sends.delay_role])
        out.append({**passing, "Condition": {"StringEquals": {"iam:PassedToService": SCHEDULER_SERVICE}}})
    return out


def delay_policy(queue_arns: list[str]) -> str:
    """The inline policy of the role Scheduler sends delayed messages with: to the app's queues, nothing else."""
    return canonical({"Version": VERSION, "Statement": [statement("SendDelayed", SEND_ACTIONS, queue_arns)]})


def scheduler_policy(function_arns: list[str]) -> str:
    """The inline policy of the role EventBridge Scheduler assumes to invoke the scheduled functions."""
    return canonical(
        {
            "Version": VERSION,
            "Statement": [
                statement("InvokeScheduledFunctions", SCHEDULER_ACTIONS, function_arns),
            ],
        }
    )


def read_document(value: Any) -> str:
    """A document as IAM returned it (boto3 decodes it to a dict; an emulator may send a string)."""
    if isinstance(value, str):
        from urllib.parse import unquote

        value = json.loads(unquote(value))
    return canonical(value)
