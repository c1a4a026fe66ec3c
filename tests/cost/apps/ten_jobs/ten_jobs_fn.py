"""Ten functions, each run every day by a schedule of its own: ten Cloud Scheduler jobs on one billing account."""

from portable_fn import CloudEvent, ScheduleTick, cron, function


@function(trigger=cron("0 1 * * *"))
def job_01(event: CloudEvent[ScheduleTick]) -> None:
    return None


@function(trigger=cron("0 2 * * *"))
def job_02(event: CloudEvent[ScheduleTick]) -> None:
    return None


@function(trigger=cron("0 3 * * *"))
def job_03(event: CloudEvent[ScheduleTick]) -> None:
    return None


@function(trigger=cron("0 4 * * *"))
def job_04(event: CloudEvent[ScheduleTick]) -> None:
    return None


@function(trigger=cron("0 5 * * *"))
def job_05(event: CloudEvent[ScheduleTick]) -> None:
    return None


@function(trigger=cron("0 6 * * *"))
def job_06(event: CloudEvent[ScheduleTick]) -> None:
    return None


@function(trigger=cron("0 7 * * *"))
def job_07(event: CloudEvent[ScheduleTick]) -> None:
    return None


@function(trigger=cron("0 8 * * *"))
def job_08(event: CloudEvent[ScheduleTick]) -> None:
    return None


@function(trigger=cron("0 9 * * *"))
def job_09(event: CloudEvent[ScheduleTick]) -> None:
    return None


@function(trigger=cron("0 10 * * *"))
def job_10(event: CloudEvent[ScheduleTick]) -> None:
    return None
