"""Workflow instances of a dev host's state directory, for `portable-fn workflows --provider local`.

As for dead letters (see `letters`): a running host owns the state directory, so its instances are listed,
shown, cancelled and retried through its own API (`/_local/workflows...`, see `control`), and what a cancel
or retry sends reaches its workers at once. With no host running, the `pfn-workflows` state and the journal
are used directly (holding the directory's lock), and the message a cancel or retry sends waits in the
journal for the next `portable-fn dev`.
"""

from __future__ import annotations

import json
import math
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..app import App
from ..provider import runtime_environment
from ..runtime.channels import Channel, use_publisher
from ..runtime.cloudevent import CloudEvent
from ..runtime.errors import ProviderError
from ..runtime.triggers import Queue, Topic
from .control import PREFIX
from .journal import Journal
from .letters import JOURNAL, call_host, running_host

STATE_DIR_ENV = "PORTABLE_FN_STATE_DIR"


def operate(app: App, state_dir: Path, operation: str, *args: Any) -> Any:
    """`runtime.workflow.<operation>(*args)` on the instances kept in `state_dir`."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with running_host(state_dir) as url:
        if url is not None:
            return _through_host(url, operation, *args)
        return _directly(app, state_dir, operation, *args)


def _directly(app: App, state_dir: Path, operation: str, *args: Any) -> Any:
    from ..runtime import workflow

    env = {"PORTABLE_FN_PROVIDER": "local", STATE_DIR_ENV: str(state_dir.resolve())}
    with runtime_environment(env), Journal(state_dir / JOURNAL) as journal:
        use_publisher(JournalPublisher(app, journal))
        return getattr(workflow, operation)(*args)


class JournalPublisher:
    """Puts what is sent outside a running host (`portable-fn invoke`, a cancel or retry) into the journal
    for the functions that receive from the channel, as the host would (ready at once); what no function of
    the app receives from is dropped, said on stderr, as `dev` drops it."""

    max_delay_s = math.inf

    def __init__(self, app: App, journal: Journal) -> None:
        self.app = app
        self.journal = journal

    def publish(self, channel: Channel, events: Sequence[CloudEvent[Any]], delay_s: float = 0.0) -> None:
        kind = Queue if channel.kind == "queue" else Topic
        receivers = [s for s in self.app.functions if isinstance(s.trigger, kind) and s.trigger.name == channel.name]
        for spec in receivers[:1] if kind is Queue else receivers:  # a queue's message goes to one consumer
            self.journal.add(spec.name, events, None)
        if not receivers:
            print(
                f"{channel!r}: no function of app {self.app.name!r} receives from it; {len(events)} event(s) "
                "dropped here (on a cloud deploy provisions it for other apps to read).",
                file=sys.stderr,
            )


def _through_host(url: str, operation: str, *args: Any) -> Any:
    if operation == "list_instances":
        workflow, status = (list(args) + [None, None])[:2]
        query = urllib.parse.urlencode({k: v for k, v in (("workflow", workflow), ("status", status)) if v})
        return call_host(url, "GET", f"{PREFIX}/workflows" + (f"?{query}" if query else ""))
    instance = urllib.parse.quote(str(args[0]), safe="")
    if operation == "get_instance":
        try:
            return call_host(url, "GET", f"{PREFIX}/workflows/{instance}")
        except ProviderError as exc:
            if "No workflow instance" in str(exc):
                return None
            raise
    if operation == "cancel":
        body = json.dumps({"reason": args[1] if len(args) > 1 else "cancelled"}).encode()
        return call_host(url, "POST", f"{PREFIX}/workflows/{instance}/cancel", body)
    return call_host(url, "POST", f"{PREFIX}/workflows/{instance}/{operation}")
