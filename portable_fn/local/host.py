"""The local dev host behind `portable-fn dev`: every function of an app, served on this machine.

HTTP functions answer at their routes; queues, topics, buckets (folders) and timers deliver
CloudEvents (see `events` for the mapping) through the same dispatch as every cloud, with retries and
dead letters (see `delivery`), kept in a journal in the state directory until settled (see `journal`),
so a host killed and started again delivers what it had accepted; what functions emit goes the same way
(see `publishing`). Every state is an SQLite file in
the state directory too (`PORTABLE_FN_STATE_DIR`), so what functions keep survives a restart as well.
`/_local/...` is the host's own API
(see `control`). With `reload=True` (what `portable-fn dev` does unless `--no-reload`), a change to the
app's files imports it again and swaps the functions in place, keeping the journal (see `reload`).

    with LocalHost(load_app("samples/shop"), port=0) as host:
        print(host.url)
"""

from __future__ import annotations

import itertools
import json
import shlex
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from ..app import App
from ..runtime.buckets import key_problem, write_file
from ..runtime.channels import Publisher, use_publisher
from ..runtime.cloudevent import CloudEvent
from ..runtime.context import Context
from ..runtime.errors import PortableFnError
from ..runtime.function import FunctionSpec
from ..runtime.http import Request, Response
from ..runtime.pipeline import call_http
from ..runtime.routes import Route, Router, not_routed, path_shape
from ..runtime.triggers import Http, Queue, Schedule, Storage, Topic
from . import control
from .buckets import BucketWatcher, ObjectInfo, object_info
from .control import ControlError
from .delivery import DeadLetters, Policy, Subscription, one_line
from .environment import ProcessEnv, dev_env
from .events import message_events, now, rfc3339, schedule_event, storage_event
from .function_logs import FunctionLogs
from .issuer import LocalIssuer, issuer_env, issuer_url
from .issuer import serves as serves_issuer
from .journal import Journal, Pending
from .limits import Limits, deploy_targets
from .lock import StateLock
from .publishing import LocalPublisher
from .reload import SourceWatcher
from .scheduler import Scheduler
from .serving import DevServer

Log = Callable[[str], None]
T = TypeVar("T")
STATE_DIR_ENV = "PORTABLE_FN_STATE_DIR"  # where `runtime.state_sqlite` keeps each state's SQLite file


def print_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class LocalHost:
    """Serves an app on `host:port` (`port=0` picks a free one; see `.port` and `.url`)."""

    def __init__(
        self,
        app: App,
        host: str = "127.0.0.1",
        port: int = 8080,
        state_dir: str | Path | None = None,
        retry_backoff_s: float = 1.0,
        log: Log = print_to_stderr,
        *,
        rate_scale: float = 1.0,
        poll_interval_s: float = 0.2,
        providers: Iterable[str] | None = None,
        read_timeout_s: float = 10.0,
        request_timeout_s: float = 60.0,
        stage: str | None = None,
        reload: bool = False,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        # the strictest limits of the clouds the app deploys to, or of `providers` (dev --provider)
        self.limits = Limits.strictest(deploy_targets(app.config) if providers is None else providers)
        self.read_timeout_s = read_timeout_s  # the longest wait for more of a request (a stalled sender: 408)
        self.request_timeout_s = request_timeout_s  # the longest a request may take to arrive whole (408)
        self.stage = stage or next(iter(app.config.stages))
        app.config.check_stage(self.stage, app.root / "pyproject.toml")
        self.state_dir = Path(state_dir) if state_dir else dev_state_dir(app)
        self.env = self._env(app)
        self.function_logs = FunctionLogs(log, keep_in=self.state_dir, stage=self.stage)
        self.log = log
        self.state_lock = StateLock(self.state_dir)
        self.journal = Journal(self.state_dir / "journal.sqlite3")
        self.dead_letters = DeadLetters(self.journal, self._forward_dead_letter)
        self.retry_backoff_s = retry_backoff_s  # scales every policy delay (see `delivery.Policy`)
        self.poll_interval_s = poll_interval_s
        self.rate_scale = rate_scale
        self.router = Router(Route(t.method, t.path, s) for s, t in self._with(Http))
        self.subscriptions = {s.name: self._subscription(s) for s in app.functions if s.trigger.is_event}
        self._round_robin = {name: itertools.cycle(subs) for name, subs in self._consumers(Queue).items()}
        self.watcher = self._bucket_watcher()
        self.scheduler = Scheduler(app.functions, self._on_tick, rate_scale=rate_scale)
        self.source_watcher = SourceWatcher(self, log, poll_interval_s, self.state_dir) if reload else None
        self._server: DevServer | None = None
        self._server_thread: threading.Thread | None = None
        self._started = False
        self._publisher_before: Publisher | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Where to reach the host (an all-interfaces address is shown as 127.0.0.1)."""
        shown = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{shown}:{self.port}"

    def start(self) -> LocalHost:
        """Bind, hold the state dir, open the journal, start the bucket watcher, the timer and the
        server, print the banner and what the journal kept, then start the workers."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._server = self._bind()
        self.port = self._server.server_address[1]
        self._hold_state_dir(self._server)
        self.env = self._env(self.app)  # the port is known now: the dev issuer's URL has it
        LocalIssuer(self.state_dir).start(self.url)
        self.journal.open()
        self.env.apply()
        reopen_states(self.app)
        self._publisher_before = use_publisher(LocalPublisher(self, self.log))  # what functions emit
        self.function_logs.attach()
        self.watcher.start()
        self.scheduler.start()
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="local-http", daemon=True
        )
        self._server_thread.start()
        self.log(self.banner())
        self._report_kept()
        for subscription in self.subscriptions.values():
            subscription.start()
        self._started = True
        if self.source_watcher is not None:
            self.source_watcher.start()
            self.log(f"  reloading when a file of the app changes ({self.app.source_dir})")
        return self

    def stop(self) -> None:
        """Stop serving; messages not settled yet stay in the journal for the next start."""
        if self.source_watcher is not None:
            self.source_watcher.stop()
        self._started = False
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.scheduler.stop()
        self.watcher.stop()
        for subscription in self.subscriptions.values():
            subscription.stop()
        self.function_logs.detach()
        use_publisher(self._publisher_before)
        self.env.restore()
        self.journal.close()
        self.state_lock.release()

    def serve_forever(self) -> None:
        """Start and block until Ctrl-C."""
        self.start()
        try:
            while True:
                # Short sleeps: the kernel hands Ctrl-C to any thread, often a busy server thread under load, and
                # Python runs the handler in this one only when it wakes (sleep(3600) ignored it for an hour).
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.log("portable-fn dev: stopping")
        finally:
            self.stop()

    def __enter__(self) -> LocalHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _hold_state_dir(self, server: DevServer) -> None:
        """One host per state dir, or two would deliver the same journal; a refused host unbinds."""
        try:
            self.state_lock.acquire(self.url)
        except BaseException:
            server.server_close()
            self._server = None
            raise

    def _bind(self) -> DevServer:
        try:
            server = DevServer((self.host, self.port), self)
        except OSError as exc:
            raise PortableFnError(
                f"portable-fn dev: cannot listen on {self.host}:{self.port} ({exc.strerror or exc}). {_bind_hint(exc)}"
            ) from exc
        return server

    # -- reloading ------------------------------------------------------------------------------

    def swap_app(self, app: App) -> list[str]:
        """Serve `app` (the same app, imported again) from now on, keeping the journal: a function kept
        gets the new code for its pending messages too; one added starts, one removed stops. Returns what
        the dev log should say about what could not simply be swapped."""
        app.config.check_stage(self.stage, app.root / "pyproject.toml")
        old, notes, env = self.app, self._swap_notes(app), self._env(app)
        kept = {s.name: s for s in app.functions if s.trigger.is_event and s.name in self.subscriptions}
        for name, subscription in self.subscriptions.items():
            if name in kept:
                subscription.spec, subscription.policy = kept[name], self._policy(app, kept[name])
            else:
                subscription.stop()
        subscriptions = {
            s.name: self.subscriptions.get(s.name) or self._subscription(s, app)
            for s in app.functions
            if s.trigger.is_event
        }
        self.env.restore()
        self.env = env
        if self._started:
            self.env.apply()
        self.app, self.subscriptions = app, subscriptions
        reopen_states(app)
        self.router = Router(Route(t.method, t.path, s) for s, t in self._with(Http))
        self._round_robin = {name: itertools.cycle(subs) for name, subs in self._consumers(Queue).items()}
        self._swap_event_sources(old)
        for name, subscription in subscriptions.items():
            if name not in kept and self._started:
                subscription.start()
        return notes

    def _swap_notes(self, app: App) -> list[str]:
        """What changes beyond the code: functions added or removed, a trigger kind changed with
        messages pending (delivered to the new code as they are, or kept for a function that takes
        events again)."""
        old = {s.name: s for s in self.app.functions}
        new = {s.name: s for s in app.functions}
        counts = self.journal.counts()
        notes = [f"{name}: added ({new[name].trigger.kind})" for name in new if name not in old]
        for name, spec in old.items():
            waiting = counts.get(name, 0)
            now = new.get(name)
            if now is None or (spec.trigger.is_event and not now.trigger.is_event):
                gone = "removed" if now is None else f"now {now.trigger.kind}-triggered"
                kept = (
                    f"; its {waiting} pending message(s) stay in {self.journal.path.name} until a function "
                    f"named {name!r} takes events again"
                    if waiting and spec.trigger.is_event
                    else ""
                )
                notes.append(f"{name}: {gone}{kept}")
            elif now.trigger.kind != spec.trigger.kind and waiting:
                notes.append(
                    f"{name}: trigger changed from {spec.trigger.kind} to {now.trigger.kind}; its "
                    f"{waiting} pending message(s), accepted as {spec.trigger.kind} messages, are "
                    "delivered to the new code as they are (restart dev with an empty state dir "
                    "to drop them)"
                )
        return notes

    def _swap_event_sources(self, old: App) -> None:
        """A new timer and bucket watcher when the schedules or the buckets changed."""
        schedules = [(s.name, s.trigger) for s, _ in self._with(Schedule)]
        if schedules != [(s.name, s.trigger) for s in old.functions if isinstance(s.trigger, Schedule)]:
            self.scheduler.stop()
            self.scheduler = Scheduler(self.app.functions, self._on_tick, rate_scale=self.rate_scale)
            if self._started:
                self.scheduler.start()
        else:
            self.scheduler.specs = [s for s, _ in self._with(Schedule)]
        buckets = sorted({t.bucket for _, t in self._with(Storage)})
        if buckets != self.watcher.buckets:
            self.watcher.stop()
            self.watcher = self._bucket_watcher()
            if self._started:
                self.watcher.start()

    def _subscription(self, spec: FunctionSpec, app: App | None = None) -> Subscription:
        return Subscription(
            spec, self._policy(app or self.app, spec), self.journal, self.dead_letters, self._log_invocation, self.log
        )

    def _policy(self, app: App, spec: FunctionSpec) -> Policy:
        return Policy.of(spec, app.options(spec), self.retry_backoff_s)

    def _env(self, app: App) -> ProcessEnv:
        """The process environment while serving: `dev_env`, and every state kept in the state dir."""
        own = {STATE_DIR_ENV: str(self.state_dir.resolve()), **issuer_env(self.url)}
        return ProcessEnv({**dev_env(app, self.stage), **own})

    def _bucket_watcher(self) -> BucketWatcher:
        return BucketWatcher(
            self.state_dir / "buckets",
            [t.bucket for _, t in self._with(Storage)],
            self._on_bucket_change,
            self.poll_interval_s,
        )

    # -- serving --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Serve one HTTP request: the host's own API, or the function whose route matches."""
        if serves_issuer(request.path):
            return LocalIssuer(self.state_dir).handle(request)
        if control.is_control(request.path):
            return self._refused(request, control.handle(self, request))
        found = self.router.match(request.method, request.path) or (
            self.router.match("GET", request.path) if request.method == "HEAD" else None
        )
        if found is None:
            return self._refused(request, not_routed(self.router, request))
        route, params = found
        spec: FunctionSpec = route.target
        started = time.perf_counter()
        response = call_http(spec, request.with_path_params(params), self._context(spec))
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._log_invocation(spec, f"{request.method} {request.path}", _status_line(response), elapsed_ms)
        return response

    def log_refusal(self, method: str, path: str, status: int, reason: str) -> None:
        """One dev log line for a request refused before any function ran, saying why."""
        stamp = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        self.log(f"{stamp} {one_line(method)} {one_line(path)} -> {status}: {one_line(reason)}")

    def _refused(self, request: Request, response: Response) -> Response:
        if response.status >= 400:
            self.log_refusal(request.method, request.path, response.status, _reason(response))
        return response

    def publish(self, kind: str, name: str, headers: Mapping[str, str], body: bytes) -> list[str]:
        """Deliver a POSTed message to a queue's consumer or a topic's subscribers; the event ids."""
        consumers = self._consumers(Queue if kind == "queue" else Topic)
        if name not in consumers:
            raise ControlError(404, f"No function is triggered by {kind} {name!r}.", **{kind + "s": sorted(consumers)})
        events = message_events(kind, name, headers, body)
        self._check_size(kind, headers, body)
        self.deliver(kind, name, events)
        return [e.id for e in events]

    def _check_size(self, kind: str, headers: Mapping[str, str], body: bytes) -> None:
        """413 for a message past its limit counting what it carries besides the body (the server checked the
        body alone): a binary-mode CloudEvent's ce-* attributes travel as message attributes, which SQS and
        SNS count toward the message size and Azure's queues carry inside the message."""
        limit = self.limits.queue if kind == "queue" else self.limits.topic
        carried = sum(len(n.encode()) + len(v.encode()) for n, v in headers.items() if n.lower().startswith("ce-"))
        size = len(body) + carried
        if size > limit.size:
            raise ControlError(
                413,
                f"The message ({size:,} bytes: {len(body):,} of body and {carried:,} of ce-* attributes) is larger "
                f"than {limit.what} may be: at most {limit.describe()}.",
                limit=limit.size,
                cloud=limit.cloud,
            )

    def deliver(self, kind: str, name: str, events: Sequence[CloudEvent[Any]], ready_at: float = 0.0) -> bool:
        """Put `events` in the inboxes of a queue's consumer or a topic's subscribers, committed before it
        returns (all of them, or none), delivered from `ready_at` (wall-clock; 0: now). False when no
        function of the app receives from it."""
        consumers = self._consumers(Queue if kind == "queue" else Topic)
        if name not in consumers:
            return False
        published = rfc3339(now())
        with self.journal.transaction():
            if kind == "queue":
                for event in events:
                    next(self._round_robin[name]).put([event], published, ready_at)
            else:
                for subscription in consumers[name]:
                    subscription.put(events, published, ready_at)
        return True

    def pending(self, kind: str, name: str) -> list[dict[str, Any]]:
        """The messages of a queue or topic not settled yet: each consumer's copy, with its attempt."""
        consumers = self._consumers(Queue if kind == "queue" else Topic)
        if name not in consumers:
            raise ControlError(404, f"No function is triggered by {kind} {name!r}.", **{kind + "s": sorted(consumers)})
        return [
            _describe_pending(subscription.spec.name, p)
            for subscription in consumers[name]
            for p in subscription.pending()
        ]

    def _forward_dead_letter(self, target: str, event: CloudEvent[Any]) -> None:
        """Send a dead letter on to the local queue or topic named by a function's `dead_letter`."""
        topics = self._consumers(Topic)
        if target in self._round_robin:
            next(self._round_robin[target]).put([event], rfc3339(now()))
        elif target in topics:
            for subscription in topics[target]:
                subscription.put([event], rfc3339(now()))
        else:
            self.log(
                f"dead-letter target {target!r} is not a queue or topic of this app; kept in "
                f"{control.PREFIX}/dead-letters only"
            )

    def redrive(self, function: str) -> list[dict[str, Any]]:
        """Send `function`'s dead letters back to its inbox (first deliveries) and remove them from the
        dead letters; the entries sent back."""
        subscription = self.subscriptions.get(function)
        if subscription is None:
            raise ControlError(
                404, f"No event-triggered function is named {function!r}.", functions=sorted(self.subscriptions)
            )
        return self.dead_letters.redrive(function, subscription.put)

    def fire(self, function: str) -> str:
        """Fire a schedule-triggered function once, now; the event id."""
        schedules = [s.name for s, _ in self._with(Schedule)]
        if function not in schedules:
            raise ControlError(404, f"No schedule-triggered function is named {function!r}.", schedules=schedules)
        spec: FunctionSpec = self.app.function(function)
        return self._on_tick(spec, now())

    def put_object(self, bucket: str, key: str, body: bytes) -> ObjectInfo:
        """Write an object into a bucket folder (atomically) and report it: its storage events are in the
        journal before the 201."""
        path = self._object_path(bucket, key)
        try:
            write_file(path, body)
        except (FileExistsError, IsADirectoryError, NotADirectoryError):
            raise ControlError(
                409,
                f"Object key {key!r} cannot be kept in a local bucket folder: a key "
                "is also the folder of another key (clouds allow that, folders do not).",
            ) from None
        self.watcher.report(bucket, key)
        return object_info(bucket, key, path)

    def delete_object(self, bucket: str, key: str) -> None:
        path = self._object_path(bucket, key)
        if not path.is_file():
            raise ControlError(404, f"Bucket {bucket!r} has no object {key!r}.")
        path.unlink()
        self.watcher.report(bucket, key)

    # -- describing -----------------------------------------------------------------------------

    def describe_functions(self) -> list[dict[str, Any]]:
        """Every function: name, trigger kind, trigger details, where to trigger it."""
        return [
            {"name": s.name, "trigger": s.trigger.kind, "details": _details(s), "endpoint": self._endpoint(s)}
            for s in self.app.functions
        ]

    def banner(self) -> str:
        lines = [
            f"portable-fn dev: app {self.app.name!r} on {self.url} (stage {self.stage!r}, state in {self.state_dir})"
        ]
        for spec in self.app.functions:
            lines.append(f"  {spec.name:<20} {spec.trigger.kind:<9} {self._how_to_trigger(spec)}")
        lines += [f"  ! {clash}" for clash in route_clashes(self.app.functions)]
        if self.app.states:
            stores = ", ".join(f"{s.name} ({s.name}.sqlite3)" for s in self.app.states)
            lines.append(f"  states: {stores}")
        if self.app.buckets:
            folders = ", ".join(f"{b.name} (buckets/{b.name})" for b in self.app.buckets)
            lines.append(f"  buckets: {folders}")
        if any(getattr(s.trigger, "auth", None) is not None for s in self.app.functions):
            lines.append(
                f"  tokens: {token_command(self.app, self.state_dir)} (signed by {issuer_url(self.url)}, "
                "trusted in dev only)"
            )
        lines.append(
            f"  dead letters: {self.url}{control.PREFIX}/dead-letters   "
            f"functions: {self.url}{control.PREFIX}/functions   "
            f"openapi: {self.url}{control.PREFIX}/openapi.json"
        )
        limits = self.limits
        lines.append(
            f"  limits ({', '.join(limits.clouds)}): HTTP body {limits.http.size:,} B, queue message "
            f"{limits.queue.size:,} B, topic message {limits.topic.size:,} B, object key "
            f"{limits.key.size:,} B"
        )
        return "\n".join(lines)

    def _endpoint(self, spec: FunctionSpec) -> str:
        trigger = spec.trigger
        if isinstance(trigger, Http):
            return f"{self.url}{trigger.path}"
        if isinstance(trigger, (Queue, Topic)):
            return f"{self.url}{control.PREFIX}/{trigger.kind}s/{trigger.name}"
        if isinstance(trigger, Storage):
            return str(self.watcher.folder(trigger.bucket) / trigger.prefix)
        return f"{self.url}{control.PREFIX}/schedules/{spec.name}/fire"

    def _how_to_trigger(self, spec: FunctionSpec) -> str:
        trigger = spec.trigger
        endpoint = self._endpoint(spec)
        if isinstance(trigger, Http):
            return f"{trigger.method} {endpoint}"
        if isinstance(trigger, Queue) and trigger.name.startswith("pfn-wf-"):
            return f"runs the workflow's steps; its instances: {self.url}{control.PREFIX}/workflows"
        if isinstance(trigger, (Queue, Topic)):
            return f"curl -X POST -H 'content-type: application/json' -d '{{...}}' {endpoint}"
        if isinstance(trigger, Storage):
            what = "drop files into" if trigger.on == "created" else "delete files from"
            suffix = f" (*{trigger.suffix})" if trigger.suffix else ""
            return f"{what} {endpoint}{suffix}"
        expression = trigger.expression if isinstance(trigger, Schedule) else trigger.kind
        return f"{expression}; now: curl -X POST {endpoint}"

    # -- event sources --------------------------------------------------------------------------

    def _on_bucket_change(self, change: str, info: ObjectInfo) -> None:
        targets = [
            s for s, t in self._with(Storage) if t.bucket == info.bucket and t.on == change and t.matches(info.key)
        ]
        if targets:
            event = storage_event(change, info.bucket, info.key, info.size, info.etag)
            for spec in targets:
                self.subscriptions[spec.name].put([event])

    def _on_tick(self, spec: FunctionSpec, scheduled: datetime) -> str:
        trigger: Schedule = spec.trigger  # type: ignore[assignment]  # the Scheduler only fires schedules
        event = schedule_event(spec.name, trigger.expression, scheduled)
        self.subscriptions[spec.name].put([event])
        return event.id

    # -- helpers --------------------------------------------------------------------------------

    def _with(self, kind: type[T]) -> list[tuple[FunctionSpec, T]]:
        """The functions with a trigger of this type, each with its trigger."""
        return [(s, s.trigger) for s in self.app.functions if isinstance(s.trigger, kind)]

    def _consumers(self, kind: type[Queue | Topic]) -> dict[str, list[Subscription]]:
        """Queue or topic name -> the subscriptions of the functions it triggers (read from the one
        `subscriptions` mapping, which a reload replaces whole)."""
        found: dict[str, list[Subscription]] = {}
        for subscription in self.subscriptions.values():
            trigger = subscription.spec.trigger
            if isinstance(trigger, kind):
                found.setdefault(trigger.name, []).append(subscription)
        return found

    def _context(self, spec: FunctionSpec) -> Context:
        timeout = self.app.options(spec).timeout_s
        return Context(str(uuid.uuid4()), spec.name, "local", 1, time.time() + timeout if timeout else None)

    def _object_path(self, bucket: str, key: str) -> Path:
        buckets = self.watcher.buckets
        if bucket not in buckets:
            raise ControlError(404, f"No function watches bucket {bucket!r}.", buckets=buckets)
        check_key(key, self.limits)
        return self.watcher.folder(bucket).joinpath(*key.split("/"))

    def _log_invocation(self, spec: FunctionSpec, what: str, outcome: str, elapsed_ms: float) -> None:
        stamp = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        self.log(
            f"{stamp} {spec.name} [{spec.trigger.kind}] {one_line(what)} -> {one_line(outcome)} ({elapsed_ms:.1f} ms)"
        )

    def _report_kept(self) -> None:
        """Say what the journal kept from an earlier run: delivered now, or left for a missing function."""
        kept = self.journal.counts()
        for function, count in sorted(kept.items()):
            if function in self.subscriptions:
                self.log(f"  {function}: {count} message(s) kept from the last run, delivered as they are ready")
            else:
                self.log(
                    f"  {function}: {count} message(s) kept for a function this app no longer has; "
                    f"they wait in {self.journal.path.name} until it is back"
                )


def dev_state_dir(app: App) -> Path:
    """Where `portable-fn dev` keeps its journal, dead letters and states unless told `--state-dir`."""
    return app.root / ".portable-fn" / "local"


def token_command(app: App, state_dir: Path) -> str:
    """The `portable-fn token` command that signs with this host's issuer: run from here, for this app
    and, when the host keeps its state elsewhere than the app's default, that state directory."""
    words = ["portable-fn", "token"]
    where = _shown_path(app.root)
    if where != ".":
        words.append(where)
    if Path(state_dir).resolve() != dev_state_dir(app).resolve():
        words += ["--state-dir", _shown_path(Path(state_dir))]
    return " ".join(shlex.quote(word) for word in words) + " --sub NAME"


def _shown_path(path: Path) -> str:
    """`path` relative to the working directory when it is below it, else absolute."""
    absolute = Path(path).resolve()
    try:
        return str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(absolute)


def _bind_hint(exc: OSError) -> str:
    """What to do when the host cannot listen: the port is taken, or --host is not an address of this machine."""
    import errno
    import socket

    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return "--host must be an address of this machine: 127.0.0.1 (the default), or 0.0.0.0 for every interface."
    if exc.errno == errno.EACCES:
        return "Ports below 1024 need privileges: pick another --port, or --port 0 for a free one."
    return "Is another dev host running? Pick another --port, or --port 0 for a free one."


def reopen_states(app: App) -> None:
    """Have every state of the app open its store again on first use, now under the host's environment
    (a state used before the host started, by a test say, would keep the store it opened then)."""
    for declared in app.states:
        declared.backend = None


def check_key(key: str, limits: Limits) -> None:
    """Refuse (400, naming the rule) an object key a cloud would refuse, or a bucket folder cannot hold."""
    shown = repr(key if len(key) <= 60 else key[:60] + "...")
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > limits.key.size:
        raise ControlError(
            400,
            f"Object key {shown} is {size:,} bytes; {limits.key.what} may be at most {limits.key.describe()}.",
            limit=limits.key.size,
            cloud=limits.key.cloud,
        )
    problem = key_problem(key)
    if problem is not None:
        raise ControlError(400, f"Object key {shown} {problem}.")


def route_clashes(functions: Sequence[FunctionSpec]) -> list[str]:
    """What dev says of HTTP functions on one method and path (parameter names aside): its one host serves
    one of them. Each cloud decides for itself (a Function URL or a Cloud Function is a URL of its own; the
    HTTP API refuses them at deploy)."""
    taken: dict[tuple[str, str], str] = {}
    said = []
    for spec in functions:
        trigger = spec.trigger
        if isinstance(trigger, Http):
            key = (trigger.method, path_shape(trigger.path))
            first = taken.setdefault(key, spec.name)
            if first != spec.name:
                said.append(
                    f"{first!r} and {spec.name!r} are both on {trigger.method} {trigger.path}: dev serves only "
                    f"{first!r}; give each its own method or path"
                )
    return said


def _status_line(response: Response) -> str:
    """The status, and for a 4xx why (the answer's `error`), for the dev log."""
    status = str(response.status)
    return f"{status}: {_reason(response)}" if 400 <= response.status < 500 else status


def _reason(response: Response) -> str:
    try:
        error = json.loads(response.body).get("error")
    except (ValueError, AttributeError, RecursionError):
        error = None
    return str(error) if error else response.body[:200].decode("utf-8", "replace") or "no reason given"


def _details(spec: FunctionSpec) -> dict[str, Any]:
    trigger = spec.trigger
    return {name: getattr(trigger, name) for name in trigger.__slots__}


def _describe_pending(function: str, pending: Pending) -> dict[str, Any]:
    """One pending message for `GET /_local/queues/{name}`: ready_at in RFC 3339 (null: ready now)."""
    ready_at = datetime.fromtimestamp(pending.ready_at, timezone.utc) if pending.ready_at else None
    return {
        "function": function,
        "id": pending.event.id,
        "attempt": pending.attempt,
        "ready_at": rfc3339(ready_at) if ready_at else None,
        "published": pending.published,
        "event": pending.event.to_dict(),
    }
