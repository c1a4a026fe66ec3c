"""The dev host's HTTP server: every request gets a JSON answer, whatever arrives on the socket.

The standard library's server answers its own errors in HTML (an unknown method, a malformed request
line, too many headers) and trusts `Content-Length`. Here every answer, refusals included, is JSON in the
one shape `{"error": ..., details}`: framing problems are read by `framing` and answered 400 / 413, a
method no route knows gets the router's 404 / 405, and a host bug is a 500 that names no path of this
machine (the dev log has the details). After answering, the server reads what the client is still
sending for a moment before closing, so the client sees the answer instead of a reset connection.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from email.errors import MissingHeaderBodySeparatorDefect
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from ..runtime.dispatch import close_loop
from ..runtime.http import Request, Response, check_field
from ..runtime.http_binding import utf8_header_value
from .framing import RequestError, check_lambda_event, content_length, read_body
from .limits import Limits

LINGER_S = 2.0  # how long to keep reading a refused request's body before closing
LINGER_BYTES = 64 * 1024 * 1024


class Host(Protocol):
    """What the server needs of the dev host."""

    limits: Limits
    read_timeout_s: float
    request_timeout_s: float
    log: Callable[[str], None]

    def handle(self, request: Request) -> Response: ...

    def log_refusal(self, method: str, path: str, status: int, reason: str) -> None: ...


class DevServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops bursts of connections (clients retry after 1 s)

    def __init__(self, address: tuple[str, int], host: Host) -> None:
        self.host = host
        super().__init__(address, _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            close_loop()  # async handlers ran on this thread's loop


def _check_header_lines(headers: Any, lines: list[bytes]) -> None:
    """RequestError (400) for a header line that is not `Name: value`. The standard library's parser takes
    such a line for the end of the headers and keeps the lines after it (Content-Type, Content-Length, the
    `ce-*` attributes) as text no one reads: the message was accepted and delivered without them. Also for
    what RFC 9112 5.2 and 2.2 let a server refuse and a proxy in front would read otherwise: a line folded
    onto the one before (obs-fold; the value reached the handler holding CR LF) and a bare CR inside a
    line (the parser split `A: 1<CR>B: 2` into two headers)."""
    for raw in lines:
        if raw[:1] in (b" ", b"\t") and raw.strip():
            raise RequestError(
                400, "Malformed header: a line folded onto the one before (obs-fold); send each header on one line."
            )
        if b"\r" in raw.rstrip(b"\r\n"):
            raise RequestError(400, "Malformed header: a bare CR inside a header line; end each line with CR LF.")
    rest = headers.get_payload()  # a multipart Content-Type adds notes of its own (no boundary yet): not these
    if rest or any(isinstance(defect, MissingHeaderBodySeparatorDefect) for defect in headers.defects):
        line = (rest.splitlines() or [""])[0] if isinstance(rest, str) else ""
        shown = repr(line[:80]) if line else "a header line"
        raise RequestError(400, f"Malformed header: {shown} is not 'Name: value'; send each header as 'Name: value'.")
    for name in headers:
        lowered = name.lower()
        if (lowered == "content-type" or lowered.startswith("ce-")) and len(headers.get_all(name)) > 1:
            raise RequestError(  # read as the first by dev, the last or both joined by a comma by a cloud's front
                400, f"The header {name[:80]!r} is sent more than once; send it once (one media type, one attribute)."
            )
        if not _TOKEN.fullmatch(name):
            raise RequestError(
                400,
                f"Malformed header: the name {name[:80]!r} holds a character a header name cannot (RFC 9110: "
                "letters, digits and !#$%&'*+-.^_`|~); send each header as 'Name: value'.",
            )
        for value in headers.get_all(name):
            try:
                check_field(name, value, "Request header")  # the rule a Response's headers are held to
            except ValueError as exc:
                raise RequestError(400, str(exc)) from None


def _origin_form(target: str) -> str:
    """The path and query of a request target: an absolute URL (what a client behind a proxy setting sends,
    and RFC 9112 3.2.2 has servers accept) is read as its path; a target that is neither is a 400."""
    if "#" in target:
        raise RequestError(400, "The request target holds a fragment (#...), which stays in the client; leave it out.")
    if target.startswith("/"):
        return target
    if target[:7].lower() == "http://" or target[:8].lower() == "https://":
        parts = urlsplit(target)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    raise RequestError(
        400, f"The request target {target[:80]!r} is not a path; send 'METHOD /path HTTP/1.1' (or an http:// URL)."
    )


class _Deadline:
    """The connection's reader: each read waits at most `read_timeout_s` for more bytes (a stalled sender),
    and the request must have arrived whole within `request_timeout_s` of the connection (a sender trickling a
    byte at a time would otherwise hold a thread forever); a read past that raises a 408 RequestError."""

    def __init__(self, raw: Any, connection: socket.socket, host: Host) -> None:
        self.raw, self.connection = raw, connection
        self.read_timeout_s, self.request_timeout_s = host.read_timeout_s, host.request_timeout_s
        self.deadline = time.monotonic() + host.request_timeout_s

    def readline(self, limit: int = -1) -> bytes:
        """A line, taken from what each single read of the socket brings (`peek`), so the deadline is checked
        between reads: one readline of the stream itself would wait for its newline however long it trickles."""
        line = bytearray()
        while limit < 0 or len(line) < limit:
            arrived = self._reading(self.raw.peek, 1)
            if not arrived:
                break
            usable = len(arrived) if limit < 0 else min(len(arrived), limit - len(line))
            end = arrived.find(b"\n", 0, usable)
            line += self.raw.read(end + 1 if end >= 0 else usable)  # already buffered: no wait
            if end >= 0:
                break
        return bytes(line)

    def read(self, size: int = -1) -> bytes:
        """`size` bytes (or to the end), one read of the socket at a time, as `readline`."""
        data = bytearray()
        while size < 0 or len(data) < size:
            chunk = self.read1(65536 if size < 0 else size - len(data))
            if not chunk:
                break
            data += chunk
        return bytes(data)

    def read1(self, size: int = -1) -> bytes:
        return self._reading(self.raw.read1, size)

    def close(self) -> None:
        self.raw.close()

    def _reading(self, read: Callable[[int], bytes], size: int) -> bytes:
        left = self.deadline - time.monotonic()
        if left > 0:
            self.connection.settimeout(min(self.read_timeout_s, left))
            try:
                return read(size)
            except TimeoutError:
                if self.deadline > time.monotonic():
                    raise  # stalled for read_timeout_s: the caller says what stopped arriving
        raise RequestError(
            408, f"The request did not arrive whole within {self.request_timeout_s:g} s; send it at once."
        )


class _LineRecorder:
    """The request's reader while the standard library reads the headers, keeping each line it read."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.lines: list[bytes] = []

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self.raw.readline(limit)
        self.lines.append(line)
        return line


def _target_text(raw: str) -> str:
    """The path or query of the request line as the client meant it: its raw bytes (which the standard library
    reads as latin-1) read as UTF-8, as a browser or curl sends them, so "é" does not arrive as "Ã©"; a
    RequestError (400) for bytes that are not UTF-8 or a control character (percent-encode those)."""
    try:
        text = raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise RequestError(400, "The request target is not UTF-8; percent-encode its bytes (%C3%A9).") from None
    try:
        unquote(text, errors="strict")
    except UnicodeDecodeError:  # "%FF" read as U+FFFD: "c%FF" and "c%FE" were one key, the second PUT the first
        raise RequestError(
            400, "The request target's percent-escapes are not UTF-8 (%FF); escape the bytes of UTF-8 text."
        ) from None
    found = _CONTROL.search(text)
    if found:
        raise RequestError(
            400,
            f"The request target holds the control character {found[0]!r}; percent-encode it ({_percent(found[0])}).",
        )
    return text


def _percent(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


_CONTROL = re.compile("[\x00-\x1f\x7f]")
_REASONS = {  # the standard library's words for what it refuses -> ours, naming the limit and the fix
    "Line too long": "A header line is longer than 65,536 bytes; send shorter headers (data goes in the body)",
    "Too many headers": "The request has more than 100 headers; send fewer",
}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out in two writes: without TCP_NODELAY a kept-alive client could wait for its
    # delayed acknowledgement (up to 40 ms on Linux) before it sees the body.
    disable_nagle_algorithm = True
    server: DevServer
    raw_requestline: bytes
    header_lines: list[bytes]  # the header lines as they arrived (`parse_request`)
    server_version = "portable-fn-dev"

    def setup(self) -> None:
        super().setup()
        self.rfile = _Deadline(self.rfile, self.connection, self.server.host)  # type: ignore[assignment]

    def parse_request(self) -> bool:
        """The stdlib's reading of the request line and headers, answering (in JSON) what it drops: an empty
        line before the request line is skipped (RFC 9112 2.2) instead of ending the connection, an HTTP/0.9
        line (no version) is a 400 instead of an answer without a status line, and headers that stop
        arriving are a 408 instead of a closed connection."""
        if self.raw_requestline in (b"\r\n", b"\n"):
            self.raw_requestline = self.rfile.readline(65537)
        words = self.raw_requestline.decode("iso-8859-1").split()
        if len(words) < 3:
            self.command, self.path = (words + ["-", "-"])[:2]
            self.requestline, self.request_version, self.close_connection = " ".join(words), "HTTP/1.0", True
            shown = repr(" ".join(words)[:80]) if words else "an empty line"
            self.send_error(400, f"The request line is {shown}; send 'METHOD /path HTTP/1.1'")
            return False
        recorder = _LineRecorder(self.rfile)
        self.rfile = recorder  # type: ignore[assignment]  # the stdlib's header parser calls readline only
        try:
            return super().parse_request()
        except TimeoutError:
            self.send_error(408, f"The headers did not arrive within {self.server.host.read_timeout_s:g} s")
            return False
        except RequestError as exc:  # the request's deadline passed
            self.send_error(exc.status, str(exc))
            return False
        finally:
            self.rfile, self.header_lines = recorder.raw, recorder.lines

    def handle_one_request(self) -> None:
        """One request, read as the standard library reads it, but a request line that stops arriving is a
        408 and one too long a 414, in JSON (the stdlib closes the first without a word)."""
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (TimeoutError, RequestError) as exc:
            self.command, self.path, self.requestline, self.request_version = "-", "-", "", "HTTP/1.0"
            timeout = self.server.host.read_timeout_s
            stalled = f"The request line did not arrive within {timeout:g} s"
            self.send_error(408, str(exc) if isinstance(exc, RequestError) else stalled)
            return
        if len(self.raw_requestline) > 65536:
            self.command, self.path, self.requestline, self.request_version = "-", "-", "", "HTTP/1.0"
            self.send_error(414, "The request line is longer than 65,536 bytes; send long data in the body")
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if self.parse_request():
            self._serve()  # every method: the router answers 404 / 405 for those no route takes

    def _serve(self) -> None:
        host = self.server.host
        target = self.path
        path, _, query = target.partition("?")
        try:
            target = _origin_form(target)
            path, _, query = target.partition("?")
            path, query = _target_text(path), _target_text(query)
            if not _TOKEN.fullmatch(self.command):
                raise RequestError(400, f"The method {self.command[:40]!r} is not an HTTP method (RFC 9110 token).")
            _check_header_lines(self.headers, self.header_lines)
            hosts = self.headers.get_all("host") or []
            if self.request_version == "HTTP/1.1" and len(hosts) != 1:
                raise RequestError(400, f"An HTTP/1.1 request has exactly one Host header, this one has {len(hosts)}.")
            limit = host.limits.body(self.command, path)
            lengths = self.headers.get_all("content-length")
            if lengths:
                content_length(lengths, limit)  # a body over the limit is refused before it is asked for (100)
            self._continue()
            body = read_body(self.rfile, self.headers, limit)
            if limit is host.limits.http and limit.cloud == "aws":
                check_lambda_event(limit, body, self.headers, target)
        except RequestError as exc:
            host.log_refusal(self.command, path, exc.status, str(exc))
            self._answer(Response.json(exc.body(), status=exc.status))
            return
        request = Request(self.command, path, headers=self._header_items(), query=query, body=body, raw=self)
        try:
            response = host.handle(request)
        except Exception as exc:  # a bug of the host: the log has it all, the answer names no path
            host.log(f"portable-fn dev: {self.command} {path} failed: {type(exc).__name__}: {exc}")
            response = Response.json(
                {"error": f"The dev host failed ({type(exc).__name__}); its log says why."}, status=500
            )
        self._answer(response)

    def _continue(self) -> None:
        """Answer `Expect: 100-continue` (curl sends it before a body over 1 MB, then waits a second for the
        go-ahead); any other expectation is a 417."""
        expect = self.headers.get("expect")
        if expect is None or self.request_version != "HTTP/1.1":  # HTTP/1.0 has no interim answers
            return
        if expect.strip().lower() != "100-continue":
            raise RequestError(417, f"Expect: {expect[:40]!r} is not one this host meets; send no Expect header.")
        self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.wfile.flush()

    def _header_items(self) -> list[tuple[str, str]]:
        """The request's headers, `ce-*` values read as the UTF-8 a client sends raw (the server reads
        latin-1), as the GCP shim reads them behind WSGI: a CloudEvent attribute arrives as it was sent."""
        return [
            (name, utf8_header_value(value) if name[:3].lower() == "ce-" else value)
            for name, value in self.headers.items()
        ]

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own refusals (bad request line, header too long, ...) as JSON."""
        reason = _REASONS.get(message or "", message) or explain or HTTPStatus(code).phrase
        if code >= 500 or reason.startswith("Bad request version"):  # 505 for a version it does not speak: a 400
            code, reason = 400, f"{reason}; send HTTP/1.1 or HTTP/1.0"
        self.request_version = "HTTP/1.0"  # a request line it could not read must still get headers
        self.server.host.log_refusal(self.command or "-", self.path if hasattr(self, "path") else "-", code, reason)
        self._answer(Response.json({"error": reason}, status=code))

    def _answer(self, response: Response) -> None:
        """Send the answer and end the connection (one request per connection, as HTTP/1.0 has it). A 204 or
        304 goes without a body; a client that went away is one line in the log."""
        own = ("content-length", "connection")
        headers = [(n, v) for n, v in response.headers.multi_items() if n.lower() not in own]
        try:
            for name, value in headers:  # a Response checks its headers; one whose headers were swapped after
                check_field(name, value)
        except ValueError as exc:
            self.server.host.log(f"portable-fn dev: {self.command} {self.path}: the answer cannot be sent: {exc}")
            response = Response.json({"error": f"The function's answer cannot be sent: {exc}"}, status=500)
            headers = response.headers.multi_items()
        bodiless = response.status in (204, 304)
        try:
            self.send_response(response.status)
            for name, value in headers:
                self.send_header(name, value)
            if not bodiless:
                self.send_header("content-length", str(len(response.body)))
            self.send_header("connection", "close")
            self.close_connection = True
            self.end_headers()
            if self.command != "HEAD" and not bodiless:
                self.wfile.write(response.body)
        except OSError as exc:
            self.close_connection = True
            self.server.host.log(f"portable-fn dev: {self.command} {self.path}: the client went away ({exc})")
            return
        self._linger()

    def _linger(self) -> None:
        """Read (and drop) what the client still sends, for a bounded time: closing a socket with unread
        input resets the connection, and the client would lose the answer (a body it was not asked for, one
        over the limit, a refused request's rest)."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_S
            drained = 0
            while drained < LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the host logs one line per invocation and per refusal instead
