"""The SDK bridge, and our HTTP binding cross-checked against both lines of the `cloudevents` SDK.

1.x is installed in the test environment and is checked in process. 2.x cannot share a process with
1.x (same package name), so a session fixture installs it once into the pytest cache and this module,
run as a script in a child interpreter with that directory first on PYTHONPATH, checks the cases the
parent generated with hypothesis (`python test_sdk_bridge.py < cases.json`).

Where an SDK departs from the CloudEvents HTTP binding the tests pin that departure down exactly
instead of skipping the case (see `SDK 1.x:` and `SDK 2.x:` comments).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portable_fn.runtime import CloudEvent, InvalidEventError, PortableFnError
from portable_fn.runtime.cloudevent import is_json_content_type, uri_problem
from portable_fn.runtime.http_binding import (
    decode_header_value,
    encode_header_value,
    from_http,
    to_binary,
    to_structured,
)
from portable_fn.sdk_bridge import SdkNotInstalledError, from_sdk, installed_line, to_sdk

SDK2 = "cloudevents==2.2.0"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _wire(data: Any) -> Any:
    """Non-JSON data as the bytes it travels as (SDKs hand text back as str or bytes at will)."""
    return data.encode("utf-8") if isinstance(data, str) else data


def _without_invented_time(attrs: dict[str, Any], event: CloudEvent[Any]) -> dict[str, Any]:
    """SDK constructors add a `time` when there is none; drop it when the source event had none."""
    attrs = {k: v for k, v in attrs.items() if v is not None}
    if event.time is None:
        attrs.pop("time", None)
    return attrs


# == 2.x checks: run in the child interpreter ==========================================================


def check_sdk2(case: dict[str, Any]) -> dict[str, str]:
    """Every check of one case against cloudevents 2.x; returns {check name: failure} (empty: all good)."""
    event = CloudEvent.from_dict(case["event"])
    binary = CloudEvent.from_dict(case["binary"])
    checks: dict[str, Callable[[], None]] = {
        "bridge line 2": lambda: _check_bridge_2(event),
        "bridge line 1 (cloudevents.v1)": lambda: _check_equal(from_sdk(to_sdk(event, line=1)), event),
        "ours binary -> sdk": lambda: _check_ours_to_sdk2(to_binary(event), binary),
        "ours structured -> sdk": lambda: _check_ours_to_sdk2(to_structured(event), event),
        "sdk structured -> ours": lambda: _check_sdk2_to_ours("to_structured", event, event),
    }
    if event.data is None or isinstance(event.data, (dict, bytes)) or (not is_json_content_type(event.datacontenttype)):
        # SDK 2.x: binary mode writes only dicts as JSON; other JSON values go out as str(data), so a
        # list arrives as its Python repr and a JSON string without quotes. Those cannot be checked.
        checks["sdk binary -> ours"] = lambda: _check_sdk2_to_ours("to_binary", event, binary)
    failures = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:  # reported back to the parent with the case
            failures[name] = f"{type(exc).__name__}: {exc}"
    return failures


def _check_equal(got: Any, expected: Any) -> None:
    if got != expected:
        raise AssertionError(f"got {got!r}, expected {expected!r}")


def _same_but_time(got: CloudEvent[Any], expected: CloudEvent[Any]) -> None:
    """Equal events, except that `time` only has to name the same instant (2.x holds a datetime)."""
    _check_equal(got.timestamp, expected.timestamp)
    _check_equal(got.replace(time=None), expected.replace(time=None))


def _check_bridge_2(event: CloudEvent[Any]) -> None:
    sdk = to_sdk(event)
    _check_equal(type(sdk).__module__, "cloudevents.core.v1.event")
    _check_equal(sdk.get_data(), event.data)
    _same_but_time(from_sdk(sdk), event)


def _check_ours_to_sdk2(message: tuple[dict[str, str], bytes], expected: CloudEvent[Any]) -> None:
    from cloudevents.core.bindings import http
    from cloudevents.core.formats.json import JSONFormat

    sdk = http.from_http(http.HTTPMessage(*message), JSONFormat())
    attrs = _without_invented_time(dict(sdk.get_attributes()), expected)
    if "time" in attrs:
        _check_equal(attrs.pop("time"), expected.timestamp)
    _check_equal(attrs, {k: v for k, v in expected.attributes().items() if k != "time"})
    data = sdk.get_data()
    if is_json_content_type(expected.datacontenttype) and not isinstance(expected.data, bytes):
        _check_equal(data, expected.data)
    else:
        _check_equal(_wire(data), _wire(expected.data))  # SDK 2.x: utf-8 decodable bytes come back as str


def _check_sdk2_to_ours(how: str, event: CloudEvent[Any], expected: CloudEvent[Any]) -> None:
    from cloudevents.core.bindings import http
    from cloudevents.core.formats.json import JSONFormat

    message = getattr(http, how)(to_sdk(event), JSONFormat())
    _same_but_time(from_http(message.headers, message.body), expected)


def _sdk2_main() -> None:
    import cloudevents.core

    assert "cloudevents.core" in cloudevents.core.__name__
    cases = json.load(sys.stdin)
    report = {"line": installed_line(), "failures": [], "checked": {}}
    for case in cases:
        failures = check_sdk2(case)
        if failures:
            report["failures"].append({"case": case, "failures": failures})
    report["checked"] = len(cases)
    json.dump(report, sys.stdout)


# == the tests (parent interpreter, cloudevents 1.x installed) ========================================

EVENT = CloudEvent(
    id="1",
    source="/orders",
    type="com.example.order.created",
    subject="ä b%",
    time="2018-04-05T03:56:24Z",
    datacontenttype="application/octet-stream",
    data=b"\x00\xff",
    extensions={"n": 7, "flag": True, "s": "x"},
)


def test_the_1x_line_is_detected() -> None:
    assert installed_line() == 1


def test_to_sdk_makes_a_1x_event_with_everything() -> None:
    from cloudevents.http import CloudEvent as SdkEvent

    sdk = to_sdk(EVENT)
    assert isinstance(sdk, SdkEvent)
    assert dict(sdk.get_attributes()) == EVENT.attributes()
    assert sdk.get_data() == b"\x00\xff"
    assert from_sdk(sdk) == EVENT


def test_to_sdk_invents_no_time() -> None:
    sdk = to_sdk(EVENT.replace(time=None))
    assert "time" not in sdk
    assert from_sdk(sdk).time is None


def test_from_sdk_reads_1x_pydantic_events_and_datetimes() -> None:
    from cloudevents.pydantic import CloudEvent as PydanticEvent

    sdk = PydanticEvent(
        {"id": "1", "source": "/s", "type": "t", "time": "2018-04-05T03:56:24Z", "x": "y"}, data={"a": 1}
    )
    event = from_sdk(sdk)
    # The pydantic event parses time to a datetime and hands it back as isoformat(): "+00:00", not "Z".
    assert event.attributes() == {
        "specversion": "1.0",
        "id": "1",
        "source": "/s",
        "type": "t",
        "time": "2018-04-05T03:56:24+00:00",
        "x": "y",
    }
    assert event.data == {"a": 1}


def test_from_sdk_refuses_what_is_no_sdk_event() -> None:
    with pytest.raises(InvalidEventError, match="from_sdk\\(\\) expects a cloudevents SDK event"):
        from_sdk({"id": "1"})


def test_from_sdk_validates_like_everywhere_else() -> None:
    from cloudevents.http import CloudEvent as SdkEvent

    with pytest.raises(InvalidEventError) as info:
        from_sdk(SdkEvent({"id": "1", "source": "/s", "type": "t", "Bad-Name": "x"}))
    assert info.value.attribute == "bad-name"  # the 1.x SDK lower-cases names


def test_line_2_without_the_2x_sdk_says_what_to_install() -> None:
    with pytest.raises(SdkNotInstalledError, match="pip install 'cloudevents>=2'"):
        to_sdk(EVENT, line=2)
    with pytest.raises(ValueError, match="line must be 1 or 2"):
        to_sdk(EVENT, line=3)


def test_without_the_sdk_the_error_says_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "cloudevents" or n.startswith("cloudevents.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "cloudevents", None)
    with pytest.raises(SdkNotInstalledError, match="pip install cloudevents") as info:
        to_sdk(EVENT)
    assert isinstance(info.value, PortableFnError) and isinstance(info.value, ImportError)


# -- 1.x cross-checks, in process -----------------------------------------------------------------------


@pytest.mark.slow  # 120 events through the real 1.x SDK
@settings(max_examples=120)
@given(st.data())
def test_bridge_round_trips_through_1x(ce: Any, data: st.DataObject) -> None:
    event = data.draw(ce.events())
    assert from_sdk(to_sdk(event)) == event


@pytest.mark.slow  # 120 events through the real 1.x SDK
@settings(max_examples=120)
@given(st.data())
def test_1x_reads_our_binary_mode(ce: Any, data: st.DataObject) -> None:
    from cloudevents.http import from_http as sdk_from_http

    event = data.draw(ce.events(sdk_safe=True, with_absent_type=False))
    headers, body = to_binary(event)
    json_data = is_json_content_type(event.datacontenttype) and not isinstance(event.data, bytes)
    sdk = sdk_from_http(headers, body, data_unmarshaller=None if json_data else (lambda b: b))
    # SDK 1.x: header values are read without percent-decoding, so it holds our encoded strings.
    expected = {k: v if k == "datacontenttype" else encode_header_value(v) for k, v in event.attributes().items()}
    assert _without_invented_time(dict(sdk.get_attributes()), event) == expected
    if json_data:
        assert sdk.get_data() == _sdk1_data(event.data)
    else:
        assert _wire(sdk.get_data() or None) == _wire(event.data)


@pytest.mark.slow  # 120 events through the real 1.x SDK
@settings(max_examples=120)
@given(st.data())
def test_1x_reads_our_structured_mode(ce: Any, forms: Any, data: st.DataObject) -> None:
    from cloudevents.http import from_http as sdk_from_http

    event = data.draw(ce.events(sdk_safe=True, with_absent_type=False))
    sdk = sdk_from_http(*to_structured(event))
    assert _without_invented_time(dict(sdk.get_attributes()), event) == forms.structured(event).attributes()
    assert sdk.get_data() == _sdk1_data(event.data)


def _sdk1_data(data: Any) -> Any:
    if data == "":
        return None  # SDK 1.x: from_http turns empty-string data into no data
    if isinstance(data, bytes):
        # SDK 1.x runs decoded data_base64 through json.loads too (cloudevents/sdk/event/base.py:
        # data_unmarshaller(base64.b64decode(value))), so bytes that happen to be JSON come back parsed.
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return data
    return data


@pytest.mark.slow  # 120 events through the real 1.x SDK
@settings(max_examples=120)
@given(st.data())
def test_we_read_1x_binary_mode(ce: Any, forms: Any, data: st.DataObject) -> None:
    from cloudevents.conversion import to_binary as sdk_to_binary

    event = data.draw(ce.events(sdk_safe=True, with_absent_type=False))
    headers, body = sdk_to_binary(to_sdk(event))
    # SDK 1.x: integer extensions come out as int header values; any HTTP client sends them as text.
    headers = {k: str(v) for k, v in headers.items()}
    try:
        # SDK 1.x: values go out without percent-encoding, so a '%' in them is decoded on our side.
        expected_attrs = {
            k: v if k == "datacontenttype" else decode_header_value(str(v))
            for k, v in forms.binary(event).attributes().items()
        }
    except UnicodeDecodeError:
        with pytest.raises(InvalidEventError, match="percent-encoded"):
            from_http(headers, body)
        return
    # Decoding what was never encoded can also turn a URI's '%25' into a bare '%': no URI any more.
    not_uri = [
        n
        for n in ("source", "dataschema")
        if n in expected_attrs and uri_problem(expected_attrs[n], absolute=n == "dataschema")
    ]
    if not_uri:
        with pytest.raises(InvalidEventError, match="URI") as info:
            from_http(headers, body)
        assert info.value.attribute in not_uri
        return
    got = from_http(headers, body)
    assert got.attributes() == expected_attrs
    if isinstance(event.data, str) and not is_json_content_type(event.datacontenttype):
        assert got.data == json.dumps(event.data)  # SDK 1.x: text goes out JSON-encoded, quotes and all
    else:
        assert got.data == event.data


@pytest.mark.slow  # 120 events through the real 1.x SDK
@settings(max_examples=120)
@given(st.data())
def test_we_read_1x_structured_mode(ce: Any, data: st.DataObject) -> None:
    from cloudevents.conversion import to_structured as sdk_to_structured

    event = data.draw(ce.events(sdk_safe=True, with_absent_type=False))
    assert from_http(*sdk_to_structured(to_sdk(event))) == event


# -- 2.x cross-checks, in a child interpreter ---------------------------------------------------------


@pytest.fixture(scope="session")
def sdk2_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding cloudevents 2.x (and any dependency the main environment lacks).

    Installed once and kept in the pytest cache; without the cache plugin, in a temporary directory.
    """
    cache = getattr(request.config, "cache", None)
    target = cache.mkdir(SDK2.replace("==", "-")) if cache else tmp_path_factory.mktemp("sdk2")
    done = target / ".installed"
    if not done.exists():
        _pip_install(target, SDK2)
        for requirement in _missing_requirements(target):
            _pip_install(target, requirement)
        done.write_text(SDK2)
    return target


def _pip_install(target: Path, requirement: str) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--upgrade",
        "--target",
        str(target),
        requirement,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"


def _missing_requirements(target: Path) -> list[str]:
    """2.x's declared dependencies that the main environment cannot import (none, usually)."""
    from importlib import metadata

    (dist,) = metadata.distributions(path=[str(target)], name="cloudevents")
    missing = []
    for requirement in dist.requires or []:
        if ";" in requirement and "extra ==" in requirement:
            continue
        name = requirement.split(";")[0].strip()
        bare = name.split("<")[0].split(">")[0].split("=")[0].split("!")[0].split("~")[0].split("[")[0]
        try:
            metadata.version(bare.strip())
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def _run_sdk2_child(sdk2_path: Path, cases: list[dict[str, Any]]) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(sdk2_path), str(REPO_ROOT)]))
    result = subprocess.run(
        [sys.executable, __file__],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_cross_check_with_the_2x_sdk(ce: Any, forms: Any, sdk2_path: Path) -> None:
    cases: list[dict[str, Any]] = []

    @settings(max_examples=200)
    @given(ce.events(sdk_safe=True, with_absent_type=False))
    def collect(event: CloudEvent[Any]) -> None:
        cases.append({"event": event.to_dict(), "binary": forms.binary(event).to_dict()})

    collect()
    report = _run_sdk2_child(sdk2_path, cases)
    assert report["line"] == 2
    assert report["checked"] == len(cases) >= 100
    assert report["failures"] == [], json.dumps(report["failures"][:3], ensure_ascii=False, indent=1)


def test_the_2x_check_can_fail(sdk2_path: Path) -> None:
    """Guards the test above: a case whose expected binary form is wrong is reported by the child."""
    event = CloudEvent(id="1", source="/s", type="t", subject="ä b", data={"a": 1}, datacontenttype="application/json")
    wrong = event.replace(subject="a b")
    report = _run_sdk2_child(sdk2_path, [{"event": event.to_dict(), "binary": wrong.to_dict()}])
    assert [set(f["failures"]) for f in report["failures"]] == [{"ours binary -> sdk", "sdk binary -> ours"}]


if __name__ == "__main__":
    _sdk2_main()
