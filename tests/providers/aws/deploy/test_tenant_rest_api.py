"""Lambda's tenant isolation behind the tenants' REST API against the moto server: an HTTP function declared
`tenant_isolation=True` with its tenant in a header deploys with TenancyConfig PER_TENANT (asserted on the
request botocore sends: moto drops it) behind an API Gateway REST API whose method requires the header and whose
Lambda proxy integration maps it onto X-Amz-Tenant-Id; a second plan is empty; remove deletes it; `check` refuses
what no REST API can front, and export writes it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped]
from portable_fn_aws.deploy import AwsDeployer
from portable_fn_aws.deploy.desired import Target, desired
from portable_fn_aws.deploy.export import export
from portable_fn_aws.deploy.naming import Arns, Names
from portable_fn_aws.provider import AwsProvider

from portable_fn.app import load_app
from portable_fn.deploy import Artifact, pipeline
from portable_fn.runtime.errors import UnsupportedTriggerError

ISOLATED = Path(__file__).with_name("apps") / "isolated"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
TAGS = {"portable-fn:app": "isolated", "portable-fn:stage": "dev", "portable-fn:tags": "team", "team": "tenants"}


@pytest.fixture
def isolated_dir(tmp_path: Path) -> Path:
    target = tmp_path / "isolated"
    shutil.copytree(ISOLATED, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    return target


def provider_for(helpers: Any, endpoint: str, app: Any) -> Any:
    return helpers.MotoProvider({**app.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}, endpoint)


def fn_arn(function: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:isolated-dev-{function}"


def invoke_uri(function: str) -> str:
    return f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{fn_arn(function)}/invocations"


def returns_tenancy(parsed: dict[str, Any], **_: Any) -> None:
    """Stand in for Lambda's GetFunctionConfiguration, which returns the TenancyConfig moto drops."""
    if parsed.get("FunctionName", "").split("-")[-1] in ("get_order", "put_file"):
        parsed["TenancyConfig"] = {"TenantIsolationMode": "PER_TENANT"}


def test_deploy_makes_the_rest_api_with_the_tenant_header_mapped(
    endpoint: str, isolated_dir: Path, helpers: Any
) -> None:
    app = load_app(isolated_dir)
    provider = provider_for(helpers, endpoint, app)
    sent: list[tuple[str, Any]] = []
    client = provider.deployer.client
    client.register("before-call.lambda", lambda model, params, **_: sent.append((model.name, params["body"])))
    result = pipeline.deploy(provider, app, "dev")

    tenancy = {
        json.loads(body)["FunctionName"]: json.loads(body).get("TenancyConfig")
        for name, body in sent
        if name == "CreateFunction"
    }
    assert tenancy == {
        "isolated-dev-get_order": {"TenantIsolationMode": "PER_TENANT"},
        "isolated-dev-put_file": {"TenantIsolationMode": "PER_TENANT"},
        "isolated-dev-health": None,
    }

    gateway = client.apigateway
    [api] = gateway.get_rest_apis()["items"]
    assert api["name"] == "isolated-dev-tenants"
    assert api["tags"] == TAGS
    api_id = api["id"]
    paths = {r["path"]: r for r in gateway.get_resources(restApiId=api_id)["items"]}
    assert sorted(paths) == ["/", "/files", "/files/{path+}", "/orders", "/orders/{order_id}"]

    methods = {
        (path, method): gateway.get_method(restApiId=api_id, resourceId=paths[path]["id"], httpMethod=method)
        for path, item in paths.items()
        for method in item.get("resourceMethods") or {}
    }
    # the GET's HEAD beside it (API Gateway's own 403 answered it), its authorization, header and function
    assert sorted(methods) == [
        ("/files/{path+}", "POST"),
        ("/orders/{order_id}", "GET"),
        ("/orders/{order_id}", "HEAD"),
    ]
    get_order, head = methods[("/orders/{order_id}", "GET")], methods[("/orders/{order_id}", "HEAD")]
    for key in ("authorizationType", "requestParameters", "requestValidatorId"):
        assert head[key] == get_order[key], key
    assert head["methodIntegration"]["uri"] == get_order["methodIntegration"]["uri"]
    assert head["methodIntegration"]["requestParameters"] == get_order["methodIntegration"]["requestParameters"]
    assert get_order["authorizationType"] == "AWS_IAM"
    assert get_order["requestParameters"] == {"method.request.header.X-Tenant-Id": True}
    [validator] = gateway.get_request_validators(restApiId=api_id)["items"]
    assert (validator["name"], validator["validateRequestParameters"]) == ("portable-fn-tenant-header", True)
    assert get_order["requestValidatorId"] == validator["id"]
    assert methods[("/files/{path+}", "POST")]["requestValidatorId"] == validator["id"]
    integration = get_order["methodIntegration"]
    assert integration["type"] == "AWS_PROXY"
    assert integration["httpMethod"] == "POST"
    assert integration["uri"] == invoke_uri("get_order")
    assert integration["requestParameters"] == {
        "integration.request.header.X-Amz-Tenant-Id": "method.request.header.X-Tenant-Id"
    }
    assert methods[("/files/{path+}", "POST")]["authorizationType"] == "NONE"
    assert methods[("/files/{path+}", "POST")]["methodIntegration"]["uri"] == invoke_uri("put_file")

    [stage] = gateway.get_stages(restApiId=api_id)["item"]
    assert stage["stageName"] == "dev"
    assert stage["tags"] == TAGS
    assert stage["deploymentId"] in {d["id"] for d in gateway.get_deployments(restApiId=api_id)["items"]}

    policy = json.loads(client.lambda_.get_policy(FunctionName="isolated-dev-get_order")["Policy"])
    [statement] = policy["Statement"]
    assert statement["Sid"] == "portable-fn-tenants"
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Condition"] == {
        "ArnLike": {"AWS:SourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*/*/orders/*"}  # GET, HEAD
    }
    for function in ("get_order", "put_file"):
        with pytest.raises(client.lambda_.exceptions.ResourceNotFoundException):
            client.lambda_.get_function_url_config(FunctionName=f"isolated-dev-{function}")
    assert client.lambda_.get_function_url_config(FunctionName="isolated-dev-health")["AuthType"] == "NONE"

    endpoint_url = f"https://{api_id}.execute-api.{REGION}.amazonaws.com/dev"
    outputs = result.outputs
    assert outputs["tenants_api"] == endpoint_url
    assert outputs["functions"]["get_order"]["url"] == f"{endpoint_url}/orders/{{order_id}}"
    assert outputs["functions"]["get_order"]["tenant_header"] == "X-Tenant-Id"
    assert outputs["functions"]["put_file"]["auth"] == "NONE"

    # moto neither keeps nor returns TenancyConfig: the reads answer what Lambda answers for these functions
    client.register("after-call.lambda.GetFunctionConfiguration", returns_tenancy)
    assert pipeline.plan(provider, app, "dev").plan.empty

    pipeline.remove(provider, app, "dev")
    assert client.apigateway.get_rest_apis()["items"] == []


def rewrite(app_dir: Path, old: str, new: str) -> Any:
    """The app with `old` in its module replaced by `new` (CloudEvent, jwt and queue imported for the new text)."""
    api_py = app_dir / "isolated" / "api.py"
    text = api_py.read_text().replace(
        "Context, Request, Response, function, http, tenant_from",
        "CloudEvent, Context, Request, Response, function, http, jwt, queue, tenant_from",
    )
    assert old in text
    api_py.write_text(text.replace(old, new))
    return load_app(app_dir)


SUPPORTED = (
    "Lambda's tenant isolation needs each invocation to carry a tenant id, which portable-fn passes only for an "
    "HTTP function whose tenant is a header (tenant=tenant_from(header='X-Tenant-Id')): it is fronted by an API "
    "Gateway REST API mapping that header onto X-Amz-Tenant-Id."
)


def refused(app: Any) -> str:
    with pytest.raises(UnsupportedTriggerError) as caught:
        AwsDeployer({"region": REGION}).check(app)
    return str(caught.value)


def test_check_refuses_isolation_on_an_event_trigger(isolated_dir: Path) -> None:
    app = rewrite(
        isolated_dir,
        '@function(trigger=http("GET", "/health", public=True))\ndef health(request: Request)',
        '@function(trigger=queue("jobs"), tenant_isolation=True)\ndef health(request: CloudEvent)',
    )
    assert refused(app) == (
        "Function 'health' on aws: tenant_isolation=True deploys Lambda's per-tenant isolation, which needs every "
        "invocation to carry a tenant id, and its queue trigger cannot pass one (SQS, SNS, S3 and Scheduler name "
        f"no tenant). {SUPPORTED} Remove tenant_isolation=True: ctx.tenant and the per-tenant scoping of state, "
        "idempotency and rate limits work without it."
    )


def test_check_refuses_isolation_when_the_tenant_is_a_claim(isolated_dir: Path) -> None:
    app = rewrite(
        isolated_dir,
        'trigger=http("GET", "/orders/{order_id}"),\n    tenant=tenant_from(header="X-Tenant-Id"),',
        'trigger=http("GET", "/orders/{order_id}", auth=jwt("https://id.example.com/", "orders")),\n'
        '    tenant=tenant_from(claim="org_id"),',
    )
    assert refused(app) == (
        "Function 'get_order' on aws: tenant_isolation=True deploys Lambda's per-tenant isolation, and its tenant "
        "is a claim: API Gateway can map a request header onto X-Amz-Tenant-Id, but a token claim only through a "
        f"Lambda or Cognito authorizer, which portable-fn does not deploy. {SUPPORTED} Read the tenant from a "
        'header (tenant=tenant_from(header="X-Tenant-Id")), or remove tenant_isolation=True.'
    )


def test_check_refuses_isolation_without_a_tenant(isolated_dir: Path) -> None:
    app = rewrite(
        isolated_dir,
        'trigger=http("POST", "/files/{path+}", public=True),\n    tenant=tenant_from(header="X-Tenant-Id"),',
        'trigger=http("POST", "/files/{path+}", public=True),',
    )
    assert refused(app) == (
        "Function 'put_file' on aws: tenant_isolation=True deploys Lambda's per-tenant isolation, and it declares "
        f"no tenant, so no invocation of it would name one. {SUPPORTED} Add "
        'tenant=tenant_from(header="X-Tenant-Id") to its @function (callers then send that header), or remove '
        "tenant_isolation=True."
    )


def test_check_refuses_two_isolated_functions_on_one_route(isolated_dir: Path) -> None:
    app = rewrite(
        isolated_dir,
        'trigger=http("POST", "/files/{path+}", public=True),',
        'trigger=http("GET", "/orders/{order_id}"),',
    )
    assert refused(app) == (
        "Functions 'get_order' and 'put_file' on aws: both declare GET /orders/{order_id} with "
        "tenant_isolation=True, and the tenants' REST API sends a method and path to one function. Change one of "
        "the paths."
    )


def test_export_writes_the_rest_api_in_both_formats(isolated_dir: Path, tmp_path: Path, helpers: Any) -> None:
    app = load_app(isolated_dir)
    artifact = helpers.make_artifact(tmp_path / "zip", "# code\n")
    template = json.loads(
        export(AwsDeployer({"region": REGION}), app, "dev", artifact, "cloudformation").files["template.json"]
    )
    assert template["Resources"]["TenantsRestApi"]["Properties"]["Name"] == "isolated-dev-tenants"
    main_tf = export(AwsDeployer({"region": REGION}), app, "dev", artifact, "terraform").files["main.tf"]
    assert 'resource "aws_api_gateway_rest_api" "tenants" {' in main_tf


def test_a_changed_route_is_rebuilt_under_the_same_api_and_deployed_again(
    endpoint: str, isolated_dir: Path, tmp_path: Path, helpers: Any
) -> None:
    app = load_app(isolated_dir)
    provider = provider_for(helpers, endpoint, app)
    client = provider.deployer.client
    client.register("after-call.lambda.GetFunctionConfiguration", returns_tenancy)
    pipeline.deploy(provider, app, "dev")
    [api] = client.apigateway.get_rest_apis()["items"]
    [first] = [d["id"] for d in client.apigateway.get_deployments(restApiId=api["id"])["items"]]

    moved = tmp_path / "v2" / "isolated"  # another directory: load_app imports the changed module afresh
    shutil.copytree(isolated_dir, moved, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    changed = rewrite(moved, '"/files/{path+}"', '"/uploads/{key}"')
    outcome = pipeline.plan(provider, changed, "dev")
    assert sorted((s.action, s.resource.kind, s.changes) for s in outcome.plan.steps) == [
        ("update", "rest api", ("routes",)),
        ("update", "rest api permission", ("source_route",)),
    ]
    pipeline.deploy(provider, changed, "dev")

    [again] = client.apigateway.get_rest_apis()["items"]
    assert again["id"] == api["id"]
    paths = sorted(r["path"] for r in client.apigateway.get_resources(restApiId=api["id"])["items"])
    assert paths == ["/", "/orders", "/orders/{order_id}", "/uploads", "/uploads/{key}"]
    deployments = [d["id"] for d in client.apigateway.get_deployments(restApiId=api["id"])["items"]]
    [latest] = [d for d in deployments if d != first]  # the new one (createdDate is in whole seconds)
    [stage] = client.apigateway.get_stages(restApiId=api["id"])["item"]
    assert stage["deploymentId"] == latest
    policy = json.loads(client.lambda_.get_policy(FunctionName="isolated-dev-put_file")["Policy"])
    assert [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"]] == [
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api['id']}/*/POST/uploads/*"
    ]
    assert pipeline.plan(provider, changed, "dev").plan.empty


class Answered:
    """The body of an empty answer (botocore reads a raw response through `stream`)."""

    def stream(self) -> Any:
        yield b""


def test_a_changed_tag_is_put_on_the_rest_api_in_place(
    endpoint: str, isolated_dir: Path, tmp_path: Path, helpers: Any
) -> None:
    """moto 5.2 has no TagResource or UntagResource for a REST API's ARN (only for a stage's): what is asserted
    is the requests botocore sends, each answered with API Gateway's empty success before it leaves."""
    app = load_app(isolated_dir)
    provider = provider_for(helpers, endpoint, app)
    client = provider.deployer.client
    client.register("after-call.lambda.GetFunctionConfiguration", returns_tenancy)
    pipeline.deploy(provider, app, "dev")
    [api] = client.apigateway.get_rest_apis()["items"]

    retagged = tmp_path / "v2" / "isolated"
    shutil.copytree(isolated_dir, retagged, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    pyproject = retagged / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('team = "tenants"', 'owner = "billing"'))
    changed = load_app(retagged)
    steps = pipeline.plan(provider, changed, "dev").plan.steps
    assert [(s.action, s.changes) for s in steps if s.resource.kind == "rest api"] == [("update", ("tags",))]

    sent: list[tuple[str, str, Any]] = []

    def answer(request: Any, **_: Any) -> Any:
        sent.append((request.method, unquote(request.url.split("/tags/", 1)[1]), request.body))
        return AWSResponse(request.url, 204, {}, Answered())

    client.register("before-send.api-gateway.TagResource", answer)
    client.register("before-send.api-gateway.UntagResource", answer)
    pipeline.deploy(provider, changed, "dev")
    arn = f"arn:aws:apigateway:{REGION}::/restapis/{api['id']}"
    assert [(method, url.split("?")[0]) for method, url, _ in sent] == [("DELETE", arn), ("PUT", arn)]
    assert sent[0][1].split("?", 1)[1] == "tagKeys=team"
    assert json.loads(sent[1][2]) == {
        "tags": {
            "portable-fn:app": "isolated",
            "portable-fn:stage": "dev",
            "portable-fn:tags": "owner",
            "owner": "billing",
        }
    }


def kinds(app: Any, http: str) -> list[tuple[str, str]]:
    """What `desired` makes of the app's HTTP fronts with `http = <http>`: (kind, name) of each."""
    names = Names(app.name, "dev")
    target = Target(
        app, "dev", names, Arns("aws", REGION, ACCOUNT), Artifact(Path("app.zip"), "ab" * 32, 1, 1), http=http
    )
    fronts = ("function url", "http api", "http api route", "rest api", "rest api permission")
    return sorted((r.kind, r.name) for r in desired(target) if r.kind in fronts)


@pytest.mark.parametrize("http", ["function-url", "http-api"])
def test_isolated_functions_are_only_on_the_rest_api(isolated_dir: Path, http: str) -> None:
    app = load_app(isolated_dir)
    shared = (
        [("function url", "isolated-dev-health")]
        if http == "function-url"
        else [
            ("http api", "isolated-dev"),
            ("http api route", "isolated-dev/isolated-dev-health"),
            ("http api route", "isolated-dev/$default"),  # the API's refusals go to health, never to them
            ("http api route", "isolated-dev/ANY /health"),
            ("http api route", "isolated-dev/HEAD /health"),  # health's GET takes its HEAD too
        ]
    )
    assert kinds(app, http) == sorted(
        [
            *shared,
            ("rest api", "isolated-dev-tenants"),
            ("rest api permission", "isolated-dev-get_order/portable-fn-tenants"),
            ("rest api permission", "isolated-dev-put_file/portable-fn-tenants"),
        ]
    )


def test_no_http_api_when_every_http_function_is_isolated(isolated_dir: Path) -> None:
    app = rewrite(
        isolated_dir,
        '@function(trigger=http("GET", "/health", public=True))\ndef health(request: Request)',
        '@function(trigger=queue("jobs"))\ndef health(request: CloudEvent)',
    )
    assert [kind for kind, _ in kinds(app, "http-api")] == ["rest api", "rest api permission", "rest api permission"]


def test_plan_says_where_an_isolated_function_is_reached(isolated_dir: Path) -> None:
    app = load_app(isolated_dir)
    notes = AwsProvider(app.config.provider_settings("aws", "dev")).plan_notes(app, "dev")
    assert [n for n in notes if "tenant_isolation" in n] == [
        f"Function {name!r} (tenant_isolation=True) is reached only through the REST API 'isolated-dev-tenants' "
        f"({route} on its stage 'dev'), not a Function URL or the HTTP API: each request sends X-Tenant-Id, which "
        "API Gateway passes to Lambda as the tenant (a request without it is answered 400), and CORS preflights "
        "are not answered there (no [tool.portable-fn.cors])."
        for name, route in (("get_order", "GET /orders/{order_id}"), ("put_file", "POST /files/{path+}"))
    ]


def test_a_get_takes_its_head_unless_a_route_of_its_own_takes_head_or_any_on_the_path() -> None:
    from portable_fn_aws.deploy.rest_api import with_heads

    get, post = ("GET", "/a/{id}", "X-Tenant-Id", "AWS_IAM", "arn:get"), ("POST", "/b", "X-Tenant-Id", "NONE", "arn:b")
    assert with_heads([get, post]) == [get, post, ("HEAD", "/a/{id}", "X-Tenant-Id", "AWS_IAM", "arn:get")]
    for method in ("HEAD", "ANY"):
        own = (method, "/a/{other}", "X-Tenant-Id", "NONE", "arn:own")
        assert with_heads([get, own]) == [get, own]
