"""Reading a deployed function's logs from CloudWatch Logs, for `portable-fn logs --provider aws`.

Lambda writes each function's output to the log group `/aws/lambda/<deployed name>` (the name from
`deploy.naming`, which deploy creates with its retention). `CloudWatchLogs` reads it with FilterLogEvents,
page after page, from a start time on, and reads each event's message in the three shapes Lambda stores:
our JSON log lines (and Lambda's own JSON log format), the Python runtime's text format
(`[LEVEL]\\t<time>\\t<request id>\\t<message>`) and the platform's `START`/`END`/`REPORT RequestId: ...`
lines. Every call goes through the deploy side's `AwsClient`, so `--verbose` shows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from portable_fn.logread import LogEntry, LogsError, entry_from_line, merged

from .deploy.client import AwsClient
from .deploy.naming import Names

TEXT_LINE = re.compile(r"\[(?P<level>[A-Z]+)\]\t(?P<time>\S+)\t(?P<request>[0-9a-f-]*)\t(?P<message>.*)", re.S)
PLATFORM_LINE = re.compile(r"(?:START|END|REPORT)\b.*?RequestId: (?P<request>[0-9a-f-]+)")


class CloudWatchLogs:
    """The log events of an app's functions in one stage, as LogEntry."""

    def __init__(self, client: AwsClient, names: Names, page_size: int | None = None) -> None:
        self.client = client
        self.names = names
        self.page_size = page_size  # events per FilterLogEvents call (AWS's default: as many as fit in 1 MB)

    def read(self, functions: Sequence[str], since: datetime) -> list[LogEntry]:
        """Every event the functions logged at or after `since`, oldest first."""
        return merged(*(list(self._events(name, since)) for name in functions))

    def _events(self, function: str, since: datetime) -> Iterator[LogEntry]:
        group = self.names.log_group(function)
        pages = self.client.logs.get_paginator("filter_log_events").paginate(
            logGroupName=group,
            startTime=int(since.timestamp() * 1000),
            PaginationConfig={"PageSize": self.page_size} if self.page_size else {},
        )
        try:
            for page in pages:
                for event in page.get("events", []):
                    yield to_entry(function, event)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            raise LogsError(
                f"Reading the logs of {function!r} on aws: the log group {group} does not exist in "
                f"{self.client.region}, so {self.names.function(function)!r} is not deployed there (or "
                f"has never run). Deploy it with `portable-fn deploy --provider aws --stage {self.names.stage}`, "
                "or check the region and --stage."
            ) from None


def to_entry(function: str, event: dict[str, Any]) -> LogEntry:
    """One FilterLogEvents event as a LogEntry."""
    message = str(event.get("message", ""))
    when = datetime.fromtimestamp(int(event["timestamp"]) / 1000, tz=timezone.utc)
    entry_id = str(event.get("eventId", ""))
    text = TEXT_LINE.match(message)
    if text:
        return entry_from_line(
            text["message"],
            time=when,
            function=function,
            level=text["level"],
            invocation_id=text["request"] or None,
            raw=event,
            entry_id=entry_id,
        )
    platform = PLATFORM_LINE.match(message)
    return entry_from_line(
        message,
        time=when,
        function=function,
        raw=event,
        entry_id=entry_id,
        invocation_id=platform["request"] if platform else None,
    )
