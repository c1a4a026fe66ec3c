"""{{name}}: jobs run by a timer. Run it with `portable-fn dev`."""

from __future__ import annotations

from portable_fn import CloudEvent, Context, ScheduleTick, cron, function, schedule


@function(trigger=schedule("rate(1 hour)"))
def hourly(event: CloudEvent[ScheduleTick], ctx: Context) -> None:
    ctx.logger.info("hourly run scheduled for %s", event.data.scheduled_time)


@function(trigger=cron("0 3 * * *"))  # 03:00 UTC every day
def nightly(event: CloudEvent[ScheduleTick], ctx: Context) -> None:
    ctx.logger.info("nightly run scheduled for %s", event.data.scheduled_time)
