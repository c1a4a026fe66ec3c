"""The OpenAPI 3.1 document of an app's HTTP functions, checked by a real validator (openapi-spec-validator)
and against what the handlers declare and what the runtime really answers."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from portable_fn import DeclarationError, Request, function, http
from portable_fn.app import App, load_app
from portable_fn.local.host import LocalHost
from portable_fn.openapi import openapi_document
from portable_fn.runtime.function import spec_of
from portable_fn.runtime.pipeline import call_http
from portable_fn.runtime.routes import Route, Router, not_routed

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "samples" / "shop"
CASES = Path(__file__).resolve().parent / "apps" / "openapi_cases"
REF = "#/components/schemas/{model}"
EVERY_METHOD = ["get", "put", "post", "delete", "options", "head", "patch"]


@pytest.fixture
def shop() -> App:
    return load_app(SHOP)


@pytest.fixture
def cases() -> App:
    return load_app(CASES)


def operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (path, method, operation)."""
    return {
        op["operationId"]: (path, method, op) for path, item in document["paths"].items() for method, op in item.items()
    }


def schema_of(content: dict[str, Any]) -> Any:
    return content["application/json"]["schema"]


def components_of(model: Any) -> dict[str, Any]:
    """What a model and the models it uses put in components.schemas: pydantic's schemas of them."""
    schema = model.model_json_schema(ref_template=REF)
    return {**schema.pop("$defs", {}), model.__name__: schema}


def test_the_shops_document_is_valid_openapi_31(shop: App) -> None:
    document = openapi_document(shop)
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "shop" and document["info"]["version"] == "0.1.0"
    json.dumps(document)  # plain JSON, as `portable-fn openapi` writes it


def test_the_shops_paths_and_schemas_are_what_its_handlers_declare(shop: App) -> None:
    document = openapi_document(shop)
    ops = operations(document)
    assert {name: (path, method) for name, (path, method, _) in ops.items()} == {
        "create_order": ("/orders", "post"),
        "get_order": ("/orders/{order_id}", "get"),
        "confirm_payment": ("/payments/{order_id}/confirm", "post"),
    }
    _, _, create = ops["create_order"]
    assert schema_of(create["requestBody"]["content"]) == {"$ref": "#/components/schemas/Order"}
    assert schema_of(create["responses"]["201"]["content"]) == {"$ref": "#/components/schemas/OrderAccepted"}
    _, _, get = ops["get_order"]
    assert [(p["name"], p["in"], p["required"]) for p in get["parameters"]] == [("order_id", "path", True)]
    assert "requestBody" not in get
    assert schema_of(get["responses"]["200"]["content"]) == {"$ref": "#/components/schemas/Order"}
    _, _, confirm = ops["confirm_payment"]
    assert [(p["name"], p["in"], p["required"]) for p in confirm["parameters"]] == [("order_id", "path", True)]
    assert "requestBody" not in confirm
    assert schema_of(confirm["responses"]["202"]["content"]) == {"$ref": "#/components/schemas/PaymentConfirmed"}
    models = shop.function("create_order").handler.__globals__
    schemas = document["components"]["schemas"]
    for model in (models["Order"], models["OrderAccepted"], models["PaymentConfirmed"]):
        for name, schema in components_of(model).items():
            assert schemas[name] == schema
    assert all("security" not in op for op in (create, get, confirm))  # all are public
    assert "securitySchemes" not in document["components"]


def test_every_case_is_valid_openapi_31(cases: App) -> None:
    document = openapi_document(cases)
    validate(document)
    assert document["info"] == {
        "title": "catalog",
        "version": "2.3.0",
        "description": "Every case the OpenAPI document covers.",
    }


def test_only_http_functions_are_operations_and_any_serves_every_method_an_explicit_one_leaves(cases: App) -> None:
    ops = operations(openapi_document(cases))
    assert "index_item" not in ops  # a queue function
    served = {method: name for name, (path, method, _) in ops.items() if path == "/files/{key}"}
    assert served == {"get": "read_file", **{m: f"files_{m}" for m in EVERY_METHOD if m != "get"}}
    assert all("405" not in ops[name][2]["responses"] for name in served.values())  # every method served
    assert "405" in ops["health"][2]["responses"]


def test_path_parameters_and_a_greedy_one(cases: App) -> None:
    document = openapi_document(cases)
    assert "/files/{key+}" not in document["paths"]
    [greedy] = document["paths"]["/files/{key}"]["get"]["parameters"]
    assert (greedy["name"], greedy["in"], greedy["required"]) == ("key", "path", True)
    assert "slashes included" in greedy["description"] and "pattern" not in greedy["schema"]
    [one] = document["paths"]["/items/{item_id}"]["get"]["parameters"]
    assert (one["name"], one["schema"]) == ("item_id", {"type": "string", "pattern": "^[^/]+$"})


def test_bodies_declared_on_the_trigger(cases: App) -> None:
    _, _, add = operations(openapi_document(cases))["add_item"]
    assert schema_of(add["requestBody"]["content"]) == {"$ref": "#/components/schemas/NewItem"}
    assert schema_of(add["responses"]["201"]["content"]) == {"$ref": "#/components/schemas/Item"}
    assert add["responses"]["409"] == {"description": "Conflict."}  # declared without a body
    assert "200" not in add["responses"]
    assert (add["summary"], add["description"]) == ("Add an item.", "Answers 409 when an item of that name exists.")


def test_bodies_read_from_annotations(cases: App) -> None:
    document = openapi_document(cases)
    ops = {name: op for name, (_, _, op) in operations(document).items()}
    item = {"$ref": "#/components/schemas/Item"}
    assert schema_of(ops["get_item"]["responses"]["200"]["content"]) == item
    assert schema_of(ops["list_items"]["responses"]["200"]["content"]) == {"type": "array", "items": item}
    assert schema_of(ops["health"]["responses"]["200"]["content"]) == {"type": "object", "additionalProperties": True}
    assert ops["read_file"]["responses"]["200"]["content"] == {"text/plain": {"schema": {"type": "string"}}}
    assert ops["files_put"]["responses"]["200"]["content"] == {"application/octet-stream": {}}
    assert ops["record_reading"]["responses"]["204"] == {"description": "No Content."}
    assert all("requestBody" not in ops[name] for name in ("get_item", "list_items", "health", "files_post"))


def test_a_cloudevent_of_a_dataclass_is_a_request_in_binary_or_structured_mode(cases: App) -> None:
    document = openapi_document(cases)
    _, _, record = operations(document)["record_reading"]
    content = record["requestBody"]["content"]
    reading = {"$ref": "#/components/schemas/Reading"}
    assert schema_of(content) == reading
    assert content["application/cloudevents+json"]["schema"]["allOf"][1] == {"properties": {"data": reading}}
    assert [p["name"] for p in record["parameters"]] == ["ce-specversion", "ce-id", "ce-source", "ce-type"]
    assert document["components"]["schemas"]["Reading"]["required"] == ["sensor", "celsius"]


def test_private_functions_need_the_clouds_auth_and_public_ones_nothing(cases: App) -> None:
    document = openapi_document(cases)
    secured = {name for name, (_, _, op) in operations(document).items() if op.get("security")}
    assert secured == {"list_items", "get_item", "record_reading"}
    assert all(operations(document)[name][2]["security"] == [{"cloudAuth": []}] for name in secured)
    assert document["components"]["securitySchemes"]["cloudAuth"]["type"] == "http"


def test_the_runtimes_own_error_answers_fit_the_documented_errors(shop: App) -> None:
    document = openapi_document(shop)
    schemas = document["components"]["schemas"]
    _, _, create = operations(document)["create_order"]
    for status, name in (
        ("400", "BadRequest"),
        ("404", "NotRouted"),
        ("405", "MethodNotAllowed"),
        ("500", "InternalError"),
    ):
        assert create["responses"][status] == {"$ref": f"#/components/responses/{name}"}
    bad = call_http(shop.function("create_order"), Request("POST", "/orders", body=b'{"id": "o-1"}'))
    router = Router([Route("POST", "/orders", None)])
    answers = {
        "portable_fn.Error": bad,
        "portable_fn.NotRouted": not_routed(router, Request("GET", "/carts")),
        "portable_fn.MethodNotAllowed": not_routed(router, Request("GET", "/orders")),
    }
    assert [answer.status for answer in answers.values()] == [400, 404, 405]
    for name, answer in answers.items():
        Draft202012Validator(schemas[name]).validate(json.loads(answer.body))


def test_dev_serves_the_same_document(shop: App, tmp_path: Path) -> None:
    logs: list[str] = []
    with LocalHost(shop, port=0, state_dir=tmp_path, log=logs.append) as host:
        with urllib.request.urlopen(host.url + "/_local/openapi.json", timeout=10) as reply:
            assert reply.headers["content-type"] == "application/json"
            assert json.loads(reply.read()) == openapi_document(shop)
        with urllib.request.urlopen(host.url + "/_local/functions", timeout=10) as reply:
            [create] = [f for f in json.loads(reply.read()) if f["name"] == "create_order"]
    assert create["details"]["bodies"] == "HttpBodies(request=Order, responses={201: OrderAccepted})"


@function(trigger=http("GET", "/files/{name}"))
def one_segment(request: Request) -> None: ...


@function(trigger=http("GET", "/files/{path+}"))
def greedy(request: Request) -> None: ...


@function(trigger=http("PUT", "/files/{key}"))
def other_name(request: Request) -> None: ...


@pytest.mark.parametrize("second", [greedy, other_name])
def test_paths_openapi_cannot_tell_apart_are_refused_naming_both(cases: App, second: Any) -> None:
    app = App(cases.root, cases.config, [spec_of(one_segment), spec_of(second)])  # type: ignore[list-item]
    with pytest.raises(DeclarationError, match=rf"'one_segment' \(/files/{{name}}\) and '{second.__name__}'"):
        openapi_document(app)


class Model:
    """Not a model: neither pydantic nor a dataclass."""


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"request": Model}, "request"),
        ({"request": dict}, "request"),
        ({"response": {"201": Model}}, "status codes"),
        ({"response": {700: None}}, "status codes"),
        ({"response": 42}, "response status 200"),
    ],
)
def test_a_body_that_is_not_a_model_is_refused_when_declared(options: dict[str, Any], says: str) -> None:
    with pytest.raises(DeclarationError, match=says):
        http("POST", "/things", **options)


def test_declared_bodies_are_part_of_the_trigger(shop: App) -> None:
    order = shop.function("create_order").handler.__globals__["Order"]
    assert http("GET", "/o", response=order) == http("GET", "/o", response={200: order})
    assert hash(http("GET", "/o", response=order)) == hash(http("GET", "/o", response={200: order}))
    assert http("GET", "/o", response=order) != http("GET", "/o")
    assert http("GET", "/o").bodies is None


# -- routes that verify their callers -------------------------------------------------------------------

SAAS = ROOT / "samples" / "saas"
NOTES = Path(__file__).resolve().parent / "tenants" / "apps" / "notes"


def test_a_jwt_route_documents_its_bearer_scheme_scopes_and_refusals_not_the_clouds_auth() -> None:
    document = openapi_document(load_app(SAAS))
    validate(document)
    ops = operations(document)
    _, _, create = ops["create_project"]
    assert create["security"] == [{"jwt": ["projects:write"]}]
    assert ops["create_tenant"][2]["security"] == [{"jwt": ["tenants:admin"]}]
    assert {code: create["responses"][code] for code in ("401", "403", "429")} == {
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "403": {"$ref": "#/components/responses/Forbidden"},
        "429": {"$ref": "#/components/responses/TooManyRequests"},
    }
    assert "429" not in ops["list_projects"][2]["responses"]  # only create_project is rate-limited
    schemes = document["components"]["securitySchemes"]
    assert list(schemes) == ["jwt"]  # every route verifies its callers: none needs the cloud's auth
    jwt_scheme = schemes["jwt"]
    assert (jwt_scheme["type"], jwt_scheme["scheme"], jwt_scheme["bearerFormat"]) == ("http", "bearer", "JWT")


def test_the_runtimes_refusals_fit_the_documented_refusal() -> None:
    app = load_app(SAAS)
    schema = openapi_document(app)["components"]["schemas"]["portable_fn.Refusal"]
    answer = call_http(app.function("create_project"), Request("POST", "/projects", body=b"{}"))
    assert answer.status == 401
    Draft202012Validator(schema).validate(json.loads(answer.body))


def test_a_tenant_header_is_a_required_parameter_and_cloud_auth_stays_for_private_routes() -> None:
    document = openapi_document(load_app(NOTES))
    validate(document)
    ops = operations(document)
    header = [p for p in ops["put_note"][2]["parameters"] if p["in"] == "header"]
    assert [(p["name"], p["required"]) for p in header] == [("X-Tenant-Id", True)]
    assert ops["put_note"][2]["security"] == [{"cloudAuth": []}]
    assert ops["my_note"][2]["security"] == [{"jwt": []}]
    assert sorted(document["components"]["securitySchemes"]) == ["cloudAuth", "jwt"]
