"""Functions the team's own rules look at: one too big, one HTTP function without an owner."""

from portable_fn import function, http, queue


@function(trigger=queue("jobs"), memory_mb=2048, env={"OWNER": "data-team"})
def crunch(event):
    return None


@function(trigger=http("GET", "/legacy"))
def legacy(request):
    return {"ok": True}


@function(trigger=http("GET", "/health"), env={"OWNER": "platform"})
def health(request):
    return {"ok": True}
