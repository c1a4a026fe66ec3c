"""Trigger variants for the AWS deploy tests: a private URL, a FIFO queue without a dead-letter queue,
a weekday cron, a bucket the settings map to an existing one, arm64."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, cron, function, http, queue, storage


@function(trigger=http("GET", "/private"), architecture="arm64", memory_mb=512)
def private_api(request: Request) -> Response:
    return Response.json({"ok": True})


@function(trigger=queue("jobs", batch_size=5, fifo=True), dead_letter=False, timeout_s=10)
def work(event: CloudEvent) -> None:
    pass


@function(trigger=cron("30 6 * * 1-5"))
def weekdays(event: CloudEvent) -> None:
    pass


@function(trigger=storage("inbox", on="deleted", suffix=".csv"), retries=0)
def gone(event: CloudEvent) -> None:
    pass
