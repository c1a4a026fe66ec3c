"""samples/saas deployed to a real moto server through the shared pipeline, checked with boto3: a DynamoDB table
per state (the sample's and portable-fn's rate-limit, outbox and workflow stores), `billing_export` alone told
where the secrets are and allowed to read `billing-key` (its SSM parameter, by ARN), and a second plan with
nothing to do; behind an HTTP API (`http = "http-api"`), the JWT routes checked by an authorizer of the stage's
issuer with their scopes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline

from ....app_copy import copy_app

SAAS = Path(__file__).resolve().parents[4] / "samples" / "saas"
ACCOUNT, REGION = "123456789012", "eu-west-1"
PARAMETER = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/portable-fn/saas/dev/billing-key"
CORS = {  # [tool.portable-fn.cors] of the sample, in AWS's fields
    "AllowOrigins": ["https://app.saas.example"],
    "AllowMethods": ["*"],
    "AllowHeaders": ["authorization", "content-type"],
    "ExposeHeaders": ["retry-after"],
    "MaxAge": 600,
}


@pytest.fixture
def saas(tmp_path: Path) -> App:
    return load_app(copy_app(SAAS, tmp_path))


@pytest.fixture
def provider(endpoint: str, helpers: Any, saas: App) -> Any:
    return helpers.MotoProvider({**saas.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}, endpoint)


def client(endpoint: str, service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def policy(iam: Any, function: str) -> dict[str, tuple[list[str], list[str]]]:
    document = iam.get_role_policy(RoleName=f"saas-dev-{function}", PolicyName="portable-fn")["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    return {s["Sid"]: (s["Action"], s["Resource"]) for s in document["Statement"]}


def test_the_saas_sample_deploys_its_tables_and_a_second_plan_is_a_no_op(
    provider: Any, saas: App, endpoint: str
) -> None:
    first = pipeline.plan(provider, saas, "dev")
    assert first.grants is not None
    assert [(g.function, g.actions, g.resource) for g in first.grants.added if ":ssm:" in g.resource] == [
        ("billing_export", ("ssm:GetParameter",), PARAMETER)  # the plan lists the one secret grant
    ]
    pipeline.deploy(provider, saas, "dev")
    assert sorted(client(endpoint, "dynamodb").list_tables()["TableNames"]) == sorted(
        f"saas-dev-{s}"
        for s in ("projects", "project-ids", "api-keys", "activity", "tenants", "pfn-rate-limits", "pfn-outbox")
        + ("pfn-workflows",)
    )
    again = pipeline.plan(provider, saas, "dev")
    assert again.plan is not None and again.plan.empty, [s.describe() for s in again.plan.steps]
    assert again.grants is not None and (again.grants.added, again.grants.removed) == ((), ())


def test_only_billing_export_may_read_billing_key_and_knows_where_it_is(
    provider: Any, saas: App, endpoint: str
) -> None:
    pipeline.deploy(provider, saas, "dev")
    iam, lambdas = client(endpoint, "iam"), client(endpoint, "lambda")
    readers = {}
    for spec in saas.functions:
        statements = policy(iam, spec.name)
        if "ReadSecrets" in statements:
            readers[spec.name] = statements["ReadSecrets"]
        variables = lambdas.get_function_configuration(FunctionName=f"saas-dev-{spec.name}")["Environment"]
        if "PORTABLE_FN_SECRETS" in variables["Variables"]:
            readers[spec.name + " env"] = variables["Variables"]["PORTABLE_FN_SECRETS"]
    assert readers == {
        "billing_export": (["ssm:GetParameter"], [PARAMETER]),
        "billing_export env": "ssm:/portable-fn/saas/dev/",
    }
    url = lambdas.get_function_url_config(FunctionName="saas-dev-create_project")
    assert (url["AuthType"], url["Cors"]) == ("NONE", CORS)  # open at the edge: the function verifies the token


def test_behind_an_http_api_the_jwt_routes_have_an_authorizer_of_the_stages_issuer(
    saas: App, endpoint: str, helpers: Any
) -> None:
    settings = {**saas.config.provider_settings("aws", "dev"), "http": "http-api", "wait_delay_s": 0.1}
    provider = helpers.MotoProvider(settings, endpoint)
    pipeline.deploy(provider, saas, "dev")
    apigw = client(endpoint, "apigatewayv2")
    [api] = apigw.get_apis()["Items"]
    assert api["CorsConfiguration"] == CORS  # API Gateway answers the browser app's preflights itself
    routes = {r["RouteKey"]: r for r in apigw.get_routes(ApiId=api["ApiId"])["Items"]}
    checked = {key: r for key, r in routes.items() if r.get("AuthorizationType") == "JWT"}
    assert {key: sorted(r["AuthorizationScopes"]) for key, r in checked.items()} == {
        "POST /projects": ["projects:write"],
        "GET /projects/{project_id}": ["projects:read"],
        "GET /projects": ["projects:read"],
        "GET /activity": ["projects:read"],
        **{f"HEAD /{path}": ["projects:read"] for path in ("projects/{project_id}", "projects", "activity")},
        "POST /tenants": ["tenants:admin"],
    }
    # moto answers GetAuthorizers with a 500: each authorizer is read by the id its routes name
    [authorizer_id] = {r["AuthorizerId"] for r in checked.values()}  # one issuer and audience: one authorizer
    authorizer = apigw.get_authorizer(ApiId=api["ApiId"], AuthorizerId=authorizer_id)
    assert (authorizer["AuthorizerType"], authorizer["JwtConfiguration"]) == (
        "JWT",
        {"Audience": ["saas-api"], "Issuer": "https://auth.saas.example/"},
    )
    again = pipeline.plan(provider, saas, "dev").plan
    assert again is not None and again.empty, [s.describe() for s in again.steps]


def test_a_prod_deploy_gives_the_authorizer_prods_issuer(tmp_path: Path, endpoint: str, helpers: Any) -> None:
    """The app is loaded for its stage (as the CLI loads it): its module reads prod's SAAS_ISSUER."""
    target = tmp_path / "saas-prod"
    shutil.copytree(SAAS, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    prod = load_app(target, "prod")
    settings = {**prod.config.provider_settings("aws", "prod"), "http": "http-api", "wait_delay_s": 0.1}
    pipeline.deploy(helpers.MotoProvider(settings, endpoint), prod, "prod")
    apigw = client(endpoint, "apigatewayv2")
    [api] = apigw.get_apis()["Items"]
    [authorizer_id] = {
        r["AuthorizerId"] for r in apigw.get_routes(ApiId=api["ApiId"])["Items"] if r.get("AuthorizerId")
    }
    issuer = apigw.get_authorizer(ApiId=api["ApiId"], AuthorizerId=authorizer_id)["JwtConfiguration"]["Issuer"]
    assert issuer == "https://login.saas.example/"
