"""`http = "http-api"`: the app's HTTP functions behind one API Gateway HTTP API, deployed to a moto server.

The gateway test app (apps/gateway) has public and private routes, a path parameter and a greedy one
for ANY method. It goes through the CLI as a user runs it (real packaging: it has no dependencies, so
nothing is downloaded), and through the pipeline where calls are counted. Besides each function's route,
the API hands what it would refuse itself to a function (`ANY /path`, `$default`), which answers it as
`portable-fn dev` does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from portable_fn_aws.provider import AwsProvider

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.deploy import pipeline

from ....app_copy import copy_app

ACCOUNT = "123456789012"
GATEWAY = Path(__file__).with_name("apps") / "gateway"
ROUTES = {  # function -> (route key, authorization, permission's source route)
    "list_items": ("GET /items", "NONE", "*/*/items"),  # the source covers its `ANY /items` refusals
    "get_item": ("GET /items/{item_id}", "NONE", "*/*"),  # and `$default`'s: any method and path
    "put_item": ("PUT /items/{item_id}", "AWS_IAM", "*/PUT/items/*"),
    "files": ("ANY /files/{path+}", "AWS_IAM", "*/*/files/*"),
}
REFUSALS = {  # route key -> the function it goes to (one open at the edge where there is one), authorization
    "ANY /items": ("list_items", "NONE"),
    "ANY /items/{item_id}": ("get_item", "NONE"),
    "$default": ("get_item", "NONE"),
}


@pytest.fixture
def gateway_dir(tmp_path: Path) -> Path:
    return copy_app(GATEWAY, tmp_path)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else out), err


def the_api(boto: Any) -> dict[str, Any]:
    [api] = [a for a in boto.apigw.get_apis()["Items"] if a["Name"] == "gateway-dev"]
    return dict(api)


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:gateway-dev-{name}"


def check_api(
    boto: Any, routes: dict[str, tuple[str, str, str]], refusals: dict[str, tuple[str, str]] | None = None
) -> None:
    """One tagged API with an auto-deploying $default stage, a route, an integration and a permission
    per HTTP function, the routes of its refusals, and no Function URL."""
    api = the_api(boto)
    assert api["ProtocolType"] == "HTTP"
    assert api["Tags"] == {"portable-fn:app": "gateway", "portable-fn:stage": "dev"}
    [stage] = boto.apigw.get_stages(ApiId=api["ApiId"])["Items"]
    assert (stage["StageName"], stage["AutoDeploy"]) == ("$default", True)
    integrations = {i["IntegrationId"]: i for i in boto.apigw.get_integrations(ApiId=api["ApiId"])["Items"]}
    assert sorted(i["IntegrationUri"] for i in integrations.values()) == sorted(function_arn(f) for f in routes)
    assert {(i["IntegrationType"], i["PayloadFormatVersion"]) for i in integrations.values()} == {("AWS_PROXY", "2.0")}
    found = {}
    for route in boto.apigw.get_routes(ApiId=api["ApiId"])["Items"]:
        target = integrations[route["Target"].removeprefix("integrations/")]["IntegrationUri"]
        found[route["RouteKey"]] = (target.rsplit("-", 1)[-1], route["AuthorizationType"])
    heads = {f"HEAD {k[4:]}": (f, a) for f, (k, a, _) in routes.items() if k.startswith("GET ")}  # a GET's HEAD
    assert found == {
        **(REFUSALS if refusals is None else refusals),
        **heads,
        **{k: (f, a) for f, (k, a, _) in routes.items()},
    }
    for name, (_, _, source) in routes.items():
        [statement] = json.loads(boto.lambda_.get_policy(FunctionName=f"gateway-dev-{name}")["Policy"])["Statement"]
        assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
        assert statement["Action"] == "lambda:InvokeFunction"
        assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == (
            f"arn:aws:execute-api:eu-west-1:{ACCOUNT}:{api['ApiId']}/{source}"
        )
        with pytest.raises(ClientError):
            boto.lambda_.get_function_url_config(FunctionName=f"gateway-dev-{name}")


def test_deploy_redeploy_info_remove_an_http_api_with_the_cli(
    capsys: Any, endpoint: str, gateway_dir: Path, boto: Any
) -> None:
    common = ("--provider", "aws", "--app", str(gateway_dir), "--endpoint-url", endpoint)
    code, first, err = cli(capsys, "deploy", *common, "--json")
    assert code == 0, err
    check_api(boto, ROUTES)
    endpoint_url = the_api(boto)["ApiEndpoint"]
    assert first["outputs"]["http_api"] == endpoint_url
    assert first["outputs"]["functions"]["get_item"] == {
        "name": "gateway-dev-get_item",
        "arn": function_arn("get_item"),
        "trigger": "http",
        "url": f"{endpoint_url}/items/{{item_id}}",
        "auth": "NONE",
        "route": "GET /items/{item_id}",
    }
    assert first["outputs"]["functions"]["files"]["auth"] == "AWS_IAM"

    code, second, err = cli(capsys, "deploy", *common, "--json")
    assert code == 0, err
    assert second["applied"] == 0 and second["plan"]["steps"] == []

    code, info, _ = cli(capsys, "info", *common)
    assert code == 0 and f"http_api: {endpoint_url}" in info  # the functions are a table: name, trigger, URL
    assert f"\nlist_items  http     {endpoint_url}/items\n" in info

    code, removed, err = cli(capsys, "remove", *common, "--json")
    assert code == 0, err
    assert removed["applied"] == first["applied"]
    assert [a for a in boto.apigw.get_apis()["Items"] if a["Name"] == "gateway-dev"] == []
    assert not [f for f in boto.lambda_.list_functions()["Functions"] if f["FunctionName"].startswith("gateway-")]
    filters = [{"Key": "portable-fn:app", "Values": ["gateway"]}]
    assert boto.tagging.get_resources(TagFilters=filters)["ResourceTagMappingList"] == []


def test_a_redeploy_makes_no_mutating_call(endpoint: str, gateway_dir: Path) -> None:
    app = load_app(gateway_dir)
    provider = AwsProvider({**app.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}, endpoint)
    pipeline.deploy(provider, app, "dev")
    client = provider.deployer.client
    client.calls.clear()
    outcome = pipeline.deploy(provider, app, "dev")
    assert outcome.plan.empty, [s.describe() for s in outcome.plan.steps]
    assert ("apigatewayv2", "GetRoutes") in client.calls and client.mutating_calls() == []


def test_a_changed_route_updates_only_that_route_its_permission_and_the_refusals_of_its_path(
    endpoint: str, gateway_dir: Path, tmp_path: Path, boto: Any, helpers: Any
) -> None:
    app = load_app(gateway_dir)
    provider = helpers.MotoProvider({**app.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}, endpoint)
    pipeline.deploy(provider, app, "dev")
    api_id = the_api(boto)["ApiId"]
    moved = tmp_path / "moved"  # a copy elsewhere, so its modules are imported afresh
    shutil.copytree(gateway_dir, moved, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    items = moved / "gateway" / "items.py"
    items.write_text(items.read_text().replace('http("PUT", "/items/{item_id}")', 'http("PUT", "/stock/{sku}")'))
    provider.deployer.client.calls.clear()

    outcome = pipeline.deploy(provider, load_app(moved), "dev")
    assert [s.describe() for s in outcome.plan.steps] == [
        "~ update http api permission gateway-dev-put_item/portable-fn-http-api (source_route)",
        "~ update http api route gateway-dev/gateway-dev-put_item (route_key)",
        "+ create http api route gateway-dev/ANY /stock/{sku}",  # a new path: its other methods' 405
    ]
    assert provider.deployer.client.mutating_calls() == [
        ("lambda", "RemovePermission"),
        ("lambda", "AddPermission"),
        ("apigatewayv2", "UpdateRoute"),
        ("apigatewayv2", "CreateRoute"),
    ]
    moved_routes = {**ROUTES, "put_item": ("PUT /stock/{sku}", "AWS_IAM", "*/*/stock/*")}
    check_api(boto, moved_routes, {**REFUSALS, "ANY /stock/{sku}": ("put_item", "AWS_IAM")})  # private
    assert the_api(boto)["ApiId"] == api_id
    assert pipeline.plan(provider, load_app(moved), "dev").plan.empty


def test_switching_between_function_urls_and_the_http_api(
    endpoint: str, gateway_dir: Path, boto: Any, helpers: Any
) -> None:
    app = load_app(gateway_dir)
    urls = helpers.MotoProvider({"region": "eu-west-1", "wait_delay_s": 0.1}, endpoint)
    pipeline.deploy(urls, app, "dev")
    assert boto.lambda_.get_function_url_config(FunctionName="gateway-dev-files")["AuthType"] == "AWS_IAM"
    assert boto.apigw.get_apis()["Items"] == []

    api = helpers.MotoProvider({"region": "eu-west-1", "http": "http-api", "wait_delay_s": 0.1}, endpoint)
    outcome = pipeline.deploy(api, app, "dev")
    updated = {(s.resource.kind, s.changes) for s in outcome.plan.steps if s.action == "update"}
    assert updated == {("lambda function", ("env",))}  # PORTABLE_FN_HTTP_FRONT: they now refuse as the API would
    assert {s.resource.kind for s in outcome.plan.steps if s.action == "delete"} == {
        "function url",
        "lambda permission",
    }
    check_api(boto, ROUTES)

    back = pipeline.deploy(urls, app, "dev")
    assert {s.resource.kind for s in back.plan.steps if s.action == "delete"} == {
        "http api",
        "http api integration",
        "http api route",
        "http api permission",
    }
    assert boto.apigw.get_apis()["Items"] == []
    assert pipeline.plan(urls, app, "dev").plan.empty


def test_a_deleted_stage_or_route_is_put_back(endpoint: str, gateway_dir: Path, boto: Any, helpers: Any) -> None:
    app = load_app(gateway_dir)
    provider = helpers.MotoProvider({**app.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}, endpoint)
    pipeline.deploy(provider, app, "dev")
    api_id = the_api(boto)["ApiId"]
    boto.apigw.delete_stage(ApiId=api_id, StageName="$default")
    [files] = [r for r in boto.apigw.get_routes(ApiId=api_id)["Items"] if r["RouteKey"].startswith("ANY /files")]
    boto.apigw.delete_route(ApiId=api_id, RouteId=files["RouteId"])

    outcome = pipeline.deploy(provider, app, "dev")
    assert sorted(s.describe() for s in outcome.plan.steps) == [
        "+ create http api route gateway-dev/ANY /files/{path+}",
        "~ update http api gateway-dev (auto_deploy)",
    ]
    check_api(boto, ROUTES)
    assert pipeline.plan(provider, app, "dev").plan.empty
