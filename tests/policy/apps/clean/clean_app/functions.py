"""Functions that keep every built-in rule: one public endpoint the policy lists, one private, a queue
consumer that retries into its dead-letter queue, a schedule."""

from portable_fn import function, http, queue, schedule


@function(trigger=http("GET", "/status", public=True))
def status(request):
    return {"ok": True}


@function(trigger=http("POST", "/orders"))
def place_order(request):
    return {"accepted": True}


@function(trigger=queue("orders"), retries=3)
def fulfil(event):
    return None


@function(trigger=schedule("rate(15 minutes)"), memory_mb=512, timeout_s=60)
def sweep(event):
    return None
