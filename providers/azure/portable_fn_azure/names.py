"""The physical names of queues and containers the generated bindings point at, standard library only.

Why it exists apart from `deploy.naming`: generating `function_app.py` (`codegen`) needs the same names
deploy creates, and must not import the deploy package (which needs the Azure SDK). `deploy.naming`
imports these helpers from here, so there is one copy.
"""

from __future__ import annotations

import hashlib
import re

POISON_SUFFIX = "-poison"  # the Functions host moves a message here after maxDequeueCount failures
DEAD_LETTER_PREFIX = "pfdl-"  # a function's own dead letters, in a Storage Queue (`dead_letter_queue`)
MAX_QUEUE, MAX_CONTAINER = 63, 63


def short_hash(*parts: str, length: int = 6) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def fit(name: str, limit: int) -> str:
    """`name` when it fits in `limit` characters, else a cut that ends in a short hash of it."""
    if len(name) <= limit:
        return name
    return f"{name[: limit - 9]}-{short_hash(name, length=8)}"


def dns_label(logical: str, limit: int) -> str:
    """A queue, container or topic name: lowercase letters, digits and single hyphens, 3+ characters."""
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", logical.lower())).strip("-")
    return fit(cleaned.ljust(3, "0"), limit).strip("-")


def queue_name(logical: str) -> str:
    """The storage queue of `queue(logical)`: the shim's queue trigger binds to this name."""
    return dns_label(logical, MAX_QUEUE - len(POISON_SUFFIX))


def dead_letter_queue(function: str) -> str:
    """The Storage Queue of the app's account where the shim writes the dead letters of a function that has
    no `<queue>-poison` (Service Bus, Event Grid, blob and timer triggers: `codegen.has_dead_letter_queue`):
    `pfdl-`, the function's name as a queue name, a hash of the name. One per function (a topic's
    subscriptions each have their own); it ends in hex digits, so it is never a `<queue>-poison`, and
    `codegen.check` refuses a queue of the app that would take the same name."""
    stem = dns_label(function, MAX_QUEUE - len(DEAD_LETTER_PREFIX) - 7)
    return f"{DEAD_LETTER_PREFIX}{stem}-{short_hash(function)}"


def container_name(logical: str) -> str:
    """The blob container of `storage(logical)`: the shim's blob trigger binds to this name."""
    return dns_label(logical, MAX_CONTAINER)
