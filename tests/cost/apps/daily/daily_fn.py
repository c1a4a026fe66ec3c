"""One function run every day by a schedule: the shape of Cloud Scheduler's worked pricing example."""

from portable_fn import CloudEvent, ScheduleTick, cron, function


@function(trigger=cron("0 3 * * *"))
def nightly(event: CloudEvent[ScheduleTick]) -> None:
    return None
