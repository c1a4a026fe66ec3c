"""Issue 16 on AWS against the moto server: the secured test app (apps/secured) deployed with its secrets'
locator and grants, its JWT routes behind one authorizer with their scopes, its CORS on the HTTP API or on each
Function URL; a second deploy changes nothing; Lambda's tenancy sent as created and refused where no trigger can
pass a tenant id."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.deploy import AwsDeployer
from portable_fn_aws.deploy.appliers import APPLIERS, ApplyContext
from portable_fn_aws.deploy.naming import Arns
from portable_fn_aws.deploy.resources import Function
from portable_fn_aws.provider import AwsProvider
from portable_fn_aws.settings import AwsSettings

from portable_fn.app import load_app
from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import UnsupportedTriggerError

from ....app_copy import copy_app

ACCOUNT = "123456789012"
SECURED = Path(__file__).with_name("apps") / "secured"
CORS = {
    "AllowCredentials": True,
    "AllowHeaders": ["authorization", "content-type"],
    "AllowMethods": ["GET", "POST"],
    "AllowOrigins": ["https://app.example.com"],
    "ExposeHeaders": ["x-request-id"],
    "MaxAge": 600,
}


@pytest.fixture
def secured_dir(tmp_path: Path) -> Path:
    return copy_app(SECURED, tmp_path)


def deploy(helpers: Any, endpoint: str, app_dir: Path, **settings: Any) -> Any:
    app = load_app(app_dir)
    provider = helpers.MotoProvider(
        {**app.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1, **settings}, endpoint
    )
    pipeline.deploy(provider, app, "dev")
    return provider, app


def inline_policy(boto: Any, function: str) -> list[dict[str, Any]]:
    document = boto.iam.get_role_policy(RoleName=f"secured-dev-{function}", PolicyName="portable-fn")["PolicyDocument"]
    return list(document["Statement"])


def env_of(boto: Any, function: str) -> dict[str, str]:
    config = boto.lambda_.get_function_configuration(FunctionName=f"secured-dev-{function}")
    return dict(config["Environment"]["Variables"])


@pytest.mark.parametrize(
    ("store", "locator", "action", "resource"),
    [
        (
            "ssm",
            "ssm:/portable-fn/secured/dev/",
            "ssm:GetParameter",
            f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/portable-fn/secured/dev/stripe-key",
        ),
        (
            "secretsmanager",
            "secretsmanager:portable-fn/secured/dev/",
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:portable-fn/secured/dev/stripe-key-??????",
        ),
    ],
)
def test_a_function_gets_where_its_secrets_live_and_a_grant_for_each_it_declares(
    endpoint: str, secured_dir: Path, boto: Any, helpers: Any, store: str, locator: str, action: str, resource: str
) -> None:
    provider, app = deploy(helpers, endpoint, secured_dir, secrets=store)
    assert env_of(boto, "create_order")["PORTABLE_FN_SECRETS"] == locator
    assert "PORTABLE_FN_SECRETS" not in env_of(boto, "list_orders")
    [read] = [s for s in inline_policy(boto, "create_order") if s["Sid"] == "ReadSecrets"]
    assert (read["Action"], read["Resource"]) == ([action], [resource])
    assert [s["Sid"] for s in inline_policy(boto, "list_orders")] == ["Logs"]
    assert pipeline.plan(provider, app, "dev").plan.empty


def test_jwt_routes_share_one_authorizer_and_require_their_scopes(
    endpoint: str, secured_dir: Path, boto: Any, helpers: Any
) -> None:
    provider, app = deploy(helpers, endpoint, secured_dir)
    [api] = [a for a in boto.apigw.get_apis()["Items"] if a["Name"] == "secured-dev"]
    routes = {r["RouteKey"]: r for r in boto.apigw.get_routes(ApiId=api["ApiId"])["Items"]}
    assert {key: r["AuthorizationType"] for key, r in routes.items()} == {
        "GET /orders": "JWT",
        "POST /orders": "JWT",
        "GET /audit": "NONE",  # its keys are at a jwks_url of its own: the function verifies
        "POST /partner/orders": "NONE",  # api_key: the function verifies
        "GET /health": "NONE",
        # A GET's HEAD goes to its function with the GET's authorization (and scopes, below).
        **{"HEAD /orders": "JWT", "HEAD /audit": "NONE", "HEAD /health": "NONE"},
        # What API Gateway would refuse itself goes to a function open at the edge, which answers 405 or
        # 404 as `dev` does and never runs a handler for it (`desired.refusal_routes`); a preflight too.
        **{f"ANY {path}": "NONE" for path in ("/orders", "/audit", "/partner/orders", "/health")},
        "$default": "NONE",
    }
    assert routes["GET /orders"]["AuthorizationScopes"] == ["orders:read"]
    assert routes["POST /orders"]["AuthorizationScopes"] == ["orders:write"]
    authorizer_id = routes["GET /orders"]["AuthorizerId"]
    assert routes["POST /orders"]["AuthorizerId"] == authorizer_id
    assert (routes["HEAD /orders"]["AuthorizationScopes"], routes["HEAD /orders"]["AuthorizerId"]) == (
        ["orders:read"],
        authorizer_id,
    )
    authorizer = boto.apigw.get_authorizer(ApiId=api["ApiId"], AuthorizerId=authorizer_id)
    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
    assert authorizer["JwtConfiguration"] == {"Issuer": "https://id.example.com/", "Audience": ["orders-api"]}

    client = provider.deployer.client
    client.calls.clear()
    assert pipeline.deploy(provider, app, "dev").plan.empty
    assert ("apigatewayv2", "GetAuthorizer") in client.calls and client.mutating_calls() == []


def test_a_route_that_drops_its_jwt_leaves_the_authorizer_and_the_unused_authorizer_is_deleted(
    endpoint: str, secured_dir: Path, boto: Any, helpers: Any, tmp_path: Path
) -> None:
    provider, _ = deploy(helpers, endpoint, secured_dir)
    moved = tmp_path / "moved"
    shutil.copytree(secured_dir, moved, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    api_py = moved / "secured" / "api.py"
    text = api_py.read_text()
    text = text.replace('auth=jwt(ISSUER, "orders-api", scopes=["orders:read"])', "public=True")
    text = text.replace('auth=jwt(ISSUER, "orders-api", scopes=["orders:write"])', "public=True")
    api_py.write_text(text)
    outcome = pipeline.deploy(provider, load_app(moved), "dev")
    assert sorted(s.describe() for s in outcome.plan.steps) == [
        "- delete http api authorizer secured-dev/portable-fn-jwt-d4bc1a293761",
        "~ update http api route secured-dev/HEAD /orders (authorization_type, authorizer, scopes)",
        "~ update http api route secured-dev/secured-dev-create_order (authorization_type, authorizer, scopes)",
        "~ update http api route secured-dev/secured-dev-list_orders (authorization_type, authorizer, scopes)",
    ]
    [api] = [a for a in boto.apigw.get_apis()["Items"] if a["Name"] == "secured-dev"]
    routes = {r["RouteKey"]: r for r in boto.apigw.get_routes(ApiId=api["ApiId"])["Items"]}
    assert routes["GET /orders"]["AuthorizationType"] == "NONE" and not routes["GET /orders"].get("AuthorizerId")
    assert pipeline.plan(provider, load_app(moved), "dev").plan.empty


def test_cors_is_the_http_apis_and_a_change_is_an_update(
    endpoint: str, secured_dir: Path, boto: Any, helpers: Any
) -> None:
    provider, _ = deploy(helpers, endpoint, secured_dir)
    [api] = [a for a in boto.apigw.get_apis()["Items"] if a["Name"] == "secured-dev"]
    assert boto.apigw.get_api(ApiId=api["ApiId"])["CorsConfiguration"] == CORS

    pyproject = secured_dir / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("max_age = 600", "max_age = 60"))
    changed = load_app(secured_dir)
    outcome = pipeline.deploy(provider, changed, "dev")
    steps = [s.describe() for s in outcome.plan.steps if s.resource.kind == "http api"]
    assert steps == ["~ update http api secured-dev (cors)"]
    assert boto.apigw.get_api(ApiId=api["ApiId"])["CorsConfiguration"]["MaxAge"] == 60
    assert pipeline.plan(provider, changed, "dev").plan.empty


def test_with_function_urls_cors_is_each_urls_and_routes_with_auth_are_open_at_the_edge(
    endpoint: str, secured_dir: Path, boto: Any, helpers: Any
) -> None:
    provider, app = deploy(helpers, endpoint, secured_dir, http="function-url")
    auth = {}
    for function in ("list_orders", "create_order", "audit", "partner_order", "health"):
        url = boto.lambda_.get_function_url_config(FunctionName=f"secured-dev-{function}")
        assert url["Cors"] == CORS
        auth[function] = url["AuthType"]
    assert set(auth.values()) == {"NONE"}  # each verifies its callers itself (auth=), or is public
    statements = json.loads(boto.lambda_.get_policy(FunctionName="secured-dev-list_orders")["Policy"])["Statement"]
    assert sorted(s["Action"] for s in statements) == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
    assert pipeline.plan(provider, app, "dev").plan.empty


def test_tenant_isolation_is_refused_for_every_trigger_deploy_makes(tmp_path: Path, secured_dir: Path) -> None:
    api_py = secured_dir / "secured" / "api.py"
    api_py.write_text(
        api_py.read_text().replace(
            '@function(trigger=queue("charges"), ', '@function(trigger=queue("charges"), tenant_isolation=True, '
        )
    )
    app = load_app(secured_dir)
    with pytest.raises(UnsupportedTriggerError) as refused:
        AwsDeployer({"region": "eu-west-1"}).check(app)
    assert str(refused.value).startswith(
        "Function 'charge' on aws: tenant_isolation=True deploys Lambda's per-tenant isolation"
    )
    assert "its queue trigger cannot pass one" in str(refused.value)


def test_a_tenant_isolated_function_is_created_with_its_tenancy_and_replaced_when_it_changes(
    endpoint: str, tmp_path: Path, helpers: Any
) -> None:
    """moto accepts CreateFunction's TenancyConfig but neither keeps nor returns it, so what is asserted is the
    request botocore sends (a before-call hook on the deploy's own client)."""
    settings = AwsSettings(region="eu-west-1", wait_delay_s=0.1)
    deployer = AwsDeployer(settings, endpoint)
    client = deployer.client
    arns = Arns("aws", "eu-west-1", client.account())
    sent: list[tuple[str, dict[str, Any]]] = []
    client.register("before-call.lambda", lambda model, params, **_: sent.append((model.name, params["body"])))
    client.iam.create_role(RoleName="tenants", AssumeRolePolicyDocument="{}")
    artifact = helpers.make_artifact(tmp_path, "# code\n")
    function = Function(
        "tenants-dev-work",
        role_arn=arns.role("/", "tenants"),
        handler="portable_fn_entry.work",
        runtime="python3.11",
        zip_path=str(artifact.path),
        tenancy="PER_TENANT",
    )
    applier = APPLIERS[Function](ApplyContext(client, "tenants", "dev", arns, settings))
    applier.create(function)
    [created] = [json.loads(body) for name, body in sent if name == "CreateFunction"]
    assert created["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}

    sent.clear()
    shared = Function(**{**function.__dict__, "tenancy": ""})
    applier.update(shared, function, ("tenancy",))
    assert [name for name, _ in sent] == ["DeleteFunction", "CreateFunction", "GetFunction"]
    assert "TenancyConfig" not in json.loads(sent[1][1])


def test_plan_says_a_jwt_any_route_would_refuse_cors_preflights(secured_dir: Path) -> None:
    api_py = secured_dir / "secured" / "api.py"
    api_py.write_text(
        api_py.read_text().replace('http("GET", "/orders", auth=jwt(', 'http("ANY", "/orders", auth=jwt(')
    )
    app = load_app(secured_dir)
    notes = AwsProvider(app.config.provider_settings("aws", "dev")).plan_notes(app, "dev")
    assert [n for n in notes if "preflight" in n] == [
        "Function 'list_orders' on aws: its route ANY /orders requires a JWT at the HTTP API, which a browser's CORS "
        "preflight (OPTIONS) does not carry, so API Gateway refuses the preflight. Declare the methods it serves "
        "one function each, or verify in the function (give the jwt a jwks_url)."
    ]
    urls = AwsProvider({**app.config.provider_settings("aws", "dev"), "http": "function-url"})
    assert [n for n in urls.plan_notes(app, "dev") if "preflight" in n] == []
