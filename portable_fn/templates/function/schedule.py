"""{{function}}: runs every hour. Under `portable-fn dev`, fire it now:
curl -X POST localhost:8080/_local/schedules/{{function}}/fire"""

from __future__ import annotations

from portable_fn import CloudEvent, Context, ScheduleTick, function, schedule


@function(trigger=schedule("rate(1 hour)"))  # or cron("0 3 * * *"), in UTC
def {{function}}(event: CloudEvent[ScheduleTick], ctx: Context) -> None:
    ctx.logger.info("run scheduled for %s", event.data.scheduled_time)
