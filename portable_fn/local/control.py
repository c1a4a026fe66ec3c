"""The dev host's own HTTP API under `/_local/`: publish messages, fire schedules, manage bucket
objects, and look at functions and dead letters (and send them back).

    GET    /_local/functions                          what runs here and how to trigger it
    GET    /_local/dead-letters                       events given up on (function, event, reason, attempts)
    POST   /_local/dead-letters/{function}/redrive    send a function's dead letters back to it -> 200
    GET    /_local/openapi.json                       the OpenAPI 3.1 document of the app's HTTP functions
    POST   /_local/queues/{name}                      enqueue a message (or a CloudEvent, or a batch) -> 202
    GET    /_local/queues/{name}                      its messages not settled yet, with their attempt
    POST   /_local/topics/{name}                      publish to every subscriber -> 202
    GET    /_local/topics/{name}                      each subscriber's copies not settled yet
    PUT    /_local/buckets/{bucket}/{key+}            write an object -> 201 (the watcher reports it)
    DELETE /_local/buckets/{bucket}/{key+}            remove an object -> 204
    POST   /_local/schedules/{function}/fire          fire one tick now -> 202
    GET    /_local/workflows                          workflow instances, newest first (?workflow=, ?status=)
    GET    /_local/workflows/{id}                     one instance: status, input, result or error, history
    POST   /_local/workflows/{id}/cancel              cancel it (its finished steps are compensated) -> 202
    POST   /_local/workflows/{id}/retry               run a failed or diverged one again from its failed step -> 202
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..openapi import openapi_document
from ..runtime.errors import InvalidEventError, PortableFnError
from ..runtime.http import Request, Response
from ..runtime.routes import Route, Router, not_routed

if TYPE_CHECKING:
    from .host import LocalHost

PREFIX = "/_local"
Endpoint = Callable[["LocalHost", Request, dict[str, str]], Response]


class ControlError(PortableFnError):
    """A control request that cannot be served: an HTTP status, a message and details for the body."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.details = details


def functions(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    return Response.json(host.describe_functions())


def dead_letters(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    return Response.json(host.dead_letters.entries())


def redrive(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    return Response.json({"function": params["function"], "redriven": host.redrive(params["function"])})


def openapi(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    return Response.json(openapi_document(host.app))


def enqueue(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    return Response.json({"ids": host.publish("queue", params["name"], request.headers, request.body)}, status=202)


def publish(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    return Response.json({"ids": host.publish("topic", params["name"], request.headers, request.body)}, status=202)


def queue_pending(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    return Response.json({"queue": params["name"], "pending": host.pending("queue", params["name"])})


def topic_pending(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    return Response.json({"topic": params["name"], "pending": host.pending("topic", params["name"])})


def put_object(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    # The router drops a trailing '/', which the key has: "in/dir/" would have been kept as "in/dir".
    info = host.put_object(params["bucket"], params["key"] + ("/" if request.path.endswith("/") else ""), request.body)
    return Response.json(vars(info), status=201)


def delete_object(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    host.delete_object(params["bucket"], params["key"])
    return Response(b"", 204)


def fire(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    return Response.json({"id": host.fire(params["function"])}, status=202)


def workflows(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    from ..runtime import workflow

    query = request.query
    status = query.get("status")
    if status is not None and status not in workflow.STATUSES:  # a typo listed nothing, as if none were there
        raise ControlError(400, f"?status={status[:40]!r} is not a status; use one of {', '.join(workflow.STATUSES)}.")
    return Response.json(workflow.list_instances(query.get("workflow"), status))


def workflow_instance(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    from ..runtime import workflow

    found = _operate(workflow.get_instance, params["id"], keep=True)
    if found is None:
        raise ControlError(404, f"No workflow instance {params['id']!r}; GET {PREFIX}/workflows lists them.")
    return Response.json(found)


def workflow_cancel(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    from ..runtime import workflow

    given = request.json() if request.body else {}
    reason = given.get("reason", "cancelled") if isinstance(given, dict) else None
    if not isinstance(reason, str):
        raise ControlError(400, 'The body of a cancel is a JSON object such as {"reason": "duplicate order"}, or none.')
    return Response.json(_operate(workflow.cancel, params["id"], reason), status=202)


def workflow_retry(host: LocalHost, request: Request, params: dict[str, str]) -> Response:
    from ..runtime import workflow

    return Response.json(_operate(workflow.retry, params["id"]), status=202)


def _operate(operation: Callable[..., Any], *args: Any, keep: bool = False) -> Any:
    """`operation(*args)` on a workflow instance, its errors as 4xx: an id no instance can have (too long for the
    state store to key) is a 400 naming the rule, as a missing instance is a 404. `keep`: the record whole."""
    from ..runtime.state import StateError
    from ..runtime.workflow import WorkflowError

    try:
        record = operation(*args)
    except WorkflowError as exc:
        raise ControlError(404 if "no workflow instance" in str(exc) else 409, str(exc)) from None
    except StateError as exc:
        raise ControlError(400, f"No workflow instance can have this id: {exc}") from None
    if keep or record is None:
        return record
    return {k: v for k, v in record.items() if k not in ("history", "attempts")}


ROUTER = Router(
    [
        Route("GET", PREFIX + "/functions", functions),
        Route("GET", PREFIX + "/dead-letters", dead_letters),
        Route("POST", PREFIX + "/dead-letters/{function}/redrive", redrive),
        Route("GET", PREFIX + "/openapi.json", openapi),
        Route("POST", PREFIX + "/queues/{name}", enqueue),
        Route("GET", PREFIX + "/queues/{name}", queue_pending),
        Route("POST", PREFIX + "/topics/{name}", publish),
        Route("GET", PREFIX + "/topics/{name}", topic_pending),
        Route("PUT", PREFIX + "/buckets/{bucket}/{key+}", put_object),
        Route("DELETE", PREFIX + "/buckets/{bucket}/{key+}", delete_object),
        Route("POST", PREFIX + "/schedules/{function}/fire", fire),
        Route("GET", PREFIX + "/workflows", workflows),
        Route("GET", PREFIX + "/workflows/{id}", workflow_instance),
        Route("POST", PREFIX + "/workflows/{id}/cancel", workflow_cancel),
        Route("POST", PREFIX + "/workflows/{id}/retry", workflow_retry),
    ]
)


def is_control(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def handle(host: LocalHost, request: Request) -> Response:
    """Serve one `/_local/...` request."""
    found = ROUTER.match(request.method, request.path) or (
        ROUTER.match("GET", request.path) if request.method == "HEAD" else None  # as the app's own GET routes
    )
    if found is None:
        return not_routed(ROUTER, request)
    route, params = found
    try:
        return route.target(host, request, params)  # type: ignore[no-any-return]
    except ControlError as exc:
        return Response.json({"error": str(exc), **exc.details}, status=exc.status)
    except InvalidEventError as exc:
        return Response.json({"error": str(exc)}, status=400)
