"""The CloudEvents project's own conformance material, run against our HTTP binding and JSON format.

- `features/http-protocol-binding.feature`: raw HTTP requests (binary and structured mode) with the
  attributes and data they must parse to.
- `yaml/**`: event vectors; the 1.0 ones must survive binary, structured and batch mode, the 0.3 ones
  must be refused with a clear specversion error.
- `formats/cloudevents.json`: the JSON schema every structured event we write must satisfy.

The files are copied unmodified under tests/data/cloudevents (see the NOTICE there).
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from portable_fn.runtime import CloudEvent, InvalidEventError
from portable_fn.runtime.http_binding import (
    from_http,
    from_http_batch,
    to_batch,
    to_binary,
    to_structured,
)

DATA = Path(__file__).parent.parent / "data" / "cloudevents"
FEATURE = DATA / "cloudevents-conformance" / "features" / "http-protocol-binding.feature"
YAML_DIR = DATA / "cloudevents-conformance" / "yaml"
SCHEMA = json.loads((DATA / "cloudevents-spec" / "cloudevents" / "formats" / "cloudevents.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


# -- the Gherkin feature file -------------------------------------------------------------------------


def _scenarios(text: str) -> list[dict[str, Any]]:
    """Each scenario of a feature file, Scenario Outlines expanded once per Examples row.

    Only the steps this feature uses are understood: a request docstring, an attribute table and a
    JSON docstring for the data.
    """
    blocks = re.split(r"^\s*Scenario(?: Outline)?:", text, flags=re.M)[1:]
    out = []
    for block in blocks:
        title, _, body = block.partition("\n")
        docstrings = [textwrap.dedent(d).strip("\n") for d in re.findall(r'"""\n(.*?)\n\s*"""', body, re.S)]
        steps, _, examples = body.partition("Examples:")
        table = _table(steps.split("Then the attributes are:")[1].split("And the data")[0])
        rows = _table(examples) or [{}]
        for row in rows:

            def fill(s: str, row: dict[str, str] = row) -> str:
                return re.sub(r"<(\w+)>", lambda m: row[m.group(1)], s)

            out.append(
                {
                    "name": fill(title.strip()),
                    "request": fill(docstrings[0]),
                    "attributes": {row_["key"]: fill(row_["value"]) for row_ in table},
                    "data": json.loads(docstrings[1]),
                }
            )
    return out


def _table(text: str) -> list[dict[str, str]]:
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    if not lines:
        return []
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return [dict(zip(cells[0], row, strict=True)) for row in cells[1:]]


def _parse_request(raw: str) -> tuple[dict[str, str], bytes]:
    head, _, body = raw.partition("\n\n")
    request_line, *header_lines = head.splitlines()
    assert request_line.startswith("POST "), request_line
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return headers, body.encode("utf-8")


SCENARIOS = _scenarios(FEATURE.read_text(encoding="utf-8"))


def test_the_feature_file_yields_every_scenario_and_example() -> None:
    assert [s["name"] for s in SCENARIOS] == [
        "Binary content mode (application/json)",
        "Binary content mode (application/json; charset=utf-8)",
        "Structured content mode (application/cloudevents+json)",
        "Structured content mode (application/cloudevents+json; charset=utf-8)",
    ]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_feature_scenario_parses_to_the_expected_event(scenario: dict[str, Any]) -> None:
    headers, body = _parse_request(scenario["request"])
    event = from_http(headers, body)
    assert event.attributes() == scenario["attributes"]
    assert event.data == scenario["data"]


# -- the YAML vectors ---------------------------------------------------------------------------------


def _vectors(*paths: str) -> list[dict[str, Any]]:
    vectors = []
    for path in paths:
        # BaseLoader keeps every scalar a string: "1.0" stays "1.0", times stay as written.
        text = (YAML_DIR / path).read_text(encoding="utf-8")
        for i, doc in enumerate(yaml.load_all(text, Loader=yaml.BaseLoader)):
            vectors.append({"id": f"{path}#{i}", **doc})
    return vectors


V1_VECTORS = _vectors("v1.0/v1_minimum.yaml", "v1.yaml")
V03_VECTORS = _vectors("v0.3/v03_minimum.yaml", "v03.yaml")


def _vector_event(vector: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    attrs = dict(vector["ContextAttributes"])
    attrs.update(attrs.pop("Extensions", {}))
    raw = vector.get("Data")
    content_type = attrs.get("datacontenttype")
    is_json = content_type is None or "json" in content_type  # absent means JSON in the JSON format
    return attrs, (json.loads(raw) if is_json and raw is not None else raw)


def test_all_yaml_vectors_are_found() -> None:
    assert len(V1_VECTORS) == 8
    assert len(V03_VECTORS) == 7


@pytest.mark.parametrize("vector", V1_VECTORS, ids=[v["id"] for v in V1_VECTORS])
def test_v1_vector_round_trips_in_binary_mode(vector: dict[str, Any]) -> None:
    attrs, data = _vector_event(vector)
    event = CloudEvent.from_dict({**attrs, "data": data})
    headers, body = to_binary(event)
    headers.update(vector.get("TransportExtensions", {}))  # e.g. User-Agent: must not become an attribute
    back = from_http(headers, body)
    expected = dict(attrs, datacontenttype=attrs.get("datacontenttype", "application/json"))
    assert back.attributes() == expected
    assert back.data == data


@pytest.mark.parametrize("vector", V1_VECTORS, ids=[v["id"] for v in V1_VECTORS])
def test_v1_vector_round_trips_in_structured_and_batch_mode(vector: dict[str, Any]) -> None:
    attrs, data = _vector_event(vector)
    event = CloudEvent.from_dict({**attrs, "data": data})
    headers, body = to_structured(event)
    back = from_http(headers, body)
    assert back.attributes() == attrs
    assert back.data == data
    assert from_http_batch(*to_batch([event, event])) == [event, event]


@pytest.mark.parametrize("vector", V1_VECTORS, ids=[v["id"] for v in V1_VECTORS])
def test_v1_vector_in_json_format_satisfies_the_schema(vector: dict[str, Any]) -> None:
    attrs, data = _vector_event(vector)
    event = CloudEvent.from_dict({**attrs, "data": data})
    VALIDATOR.validate(event.to_dict())
    VALIDATOR.validate(json.loads(to_structured(event)[1]))


@pytest.mark.parametrize("vector", V03_VECTORS, ids=[v["id"] for v in V03_VECTORS])
def test_v03_vector_is_refused_with_a_specversion_error(vector: dict[str, Any]) -> None:
    attrs, data = _vector_event(vector)
    structured = json.dumps({**attrs, "data": data}).encode()
    binary_headers = {f"ce-{k}": v for k, v in attrs.items() if k != "datacontenttype"}
    for headers, body in (
        ({"content-type": "application/cloudevents+json"}, structured),
        (binary_headers, (vector.get("Data") or "").encode()),
    ):
        with pytest.raises(InvalidEventError, match="'specversion' must be '1.0', got '0.3'") as info:
            from_http(headers, body)
        assert info.value.attribute == "specversion"


# -- the JSON schema against generated events --------------------------------------------------------


@pytest.mark.slow  # 150 generated events through the JSON schema
@settings(max_examples=150)
@given(st.data())
def test_structured_output_satisfies_the_schema(ce: Any, data: st.DataObject) -> None:
    # The schema's date-time checker wants upper-case 'T' and 'Z'; RFC 3339 allows either case.
    event = data.draw(ce.events(upper_time=True))
    VALIDATOR.validate(event.to_dict())
    VALIDATOR.validate(json.loads(to_structured(event)[1]))
    for item in json.loads(to_batch([event])[1]):
        VALIDATOR.validate(item)


def test_the_schema_check_can_fail() -> None:
    """Guards the tests above: a broken event (empty id, non-RFC 3339 time) is caught by the validator."""
    errors = list(
        VALIDATOR.iter_errors({"specversion": "1.0", "id": "", "source": "/s", "type": "t", "time": "yesterday"})
    )
    assert sorted(e.path[0] for e in errors) == ["id", "time"]
