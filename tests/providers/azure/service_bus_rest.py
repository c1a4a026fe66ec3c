"""A Service Bus namespace's REST API on 127.0.0.1, as much of it as `dead-letters` uses, checking every request
against Microsoft's pages (cited in `sb_letters` and `sb_dlq`): Send Message (`POST /{entity}/messages`),
Peek-Lock Message (`POST /{path}/messages/head?timeout=<seconds>`), Unlock Message and Delete Message (`PUT` and
`DELETE` on the lock's URI). Every request must carry a SAS token of KEY_NAME/KEY over
`https://{NAMESPACE}/{path}` (the signature recomputed here) and `Host` the namespace; a request that breaks a
rule gets 400 and is recorded in `refused`, a lock token the server did not give gets 404 and is recorded too.

Dead letters are held per path (`hold`) with the properties Service Bus gives them: `BrokerProperties` JSON
(MessageId, LockToken, SequenceNumber, DeliveryCount, EnqueuedTimeUtc as an HTTP date, State, DeadLetterSource),
`DeadLetterReason` and `DeadLetterErrorDescription` as custom properties (header values in JSON), and a
`Location` naming the message by its sequence number. Releasing a lock adds one to the DeliveryCount, as Service
Bus does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import itertools
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, quote_plus, unquote, urlsplit

NAMESPACE = "shop-bus.servicebus.windows.net"
KEY_NAME, KEY = "RootManageSharedAccessKey", "c2VjcmV0LWtleS1vZi10aGUtcnVsZQ=="
CONNECTION = f"Endpoint=sb://{NAMESPACE}/;SharedAccessKeyName={KEY_NAME};SharedAccessKey={KEY}"


@dataclass
class Held:
    """A message in one of the server's queues, with its lock (None: unlocked)."""

    body: bytes
    content_type: str
    broker: dict[str, Any]
    custom: dict[str, str]
    lock: str | None = None
    sequence: int = 0


class ServiceBusRest:
    """The server; `status` is what a valid send is answered (201 records it in `received` as (entity,
    headers, body))."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.refused: list[str] = []
        self.status = 201
        self.queues: dict[str, list[Held]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path without its query), in order
        self.sequence = itertools.count(1)
        self.mutex = threading.Lock()
        rest = self

        class Handler(http.server.BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.answer("POST")

            def do_PUT(self) -> None:
                self.answer("PUT")

            def do_DELETE(self) -> None:
                self.answer("DELETE")

            def answer(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with rest.mutex:
                    status, out, payload = rest.serve(method, self.path, headers, body)
                self.send_response(status)
                for name, value in out.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def hold(
        self,
        path: str,
        body: bytes,
        *,
        message_id: str,
        reason: str,
        description: str,
        delivery_count: int,
        enqueued: datetime,
        content_type: str = "application/json",
        custom: dict[str, str] | None = None,
    ) -> None:
        """A dead letter in `path` (`<queue>/$deadletterqueue` or `<topic>/subscriptions/<s>/$deadletterqueue`)."""
        sequence = next(self.sequence)
        broker = {
            "MessageId": message_id,
            "SequenceNumber": sequence,
            "DeliveryCount": delivery_count,
            "EnqueuedTimeUtc": format_datetime(enqueued, usegmt=True),
            "State": "Active",
            "DeadLetterSource": path.rsplit("/$", 1)[0],
        }
        properties = {"DeadLetterReason": reason, "DeadLetterErrorDescription": description, **(custom or {})}
        held = Held(body, content_type, broker, {k: json.dumps(v) for k, v in properties.items()}, None, sequence)
        with self.mutex:
            self.queues.setdefault(path, []).append(held)

    def held(self, path: str) -> list[Held]:
        with self.mutex:
            return list(self.queues.get(path, []))

    def serve(self, method: str, raw: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(raw)
        self.requests.append((method, url.path))
        path, _, tail = url.path.lstrip("/").partition("/messages")
        problem = self.check(path, headers)
        if problem is None and method == "POST" and tail == "":
            problem = self.check_send(headers)
        if problem is None and method == "POST" and tail == "/head":
            timeout = parse_qs(url.query).get("timeout", [""])[0]
            problem = None if timeout.isdigit() else f"peek-lock without a timeout in seconds: {url.query!r}"
        if problem is None and not (method == "POST" and tail in ("", "/head")) and tail.count("/") != 2:
            problem = f"{method} {url.path} is not on a lock's URI"
        if problem:
            self.refused.append(problem)
            return 400, {}, b""
        if method == "POST" and tail == "":
            if self.status == 201:
                self.received.append((path, headers, body))
            return self.status, {}, b""
        if method == "POST":
            return self.peek_lock(path)
        _, reference, token = tail.split("/")
        return self.settle(method, unquote(path), reference, token)

    def peek_lock(self, path: str) -> tuple[int, dict[str, str], bytes]:
        path = unquote(path)
        message = next((m for m in self.queues.get(path, []) if m.lock is None), None)
        if message is None:
            return 204, {}, b""
        message.lock = str(uuid.uuid4())
        broker = {**message.broker, "LockToken": message.lock}
        out = {
            "Content-Type": message.content_type,
            "BrokerProperties": json.dumps(broker),
            "Location": f"https://{NAMESPACE}/{path}/messages/{message.sequence}/{message.lock}",
            **message.custom,
        }
        return 201, out, message.body

    def settle(self, method: str, path: str, reference: str, token: str) -> tuple[int, dict[str, str], bytes]:
        queue = self.queues.get(path, [])
        message = next((m for m in queue if str(m.sequence) == reference and m.lock == token), None)
        if message is None:
            self.refused.append(f"{method} of an unknown lock {reference}/{token} in {path}")
            return 404, {}, b""
        if method == "DELETE":
            queue.remove(message)
        else:
            message.lock = None
            message.broker["DeliveryCount"] += 1  # a released lock counts as a delivery
        return 200, {}, b""

    def check(self, path: str, headers: dict[str, str]) -> str | None:
        if headers.get("host") != NAMESPACE:
            return f"Host {headers.get('host')!r} is not the namespace"
        return self.check_sas(unquote(path), headers.get("authorization", ""))

    @staticmethod
    def check_send(headers: dict[str, str]) -> str | None:
        if not headers.get("content-type"):
            return "no Content-Type"
        if not isinstance(json.loads(headers.get("brokerproperties", "null")), dict):
            return "BrokerProperties is not a JSON object"
        return None

    @staticmethod
    def check_sas(path: str, authorization: str) -> str | None:
        scheme, _, token = authorization.partition(" ")
        fields = {k: v[0] for k, v in parse_qs(token).items()}
        if scheme != "SharedAccessSignature" or set(fields) != {"sr", "sig", "se", "skn"}:
            return f"Authorization {authorization!r} is not a SAS token"
        resource = f"https://{NAMESPACE}/{path}"
        if fields["sr"] != resource or fields["skn"] != KEY_NAME:
            return f"the token is for {fields['sr']!r} by {fields['skn']!r}"
        signed = f"{quote_plus(resource)}\n{fields['se']}".encode()
        expected = base64.b64encode(hmac.new(KEY.encode(), signed, hashlib.sha256).digest()).decode()
        return None if hmac.compare_digest(expected, fields["sig"]) else "the signature does not match"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
