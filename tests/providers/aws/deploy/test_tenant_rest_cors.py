"""CORS on the tenants' REST API against the moto server: with `[tool.portable-fn.cors]`, each resource that
carries a tenant method gets an OPTIONS method with no required header and no authorization, a MOCK integration
and a 200 answer whose headers come from the app's policy (the Origin echoed from the listed ones by the template);
a second plan is empty, a changed policy rewrites them, no policy removes them, and one edited outside
portable-fn is redone. The functions' own answers carry Access-Control-Allow-Origin from the runtime, payload 1.0
events included."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.deploy import AwsDeployer
from portable_fn_aws.deploy.rest_api import Preflight
from portable_fn_aws.provider import AwsProvider
from portable_fn_aws.shim import deliver

from portable_fn.app import load_app
from portable_fn.deploy import pipeline
from portable_fn.deploy.diff import field_changes
from portable_fn.runtime.errors import UnsupportedTriggerError

APP = Path(__file__).with_name("apps") / "tenants_cors"
TENANTS = ("get_project", "update_project", "list_projects")
POLICY = (
    '{"AllowCredentials":true,"AllowHeaders":["content-type","x-tenant-id"],"AllowMethods":["GET","POST"],'
    '"AllowOrigins":["https://admin.example.com","https://app.example.com"],"ExposeHeaders":["x-request-id"],'
    '"MaxAge":600}'
)
TEMPLATE = f"""## portable-fn cors {POLICY}
#set($h = $input.params().header)
#set($origin = "$!h.get('Origin')$!h.get('origin')")
#if(["https://admin.example.com", "https://app.example.com"].contains($origin))
#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)
#end
"""
HEADER = "method.response.header."


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    target = tmp_path / "tenants_cors"
    shutil.copytree(APP, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    return target


def returns_tenancy(parsed: dict[str, Any], **_: Any) -> None:
    """Stand in for Lambda's GetFunctionConfiguration, which returns the TenancyConfig moto drops."""
    if parsed.get("FunctionName", "").removeprefix("tenants-cors-dev-") in TENANTS:
        parsed["TenancyConfig"] = {"TenantIsolationMode": "PER_TENANT"}


def deployed(helpers: Any, endpoint: str, app: Any) -> Any:
    provider = helpers.MotoProvider({**app.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}, endpoint)
    provider.deployer.client.register("after-call.lambda.GetFunctionConfiguration", returns_tenancy)
    return provider


def methods(gateway: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Every method of the app's one REST API, by (path, method), as GetMethod answers it."""
    [api] = gateway.get_rest_apis()["items"]
    return {
        (item["path"], method): gateway.get_method(restApiId=api["id"], resourceId=item["id"], httpMethod=method)
        for item in gateway.get_resources(restApiId=api["id"])["items"]
        for method in item.get("resourceMethods") or {}
    }


def with_policy(app_dir: Path, tmp_path: Path, where: str, policy: str) -> Any:
    """The app copied to `tmp_path/where` with `[tool.portable-fn.cors]` replaced by `policy` ('' for none)."""
    moved = tmp_path / where / "tenants_cors"  # another directory: load_app imports the module afresh
    shutil.copytree(app_dir, moved, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    pyproject = moved / "pyproject.toml"
    head, rest = pyproject.read_text().split("[tool.portable-fn.cors]\n", 1)
    pyproject.write_text(head + policy + "[tool.portable-fn.aws]\n" + rest.split("[tool.portable-fn.aws]\n", 1)[1])
    return load_app(moved)


def test_deploy_answers_preflights_on_each_path_of_a_tenant_method(endpoint: str, app_dir: Path, helpers: Any) -> None:
    app = load_app(app_dir)
    provider = deployed(helpers, endpoint, app)
    pipeline.deploy(provider, app, "dev")

    found = methods(provider.deployer.client.apigateway)
    assert sorted(found) == [
        ("/projects", "GET"),
        ("/projects", "HEAD"),
        ("/projects", "OPTIONS"),
        ("/projects/{project_id}", "GET"),
        ("/projects/{project_id}", "HEAD"),
        ("/projects/{project_id}", "OPTIONS"),
        ("/projects/{project_id}", "POST"),
    ]
    for path in ("/projects", "/projects/{project_id}"):
        options = found[(path, "OPTIONS")]
        assert options["authorizationType"] == "NONE"
        assert "requestValidatorId" not in options
        assert not options.get("requestParameters")
        assert options["methodResponses"] == {
            "200": {
                "statusCode": "200",
                "responseParameters": {
                    f"{HEADER}{name}": False
                    for name in (
                        "Access-Control-Allow-Credentials",
                        "Access-Control-Allow-Headers",
                        "Access-Control-Allow-Methods",
                        "Access-Control-Allow-Origin",
                        "Access-Control-Max-Age",
                        "Vary",
                    )
                },
            }
        }
        integration = options["methodIntegration"]
        assert integration["type"] == "MOCK"
        assert integration["requestTemplates"] == {"application/json": '{"statusCode": 200}'}
        assert integration["integrationResponses"] == {
            "200": {
                "statusCode": "200",
                "responseParameters": {
                    f"{HEADER}Access-Control-Allow-Credentials": "'true'",
                    f"{HEADER}Access-Control-Allow-Headers": "'content-type,x-tenant-id'",
                    f"{HEADER}Access-Control-Allow-Methods": "'GET,POST'",
                    f"{HEADER}Access-Control-Max-Age": "'600'",
                    f"{HEADER}Vary": "'Origin'",
                },
                "responseTemplates": {"application/json": TEMPLATE},
            }
        }
    # the tenant methods are as without CORS: the header required and mapped
    get = found[("/projects/{project_id}", "GET")]
    assert get["requestParameters"] == {"method.request.header.X-Tenant-Id": True}
    assert get["methodIntegration"]["requestParameters"] == {
        "integration.request.header.X-Amz-Tenant-Id": "method.request.header.X-Tenant-Id"
    }

    sent: list[str] = []
    provider.deployer.client.register("before-call.api-gateway", lambda model, **_: sent.append(model.name))
    assert pipeline.plan(provider, app, "dev").plan.empty
    pipeline.deploy(provider, app, "dev")
    assert [name for name in sent if not name.startswith("Get")] == []  # a rerun sends nothing


def test_a_changed_policy_rewrites_the_preflights_and_no_policy_removes_them(
    endpoint: str, app_dir: Path, tmp_path: Path, helpers: Any
) -> None:
    app = load_app(app_dir)
    provider = deployed(helpers, endpoint, app)
    pipeline.deploy(provider, app, "dev")
    gateway = provider.deployer.client.apigateway
    [api] = gateway.get_rest_apis()["items"]

    anyone = with_policy(app_dir, tmp_path, "v2", '[tool.portable-fn.cors]\nallow_origins = ["*"]\n\n')
    steps = pipeline.plan(provider, anyone, "dev").plan.steps
    assert sorted((s.action, s.resource.kind, s.changes) for s in steps) == [
        ("update", "function url", ("cors",)),  # the shared function's
        *[("update", "lambda function", ("env",))] * 4,  # PORTABLE_FN_CORS, for the functions' own answers
        ("update", "rest api", ("cors", "gateway_responses")),  # one origin ("*"): its refusals carry it
    ]
    [step] = [s for s in steps if s.resource.kind == "rest api"]
    assert [c.describe() for c in field_changes(step) if c.path.startswith("cors")] == [  # ("credential": hidden)
        "cors.AllowCredentials: (sensitive) -> (none)",
        'cors.AllowHeaders[0]: "content-type" -> "*"',
        'cors.AllowHeaders[1]: "x-tenant-id" -> (none)',
        'cors.AllowMethods[0]: "GET" -> "*"',
        'cors.AllowMethods[1]: "POST" -> (none)',
        'cors.AllowOrigins[0]: "https://admin.example.com" -> "*"',
        'cors.AllowOrigins[1]: "https://app.example.com" -> (none)',
        'cors.ExposeHeaders: ["x-request-id"] -> (none)',
        "cors.MaxAge: 600 -> (none)",
    ]
    pipeline.deploy(provider, anyone, "dev")
    options = methods(gateway)[("/projects", "OPTIONS")]
    answer = options["methodIntegration"]["integrationResponses"]["200"]
    assert answer["responseParameters"] == {f"{HEADER}Access-Control-Allow-Origin": "'*'"}
    assert answer["responseTemplates"]["application/json"] == (
        '## portable-fn cors {"AllowHeaders":["*"],"AllowMethods":["*"],"AllowOrigins":["*"]}\n'
        "#set($h = $input.params().header)\n"
        "#set($context.responseOverride.header.Access-Control-Allow-Methods = "
        "\"$!h.get('Access-Control-Request-Method')$!h.get('access-control-request-method')\")\n"
        "#set($context.responseOverride.header.Access-Control-Allow-Headers = "
        "\"$!h.get('Access-Control-Request-Headers')$!h.get('access-control-request-headers')\")\n"
    )
    assert pipeline.plan(provider, anyone, "dev").plan.empty

    closed = with_policy(app_dir, tmp_path, "v3", "")
    steps = pipeline.plan(provider, closed, "dev").plan.steps
    assert sorted((s.action, s.resource.kind, s.changes) for s in steps) == [
        ("update", "function url", ("cors",)),
        *[("update", "lambda function", ("env",))] * 4,
        ("update", "rest api", ("cors", "gateway_responses")),
    ]
    pipeline.deploy(provider, closed, "dev")
    assert sorted(methods(gateway)) == [
        ("/projects", "GET"),
        ("/projects", "HEAD"),
        ("/projects/{project_id}", "GET"),
        ("/projects/{project_id}", "HEAD"),
        ("/projects/{project_id}", "POST"),
    ]
    assert [a["id"] for a in gateway.get_rest_apis()["items"]] == [api["id"]]  # the same API, so its URL stays
    # moto 5.2 keeps a Function URL's Cors when UpdateFunctionUrlConfig sends an empty one: only the API is asked
    steps = pipeline.plan(provider, closed, "dev").plan.steps
    assert [s.resource.kind for s in steps if s.resource.kind.startswith("rest api")] == []


def test_a_preflight_edited_outside_portable_fn_is_redone(endpoint: str, app_dir: Path, helpers: Any) -> None:
    app = load_app(app_dir)
    provider = deployed(helpers, endpoint, app)
    pipeline.deploy(provider, app, "dev")
    gateway = provider.deployer.client.apigateway
    [api] = gateway.get_rest_apis()["items"]
    [projects] = [r for r in gateway.get_resources(restApiId=api["id"])["items"] if r["path"] == "/projects"]
    gateway.put_integration_response(
        restApiId=api["id"],
        resourceId=projects["id"],
        httpMethod="OPTIONS",
        statusCode="200",
        responseParameters={f"{HEADER}Access-Control-Allow-Origin": "'https://evil.example'"},
        responseTemplates={"application/json": TEMPLATE},
    )
    steps = pipeline.plan(provider, app, "dev").plan.steps
    assert [(s.action, s.resource.kind, s.changes) for s in steps] == [("update", "rest api", ("cors",))]
    pipeline.deploy(provider, app, "dev")
    assert pipeline.plan(provider, app, "dev").plan.empty


def test_the_preflight_of_one_origin_and_any_method_echoes_what_is_asked() -> None:
    answer = Preflight.of('{"AllowHeaders":["*"],"AllowMethods":["*"],"AllowOrigins":["https://app.example.com"]}')
    assert answer.static == {f"{HEADER}Vary": "'Origin'"}
    assert answer.template.splitlines()[2:] == [
        "#set($origin = \"$!h.get('Origin')$!h.get('origin')\")",
        '#if(["https://app.example.com"].contains($origin))',
        "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)",
        "#end",
        "#set($context.responseOverride.header.Access-Control-Allow-Methods = "
        "\"$!h.get('Access-Control-Request-Method')$!h.get('access-control-request-method')\")",
        "#set($context.responseOverride.header.Access-Control-Allow-Headers = "
        "\"$!h.get('Access-Control-Request-Headers')$!h.get('access-control-request-headers')\")",
    ]


def rest_event(adapter: Any, origin: str) -> dict[str, Any]:
    """AWS's sample payload 1.0 event as the tenants' REST API sends GET /projects/7, from a browser at `origin`."""
    event = copy.deepcopy(adapter.load_event("apiGatewayProxyEvent.json"))
    event |= {
        "httpMethod": "GET",
        "path": "/projects/7",
        "resource": "/projects/{project_id}",
        "pathParameters": {"project_id": "7"},
        "body": None,
        "isBase64Encoded": False,
    }
    for name, value in (("X-Tenant-Id", "acme"), ("Origin", origin)):
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    event["requestContext"] |= {"stage": "dev", "path": "/dev/projects/7", "httpMethod": "GET"}
    return event


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("https://admin.example.com", "https://admin.example.com"), ("https://evil.example", None)],
)
def test_the_functions_answer_carries_the_allowed_origin(
    adapter: Any, monkeypatch: pytest.MonkeyPatch, origin: str, allowed: str | None
) -> None:
    app = load_app(APP)
    [spec] = [s for s in app.functions if s.name == "get_project"]
    monkeypatch.setenv("PORTABLE_FN_CORS", app.config.runtime_env()["PORTABLE_FN_CORS"])
    context = adapter.LambdaContext(function_name="tenants-cors-dev-get_project")
    context.tenant_id = "acme"
    response = deliver(spec, rest_event(adapter, origin), context).response
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"tenant": "acme", "project": "7"}
    headers = response["multiValueHeaders"]
    assert headers.get("access-control-allow-origin") == ([allowed] if allowed else None)
    assert headers.get("access-control-allow-credentials") == (["true"] if allowed else None)
    assert headers.get("access-control-expose-headers") == (["X-Request-Id"] if allowed else None)
    assert headers["vary"] == ["Origin"]


def test_plan_says_preflights_are_answered_and_which_header_the_policy_must_allow(
    app_dir: Path, tmp_path: Path
) -> None:
    app = load_app(app_dir)
    notes = AwsProvider(app.config.provider_settings("aws", "dev")).plan_notes(app, "dev")
    assert [n for n in notes if "get_project" in n] == [
        "Function 'get_project' (tenant_isolation=True) is reached only through the REST API "
        "'tenants-cors-dev-tenants' (GET /projects/{project_id} on its stage 'dev'), not a Function URL or the HTTP "
        "API: each request sends X-Tenant-Id, which API Gateway passes to Lambda as the tenant (a request without "
        "it is answered 400), and CORS preflights (OPTIONS /projects/{project_id}) are answered there from "
        "[tool.portable-fn.cors]."
    ]
    narrow = with_policy(
        app_dir, tmp_path, "v2", '[tool.portable-fn.cors]\nallow_origins = ["*"]\nallow_headers = ["Content-Type"]\n\n'
    )
    notes = AwsProvider(narrow.config.provider_settings("aws", "dev")).plan_notes(narrow, "dev")
    assert [n for n in notes if n.startswith("Function 'list_projects': ")] == [
        "Function 'list_projects': a browser asks the preflight to allow the header X-Tenant-Id, which "
        '[tool.portable-fn.cors] allow_headers does not list, so it will not send the request. Add "X-Tenant-Id" '
        "to allow_headers."
    ]


def test_check_refuses_an_isolated_options_route_when_cors_answers_preflights(app_dir: Path) -> None:
    api_py = app_dir / "tenants_cors" / "api.py"
    api_py.write_text(
        api_py.read_text().replace('http("POST", "/projects/{project_id}"', 'http("OPTIONS", "/projects"')
    )
    with pytest.raises(UnsupportedTriggerError) as caught:
        AwsDeployer({"region": "eu-west-1"}).check(load_app(app_dir))
    assert str(caught.value) == (
        "Function 'update_project' on aws: tenant_isolation=True deploys Lambda's per-tenant isolation, and its "
        "route OPTIONS /projects is the method the tenants' REST API answers CORS preflights with on that path "
        "([tool.portable-fn.cors] is set). Declare another method for the function, or remove "
        "[tool.portable-fn.cors]."
    )
