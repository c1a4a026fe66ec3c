"""Reading an HTTP request body for the dev host, refusing what a cloud's front door would refuse.

`read_body` takes the body a request's headers announce (`Content-Length`, or `Transfer-Encoding:
chunked`) and raises `RequestError` with the status to answer for every framing problem: a length that is
no number (400), a body larger than the limit (413, before it is read), a body that ends early or stalls
past the socket's timeout (400), broken chunks (400), a transfer coding other than chunked (400), both
headers at once (400: the request could be read two ways). `check_lambda_event` also refuses (413) what
would fit AWS Lambda's payload as a body but not as the event Lambda is invoked with.
"""

from __future__ import annotations

from email.message import Message
from io import BufferedIOBase
from typing import Any

from ..runtime.errors import PortableFnError
from ..runtime.http import is_textual
from .limits import Limit

MAX_LINE = 4096  # a chunk-size line or a trailer line
MAX_TRAILERS = 64
_READ = 64 * 1024
_HEX = frozenset("0123456789abcdefABCDEF")


class RequestError(PortableFnError):
    """A request the dev host refuses: the status to answer and details for the JSON body."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": str(self), **self.details}


def read_body(rfile: BufferedIOBase, headers: Message, limit: Limit) -> bytes:
    """The request body, read to its end; raises RequestError when it cannot be read as announced."""
    codings = [c.strip().lower() for v in headers.get_all("transfer-encoding") or [] for c in v.split(",")]
    lengths = headers.get_all("content-length") or []
    if codings and lengths:
        raise RequestError(400, "The request has both Transfer-Encoding and Content-Length; send one of them.")
    if codings:
        if codings != ["chunked"]:
            raise RequestError(
                400,
                f"Transfer-Encoding {', '.join(codings)!r} is not supported; send the "
                "body with Content-Length or Transfer-Encoding: chunked.",
            )
        return _read_chunked(rfile, limit)
    if not lengths:
        return b""
    return _read_exactly(rfile, content_length(lengths, limit), "its Content-Length declares")


def content_length(values: list[str], limit: Limit) -> int:
    """The one length the Content-Length header(s) give; 400 when not one number, 413 over the limit."""
    found = {v.strip() for value in values for v in value.split(",")}
    if len(found) != 1:
        raise RequestError(400, f"Content-Length is given as {', '.join(sorted(found))!r}; send one number.")
    text = found.pop()
    if not (text.isascii() and text.isdigit()):
        raise RequestError(400, f"Content-Length {text[:40]!r} is not a number of bytes.")
    if len(text) > 18 or int(text) > limit.size:
        raise too_large(limit, f"{text[:40]} bytes")
    return int(text)


def check_lambda_event(limit: Limit, body: bytes, headers: Any, target: str) -> None:
    """413 for an HTTP request whose body fits AWS Lambda's payload limit but whose event would not: the event
    Lambda is invoked with carries the body in base64 unless its content type is text (4/3 of its bytes:
    Function URLs and the HTTP API encode it so), beside the headers and the request target. (The event's
    own fields add about 1 KB more.)"""
    textual = is_textual(headers.get("content-type") or "")
    carried = len(body) if textual else 4 * ((len(body) + 2) // 3)
    rest = len(target.encode()) + sum(len(name.encode()) + len(value.encode()) for name, value in headers.items())
    if carried + rest > limit.size:
        how = "" if textual else ", base64-encoded as the content type is not text"
        raise RequestError(
            413,
            f"The request ({carried + rest:,} bytes as Lambda's event carries it: {carried:,} of body{how}, "
            f"{rest:,} of headers and path) is larger than {limit.where} allows: at most {limit.size:,} bytes.",
            limit=limit.size,
            cloud=limit.cloud,
        )


def too_large(limit: Limit, size: str) -> RequestError:
    return RequestError(
        413,
        f"The body ({size}) is larger than {limit.what} may be: at most {limit.describe()}.",
        limit=limit.size,
        cloud=limit.cloud,
    )


def _read_exactly(rfile: BufferedIOBase, size: int, declared: str) -> bytes:
    body = bytearray()
    try:
        while len(body) < size:
            chunk = rfile.read1(min(size - len(body), _READ))
            if not chunk:
                break
            body += chunk
    except (TimeoutError, OSError):
        pass  # a stalled sender: answered as a short body
    if len(body) < size:
        raise RequestError(400, f"The body ended after {len(body):,} of the {size:,} bytes {declared}.")
    return bytes(body)


def _read_chunked(rfile: BufferedIOBase, limit: Limit) -> bytes:
    body = bytearray()
    while True:
        size = _chunk_size(_line(rfile, "a chunk size"))
        if size == 0:
            _skip_trailers(rfile)
            return bytes(body)
        if len(body) + size > limit.size:
            raise too_large(limit, f"more than {limit.size:,} bytes in chunks")
        body += _read_exactly(rfile, size, "its chunk size declares")
        if _line(rfile, "the end of a chunk") not in (b"\r\n", b"\n"):
            raise RequestError(400, "A chunk holds more bytes than its size line says (no CRLF after it).")


def _chunk_size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip().decode("latin-1")
    if not text or len(text) > 15 or not _HEX.issuperset(text):
        raise RequestError(400, f"Chunk size {text[:40]!r} is not a hexadecimal number (chunked encoding).")
    return int(text, 16)


def _skip_trailers(rfile: BufferedIOBase) -> None:
    for _ in range(MAX_TRAILERS):
        if _line(rfile, "the chunked trailer") in (b"\r\n", b"\n"):
            return
    raise RequestError(400, f"The chunked body has more than {MAX_TRAILERS} trailer lines.")


def _line(rfile: BufferedIOBase, what: str) -> bytes:
    try:
        line = rfile.readline(MAX_LINE + 1)
    except (TimeoutError, OSError):
        line = b""
    if not line.endswith(b"\n"):
        problem = "is too long" if len(line) > MAX_LINE else "never came"
        raise RequestError(400, f"The chunked body is cut short: {what} {problem}.")
    return line
