"""{{function}}: one of the subscribers of the `{{resource}}` topic. Under `portable-fn dev`:
curl -X POST localhost:8080/_local/topics/{{resource}} -H 'content-type: application/json' -d '{"id": "1"}'"""

from __future__ import annotations

from portable_fn import CloudEvent, Context, function, topic


@function(trigger=topic("{{resource}}"))
def {{function}}(event: CloudEvent[dict], ctx: Context) -> None:
    ctx.logger.info("notified of %s: %s", event.id, event.data)
