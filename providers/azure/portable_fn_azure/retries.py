"""A function's `RetryPolicy` in Azure's own settings, and where Azure cannot keep it: the lines `plan` shows.

Pure, standard library only (codegen writes host.json and `function_app.py` from it).

| trigger                   | attempts                                  | backoff                               |
|---------------------------|-------------------------------------------|---------------------------------------|
| queue (Storage Queue)     | host.json `maxDequeueCount` (one for the  | host.json `visibilityTimeout`: one    |
|                           | app: the highest; the shim dead-letters a | fixed delay for every queue function, |
|                           | function's own last attempt)              | the longest first delay declared      |
| queue, topic (Service Bus)| the shim: a retry on delivery `attempts`  | none: redelivered at once             |
|                           | is dead-lettered; the entity's            |                                       |
|                           | `MaxDeliveryCount` (the user's namespace) |                                       |
|                           | should be `attempts + 1`, the backstop    |                                       |
| schedule                  | `@app.retry` `max_retry_count`            | `fixed_delay`, or `exponential_backoff`|
|                           |                                           | from the base to the max (doubling)   |
| topic, storage            | the Event Grid subscription's             | Event Grid's own schedule             |
|                           | `maxDeliveryAttempts` (1 to 30)           |                                       |

`Retry(after=...)` cannot change one message's wait without a storage SDK in the function: a Storage
Queue message comes back after `visibilityTimeout`, whatever the handler asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portable_fn.runtime.triggers import Queue, Schedule

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.runtime.function import FunctionOptions, FunctionSpec

MAX_VISIBILITY_S = 7 * 24 * 3600  # a queue message's visibility timeout stops at 7 days
MAX_GRID_ATTEMPTS = 30  # an Event Grid subscription's maxDeliveryAttempts: 1 to 30
RETRY_DELAY = "00:00:10"  # a schedule without a declared policy: 10 s between its retries


def hhmmss(seconds: float) -> str:
    """A TimeSpan as host.json and `@app.retry` write it (whole seconds, rounded up; days as hours)."""
    whole = int(-(-seconds // 1))
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def options_of(app: App, spec: FunctionSpec) -> FunctionOptions:
    options = getattr(app, "options", None)
    return options(spec) if callable(options) else spec.options


def storage_queues(app: App, storage_queue: bool) -> list[FunctionSpec]:
    return [s for s in app.functions if isinstance(s.trigger, Queue)] if storage_queue else []


def queue_visibility_s(app: App, storage_queue: bool) -> float | None:
    """host.json's `visibilityTimeout` in seconds: the longest first delay of the queue functions that
    declared a retry policy (None when none did: the host's default, at once)."""
    delays = [
        options_of(app, s).retry_policy.delay_s(1)
        for s in storage_queues(app, storage_queue)
        if options_of(app, s).retry is not None
    ]
    return min(max(delays), MAX_VISIBILITY_S) if delays else None


def timer_retry(app: App, spec: FunctionSpec) -> str | None:
    """The `@app.retry(...)` line of a schedule function, or None when it never retries."""
    options = options_of(app, spec)
    retries = int(options.max_attempts) - 1
    if retries <= 0:
        return None
    count = repr(str(retries))
    if options.retry is None:
        return f"@app.retry(strategy='fixed_delay', max_retry_count={count}, delay_interval={RETRY_DELAY!r})"
    backoff = options.retry_policy.backoff
    if backoff.factor == 1:
        return f"@app.retry(strategy='fixed_delay', max_retry_count={count}, delay_interval={hhmmss(backoff.base_s)!r})"
    return (
        f"@app.retry(strategy='exponential_backoff', max_retry_count={count}, "
        f"minimum_interval={hhmmss(backoff.base_s)!r}, maximum_interval={hhmmss(backoff.max_s)!r})"
    )


def retry_notes(app: App, storage_queue: bool, bus_namespace: bool = False) -> list[str]:
    """One line per function whose retry policy Azure clamps or cannot honour, saying what happens instead.
    `bus_namespace`: `service_bus_namespace_id` names the Service Bus namespace, so deploy sets its entities'
    MaxDeliveryCount itself (`deploy.bus`) and the plan shows it as a step, not a note."""
    from .codegen import on_service_bus  # codegen imports this module

    notes: list[str] = []
    visibility = queue_visibility_s(app, storage_queue)
    for spec in app.functions:
        if not spec.trigger.is_event:
            continue
        options = options_of(app, spec)
        if isinstance(spec.trigger, Queue) and storage_queue:
            found = queue_notes(options, visibility)
        elif on_service_bus(app, spec):
            found = service_bus_notes(spec, options, bus_namespace)
        elif isinstance(spec.trigger, Schedule):
            found = timer_notes(options)
        else:
            found = grid_notes(spec, options)
        notes += [f"function {spec.name}: {note}" for note in found]
    return notes


def queue_notes(options: FunctionOptions, visibility: float | None) -> list[str]:
    policy, notes = options.retry_policy, list[str]()
    if options.retry is None or policy.attempts < 2:
        return notes
    wanted = [policy.delay_s(a) for a in range(1, policy.attempts)]
    if visibility is not None and any(abs(w - visibility) > 0.5 for w in wanted):
        notes.append(
            f"the backoff {policy.backoff!r} is clamped to a fixed {visibility:g} s between deliveries (host.json "
            "visibilityTimeout: one fixed delay for every Storage Queue function of the app)"
        )
    notes.append(
        f"Retry(after=...) is clamped to {visibility or 0:g} s: a Storage Queue message comes back after the "
        "app's visibilityTimeout"
    )
    return notes


def service_bus_notes(spec: FunctionSpec, options: FunctionOptions, bus_namespace: bool = False) -> list[str]:
    """The entity's MaxDeliveryCount to set, unless deploy sets it (`bus_namespace`: the namespace's id is
    known), and the backoff Service Bus cannot apply. The shim dead-letters on the last attempt;
    MaxDeliveryCount one above it is what catches an invocation that never returned (a crash, a timeout), with
    Service Bus's reason."""
    policy, notes = options.retry_policy, list[str]()
    if bus_namespace:
        return notes + service_bus_backoff(policy.attempts)
    entity = (
        f"the Service Bus queue {spec.trigger.name!r}"
        if isinstance(spec.trigger, Queue)
        else f"the subscription {spec.name!r} of the Service Bus topic {getattr(spec.trigger, 'name', '?')!r}"
    )
    notes.append(
        f"set MaxDeliveryCount = {max(policy.attempts, 1) + 1} on {entity} (the namespace is yours; deploy sets it "
        "when service_bus_namespace_id names the namespace): the shim "
        f"dead-letters on attempt {max(policy.attempts, 1)}, and Service Bus moves a message whose invocation never "
        "returned to its $deadletterqueue after MaxDeliveryCount deliveries (default 10: a lower value cuts the "
        "attempts short)"
    )
    return notes + service_bus_backoff(policy.attempts)


def service_bus_backoff(attempts: int) -> list[str]:
    """What a policy of several attempts loses on Service Bus."""
    if attempts > 1:
        return [
            "the backoff and Retry(after=...) are not applied (Service Bus redelivers an abandoned message at once)"
        ]
    return []


def timer_notes(options: FunctionOptions) -> list[str]:
    policy, notes = options.retry_policy, list[str]()
    if options.retry is None or policy.attempts < 2:
        return notes
    if policy.backoff.factor not in (1, 2):
        notes.append(
            f"the backoff {policy.backoff!r} doubles on Azure (exponential_backoff has no factor "
            f"{policy.backoff.factor:g})"
        )
    notes.append("Retry(after=...) is not applied: the timer's retry policy waits its own delay")
    return notes


def grid_notes(spec: FunctionSpec, options: FunctionOptions) -> list[str]:
    policy, notes = options.retry_policy, list[str]()
    if options.retry is None:
        return notes
    if policy.attempts > MAX_GRID_ATTEMPTS:
        notes.append(f"attempts={policy.attempts} is clamped to {MAX_GRID_ATTEMPTS} (Event Grid's maxDeliveryAttempts)")
    if policy.attempts > 1:
        notes.append(
            f"the backoff {policy.backoff!r} and Retry(after=...) are not applied: Event Grid retries a "
            f"{spec.trigger.kind} delivery on its own schedule (10 s, 30 s, 1 min, 5 min, ... up to 24 hours)"
        )
    return notes
