"""Schedule expressions for Cloud Scheduler, which speaks unix-cron only (in a time zone, UTC here).

A 5-field cron goes as it is (Cloud Scheduler also ORs a restricted day of month with a restricted day
of week, like Vixie cron). A rate becomes the cron that fires at exactly that rate, which exists when
the interval divides the next larger unit: `rate(5 minutes)` is `*/5 * * * *`, `rate(6 hours)` is
`0 */6 * * *`, `rate(1 day)` is `0 0 * * *`. Anything else (`rate(7 minutes)`, `rate(2 days)`) would
drift at the hour, day or month boundary, so it is rejected with the nearest spellings that work.
"""

from __future__ import annotations

from portable_fn.runtime.errors import UnsupportedTriggerError
from portable_fn.runtime.triggers import Schedule

TIME_ZONE = "Etc/UTC"


def cloud_scheduler_cron(function: str, trigger: Schedule) -> str:
    """The unix-cron schedule of a Cloud Scheduler job for a schedule trigger."""
    if trigger.cron is not None:
        return trigger.cron
    assert trigger.every_s is not None
    cron = rate_cron(trigger.every_s)
    if cron is None:
        raise UnsupportedTriggerError(
            f"Function {function!r} on gcp: {trigger.expression} has no exact Cloud Scheduler (unix-cron) "
            "equivalent. Use a number of minutes that divides 60, of hours that divides 24, 'rate(1 day)', "
            "or a cron('...') expression."
        )
    return cron


def rate_cron(every_s: int) -> str | None:
    """The cron firing every `every_s` seconds, or None when none fires at exactly that rate."""
    minutes, rest = divmod(every_s, 60)
    if rest or minutes == 0:
        return None
    if minutes < 60:
        return _every(minutes, 60, "{} * * * *")
    hours, rest = divmod(minutes, 60)
    if rest:
        return None
    if hours < 24:
        return _every(hours, 24, "0 {} * * *")
    return "0 0 * * *" if hours == 24 else None


def _every(count: int, whole: int, template: str) -> str | None:
    if whole % count:
        return None
    return template.format("*" if count == 1 else f"*/{count}")
