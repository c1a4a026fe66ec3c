"""Trigger declarations: what starts a function, said once, bound by each provider in its own way.

Each trigger is a small immutable value checked when it is created, so a bad declaration fails at import
time with a message that says what to write instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import DeclarationError, PortableFnError

if TYPE_CHECKING:  # schedule.py (and datetime) load only when an app declares a schedule
    from .auth import Verifier
    from .buckets import Bucket
    from .cloudevent import CloudEvent
    from .resources import Use
    from .timing import CronExpression

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}\Z"  # compiled (and cached by re) on first use
_BUCKET = r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]\Z"  # compiled (and cached by re) on first use
_PATH_PARAM = r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}"  # compiled (and cached by re) on first use


class Trigger:
    """Base of the trigger values: immutable, compared and hashed by their fields."""

    __slots__: tuple[str, ...] = ()
    kind = ""

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable.")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self).__name__,) + self._fields())

    def __repr__(self) -> str:
        args = ", ".join(f"{s}={getattr(self, s)!r}" for s in self.__slots__)
        return f"{type(self).__name__}({args})"

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def is_event(self) -> bool:
        """True for triggers that deliver CloudEvents (everything but HTTP)."""
        return True

    def skip_reason(self, event: CloudEvent[Any]) -> str | None:
        """Why the deployed trigger would not deliver `event` (a CloudEvent) to the function, or None when
        it would: the one rule `invoke` and every shim that filters for its cloud apply."""
        return None


class Http(Trigger):
    """An HTTP route. `path` may hold `{param}` segments and a final `{rest+}` greedy segment; `bodies`
    holds the request and response models declared for the app's OpenAPI document (None: none)."""

    __slots__ = ("method", "path", "public", "bodies", "auth", "rate_limit")
    kind = "http"
    method: str
    path: str
    public: bool
    bodies: HttpBodies | None
    auth: Verifier | None  # how callers are verified: `jwt(...)`, `api_key(...)` (runtime/auth.py)
    rate_limit: str | None  # "100/minute": requests per caller (tenant, key, subject or address)

    def __init__(
        self,
        method: str,
        path: str,
        public: bool = False,
        request: type | None = None,
        response: type | Mapping[int, type | None] | None = None,
        auth: Verifier | None = None,
        rate_limit: str | None = None,
    ) -> None:
        verb = method.upper() if isinstance(method, str) else method
        if verb not in HTTP_METHODS:
            raise DeclarationError(f"http() method {method!r} is not supported; use one of {sorted(HTTP_METHODS)}.")
        if not isinstance(path, str) or not path.startswith("/"):
            raise DeclarationError(f"http() path {path!r} must start with '/', like '/orders/{{id}}'.")
        for i, segment in enumerate(path.strip("/").split("/")):
            _check_segment(path, segment, last=i == path.strip("/").count("/"))
        declared = f"http({method!r}, {path!r})"
        bodies = None if request is None and response is None else HttpBodies(declared, request, response)
        if public and auth is not None:
            raise DeclarationError(
                f"{declared}: public=True opens the route to anyone, auth= to callers it verifies; keep one "
                "(auth= already lets callers with a valid credential through)."
            )
        if auth is not None:
            _check_auth(declared, auth)
        if rate_limit is not None:
            from .ratelimit import Rate

            Rate.parse(rate_limit)
        self._set(method=verb, path=path, public=bool(public), bodies=bodies, auth=auth, rate_limit=rate_limit)

    @property
    def open_at_edge(self) -> bool:
        """True when the cloud must let any caller reach the function: it is public, or it verifies its callers
        itself (`auth=`), so the cloud's own authentication (IAM, function keys) must not stand in front."""
        return self.public or self.auth is not None

    @property
    def internal_uses(self) -> tuple[Use, ...]:
        """What verifying and limiting callers uses: the API keys' secret (read) and the rate-limit store."""
        found: tuple[Use, ...] = self.auth.uses() if self.auth is not None else ()
        if self.rate_limit is not None:
            from .ratelimit import STORE

            found += (STORE.write(),)
        return found

    @property
    def is_event(self) -> bool:
        return False

    @property
    def pattern(self) -> re.Pattern[str]:
        """A regex matching request paths of this route, one named group per parameter."""
        return route_pattern(self.path)

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when `path` is this route (a trailing slash is tolerated), else None."""
        found = self.pattern.fullmatch(path) or self.pattern.fullmatch(path.rstrip("/") or "/")
        return found.groupdict() if found else None

    @property
    def param_names(self) -> list[str]:
        """Names of the path parameters, in order."""
        return [m.group(1) for m in re.finditer(_PATH_PARAM, self.path)]


class HttpBodies:
    """The bodies an HTTP function declares: a model for the request and one per response status. They
    document the function (its OpenAPI document); the handler still reads and writes the bodies itself."""

    __slots__ = ("request", "responses")
    request: type | None
    responses: tuple[tuple[int, type | None], ...]  # (status, model or None for no body), by status

    def __init__(self, declared: str, request: type | None, response: type | Mapping[int, type | None] | None) -> None:
        if request is not None:
            _check_model(declared, "request", request)
        statuses = dict(response) if isinstance(response, Mapping) else {} if response is None else {200: response}
        for status, model in statuses.items():
            if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
                raise DeclarationError(
                    f"{declared} response={{{status!r}: ...}}: the keys are HTTP status codes (100-599), "
                    "like response={201: OrderAccepted}."
                )
            if model is not None:
                _check_model(declared, f"response status {status}", model)
        object.__setattr__(self, "request", request)
        object.__setattr__(self, "responses", tuple(sorted(statuses.items())))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("HttpBodies is immutable.")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HttpBodies) and (self.request, self.responses) == (other.request, other.responses)

    def __hash__(self) -> int:
        return hash((self.request, self.responses))

    def __repr__(self) -> str:  # shown (as text) in the dev host's /_local/functions too
        responses = ", ".join(f"{status}: {getattr(m, '__name__', m)}" for status, m in self.responses)
        return f"HttpBodies(request={getattr(self.request, '__name__', None)}, responses={{{responses}}})"


class Queue(Trigger):
    """Messages from a queue, delivered `batch_size` at a time; `fifo=True` keeps their order."""

    __slots__ = ("name", "batch_size", "fifo")
    kind = "queue"
    name: str
    batch_size: int
    fifo: bool

    def __init__(self, name: str, batch_size: int = 1, fifo: bool = False) -> None:
        _check_name("queue", name)
        limit = 10 if fifo else 10000
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not (1 <= batch_size <= limit):
            raise DeclarationError(
                f"queue({name!r}) batch_size must be an integer from 1 to {limit}"
                + (" for a FIFO queue" if fifo else "")
                + f", got {batch_size!r}."
            )
        self._set(name=name, batch_size=batch_size, fifo=bool(fifo))

    def send(self) -> Use:
        """Declare that a function sends to this queue (`uses=[orders_queue.send()]`)."""
        from .channels import QUEUE, send_use

        return send_use(QUEUE, self.name, self.fifo)

    def as_uses(self) -> tuple[Use, ...]:
        """What `uses=[orders_queue]` declares: sending to it."""
        return (self.send(),)


class Topic(Trigger):
    """Messages published to a topic; every subscribed function gets each message."""

    __slots__ = ("name",)
    kind = "topic"
    name: str

    def __init__(self, name: str) -> None:
        _check_name("topic", name)
        self._set(name=name)

    def publish(self) -> Use:
        """Declare that a function publishes to this topic (`uses=[order_events.publish()]`)."""
        from .channels import TOPIC, send_use

        return send_use(TOPIC, self.name)

    def as_uses(self) -> tuple[Use, ...]:
        """What `uses=[order_events]` declares: publishing to it."""
        return (self.publish(),)


class Schedule(Trigger):
    """A schedule: `rate(5 minutes)` or a 5-field cron expression, in UTC."""

    __slots__ = ("expression", "every_s", "cron")
    kind = "schedule"
    expression: str
    every_s: int | None
    cron: str | None

    def __init__(self, expression: str | Schedule) -> None:
        if isinstance(expression, Schedule):
            self._set(expression=expression.expression, every_s=expression.every_s, cron=expression.cron)
            return
        if not isinstance(expression, str):
            raise DeclarationError(f"schedule() takes 'rate(5 minutes)' or cron('0 3 * * *'), got {expression!r}.")
        text = expression.strip()
        if text.startswith("rate(") and text.endswith(")"):
            from .timing import parse_rate, rate_expression

            every_s = parse_rate(text)
            self._set(expression=rate_expression(text), every_s=every_s, cron=None)
        elif text.startswith("cron(") and text.endswith(")"):
            from .timing import CronExpression

            parsed = CronExpression(text[5:-1])
            self._set(expression=f"cron({parsed.expression})", every_s=None, cron=parsed.expression)
        else:
            raise DeclarationError(
                f"schedule({expression!r}) is not understood; write schedule('rate(5 minutes)') "
                "or schedule(cron('0 3 * * *'))."
            )

    def cron_expression(self) -> CronExpression | None:
        """The parsed cron, or None for a rate."""
        from .timing import CronExpression

        return CronExpression(self.cron) if self.cron else None


class Storage(Trigger):
    """Objects created in or deleted from a bucket, optionally filtered by key prefix and suffix."""

    __slots__ = ("bucket", "on", "prefix", "suffix")
    kind = "storage"
    bucket: str
    on: str
    prefix: str
    suffix: str

    def __init__(self, bucket: str | Bucket, on: str = "created", prefix: str = "", suffix: str = "") -> None:
        from .buckets import Bucket  # here, not at the top: buckets -> resources -> pipeline -> triggers

        if isinstance(bucket, Bucket):  # storage(uploads) for a declared uploads = bucket("uploads")
            bucket = bucket.name
        if not isinstance(bucket, str) or not re.match(_BUCKET, bucket):
            raise DeclarationError(
                f"storage() bucket {bucket!r} is not a valid bucket name: use 3-63 lowercase letters, "
                "digits, dots and hyphens."
            )
        if on not in ("created", "deleted"):
            raise DeclarationError(f"storage({bucket!r}) on={on!r}: use on='created' or on='deleted'.")
        for label, value in (("prefix", prefix), ("suffix", suffix)):
            if not isinstance(value, str):
                raise DeclarationError(f"storage({bucket!r}) {label} must be a string, got {value!r}.")
        self._set(bucket=bucket, on=on, prefix=prefix, suffix=suffix)

    def matches(self, key: str) -> bool:
        """True when an object key passes the prefix and suffix filters."""
        return key.startswith(self.prefix) and key.endswith(self.suffix)

    def skip_reason(self, event: CloudEvent[Any]) -> str | None:
        """A storage event the trigger does not take: the other change (`on`), or a key outside the prefix
        and suffix. An event that is not a storage event is not skipped: the handler's binding says why."""
        from .views import StorageObject

        try:
            changed = StorageObject.from_cloudevent(event)
        except PortableFnError:
            return None
        declared = f"storage({self.bucket!r}, on={self.on!r})"
        if changed.event != self.on:
            return f"object {changed.key!r} was {changed.event}; {declared} runs only when one is {self.on}"
        if not isinstance(changed.key, str) or not self.matches(changed.key):
            return (
                f"key {changed.key!r} is outside the trigger's filter (prefix={self.prefix!r}, suffix={self.suffix!r})"
            )
        return None


_ROUTES: dict[str, re.Pattern[str]] = {}


def route_pattern(template: str) -> re.Pattern[str]:
    """The regex of a route template: `{param}` is one path segment, a final `{rest+}` spans slashes."""
    pattern = _ROUTES.get(template)
    if pattern is None:
        parts: list[str] = []
        position = 0
        for found in re.finditer(_PATH_PARAM, template):
            parts.append(re.escape(template[position : found.start()]))
            parts.append(f"(?P<{found.group(1)}>{'.+' if found.group(2) else '[^/]+'})")
            position = found.end()
        parts.append(re.escape(template[position:]))
        pattern = _ROUTES[template] = re.compile("".join(parts))
    return pattern


def http(
    method: str,
    path: str,
    public: bool = False,
    *,
    request: type | None = None,
    response: type | Mapping[int, type | None] | None = None,
    auth: Verifier | None = None,
    rate_limit: str | None = None,
) -> Http:
    """An HTTP trigger: `http("POST", "/orders")`. `public=True` allows unauthenticated calls; `auth=jwt(...)`
    or `auth=api_key(...)` lets callers through whom the function verifies; `rate_limit="100/minute"` caps
    requests per caller.

    `request=Order` and `response=Order` (status 200) or `response={201: OrderAccepted, 404: None}`
    declare the bodies (pydantic models or dataclasses) for the app's OpenAPI document."""
    return Http(method, path, public, request, response, auth, rate_limit)


def queue(name: str, batch_size: int = 1, fifo: bool = False) -> Queue:
    """A queue trigger: `queue("orders", batch_size=10)`."""
    return Queue(name, batch_size, fifo)


def topic(name: str) -> Topic:
    """A topic (pub/sub fan-out) trigger: `topic("order-events")`."""
    return Topic(name)


def schedule(expression: str | Schedule) -> Schedule:
    """A schedule trigger: `schedule("rate(5 minutes)")` or `schedule(cron("0 3 * * *"))`."""
    return Schedule(expression)


def cron(expression: str) -> Schedule:
    """A 5-field cron schedule in UTC: `cron("0 3 * * *")`. Usable as a trigger on its own."""
    if not isinstance(expression, str):
        raise DeclarationError(f"cron() takes a string like '0 3 * * *', got {expression!r}.")
    return Schedule(f"cron({expression})")


def storage(bucket: str | Bucket, on: str = "created", prefix: str = "", suffix: str = "") -> Storage:
    """A storage trigger: `storage("uploads", on="created", prefix="in/")`, or `storage(uploads, ...)` for a
    declared `uploads = bucket("uploads")` (the same bucket, which functions may then read or write)."""
    return Storage(bucket, on, prefix, suffix)


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not re.match(_NAME, name):
        raise DeclarationError(
            f"{kind}() name {name!r} is invalid: use 1-80 letters, digits, '-', '_' or '.', starting "
            "with a letter or digit."
        )


def _check_auth(declared: str, auth: Any) -> None:
    from .auth import Verifier

    if not isinstance(auth, Verifier):
        raise DeclarationError(
            f"{declared}: auth={auth!r} is not a way to verify callers; use auth=jwt(issuer=..., audience=...) "
            "or auth=api_key(secret=...) (from portable_fn)."
        )


def _check_model(declared: str, role: str, model: Any) -> None:
    if not isinstance(model, type) or not (
        hasattr(model, "model_json_schema") or hasattr(model, "__dataclass_fields__")
    ):
        raise DeclarationError(
            f"{declared} {role} {model!r} is not a model: pass a pydantic model or a dataclass class, "
            "like request=Order."
        )


def _check_segment(path: str, segment: str, last: bool) -> None:
    if "{" not in segment and "}" not in segment:
        return
    match = re.fullmatch(_PATH_PARAM, segment)
    if match is None:
        raise DeclarationError(f"http() path {path!r}: segment {segment!r} must be a whole '{{name}}' parameter.")
    if match.group(2) and not last:
        raise DeclarationError(
            f"http() path {path!r}: a greedy '{{{match.group(1)}+}}' parameter must be the last segment."
        )
