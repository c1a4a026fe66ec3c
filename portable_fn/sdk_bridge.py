"""Convert between portable-fn's `CloudEvent` and the `cloudevents` SDK's event objects.

Users who already hold SDK events (functions-framework hands out 1.x events, new code may use 2.x) pass
them through here. Both SDK lines are supported, and the SDK is imported only when a conversion runs, so
the runtime never pays for it:

- 1.x: `cloudevents.http.CloudEvent` (any `cloudevents.abstract.CloudEvent` is read); `time` is a string.
  2.x still ships this API as `cloudevents.v1.http`, so `line=1` works with either line installed.
- 2.x: `cloudevents.core.v1.event.CloudEvent`; `time` is a datetime.

Attributes, extensions and data are carried over unchanged (bytes stay bytes); `time` comes back as an
RFC 3339 string. Both SDK constructors invent `id` and `time` when they are absent; the bridge removes
an invented `time` again so an event without one stays without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .runtime.cloudevent import CloudEvent, from_attributes
from .runtime.errors import InvalidEventError, PortableFnError

_INSTALL_HINT = "run `pip install cloudevents` (or `pip install 'cloudevents>=2'` for the 2.x line)"


class SdkNotInstalledError(PortableFnError, ImportError):
    """The `cloudevents` SDK line a conversion needs is not installed."""


def installed_line() -> int:
    """The major version line of the installed `cloudevents` SDK: 1 or 2."""
    try:
        import cloudevents.core.v1.event  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        pass
    else:
        return 2
    try:
        import cloudevents.http  # noqa: F401
    except ImportError:
        raise SdkNotInstalledError(
            f"Converting CloudEvents to or from SDK objects needs the `cloudevents` SDK: {_INSTALL_HINT}."
        ) from None
    return 1


def to_sdk(event: CloudEvent[Any], line: int | None = None) -> Any:
    """The SDK event for `event`: a 1.x `cloudevents.http.CloudEvent` or a 2.x `cloudevents.core` one.

    `line` picks 1 or 2; by default the installed SDK's own line.
    """
    found = installed_line()
    wanted = found if line is None else line
    if wanted == 2:
        if found != 2:
            raise SdkNotInstalledError(
                f"to_sdk(line=2) needs the cloudevents 2.x SDK, but 1.x is installed; {_INSTALL_HINT}."
            )
        return _to_sdk_2(event)
    if wanted == 1:
        return _to_sdk_1(event, found)
    raise ValueError(f"to_sdk(line={line!r}): line must be 1 or 2 (the cloudevents SDK major version).")


def from_sdk(obj: Any) -> CloudEvent[Any]:
    """Our CloudEvent for an SDK event of either line (anything with `get_attributes()`/`get_data()`)."""
    get_attributes = getattr(obj, "get_attributes", None)
    get_data = getattr(obj, "get_data", None)
    if get_attributes is None or get_data is None:
        raise InvalidEventError(
            f"from_sdk() expects a cloudevents SDK event (1.x or 2.x), got {type(obj).__name__}; "
            "for a dict in the JSON event format use CloudEvent.from_dict()."
        )
    attrs = _plain_attributes(get_attributes())
    return from_attributes(attrs, get_data())


def _plain_attributes(sdk_attrs: Mapping[str, Any]) -> dict[str, Any]:
    """SDK attributes as ours: absent (None) values dropped; a datetime `time` is kept for CloudEvent()
    to write as RFC 3339 (2.x and the 1.x pydantic events hold datetimes, 1.x http events strings)."""
    return {name: value for name, value in sdk_attrs.items() if value is not None}


def _to_sdk_1(event: CloudEvent[Any], found: int) -> Any:
    if found == 2:
        from cloudevents.v1.http import CloudEvent as SdkCloudEvent  # type: ignore[import-not-found, unused-ignore]
    else:
        from cloudevents.http import CloudEvent as SdkCloudEvent
    sdk = SdkCloudEvent(event.attributes(), event.data)
    if event.time is None:
        del sdk["time"]  # the 1.x constructor invents a time; ours had none
    return sdk


def _to_sdk_2(event: CloudEvent[Any]) -> Any:
    from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent  # type: ignore[import-not-found, unused-ignore]

    attrs = event.attributes()
    if event.time is not None:
        attrs["time"] = event.timestamp
    sdk = SdkCloudEvent(attrs, event.data)
    if event.time is None:
        # The 2.x constructor invents a time and offers no way to delete it; get_attributes() is its
        # live attribute dict (2.x has no setters at all), so the invented time is removed there.
        sdk.get_attributes().pop("time", None)
    return sdk


__all__ = ["SdkNotInstalledError", "from_sdk", "installed_line", "to_sdk"]
