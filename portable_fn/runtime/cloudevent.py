"""The CloudEvents 1.0 envelope: one small immutable event type and its JSON event format.

Why our own type and not the `cloudevents` SDK's: this module ships inside every deployed function, so it
imports the standard library only and costs almost nothing at cold start. `portable_fn.sdk_bridge`
converts to and from the SDK's objects (1.x and 2.x lines) for users who hold those.

Attributes are kept exactly as received (`time` stays the producer's RFC 3339 string), so an event that
crosses clouds arrives byte-for-byte the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .errors import InvalidEventError

if TYPE_CHECKING:  # datetime is imported only when a datetime is actually used
    from datetime import datetime

T = TypeVar("T")

SPECVERSION = "1.0"
REQUIRED = ("id", "source", "type", "specversion")
OPTIONAL = ("datacontenttype", "dataschema", "subject", "time")
CONTEXT_ATTRIBUTES = frozenset(REQUIRED + OPTIONAL)
_RESERVED = CONTEXT_ATTRIBUTES | {"data", "data_base64"}
FIELDS = (
    "id",
    "source",
    "type",
    "specversion",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
    "extensions",
    "data",
)  # what an event is made of: equality and replace() compare and copy these
# The shape of RFC 3339 with field ranges built in; only the month-days in ODD_DAYS need a calendar check
# after it (one set lookup for every other time, including the 29th-31st of the months that have them).
# For decoders that check a time inline on their hot path: a string `t` is a valid time when
# `rfc3339_shape(t) and t[5:10] not in ODD_DAYS`; otherwise `CloudEvent(time=t)` says whether and why not.
rfc3339_shape = re.compile(
    r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9]:"
    r"(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z"
).match
ODD_DAYS = frozenset({"02-29", "02-30", "02-31", "04-31", "06-31", "09-31", "11-31"})  # "MM-DD"
_fraction = re.compile(r"(?<=\.)[0-9]+")  # of a second, in a valid time
# RFC 3986's characters (unreserved, reserved and '%'): one character-class match is the whole cost of
# checking a usual `source`; the rarer rules (percent-encoding, scheme, brackets) run only when needed.
_uri_chars = re.compile(r"[-A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%]+\Z").match
_uri_scheme = re.compile(r"[A-Za-z][-A-Za-z0-9+.]*\Z").match
_bad_percent = re.compile(r"%(?![0-9A-Fa-f]{2})").search
_MISSING: Any = object()


def is_json_content_type(content_type: str | None) -> bool:
    """True for `application/json`, `text/json` and any `+json` media type (parameters ignored)."""
    if content_type is None or content_type == "application/json":
        return True  # absent means application/json, says the JSON format; the common case needs no parse
    media = content_type.split(";", 1)[0].strip().lower()
    return media.endswith("/json") or media.endswith("+json")


class CloudEvent(Generic[T]):
    """An immutable CloudEvents 1.0 event. `CloudEvent[Order]` annotates a handler whose data is an Order.

    >>> e = CloudEvent(id="1", source="/orders", type="com.example.order.created", data={"id": 7})
    >>> e.specversion, e.data
    ('1.0', {'id': 7})
    """

    # `time` is a property over `_time`, which may hold a time a decoder has not formatted yet.
    __slots__ = (
        "id",
        "source",
        "type",
        "specversion",
        "datacontenttype",
        "dataschema",
        "subject",
        "_time",
        "extensions",
        "data",
    )
    id: str
    source: str
    type: str
    specversion: str
    datacontenttype: str | None
    dataschema: str | None
    subject: str | None
    _time: str | _DeferredTime | None
    extensions: Mapping[str, Any]
    data: T

    def __init__(
        self,
        *,
        id: str,
        source: str,
        type: str,
        specversion: str = SPECVERSION,
        data: Any = None,
        datacontenttype: str | None = None,
        dataschema: str | None = None,
        subject: str | None = None,
        time: str | datetime | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        time, extensions = _validate(
            id, source, type, specversion, datacontenttype, dataschema, subject, time, extensions, True
        )
        self._store(id, source, type, specversion, datacontenttype, dataschema, subject, time, extensions, data)

    @classmethod
    def _trusted(
        cls,
        id: str,
        source: str,
        type: str,
        specversion: str,
        datacontenttype: str | None,
        dataschema: str | None,
        subject: str | None,
        time: str | _DeferredTime | None,
        extensions: Mapping[str, Any],
        data: Any,
    ) -> CloudEvent[Any]:
        """An event of attributes its caller has checked already (the decoders below, `with_data`),
        passed positionally: a decoder builds one per record and pays for no keyword parsing."""
        event = object.__new__(cls)
        event._store(id, source, type, specversion, datacontenttype, dataschema, subject, time, extensions, data)
        return event

    def _store(
        self,
        id: str,
        source: str,
        type: str,
        specversion: str,
        datacontenttype: str | None,
        dataschema: str | None,
        subject: str | None,
        time: str | _DeferredTime | None,
        extensions: Mapping[str, Any],
        data: Any,
    ) -> None:
        """The one place an event is written, once, while it is made: past this class's own `__setattr__`,
        as the `__init__` of a frozen dataclass writes its fields."""
        write = object.__setattr__
        write(self, "id", id)
        write(self, "source", source)
        write(self, "type", type)
        write(self, "specversion", specversion)
        write(self, "datacontenttype", datacontenttype)
        write(self, "dataschema", dataschema)
        write(self, "subject", subject)
        write(self, "_time", time)
        write(self, "extensions", extensions)
        write(self, "data", data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"CloudEvent is immutable; use .replace({name}=...) to get a changed copy.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("CloudEvent is immutable.")

    @property
    def time(self) -> str | None:
        """When the occurrence happened, as the producer wrote it (RFC 3339), or None."""
        time = self._time
        return time.text() if isinstance(time, _DeferredTime) else time

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CloudEvent):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in FIELDS)

    __hash__ = None  # type: ignore[assignment]  # data may be mutable

    def __repr__(self) -> str:
        attrs = ", ".join(f"{k}={v!r}" for k, v in self.attributes().items())
        return f"CloudEvent({attrs}, data={self.data!r})"

    def __reduce__(self) -> Any:
        return (_rebuild, (self.attributes(), self.data))

    def attributes(self) -> dict[str, Any]:
        """Context attributes and extensions that are set, as one flat dict (no data)."""
        out: dict[str, Any] = {"specversion": self.specversion, "id": self.id, "source": self.source, "type": self.type}
        if self.datacontenttype is not None:  # unrolled: this runs for every event encoded
            out["datacontenttype"] = self.datacontenttype
        if self.dataschema is not None:
            out["dataschema"] = self.dataschema
        if self.subject is not None:
            out["subject"] = self.subject
        time = self.time
        if time is not None:
            out["time"] = time
        if self.extensions:
            out.update(self.extensions)
        return out

    def get(self, name: str, default: Any = None) -> Any:
        """Any attribute or extension by its CloudEvents name."""
        if name in CONTEXT_ATTRIBUTES:
            value = getattr(self, name)
            return default if value is None else value
        return self.extensions.get(name, default)

    def replace(self, **changes: Any) -> CloudEvent[Any]:
        """A copy with some attributes, extensions (`extensions=`) or the data changed."""
        fields = {name: getattr(self, name) for name in FIELDS}
        unknown = set(changes) - set(fields)
        if unknown:
            raise TypeError(f"CloudEvent.replace() got unknown fields {sorted(unknown)}")
        fields.update(changes)
        return CloudEvent(**fields)

    def with_data(self, data: Any) -> CloudEvent[Any]:
        """The same event carrying other data (its attributes are valid already, so none is re-checked)."""
        return CloudEvent._trusted(
            self.id,
            self.source,
            self.type,
            self.specversion,
            self.datacontenttype,
            self.dataschema,
            self.subject,
            self._time,
            self.extensions,
            data,
        )

    @property
    def timestamp(self) -> datetime | None:
        """`time` as an aware datetime (None when the event has no time)."""
        return None if self.time is None else parse_rfc3339(self.time)

    @property
    def dedup_key(self) -> tuple[str, str]:
        """`(source, id)`: what identifies an event across redeliveries."""
        return (self.source, self.id)

    # -- JSON event format ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON event format as a dict: bytes go to `data_base64`, JSON data stays structured."""
        out = self.attributes()
        if self.extensions:
            for name, value in self.extensions.items():
                if isinstance(value, bytes):  # the JSON format writes Binary attributes as base64
                    out[name] = _base64(value)
        data = self.data
        if data is None:
            return out
        if data.__class__ is dict:
            out["data"] = data
        elif isinstance(data, (bytes, bytearray, memoryview)):
            out["data_base64"] = _base64(bytes(data))
        else:
            out["data"] = _jsonable(data)
        return out

    def to_json(self) -> str:
        """The JSON event format as a string."""
        return dumps(self.to_dict())

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> CloudEvent[Any]:
        """Read the JSON event format from an already-decoded mapping."""
        if not isinstance(obj, Mapping):
            raise InvalidEventError(f"A CloudEvent in JSON format must be an object, got {type(obj).__name__}.")
        return _from_json_object(dict(obj))

    @classmethod
    def from_json(cls, text: str | bytes) -> CloudEvent[Any]:
        """Read one event in the JSON event format."""
        obj = loads(text, "a structured CloudEvent")
        return _from_json_object(obj) if obj.__class__ is dict else cls.from_dict(obj)


def _from_json_object(attrs: dict[str, Any]) -> CloudEvent[Any]:
    """The JSON event format from a dict this module may consume (it is changed in place)."""
    data = attrs.pop("data", _MISSING)
    data_b64 = attrs.pop("data_base64", _MISSING)
    if data is not _MISSING and data_b64 is not _MISSING:
        raise InvalidEventError("A CloudEvent has both 'data' and 'data_base64'; send only one.", "data_base64")
    if data_b64 is not _MISSING:
        data = _decode_base64(data_b64)
    elif data is _MISSING:
        data = None
    if "specversion" not in attrs:
        raise InvalidEventError("CloudEvent attribute 'specversion' is missing; set it to '1.0'.", "specversion")
    return from_attributes(attrs, data)


_EMPTY: Mapping[str, Any] = {}


class _DeferredTime:
    """A time a decoder has checked but not formatted: `format(raw)`, made on the first read of
    `event.time` only (a handler that never reads the time never pays for it)."""

    __slots__ = ("format", "raw", "formatted")

    def __init__(self, format: Callable[[Any], str], raw: Any) -> None:
        self.format, self.raw = format, raw
        self.formatted: str | None = None

    def text(self) -> str:
        if self.formatted is None:
            self.formatted = self.format(self.raw)
        return self.formatted


def _validate(
    id: Any,
    source: Any,
    type: Any,
    specversion: Any,
    datacontenttype: Any,
    dataschema: Any,
    subject: Any,
    time: Any,
    extensions: Any,
    copy: bool,
) -> tuple[str | None, Mapping[str, Any]]:
    """Check every attribute as `CloudEvent(...)` does and return the time (an RFC 3339 string) and the
    extensions (copied with `copy`) as the event keeps them. Positional, so a decoder does not pay for
    keyword parsing; the common case is one inline test per attribute, the reasons come from `_reject_*`."""
    if not (
        id
        and source
        and type
        and id.__class__ is str
        and source.__class__ is str
        and type.__class__ is str
        and uri_problem(source) is None
    ):
        _reject_required(id, source, type)
    if specversion != SPECVERSION:
        raise InvalidEventError(
            f"CloudEvent attribute 'specversion' must be '1.0', got {specversion!r}; "
            "only CloudEvents 1.0 is supported.",
            "specversion",
        )
    if not (
        (datacontenttype is None or (datacontenttype.__class__ is str and datacontenttype))
        and dataschema is None
        and (subject is None or (subject.__class__ is str and subject))
    ):
        _reject_optional(datacontenttype, dataschema, subject)
    if time is not None and not (time.__class__ is str and rfc3339_shape(time) and time[5:10] not in ODD_DAYS):
        time = _check_time(time)
    return time, (_check_extensions(extensions, copy) if extensions else _EMPTY)


def checked(
    id: Any,
    source: Any,
    type: Any,
    specversion: Any,
    datacontenttype: Any,
    dataschema: Any,
    subject: Any,
    time: Any,
    extensions: Any,
    data: Any,
) -> CloudEvent[Any]:
    """`CloudEvent(...)` for decoders: every attribute checked as the constructor checks it (the
    extensions copied), passed positionally so a decoder does not pay for keyword parsing per event."""
    time, extensions = _validate(
        id, source, type, specversion, datacontenttype, dataschema, subject, time, extensions, True
    )
    return CloudEvent._trusted(
        id, source, type, specversion, datacontenttype, dataschema, subject, time, extensions, data
    )


def _reject_required(*values: Any) -> None:
    for name, value in zip(("id", "source", "type"), values):
        if not isinstance(value, str) or not value:
            raise InvalidEventError(
                f"CloudEvent attribute '{name}' is required and must be a non-empty string, got {value!r}.",
                name,
            )
    problem = uri_problem(values[1])
    if problem is not None:
        raise InvalidEventError(
            f"CloudEvent attribute 'source' must be a URI-reference (RFC 3986) such as '/orders' or "
            f"'https://example.com/orders', got {values[1]!r}: {problem}.",
            "source",
        )


def _reject_optional(*values: Any) -> None:
    """Raise for the first optional attribute that is set but not a non-empty string (if any is)."""
    for name, value in zip(("datacontenttype", "dataschema", "subject"), values):
        if not (value is None or (isinstance(value, str) and value)):
            raise InvalidEventError(
                f"CloudEvent attribute '{name}' must be a non-empty string when present, got {value!r}.",
                name,
            )
    schema = values[1]
    problem = None if schema is None else uri_problem(schema, absolute=True)
    if problem is not None:
        raise InvalidEventError(
            f"CloudEvent attribute 'dataschema' must be an absolute URI (RFC 3986) such as "
            f"'https://example.com/schemas/order.json', got {schema!r}: {problem}.",
            "dataschema",
        )


def uri_problem(text: str, absolute: bool = False) -> str | None:
    """Why `text` is not an RFC 3986 URI-reference (with `absolute`, a URI: one with a scheme), or None
    when it is one."""
    if _uri_chars(text) is None:
        bad = next((c for c in text if _uri_chars(c) is None), "")
        return f"it holds {bad!r}, which must be percent-encoded" if bad else "it is empty"
    colon = text.find(":")
    if colon < 0 or _uri_scheme(text, 0, colon) is None:  # no scheme: no ':' before the first '/?#'
        head = text[:colon]
        if colon >= 0 and "/" not in head and "?" not in head and "#" not in head:
            return f"its scheme {head!r} must start with a letter and hold only letters, digits, '+', '-' and '.'"
        if absolute:
            return "it has no scheme (such as 'https:')"
    if "%" in text or "#" in text or "[" in text or "]" in text:
        return _rare_problem(text)
    return None


def _rare_problem(text: str) -> str | None:
    """The rules for '%', '#', '[' and ']', which most URIs do not hold."""
    if "%" in text and _bad_percent(text):
        return "a '%' is not followed by two hexadecimal digits"
    if text.count("#") > 1:
        return "it holds more than one '#'"
    if "[" in text or "]" in text:
        return _bracket_problem(text)
    return None


def uri_reference(text: str) -> str:
    """`text` as a URI-reference: as is when it is one, else with each character RFC 3986 does not allow
    (and each '%' that starts no escape) percent-encoded. For a `source` a decoder takes from a native
    field (an ARN, an EventBridge source) that the cloud does not promise to be a URI."""
    if uri_problem(text) is None:
        return text
    from urllib.parse import quote

    return quote(text, safe="-._~:/?#@!$&'()*+,;=")


def _bracket_problem(text: str) -> str | None:
    """'[' and ']' belong only around an IP literal host (`//[::1]:8080/`)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
    except ValueError:
        return "its '[' ']' do not enclose an IP address host"
    rest = parts.path + parts.query + parts.fragment
    if "[" in rest or "]" in rest or "[" not in parts.netloc:
        return "'[' and ']' may only enclose an IP address host"
    return None


def from_attributes(attrs: Mapping[str, Any], data: Any = None) -> CloudEvent[Any]:
    """Build an event from one flat attribute mapping (context attributes and extensions mixed)."""
    get = attrs.get
    if "specversion" not in attrs or "id" not in attrs or "source" not in attrs or "type" not in attrs:
        missing = next(name for name in REQUIRED if name not in attrs)
        raise InvalidEventError(
            f"CloudEvent attribute '{missing}' is missing; every CloudEvent needs "
            "'id', 'source', 'type' and 'specversion'.",
            missing,
        )
    given = {k: v for k, v in attrs.items() if k not in CONTEXT_ATTRIBUTES} if len(attrs) > 4 else None
    id, source, type, specversion = attrs["id"], attrs["source"], attrs["type"], attrs["specversion"]
    datacontenttype, dataschema, subject = get("datacontenttype"), get("dataschema"), get("subject")
    time, extensions = _validate(
        id, source, type, specversion, datacontenttype, dataschema, subject, get("time"), given, False
    )  # `given` is a new dict already: not copied
    return CloudEvent._trusted(
        id, source, type, specversion, datacontenttype, dataschema, subject, time, extensions, data
    )


def from_native(
    id: Any,
    source: Any,
    type: str,
    datacontenttype: str | None,
    time: str | tuple[Callable[[Any], str], Any] | None,
    extensions: Mapping[str, Any] | None,
    data: Any,
    subject: str | None = None,
) -> CloudEvent[Any]:
    """An event a provider decoder maps from a native record, per record on its hot path: positional,
    and `type`, `datacontenttype`, `time` and `subject` must be the decoder's own valid values (a
    constant, an RFC 3339 string it formatted or checked, a non-empty string), so only `id`, `source` and
    the extensions (kept, not copied) are checked.

    `time` may be a `(format, raw)` pair: `format(raw)`, a valid RFC 3339 string that cannot fail (the
    decoder checked `raw`), is then made on the first read of `event.time`, not for every record."""
    if not (id and source and id.__class__ is str and source.__class__ is str):
        _reject_required(id, source, type)
    source = _native_source(source)
    kept = _DeferredTime(*time) if isinstance(time, tuple) else time
    return CloudEvent._trusted(
        id,
        source,
        type,
        SPECVERSION,
        datacontenttype,
        None,
        subject,
        kept,
        _check_extensions(extensions, False) if extensions else _EMPTY,
        data,
    )


@lru_cache(maxsize=256)  # a queue's or topic's records share their source: it is checked once
def _native_source(source: str) -> str:
    """A source a decoder took from a native field, which the cloud does not promise to be a URI-reference: as
    is, or percent-encoded ("my app" -> "my%20app", as `replace()` then takes it); what encoding cannot mend
    ("::::") is an InvalidEventError, which fails the record alone."""
    if uri_problem(source) is None:
        return source
    encoded = uri_reference(source)
    _reject_required("id", encoded, "type")
    return encoded


def loads(text: str | bytes, what: str) -> Any:
    """json.loads with an InvalidEventError that says what was being read and where it broke."""
    try:
        return parse_json(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEventError(f"{what} is not valid JSON: {exc}.") from None
    except RecursionError:
        raise InvalidEventError(
            f"{what} nests JSON arrays and objects too deeply to read; send a flatter document."
        ) from None


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 time as an aware datetime, on every supported Python: 3.10's `fromisoformat` reads a
    fraction of 3 or 6 digits only, where RFC 3339 allows any number (3.11+ truncates to microseconds).
    Raises ValueError for text that is no such time."""
    from datetime import datetime

    text = text.replace("z", "Z").replace("Z", "+00:00")
    if text[17:19] == "60":  # a leap second, which RFC 3339 allows and datetime cannot hold: its last microsecond
        rest = text[19:]
        text = text[:17] + "59.999999" + rest[len(rest) - len(rest.lstrip(".0123456789")) :]
    return datetime.fromisoformat(_fraction.sub(lambda f: f[0][:6].ljust(6, "0"), text, count=1))


def parse_json(text: str | bytes) -> Any:
    """`json.loads(text)`, the same value and errors, and a ValueError for arrays and objects nested deeper
    than MAX_JSON_DEPTH (`nested_too_deep`). A body that starts with its JSON value and is plain UTF-8 (what
    every cloud sends) is read with `JSONDecoder.raw_decode`, which skips what json.loads does first on every
    call (encoding detection, two whitespace regexes); anything else goes to json.loads."""
    try:
        value = _parse_json(text)
    except RecursionError:  # deeper than Python reads at all
        value = _TOO_DEEP
    except ValueError as exc:  # Python's limit, not JSON's: say what, not how to lift it (sys.set_int_max_str_digits)
        if "integer string conversion" not in str(exc):
            raise
        raise ValueError(
            "it holds an integer of more than 4,300 digits, which Python does not read; send it as a string"
        ) from None
    # Nesting N levels takes 2N characters: a shorter document (nearly every message) needs no count.
    if value is _TOO_DEEP or (len(text) > 2 * MAX_JSON_DEPTH and nested_too_deep(text)):
        raise ValueError(
            f"it nests arrays and objects too deeply (deeper than {MAX_JSON_DEPTH} levels); send a flatter document"
        )
    return value


_TOO_DEEP = object()


# Python reads JSON nested up to its recursion limit (about 1,000 levels) but cannot always write back what it
# read: writing runs deeper in the stack (a dead letter holding the message, say), so 990 levels were read and
# then crashed the function that dead-lettered them. Every reader stops well below, at the same depth.
MAX_JSON_DEPTH = 500


def nested_too_deep(text: str | bytes) -> bool:
    """Whether JSON `text` nests arrays and objects deeper than MAX_JSON_DEPTH. Counting brackets (in C) says
    at once for all but documents with that many of them; those are walked, strings left out."""
    opening = (b"[", b"{") if text.__class__ is bytes else ("[", "{")
    if text.count(opening[0]) + text.count(opening[1]) <= MAX_JSON_DEPTH:  # type: ignore[arg-type]
        return False
    plain = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRINGS.sub("", plain)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


_JSON_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def _parse_json(text: str | bytes) -> Any:
    cls = text.__class__
    if cls is str or cls is bytes:
        try:
            plain: str = text.decode() if cls is bytes else text  # type: ignore[union-attr,assignment]
        except UnicodeDecodeError:
            return json.loads(text)  # another encoding (UTF-16, UTF-32): json.loads detects it
        # What json.loads would do differently: skip leading whitespace, refuse a BOM, detect UTF-16/32.
        # Its errors for the rest are raw_decode's own, for the same text.
        if plain and plain[0] not in _NOT_A_PLAIN_START and (cls is str or b"\x00" not in text[:4]):
            value, end = _DECODER.raw_decode(plain)
            if end == len(plain):
                return value  # else trailing whitespace or extra data: json.loads says which
    return json.loads(text)


_NOT_A_PLAIN_START = frozenset(" \t\n\r\ufeff")
_DECODER = json.JSONDecoder()  # json.loads' default settings


def dumps(value: Any) -> str:
    """Compact JSON, non-ASCII kept: what `json.dumps(value, ensure_ascii=False, separators=(",", ":"))`
    gives, through one shared encoder instead of a new one per call."""
    return _ENCODER.encode(value)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def json_bytes(text: str) -> bytes:
    """JSON text as the UTF-8 bytes that carry it. A JSON string may hold half of a surrogate pair (`"\\udc00"`,
    which Python reads as a lone surrogate, and UTF-8 cannot encode); it is written back as that escape, so
    a body or dead letter holding one is the same JSON, never an encoding error."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # only inside strings (JSON's own characters are ASCII): `\udc00` is valid there
        return text.encode("utf-8", "backslashreplace")


def _rebuild(attrs: dict[str, Any], data: Any) -> CloudEvent[Any]:
    return from_attributes(attrs, data)


def _check_time(value: str | datetime | None) -> str | None:
    if value is None or (
        type(value) is str and rfc3339_shape(value) and (value[5:10] not in ODD_DAYS or _real_day(value))
    ):
        return value
    from datetime import datetime, timezone

    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat().replace("+00:00", "Z")
    raise InvalidEventError(
        f"CloudEvent attribute 'time' must be an RFC 3339 timestamp such as '2018-04-05T17:31:00Z', got {value!r}.",
        "time",
    )


def _real_day(value: str) -> bool:
    """For a month-day in ODD_DAYS: only February 29th exists, and only in leap years."""
    if value[5:10] != "02-29":
        return False
    year = int(value[:4])
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _check_extensions(extensions: Mapping[str, Any], copy: bool = True) -> Mapping[str, Any]:
    for name, value in extensions.items():
        if (
            value.__class__ is str
            and name.__class__ is str
            and name.isalnum()
            and name.isascii()
            and (name.islower() or name.isdigit())
            and name not in _RESERVED
        ):
            continue  # the common case: a valid name with a string value
        if not isinstance(name, str) or not _is_extension_name(name) or name in _RESERVED:
            raise InvalidEventError(
                f"CloudEvent extension name {name!r} is invalid: names are lowercase letters and "
                "digits only and may not reuse a context attribute name.",
                str(name),
            )
        if value is None:
            raise InvalidEventError(
                f"CloudEvent extension '{name}' is null; omit an extension instead of nulling it.",
                name,
            )
        if not isinstance(value, (str, int, bool, bytes)):
            raise InvalidEventError(
                f"CloudEvent extension '{name}' must be a string, integer, boolean or bytes, "
                f"got {type(value).__name__}.",
                name,
            )
    return dict(extensions) if copy else extensions


def _is_extension_name(name: str) -> bool:
    """`[a-z0-9]+`: ASCII letters and digits with no uppercase (string methods beat a regex here)."""
    return name.isascii() and name.isalnum() and name.lower() == name


def _base64(value: bytes) -> str:
    import base64

    return base64.b64encode(value).decode("ascii")


def _decode_base64(value: Any) -> bytes:
    import base64
    import binascii

    if not isinstance(value, str):
        raise InvalidEventError("CloudEvent 'data_base64' must be a base64 string.", "data_base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidEventError("CloudEvent 'data_base64' is not valid base64.", "data_base64") from None


def _jsonable(data: Any) -> Any:
    """Turn user data (pydantic model, dataclass, plain JSON value) into a JSON value."""
    if type(data) is dict or type(data) is list:  # the common case: already JSON
        return data
    dump = getattr(data, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if hasattr(data, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(data)
    return data
