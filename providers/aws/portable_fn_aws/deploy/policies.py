"""IAM documents: least privilege derived from a function's triggers, as canonical JSON strings.

A function's role may write its own log group, consume its own queue (and set the visibility of a
message it failed, the retry policy's backoff), send to its own dead-letter queue (the on-failure
destination of asynchronous invocations), and read, or read and write, the table of each state it
declares in `uses=`; nothing else, no `*` action, every resource an exact ARN. Topics, buckets and
schedules invoke the function through its resource policy (see `Permission`), so they need nothing in
the role. Documents are serialised one canonical way, so the document read back from IAM compares
equal to the one built here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

POLICY_NAME = "portable-fn"
VERSION = "2012-10-17"
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
QUEUE_ACTIONS = ("sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
DEAD_LETTER_ACTIONS = ("sqs:SendMessage",)
# What `portable_fn_aws.state` calls: GetItem to read; PutItem (conditional) and DeleteItem to write.
STATE_READ_ACTIONS = ("dynamodb:GetItem",)
STATE_WRITE_ACTIONS = ("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
SCHEDULER_ACTIONS = ("lambda:InvokeFunction",)


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


def function_policy(
    log_group_arn: str, queue_arn: str, dead_letter_arn: str, tables: Mapping[str, bool] | None = None
) -> str:
    """The inline policy of one function's role; `tables` maps the ARN of each state's table the function
    declares to whether it writes it."""
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
    return canonical({"Version": VERSION, "Statement": statements})


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
