"""CORS on API Gateway's own refusals of the tenants' REST API against the moto server: with one allowed origin
(or "*"), the API's gateway responses DEFAULT_4XX and DEFAULT_5XX add Access-Control-Allow-Origin (and the
policy's credentials and exposed headers) to the 400 of a request without the tenant header, IAM's 403, 429 and
5xx, keeping API Gateway's status and body; deploy puts them before the one deployment it makes, a rerun sends
nothing, a changed policy or a response edited outside portable-fn is put again and deployed, several origins or
no policy delete them, and removing the app deletes the API only. moto keeps a gateway response as it is put and
lists only those put (AWS also lists its defaults, marked `defaultResponse`)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.deploy import edge
from portable_fn_aws.deploy.rest_api import refusal_note, refusals, refusals_from
from portable_fn_aws.provider import AwsProvider

from portable_fn.app import load_app
from portable_fn.deploy import pipeline
from portable_fn.deploy.diff import field_changes

APP = Path(__file__).with_name("apps") / "tenants_origin"
API = "tenants-origin-dev-tenants"
BODY = {"application/json": '{"message":$context.error.messageString}'}
HEADER = "gatewayresponse.header."
CARRIED = {
    f"{HEADER}Access-Control-Allow-Credentials": "'true'",
    f"{HEADER}Access-Control-Allow-Origin": "'https://app.example.com'",
    f"{HEADER}Access-Control-Expose-Headers": "'retry-after,x-request-id'",
}
POLICY = """[tool.portable-fn.cors]
allow_origins = ["https://app.example.com"]
allow_headers = ["Content-Type", "X-Tenant-Id"]
expose_headers = ["X-Request-Id", "Retry-After"]
allow_credentials = true
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    target = tmp_path / "tenants_origin"
    shutil.copytree(APP, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    return target


def returns_tenancy(parsed: dict[str, Any], **_: Any) -> None:
    """Stand in for Lambda's GetFunctionConfiguration, which returns the TenancyConfig moto drops."""
    if parsed.get("FunctionName") == "tenants-origin-dev-get_project":
        parsed["TenancyConfig"] = {"TenantIsolationMode": "PER_TENANT"}


def deployed(helpers: Any, endpoint: str, app: Any) -> Any:
    provider = helpers.MotoProvider({**app.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}, endpoint)
    provider.deployer.client.register("after-call.lambda.GetFunctionConfiguration", returns_tenancy)
    pipeline.deploy(provider, app, "dev")
    return provider


def with_policy(app_dir: Path, tmp_path: Path, where: str, policy: str) -> Any:
    """The app copied to `tmp_path/where` with `[tool.portable-fn.cors]` replaced by `policy` ('' for none)."""
    moved = tmp_path / where / "tenants_origin"  # another directory: load_app imports the module afresh
    shutil.copytree(app_dir, moved, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    pyproject = moved / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(POLICY, policy))
    return load_app(moved)


def answers(gateway: Any) -> dict[str, dict[str, Any]]:
    """The app's REST API's gateway responses by type, as GetGatewayResponses lists them."""
    [api] = gateway.get_rest_apis()["items"]
    return {item["responseType"]: item for item in gateway.get_gateway_responses(restApiId=api["id"])["items"]}


def sent(provider: Any) -> list[str]:
    """Records the API Gateway operations that change something, from now on."""
    names: list[str] = []
    provider.deployer.client.register(
        "before-call.api-gateway", lambda model, **_: None if model.name.startswith("Get") else names.append(model.name)
    )
    return names


def test_deploy_puts_both_gateway_responses_before_its_one_deployment(
    endpoint: str, app_dir: Path, helpers: Any
) -> None:
    provider = deployed(helpers, endpoint, load_app(app_dir))
    client = provider.deployer.client
    assert answers(client.apigateway) == {
        kind: {
            "responseType": kind,
            "defaultResponse": False,
            "responseParameters": CARRIED,
            "responseTemplates": BODY,  # API Gateway's own body; no statusCode: its own status stays
        }
        for kind in ("DEFAULT_4XX", "DEFAULT_5XX")
    }
    calls = [name for service, name in client.mutating_calls() if service == "apigateway"]
    assert calls.index("PutGatewayResponse") < calls.index("CreateDeployment")
    assert calls.count("PutGatewayResponse") == 2
    assert calls.count("CreateDeployment") == 1

    again = sent(provider)
    assert pipeline.plan(provider, load_app(app_dir), "dev").plan.empty
    pipeline.deploy(provider, load_app(app_dir), "dev")
    assert again == []  # a rerun sends nothing


def test_a_response_changed_outside_portable_fn_is_put_again_and_deployed(
    endpoint: str, app_dir: Path, helpers: Any
) -> None:
    app = load_app(app_dir)
    provider = deployed(helpers, endpoint, app)
    gateway = provider.deployer.client.apigateway
    [api] = gateway.get_rest_apis()["items"]
    [first] = [d["id"] for d in gateway.get_deployments(restApiId=api["id"])["items"]]
    gateway.put_gateway_response(
        restApiId=api["id"],
        responseType="DEFAULT_5XX",
        statusCode="503",
        responseParameters={f"{HEADER}Access-Control-Allow-Origin": "'https://evil.example'"},
        responseTemplates=BODY,
    )
    steps = pipeline.plan(provider, app, "dev").plan.steps
    assert [(s.action, s.resource.kind, s.changes) for s in steps] == [("update", "rest api", ("gateway_responses",))]
    assert [c.describe() for c in field_changes(steps[0])] == [
        'gateway_responses.DEFAULT_5XX: "(changed outside portable-fn)" -> {"Access-Control-Allow-Credentials": '
        '"true", "Access-Control-Allow-Origin": "ht… (163 chars)'
    ]

    calls = sent(provider)
    pipeline.deploy(provider, app, "dev")
    assert calls == ["PutGatewayResponse", "CreateDeployment", "UpdateStage"]  # only the changed one, one deployment
    assert answers(gateway)["DEFAULT_5XX"]["responseParameters"] == CARRIED
    assert "statusCode" not in answers(gateway)["DEFAULT_5XX"]
    [latest] = [d["id"] for d in gateway.get_deployments(restApiId=api["id"])["items"] if d["id"] != first]
    assert gateway.get_stage(restApiId=api["id"], stageName="dev")["deploymentId"] == latest
    assert pipeline.plan(provider, app, "dev").plan.empty


def test_a_changed_policy_updates_them_and_several_origins_or_none_delete_them(
    endpoint: str, app_dir: Path, tmp_path: Path, helpers: Any
) -> None:
    provider = deployed(helpers, endpoint, load_app(app_dir))
    gateway = provider.deployer.client.apigateway

    anyone = with_policy(app_dir, tmp_path, "v2", '[tool.portable-fn.cors]\nallow_origins = ["*"]\n')
    [step] = [s for s in pipeline.plan(provider, anyone, "dev").plan.steps if s.resource.kind == "rest api"]
    assert step.changes == ("cors", "gateway_responses")
    assert [c.describe() for c in field_changes(step) if c.path.startswith("gateway_responses.DEFAULT_4XX")] == [
        "gateway_responses.DEFAULT_4XX.Access-Control-Allow-Credentials: (sensitive) -> (none)",  # "credential"
        'gateway_responses.DEFAULT_4XX.Access-Control-Allow-Origin: "https://app.example.com" -> "*"',
        'gateway_responses.DEFAULT_4XX.Access-Control-Expose-Headers: "retry-after,x-request-id" -> (none)',
    ]
    pipeline.deploy(provider, anyone, "dev")
    assert {kind: found["responseParameters"] for kind, found in answers(gateway).items()} == {
        "DEFAULT_4XX": {f"{HEADER}Access-Control-Allow-Origin": "'*'"},
        "DEFAULT_5XX": {f"{HEADER}Access-Control-Allow-Origin": "'*'"},
    }
    assert pipeline.plan(provider, anyone, "dev").plan.empty

    several = with_policy(
        app_dir, tmp_path, "v3", '[tool.portable-fn.cors]\nallow_origins = ["https://a.example", "https://b.example"]\n'
    )
    [step] = [s for s in pipeline.plan(provider, several, "dev").plan.steps if s.resource.kind == "rest api"]
    assert step.changes == ("cors", "gateway_responses")
    pipeline.deploy(provider, several, "dev")
    assert answers(gateway) == {}  # API Gateway's own answers, without CORS headers, come back
    assert pipeline.plan(provider, several, "dev").plan.empty

    pipeline.deploy(provider, load_app(app_dir), "dev")
    assert set(answers(gateway)) == {"DEFAULT_4XX", "DEFAULT_5XX"}
    closed = with_policy(app_dir, tmp_path, "v4", "")
    [step] = [s for s in pipeline.plan(provider, closed, "dev").plan.steps if s.resource.kind == "rest api"]
    assert step.changes == ("cors", "gateway_responses")
    calls = sent(provider)
    pipeline.deploy(provider, closed, "dev")
    assert calls.count("DeleteGatewayResponse") == 2
    assert answers(gateway) == {}
    assert [
        s.resource.kind for s in pipeline.plan(provider, closed, "dev").plan.steps if s.resource.kind == "rest api"
    ] == []


def test_removing_the_app_deletes_the_api_and_nothing_else_of_it(endpoint: str, app_dir: Path, helpers: Any) -> None:
    app = load_app(app_dir)
    provider = deployed(helpers, endpoint, app)
    calls = sent(provider)
    pipeline.remove(provider, app, "dev")
    assert calls == ["DeleteRestApi"]  # its gateway responses, methods and stage go with it
    assert provider.deployer.client.apigateway.get_rest_apis()["items"] == []


def test_plan_says_what_a_browser_reads_of_the_refusals(app_dir: Path, tmp_path: Path) -> None:
    refused = (
        f"The REST API {API!r} answers some requests itself, without invoking a function (400 for a request without "
        "the tenant header, 403 from IAM, 429 when throttled, 5xx when Lambda fails)"
    )
    app = load_app(app_dir)
    notes = AwsProvider(app.config.provider_settings("aws", "dev")).plan_notes(app, "dev")
    assert [n for n in notes if n.startswith("The REST API")] == [
        f"{refused}: its gateway responses DEFAULT_4XX and DEFAULT_5XX add Access-Control-Allow-Origin: "
        "https://app.example.com, so a browser's script reads their status and message."
    ]
    several = with_policy(
        app_dir, tmp_path, "v2", '[tool.portable-fn.cors]\nallow_origins = ["https://a.example", "https://b.example"]\n'
    )
    notes = AwsProvider(several.config.provider_settings("aws", "dev")).plan_notes(several, "dev")
    assert [n for n in notes if n.startswith("The REST API")] == [
        f"{refused}: those answers carry no Access-Control-Allow-Origin, because a gateway response names one origin "
        "and [tool.portable-fn.cors] allow_origins lists 2 (https://a.example, https://b.example), so a browser at "
        "any of them reports a CORS error instead of the status and message (the functions' own answers carry the "
        "header). List one origin in allow_origins to have them carry it."
    ]
    closed = with_policy(app_dir, tmp_path, "v3", "")
    notes = AwsProvider(closed.config.provider_settings("aws", "dev")).plan_notes(closed, "dev")
    assert [n for n in notes if n.startswith("The REST API")] == []


@pytest.mark.parametrize(
    ("origins", "credentials", "expected"),
    [
        (
            ["*"],
            False,
            '{"DEFAULT_4XX":{"Access-Control-Allow-Origin":"*"},"DEFAULT_5XX":{"Access-Control-Allow-Origin":"*"}}',
        ),
        (
            ["https://app.example.com"],
            True,
            '{"DEFAULT_4XX":{"Access-Control-Allow-Credentials":"true","Access-Control-Allow-Origin":'
            '"https://app.example.com"},"DEFAULT_5XX":{"Access-Control-Allow-Credentials":"true",'
            '"Access-Control-Allow-Origin":"https://app.example.com"}}',
        ),
        (["https://a.example", "https://b.example"], True, ""),
    ],
)
def test_the_refusals_name_one_origin_or_none(origins: list[str], credentials: bool, expected: str) -> None:
    cors = edge.canonical({"AllowOrigins": origins, "AllowCredentials": credentials})
    assert refusals(cors) == expected
    assert ("List one origin" in refusal_note(API, cors)) == (expected == "")


def test_api_gateway_s_own_defaults_are_not_read_as_deploy_s() -> None:
    listed = [
        {"responseType": "DEFAULT_4XX", "defaultResponse": True, "responseParameters": {}, "responseTemplates": BODY},
        {"responseType": "DEFAULT_5XX", "defaultResponse": True, "responseParameters": {}, "responseTemplates": BODY},
        {"responseType": "THROTTLED", "defaultResponse": False, "statusCode": "429", "responseTemplates": BODY},
    ]
    assert refusals_from(listed) == ""
    listed[0] = {
        **listed[0],
        "defaultResponse": False,
        "responseParameters": {f"{HEADER}X-Mine": "method.request.header.x"},
    }
    assert refusals_from(listed) == '{"DEFAULT_4XX":"(changed outside portable-fn)"}'
