"""The team's own policy rules: one declared with @rule, one a plain callable setting its own ids."""

from portable_fn.policy import Finding, rule


@rule("ACME001", "no-big-memory", "No function over 1 GB of memory.", "Split the work or lower memory_mb.")
def no_big_memory(ctx):
    for spec in ctx.app.functions:
        memory = ctx.app.options(spec).memory_mb or 0
        if memory > 1024:
            yield Finding("", f"{spec.name} asks for {memory} MB.", spec.name)


def http_needs_owner(ctx):
    """Every HTTP function names its owning team in env OWNER."""
    return [
        Finding("ACME002", f"{spec.name} names no OWNER.", spec.name, fix="Add env={'OWNER': 'team'}.")
        for spec in ctx.app.functions
        if spec.trigger.kind == "http" and "OWNER" not in ctx.app.options(spec).env
    ]
