"""moto's server as `python -m moto.server` runs it, with one difference: DynamoDB requests are served one at a
time.

DynamoDB applies a conditional write atomically: of twelve `PutItem`s conditioned on the same version, one
succeeds. moto checks the condition and then stores the item with no lock between, so on its threaded server
two racing writers can both pass the check (the state contract's race tests failed that way about once in a
few thousand runs). Serving DynamoDB's requests one at a time gives the emulator the guarantee the service
documents; every other service keeps moto's threads.

Run: python moto_server.py -H 127.0.0.1 -p PORT
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

DYNAMODB_TARGET = "DynamoDB_"  # X-Amz-Target of every DynamoDB request, e.g. DynamoDB_20120810.PutItem


def dynamodb_one_at_a_time(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET):
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))  # the whole body is made while the lock is held

    return serve


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, dynamodb_one_at_a_time(app), threaded=True)


if __name__ == "__main__":
    main()
