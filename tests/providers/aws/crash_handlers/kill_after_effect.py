"""A Lambda handler module for the workflow tests: the function `FLOW_KILL_FUNCTION`'s real entry point
(`portable_fn_entry`, from the unpacked zip), whose `ledger` state ends this execution environment
(`os._exit`, no answer to the Runtime API, nothing settled) right after the first write of step
`FLOW_KILL_AFTER`'s effect, once: the marker file `FLOW_KILL_MARKER` says it happened. The state is opened
by the zip's own DynamoDB backend (`portable_fn_aws.state`); only its `create` is watched.

Handler: `kill_after_effect.run`. Standard library and what the zip ships only (it runs under `python -S`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import portable_fn_entry
from portable_fn_aws.state import open_backend

from portable_fn.runtime.state import Record, use_backends

STEP = os.environ["FLOW_KILL_AFTER"]
MARKER = Path(os.environ["FLOW_KILL_MARKER"])


class KillingLedger:
    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def create(self, record: Record, now: float) -> bool:
        created = bool(self.backend.create(record, now))
        if created and not MARKER.exists() and json.loads(record.value).get("step") == STEP:
            MARKER.write_text(record.key)
            os._exit(137)  # as a runtime killed by Lambda (timeout, out of memory) ends
        return created


def backends(name: str, locator: str | None) -> Any:
    backend = open_backend(name, locator or "")
    return KillingLedger(backend) if name == "ledger" else backend


use_backends(backends)
run = getattr(portable_fn_entry, os.environ["FLOW_KILL_FUNCTION"])
