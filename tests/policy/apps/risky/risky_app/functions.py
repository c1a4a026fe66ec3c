"""Functions that each break a built-in rule: a public endpoint the policy does not list, with too much
memory; a queue consumer that retries without a dead-letter queue, for too long; a literal token in env."""

from portable_fn import function, http, queue, topic


@function(trigger=http("GET", "/reports", public=True), memory_mb=2048)
def export_report(request):
    return {"rows": []}


@function(trigger=queue("sync"), dead_letter=False, timeout_s=300)
def sync(event):
    return None


@function(trigger=topic("alerts"), env={"SLACK_TOKEN": "xoxb-1234567890-abcdefghijkl", "CHANNEL": "ops"})
def notify(event):
    return None
