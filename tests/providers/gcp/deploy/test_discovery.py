"""The recording endpoint holds requests and answers to Google's Discovery documents, and says so in their words."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

FUNCTIONS = "/v2/projects/p/locations/europe-west1/functions"
DISCOVERY = Path(__file__).resolve().parents[3] / "data" / "gcp" / "discovery"


def send(url: str, method: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def function(**service: Any) -> dict[str, Any]:
    return {
        "buildConfig": {"runtime": "python311", "entryPoint": "main"},
        "serviceConfig": {"availableMemory": "256Mi", **service},
    }


def test_a_field_the_document_does_not_have_is_refused_in_its_words(google: Any, google_server: Any) -> None:
    status, answer = send(f"{google_server.url}{FUNCTIONS}?functionId=f", "POST", function(memoryMb=256))
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"
    assert answer["error"]["message"] == (
        "Invalid JSON payload received. Unknown name \"memoryMb\" at 'Function.serviceConfig': Cannot find field. "
        "ServiceConfig has no property 'memoryMb' in the cloudfunctions v2 Discovery document (revision 20261029)"
    )
    assert not google.functions


def test_an_enum_value_the_document_does_not_list_is_refused_with_the_values_it_does(
    google: Any, google_server: Any
) -> None:
    status, answer = send(
        f"{google_server.url}{FUNCTIONS}?functionId=f", "POST", function(ingressSettings="ALLOW_EVERYONE")
    )
    assert status == 400
    assert answer["error"]["message"] == (
        'Invalid JSON payload received. Invalid value at Function.serviceConfig.ingressSettings ("ALLOW_EVERYONE"): '
        "the cloudfunctions v2 Discovery document (revision 20261029) allows one of INGRESS_SETTINGS_UNSPECIFIED, "
        "ALLOW_ALL, ALLOW_INTERNAL_ONLY, ALLOW_INTERNAL_AND_GCLB"
    )


def test_enum_values_come_by_number_as_the_clients_send_them(google: Any, google_server: Any) -> None:
    """With `$alt=json;enum-encoding=int` a value is its index in the enum: 4 is past ALLOW_INTERNAL_AND_GCLB."""
    status, answer = send(f"{google_server.url}{FUNCTIONS}?functionId=f", "POST", function(ingressSettings=4))
    assert status == 400 and "allows one of INGRESS_SETTINGS_UNSPECIFIED" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "words"),
    [
        # a read-only enum the old hand-written schema took as any string
        (
            "PATCH",
            "/v1/projects/p/subscriptions/s",
            {"subscription": {"state": "BROKEN"}, "updateMask": "state"},
            'Invalid value at UpdateSubscriptionRequest.subscription.state ("BROKEN"): '
            "the pubsub v1 Discovery document",
        ),
        # what the document says is required: "Required. The updated topic object."
        (
            "PATCH",
            "/v1/projects/p/topics/shop-dev-t",
            {"updateMask": "labels"},
            "Missing field 'topic' in UpdateTopicRequest: the pubsub v1 Discovery document (revision 20261027) says of "
            'UpdateTopicRequest.topic "Required. The updated topic object.',
        ),
        # types and formats: a Duration is a string like "3.5s"
        (
            "POST",
            "/v1/projects/p/locations/europe-west1/jobs",
            {"schedule": "* * * * *", "attemptDeadline": 30},
            "Invalid value at Job.attemptDeadline: the document's type is string (google-duration), got 30",
        ),
        # a query parameter the method does not take
        (
            "GET",
            "/v1/projects/p/topics?page_size=3",
            None,
            "Unknown query parameter 'page_size' for pubsub.projects.topics.list (the pubsub v1 Discovery document",
        ),
    ],
)
def test_requests_are_held_to_the_documents(
    google: Any, google_server: Any, method: str, path: str, body: Any, words: str
) -> None:
    status, answer = send(f"{google_server.url}{path}", method, body)
    assert status == 400 and words in answer["error"]["message"]


def test_a_path_no_document_describes_is_not_found(google: Any, google_server: Any) -> None:
    status, answer = send(f"{google_server.url}/v2/projects/p/locations/europe-west1/widgets", "GET")
    assert status == 404 and answer["error"]["status"] == "NOT_FOUND"


def test_what_the_fake_answers_is_held_to_the_response_schema(google: Any, google_server: Any) -> None:
    """A fake that answered a field Google's Function does not have would teach the clients a lie: it is a 500."""
    google.functions["projects/p/locations/europe-west1/functions/f"] = {
        "name": "projects/p/locations/europe-west1/functions/f",
        "state": "ACTIVE",
        "memoryMb": 256,
    }
    status, answer = send(f"{google_server.url}{FUNCTIONS}/f", "GET")
    assert status == 500 and "Unknown name \"memoryMb\" at 'Function'" in answer["error"]["message"]
    assert google.answer_problems == [
        "cloudfunctions.projects.locations.functions.get: Unknown name \"memoryMb\" at 'Function': Cannot find field. "
        "Function has no property 'memoryMb' in the cloudfunctions v2 Discovery document (revision 20261029)"
    ]


def test_every_route_of_the_fake_serves_a_documented_method(google: Any) -> None:
    """Each route's pattern, filled in, finds its method in the documents; each kept method has a route."""
    samples = {
        "[^/]+": "p",
        "[^/:]+": "s",
        r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?": "f",
        "[A-Za-z][-A-Za-z0-9._~%+]{2,254}": "shop-t",
        "[-A-Za-z0-9_]{1,500}": "j",
    }
    served = set()
    for verb, pattern, _ in google.routes():
        path = pattern
        for regex, value in samples.items():
            path = path.replace(regex, value)
        path = re.sub(r"[()]", "", re.sub(r"\|[^()]*\)", ")", path)).replace("\\", "")
        found = google.discovery.find(verb, path)
        assert found is not None, f"{verb} {path} is no method of the documents"
        served.add(found.id)
    kept = {m["id"] for _, m, _ in google.discovery.methods}
    assert kept - served <= {"pubsub.projects.subscriptions.getIamPolicy", "pubsub.projects.subscriptions.setIamPolicy"}


def script(name: str) -> Any:
    """A regeneration script of the excerpts (tests/data/gcp/discovery/<name>.py) as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"portable_fn_tests_{name}", DISCOVERY / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def excerpt_file(name: str) -> dict[str, Any]:
    return json.loads((DISCOVERY / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_each_excerpt_says_where_it_came_from_and_its_licence() -> None:
    """Each excerpt here is made by excerpt.py or audit_excerpt.py from the google-api-python-client wheel
    both name, and names the document of that wheel it was cut from (storage-audit.v1.json: storage.v1)."""
    excerpt, audit = script("excerpt"), script("audit_excerpt")
    cut_from = {name: name for name in excerpt.METHODS} | {audit.NAME: audit.SOURCE}
    assert sorted(p.name for p in DISCOVERY.glob("*.v*.json")) == sorted(f"{name}.json" for name in cut_from)
    for name, document in sorted(cut_from.items()):
        source = excerpt_file(name)["x-portable-fn-source"]
        assert source["distribution"] == f"google-api-python-client {excerpt.VERSION} (PyPI wheel)", name
        assert source["file"] == f"{excerpt.DOCUMENTS}/{document}.json", name
        assert source["revision"].isdigit() and source["licence"] == excerpt.LICENCE
        assert source["repository"] == "https://github.com/googleapis/google-api-python-client"


def test_the_audit_excerpt_is_cut_from_the_storage_document_storage_v1_is_cut_from() -> None:
    """storage-audit.v1.json names the document storage.v1.json was cut from, and is: the same identity and
    revision, and each method and each schema the two both keep is the same, word for word. audit_excerpt.py
    over it gives it back: it holds its methods and exactly the schemas they reach."""
    excerpt, audit = script("excerpt"), script("audit_excerpt")
    ours, theirs = excerpt_file(audit.NAME), excerpt_file(audit.SOURCE)
    for key in ("id", "name", "version", "revision", "rootUrl", "servicePath", "parameters"):
        assert ours[key] == theirs[key], key
    same = ("distribution", "file", "revision", "licence", "repository")
    assert [ours["x-portable-fn-source"][k] for k in same] == [theirs["x-portable-fn-source"][k] for k in same]
    our_methods = {m["id"]: m for m in excerpt.methods(ours["resources"])}
    their_methods = {m["id"]: m for m in excerpt.methods(theirs["resources"])}
    assert sorted(our_methods) == sorted(audit.METHODS)
    shared = sorted(our_methods.keys() & their_methods.keys())
    assert shared == ["storage.buckets.get", "storage.buckets.insert", "storage.buckets.list", "storage.buckets.patch"]
    assert [our_methods[m] for m in shared] == [their_methods[m] for m in shared]
    schemas = sorted(ours["schemas"].keys() & theirs["schemas"].keys())
    assert "Bucket" in schemas and [ours["schemas"][k] for k in schemas] == [theirs["schemas"][k] for k in schemas]
    assert audit.make(ours) == ours


def enum_mismatches(descriptor: Any, schema: dict[str, Any], schemas: dict[str, Any], where: str) -> list[str]:
    """Enum fields of a client's message whose proto numbers are not their positions in the document's enum."""
    schema = schemas[schema["$ref"]] if "$ref" in schema else schema
    found = []
    for field in descriptor.fields:
        prop = schema.get("properties", {}).get(field.json_name)
        if prop is None:
            continue
        prop = prop.get("items", prop)
        if field.enum_type is not None:
            names = dict(enumerate(prop.get("enum", [])))  # the document may list values the client does not yet
            if any(names.get(v.number) != v.name for v in field.enum_type.values):
                found.append(f"{where}.{field.json_name}")
        elif field.message_type is not None and "$ref" in prop and where.count(".") < 4:
            found += enum_mismatches(field.message_type, prop, schemas, f"{where}.{field.json_name}")
    return found


@pytest.mark.parametrize(
    ("api", "message", "ref"),
    [
        ("cloudfunctions", "google.cloud.functions_v2.Function", "Function"),
        ("cloudscheduler", "google.cloud.scheduler_v1.Job", "Job"),
        ("cloudresourcemanager", "google.iam.v1.policy_pb2.Policy", "Policy"),
        ("run", "google.iam.v1.policy_pb2.Policy", "GoogleIamV1Policy"),
    ],
)
def test_an_enum_sent_by_number_is_the_value_at_that_position(google: Any, api: str, message: str, ref: str) -> None:
    """The clients send enums by their proto number; the fake reads a number as the document's value at that
    position, which holds for every enum of the messages deploy sends (Pub/Sub's Topic and Subscription have
    enums that skip numbers, in fields deploy never sets)."""
    import importlib

    module, name = message.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    descriptor = cls.pb().DESCRIPTOR if hasattr(cls, "pb") else cls.DESCRIPTOR
    document = next(d for d in google.discovery.documents if d["name"] == api)
    assert enum_mismatches(descriptor, {"$ref": ref}, document["schemas"], ref) == []


def test_each_excerpt_holds_its_methods_and_exactly_the_schemas_they_reach() -> None:
    """excerpt.py, run over an excerpt, gives it back: no schema a kept method reaches is missing, none extra."""
    excerpt = script("excerpt")
    for name, methods in excerpt.METHODS.items():
        document = excerpt_file(name)
        assert excerpt.excerpt(document, methods, name) == document, name
