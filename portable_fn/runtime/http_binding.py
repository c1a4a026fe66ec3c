"""The CloudEvents HTTP protocol binding: binary, structured and batch modes, in both directions.

Headers go in as any mapping (any case); headers come out as a plain dict with lowercase names, ready
for any HTTP library. Header values are percent-encoded as the binding requires (space, `"`, `%` and
everything outside printable ASCII, as UTF-8).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from json import loads as _json_loads
from typing import Any
from urllib.parse import quote, unquote

from .cloudevent import (
    CONTEXT_ATTRIBUTES,
    CloudEvent,
    _from_json_object,
    _jsonable,
    dumps,
    from_attributes,
    is_json_content_type,
    json_bytes,
    loads,
    parse_json,
)
from .errors import InvalidEventError

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
OCTETS = "application/octet-stream"
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # bytes that make a body binary, not text
_CONTROL_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')


def is_cloudevent(headers: Mapping[str, str]) -> bool:
    """True when an HTTP message carries a CloudEvent in any mode."""
    lower = _lower(headers)
    return "ce-specversion" in lower or lower.get("content-type", "").lstrip().lower().startswith(
        ("application/cloudevents+", "application/cloudevents-batch+")
    )


def mode(headers: Mapping[str, str]) -> str | None:
    """'binary', 'structured', 'batch', or None when the message is not a CloudEvent."""
    return _mode(_lower(headers))


def _mode(lower: dict[str, str]) -> str | None:
    media = lower.get("content-type", "").split(";", 1)[0].strip().lower()
    if media.startswith("application/cloudevents-batch+"):
        return "batch"
    if media.startswith("application/cloudevents+"):
        return "structured"
    return "binary" if "ce-specversion" in lower else None


def from_http(headers: Mapping[str, str], body: bytes | str | None) -> CloudEvent[Any]:
    """Read one CloudEvent from an HTTP message in binary or structured mode."""
    attrs: dict[str, Any] = {}
    content_type = None
    for name, value in headers.items():  # one pass: lowercase, pick ce- headers and the content type
        name = name.lower()
        if name[:3] == "ce-":
            if value.__class__ is not str:
                value = str(value)
            attrs[name[3:]] = _decode_header(name, value) if "%" in value else value
        elif name == "content-type":
            content_type = value
    if content_type is not None and content_type[:24].lower() == "application/cloudevents+":
        return _from_structured(content_type, body)
    if "specversion" in attrs:
        if content_type is not None:
            attrs["datacontenttype"] = content_type
        return from_attributes(attrs, decode_data(content_type, body))
    if content_type is not None and content_type[:30].lower() == "application/cloudevents-batch+":
        raise InvalidEventError("This HTTP message holds a batch of CloudEvents; read it with from_http_batch().")
    raise InvalidEventError(
        "The HTTP message is not a CloudEvent: it has no 'ce-specversion' header (binary mode) and "
        f"its Content-Type is not '{STRUCTURED}' (structured mode).",
        "specversion",
    )


def from_http_batch(headers: Mapping[str, str], body: bytes | str | None) -> list[CloudEvent[Any]]:
    """Read a batch-mode message; a single-event message is returned as a one-item list."""
    lower = _lower(headers)
    if _mode(lower) != "batch":
        return [from_http(lower, body)]
    items = loads(body or b"", "The CloudEvents batch body")
    if not isinstance(items, list):
        raise InvalidEventError("A CloudEvents batch body must be a JSON array of events.")
    events = []
    for index, item in enumerate(items):
        try:
            events.append(CloudEvent.from_dict(item))
        except InvalidEventError as exc:  # the whole batch is refused: say which event, of how many
            raise InvalidEventError(f"Event {index} of the batch of {len(items)}: {exc}", exc.attribute) from None
    return events


def to_binary(event: CloudEvent[Any]) -> tuple[dict[str, str], bytes]:
    """Binary mode: attributes as `ce-` headers, data as the body."""
    headers: dict[str, str] = {}
    for name, value in event.attributes().items():
        if name == "datacontenttype":
            headers["content-type"] = value
        elif (
            value.__class__ is str
            and value.isascii()
            and value.isprintable()
            and " " not in value
            and ('"' not in value and "%" not in value)
        ):
            headers["ce-" + name] = value  # nothing to percent-encode (nearly always)
        else:
            headers["ce-" + name] = encode_header_value(value)
    body, content_type = _encode_data(event)
    if content_type and "content-type" not in headers:
        headers["content-type"] = content_type
    return headers, body


def to_structured(event: CloudEvent[Any]) -> tuple[dict[str, str], bytes]:
    """Structured mode: the whole event in the JSON event format as the body."""
    return {"content-type": STRUCTURED}, json_bytes(event.to_json())


def to_batch(events: Iterable[CloudEvent[Any]]) -> tuple[dict[str, str], bytes]:
    """Batch mode: a JSON array of events in the JSON event format."""
    body = dumps([e.to_dict() for e in events])
    return {"content-type": BATCH}, json_bytes(body)


def encode_header_value(value: Any) -> str:
    """Percent-encode an attribute value for an HTTP header, as the binding requires."""
    if type(value) is str:  # nearly every attribute: skip the conversions below
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, bytes):
        import base64

        text = base64.b64encode(value).decode("ascii")
    else:
        text = str(value)
    if text.isascii() and text.isprintable() and " " not in text and '"' not in text and ("%" not in text):
        return text
    return quote(text, safe=_SAFE, errors="backslashreplace")  # a lone surrogate (no UTF-8 holds it) as `\udc00`


def utf8_header_value(value: str) -> str:
    """A header value a server read as latin-1 (WSGI, the standard library's http.server), read again as
    the UTF-8 it was sent in; kept as it is when it is not UTF-8."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def decode_header_value(value: str) -> str:
    """Undo the binding's percent-encoding (UTF-8)."""
    return unquote(value, errors="strict") if "%" in value else value


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _decode_header(name: str, value: str) -> str:
    try:
        return decode_header_value(value)
    except UnicodeDecodeError:
        raise InvalidEventError(f"Header '{name}' is not valid percent-encoded UTF-8.", name[3:]) from None


def _from_structured(content_type: str, body: bytes | str | None) -> CloudEvent[Any]:
    media = content_type.split(";", 1)[0].strip().lower()
    if media != STRUCTURED:
        raise InvalidEventError(
            f"Structured CloudEvents in format {media!r} are not supported; send '{STRUCTURED}' or use binary mode.",
            "datacontenttype",
        )
    obj = loads(body or b"", "The structured CloudEvent body")
    return _from_json_object(obj) if obj.__class__ is dict else CloudEvent.from_dict(obj)


def decode_data(content_type: str | None, body: bytes | str | None) -> Any:
    """Binary-mode data: JSON media types are parsed, text is decoded, anything else stays bytes."""
    if body is None or body == b"" or body == "":
        return None
    if content_type is None:
        return body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if is_json_content_type(content_type):
        try:
            return _json_loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return loads(body, f"The body (Content-Type {content_type!r})")  # raises, saying where
    if content_type.lower().startswith("text/") or "charset=" in content_type.lower():
        return body if isinstance(body, str) else _decode_text(bytes(body), content_type)
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def undeclared_data(body: bytes | str | None) -> tuple[Any, str | None]:
    """`(data, datacontenttype)` of a message whose sender declared no media type, read alike on every
    cloud and the dev host: JSON when it parses, UTF-8 text without control characters (tab and line
    breaks aside) as `str`, anything else as the bytes, `application/octet-stream`. Empty: no data."""
    if not body:
        return None, None
    try:  # JSON after a byte order mark too, as Python reads JSON bytes (an SQS body is already text)
        return parse_json(body[1:] if isinstance(body, str) and body[0] == "\ufeff" else body), JSON
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        pass
    if isinstance(body, str):  # text already (an SQS or SNS body): bytes only if it holds control characters
        return (body, TEXT) if _CONTROL_TEXT.search(body) is None else (body.encode("utf-8"), OCTETS)
    raw = bytes(body)
    if _CONTROL.search(raw) is None:
        try:
            return raw.decode("utf-8"), TEXT
        except UnicodeDecodeError:
            pass
    return raw, OCTETS


def _charset(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return "utf-8"


def _decode_text(body: bytes, content_type: str) -> str:
    try:
        return body.decode(_charset(content_type))
    except (LookupError, UnicodeDecodeError) as exc:
        raise InvalidEventError(
            f"The body cannot be read as text with Content-Type {content_type!r}: {exc}.",
            "datacontenttype",
        ) from None


def _encode_text(data: str, content_type: str) -> bytes:
    try:
        return data.encode(_charset(content_type))
    except (LookupError, UnicodeEncodeError) as exc:
        raise InvalidEventError(
            f"The event data cannot be written as text with datacontenttype {content_type!r}: {exc}; "
            "fix the charset or send the data as bytes.",
            "datacontenttype",
        ) from None


def _encode_data(event: CloudEvent[Any]) -> tuple[bytes, str | None]:
    data = event.data
    if data is None:
        return b"", None
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data), None
    if isinstance(data, str) and not is_json_content_type(event.datacontenttype):
        return _encode_text(data, event.datacontenttype or ""), None
    return json_bytes(dumps(_jsonable(data))), "application/json"


__all__ = [
    "BATCH",
    "STRUCTURED",
    "CONTEXT_ATTRIBUTES",
    "decode_data",
    "decode_header_value",
    "encode_header_value",
    "from_http",
    "from_http_batch",
    "is_cloudevent",
    "mode",
    "to_batch",
    "to_binary",
    "to_structured",
    "utf8_header_value",
]
