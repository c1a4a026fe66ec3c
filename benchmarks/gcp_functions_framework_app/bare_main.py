"""The anchors of benchmarks/gcp_functions_framework.py: bare functions-framework CloudEvent handlers.

`bare` does nothing with the event (the framework's own cost, a floor). `bare_message` and
`bare_storage` do what Google's own samples do to use the event, the work the portable handlers get done
for them: a Pub/Sub function base64-decodes the message data (and reads it as JSON when it is JSON), a
Cloud Storage function reads the object's bucket and name from the data.
"""

import base64
import json

import functions_framework
from bench_functions import SEEN  # one list for both sides (functions-framework reloads this file per app)


@functions_framework.cloud_event
def bare(cloud_event):
    """Receives the framework's CloudEvent and does nothing with it."""


@functions_framework.cloud_event
def bare_message(cloud_event):
    """Reads the Pub/Sub message as Google's Pub/Sub sample does (its text, decoded; then as JSON when it
    is), as the portable handler gets it."""
    message = cloud_event.data["message"]
    body = base64.b64decode(message.get("data", "")).decode()
    try:
        body = json.loads(body)
    except ValueError:
        pass
    SEEN.append((message.get("messageId"), message.get("attributes"), body))


@functions_framework.cloud_event
def bare_storage(cloud_event):
    """Reads the object as Google's Cloud Storage sample does."""
    data = cloud_event.data
    SEEN.append((cloud_event["id"], data["bucket"], data["name"]))
