"""Schedule expressions for EventBridge Scheduler: `rate(...)` as is, 5-field cron as AWS's 6 fields.

AWS cron is `cron(minutes hours day-of-month month day-of-week year)`: one of day-of-month and
day-of-week must be `?`, and days of the week count 1-7 from Sunday (Unix cron counts 0-7, 0 and 7
both Sunday). A cron restricting both day fields has no AWS spelling and is rejected with the reason.
"""

from __future__ import annotations

from portable_fn.runtime.errors import UnsupportedTriggerError
from portable_fn.runtime.timing import CronExpression
from portable_fn.runtime.triggers import Schedule


def schedule_expression(function: str, trigger: Schedule) -> str:
    """The ScheduleExpression for a schedule trigger."""
    parsed = trigger.cron_expression()
    if parsed is None:
        return trigger.expression
    return aws_cron(function, parsed)


def aws_cron(function: str, cron: CronExpression) -> str:
    minute, hour, dom, month, dow = cron.expression.split()
    if dow == "*":
        dow = "?"
    elif dom == "*":
        dom, dow = "?", ",".join(str(day + 1) for day in sorted(cron.weekdays))
    else:
        raise UnsupportedTriggerError(
            f"Function {function!r} on aws: cron({cron.expression!r}) restricts both the day of the month "
            f"and the day of the week, which EventBridge Scheduler cannot express. Use '*' for one of "
            "them, or declare two functions with one schedule each."
        )
    return f"cron({minute} {hour} {dom} {month.upper()} {dow} *)"
