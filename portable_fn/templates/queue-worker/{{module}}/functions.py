"""{{name}}: a worker for the `jobs` queue. Run it with `portable-fn dev`."""

from __future__ import annotations

from dataclasses import dataclass

from portable_fn import CloudEvent, Context, DeadLetter, function, queue


@dataclass
class Job:
    id: str
    items: int


@function(trigger=queue("jobs", batch_size=10), retries=3)
def work(event: CloudEvent[Job], ctx: Context) -> None:
    """Do one job. Returning acknowledges it; an exception has it delivered again (up to `retries`
    times); DeadLetter gives up at once. Data that is not a Job is dead-lettered before this runs."""
    job = event.data
    if job.items <= 0:
        raise DeadLetter(f"job {job.id} has no items")
    ctx.logger.info("job %s: %d item(s), attempt %d", job.id, job.items, ctx.attempt)
