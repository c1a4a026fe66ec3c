"""A Lambda handler module for the workflow tests: the function's real entry point (`portable_fn_entry`, from
the unpacked zip; the function is `PORTABLE_FN_FUNCTION`, which deploy sets), with every call its boto3
clients make appended to the file `FLOW_CALLS` (JSON lines: the function, the service's signing name, the
operation and its parameters), for the test to hold against the role deploy gives the function.

Handler: `recording.run`. Standard library, boto3 (which Lambda's runtime provides) and the zip only.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import portable_fn_entry

FUNCTION = os.environ["PORTABLE_FN_FUNCTION"]
CALLS = os.environ["FLOW_CALLS"]


def record(params: dict[str, Any], model: Any, **_: Any) -> None:
    call = {"function": FUNCTION, "service": model.service_model.signing_name, "operation": model.name}
    with open(CALLS, "a", encoding="utf-8") as calls:
        calls.write(json.dumps({**call, "params": params}, default=str) + "\n")


boto3.setup_default_session()
boto3.DEFAULT_SESSION.events.register("provide-client-params", record)  # before any client is made
run = getattr(portable_fn_entry, FUNCTION)
