"""moto's server as `python -m moto.server` runs it, with four differences: DynamoDB requests are served one at
a time, the list of moto's services is read once, EC2's default machine images are not loaded, and werkzeug
does not log each request.

DynamoDB applies a conditional write atomically: of twelve `PutItem`s conditioned on the same version, one
succeeds. moto checks the condition and then stores the item with no lock between, so on its threaded server
two racing writers can both pass the check (the state contract's race tests failed that way about once in a
few thousand runs). Serving DynamoDB's requests one at a time gives the emulator the guarantee the service
documents; every other service keeps moto's threads.

The other three only save time; what the server answers is the same. Profiled under a deploy of samples/shop
(moto 5.1, `cProfile` around the server, 967 requests after a reset): 22.5 ms of server time per request before,
18.5 ms after.
- moto works out which service a request is for by checking the name against `backends.list_of_moto_modules()`,
  which lists moto's package directory and stats each entry (some 160 stats per request, ~4 ms). The directory
  does not change while the server runs, so the list is read once at start and the same names are given after.
- A reset (every test starts with `/moto-api/reset`) drops every backend, and the first call after it that
  touches EC2 (the tagging API's GetResources does, to look for EC2 resources) builds an EC2 backend with its
  4,660 default images and their volumes (~0.5 s each time). No test uses EC2 images, and moto documents
  `MOTO_EC2_LOAD_DEFAULT_AMIS=false` for leaving them out.
- werkzeug's line per request is not logged (errors still are): 5.0 -> 4.4 ms of server CPU per request.

Run: python moto_server.py -H 127.0.0.1 -p PORT
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto import backends
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


def services_read_once() -> None:
    """Give moto's service lookup the list of its services read now, instead of listing its directory again on
    every request (see the module docstring)."""
    services = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: services


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # moto reads it each time it builds EC2's backend
    services_read_once()
    # werkzeug logs a line per request (some 30,000 in a run of the suite): ~10% of the server's CPU.
    # Its errors and tracebacks still reach the server's log.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, dynamodb_one_at_a_time(app), threaded=True)


if __name__ == "__main__":
    main()
