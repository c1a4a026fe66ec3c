"""{{function}}: takes the messages of the `{{resource}}` queue. Under `portable-fn dev`:
curl -X POST localhost:8080/_local/queues/{{resource}} -H 'content-type: application/json' -d '{"id": "1"}'"""

from __future__ import annotations

from portable_fn import CloudEvent, Context, function, queue


@function(trigger=queue("{{resource}}"))
def {{function}}(event: CloudEvent[dict], ctx: Context) -> None:
    """Returning acknowledges the message; an exception has it delivered again; DeadLetter gives up."""
    ctx.logger.info("message %s: %s", event.id, event.data)
