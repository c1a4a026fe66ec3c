"""`portable-fn export --provider aws` writes the tenants' REST API: its resources, methods (the tenant header
required and validated), Lambda proxy integrations mapping it onto X-Amz-Tenant-Id, the CORS preflights, a
deployment that a change replaces, the stage, and the permissions limited to the API. cfn-lint and the
hashicorp/aws schema check every app's export in tests/providers/aws/test_export.py (`isolated`, `tenants_cors`);
here the values are asserted, and moto's CloudFormation makes the API from the template."""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import boto3
from portable_fn_aws.deploy import AwsDeployer
from portable_fn_aws.deploy.export import export

from portable_fn.app import load_app
from portable_fn.deploy import Artifact
from portable_fn.export import Export

from ....export.hcl_roundtrip import parse

APPS = Path(__file__).with_name("apps")
REGION = "eu-west-1"


def make_artifact(directory: Path) -> Artifact:
    """A deterministic zip standing in for the packaged app (packaging has tests of its own)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "app.zip"
    with zipfile.ZipFile(path, "w") as archive:
        entry = zipfile.ZipInfo("portable_fn_entry.py", (1980, 1, 1, 0, 0, 0))
        archive.writestr(entry, "def handler(event, context):\n    return event\n")
    data = path.read_bytes()
    return Artifact(path, hashlib.sha256(data).hexdigest(), len(data), 1)


def packaged(template: dict[str, Any], bucket: str, key: str) -> dict[str, Any]:
    """The template as `aws cloudformation package` leaves it (each function's Code an S3 location), less its
    Outputs, which moto cannot check for the types it skips."""
    out = json.loads(json.dumps(template))
    for resource in out["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            resource["Properties"]["Code"] = {"S3Bucket": bucket, "S3Key": key}
    out.pop("Outputs")
    return out


def exported(tmp_path: Path, name: str, fmt: str, edit: tuple[str, str] | None = None) -> Export:
    root = tmp_path / fmt / name
    shutil.copytree(APPS / name, root, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    if edit:
        pyproject = root / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace(*edit))
    app = load_app(root)
    return export(AwsDeployer({"region": REGION}), app, "dev", make_artifact(root / ".portable-fn" / "build"), fmt)


def template(tmp_path: Path, name: str, edit: tuple[str, str] | None = None) -> dict[str, Any]:
    return dict(json.loads(exported(tmp_path, name, "cloudformation", edit).files["template.json"]))


def test_the_template_holds_the_rest_api_its_methods_and_permissions(tmp_path: Path) -> None:
    resources = template(tmp_path, "isolated")["Resources"]
    api = {k: v["Type"] for k, v in resources.items() if k.startswith("TenantsRestApi")}
    [deployment] = [k for k, kind in api.items() if kind == "AWS::ApiGateway::Deployment"]
    assert api == {
        "TenantsRestApi": "AWS::ApiGateway::RestApi",
        "TenantsRestApiResourceFiles": "AWS::ApiGateway::Resource",
        "TenantsRestApiResourceOrders": "AWS::ApiGateway::Resource",
        "TenantsRestApiResourceFilesPath": "AWS::ApiGateway::Resource",
        "TenantsRestApiResourceOrdersOrderId": "AWS::ApiGateway::Resource",
        "TenantsRestApiValidator": "AWS::ApiGateway::RequestValidator",
        "TenantsRestApiGetOrdersOrderId": "AWS::ApiGateway::Method",
        "TenantsRestApiHeadOrdersOrderId": "AWS::ApiGateway::Method",  # the GET's HEAD, to the same function
        "TenantsRestApiPostFilesPath": "AWS::ApiGateway::Method",
        deployment: "AWS::ApiGateway::Deployment",
        "TenantsRestApiStage": "AWS::ApiGateway::Stage",
    }
    assert resources["TenantsRestApiResourceFilesPath"]["Properties"] == {
        "RestApiId": {"Ref": "TenantsRestApi"},
        "ParentId": {"Ref": "TenantsRestApiResourceFiles"},
        "PathPart": "{path+}",
    }
    assert resources["TenantsRestApiGetOrdersOrderId"]["Properties"] == {
        "RestApiId": {"Ref": "TenantsRestApi"},
        "ResourceId": {"Ref": "TenantsRestApiResourceOrdersOrderId"},
        "HttpMethod": "GET",
        "AuthorizationType": "AWS_IAM",
        "RequestParameters": {"method.request.header.X-Tenant-Id": True},
        "RequestValidatorId": {"Ref": "TenantsRestApiValidator"},
        "Integration": {
            "Type": "AWS_PROXY",
            "IntegrationHttpMethod": "POST",
            "Uri": {
                "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                "${GetOrderFunction.Arn}/invocations"
            },
            "RequestParameters": {"integration.request.header.X-Amz-Tenant-Id": "method.request.header.X-Tenant-Id"},
        },
    }
    head = resources["TenantsRestApiHeadOrdersOrderId"]["Properties"]
    assert head == {**resources["TenantsRestApiGetOrdersOrderId"]["Properties"], "HttpMethod": "HEAD"}
    assert resources[deployment]["DependsOn"] == [
        "TenantsRestApiGetOrdersOrderId",
        "TenantsRestApiHeadOrdersOrderId",
        "TenantsRestApiPostFilesPath",
    ]
    assert resources["TenantsRestApiStage"]["Properties"] == {
        "RestApiId": {"Ref": "TenantsRestApi"},
        "DeploymentId": {"Ref": deployment},
        "StageName": "dev",
        "Tags": [
            {"Key": "portable-fn:app", "Value": "isolated"},
            {"Key": "portable-fn:stage", "Value": "dev"},
            {"Key": "team", "Value": "tenants"},
        ],
    }
    assert resources["GetOrderTenantsPermission"]["Properties"] == {
        "FunctionName": {"Fn::GetAtt": ["GetOrderFunction", "Arn"]},
        "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
        "SourceArn": {
            "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${TenantsRestApi}"
            "/*/*/orders/*"  # its GET and the HEAD beside it
        },
    }
    assert not any(r["Type"] == "AWS::Lambda::Url" and "GetOrder" in k for k, r in resources.items())


def test_a_change_of_routes_or_cors_is_a_new_deployment_in_the_template(tmp_path: Path) -> None:
    def deployment(resources: dict[str, Any]) -> str:
        [found] = [k for k, r in resources.items() if r["Type"] == "AWS::ApiGateway::Deployment"]
        return found

    first = deployment(template(tmp_path / "a", "tenants_cors")["Resources"])
    assert first == deployment(template(tmp_path / "b", "tenants_cors")["Resources"])
    changed = template(tmp_path / "c", "tenants_cors", ("max_age = 600", "max_age = 60"))["Resources"]
    assert deployment(changed) != first
    assert changed["TenantsRestApiStage"]["Properties"]["DeploymentId"] == {"Ref": deployment(changed)}


def test_moto_makes_the_rest_api_from_the_template(tmp_path: Path, endpoint: str) -> None:
    files = exported(tmp_path, "tenants_cors", "cloudformation")
    client = functools.partial(boto3.client, region_name=REGION, endpoint_url=endpoint)
    s3, cfn, gateway = client("s3"), client("cloudformation"), client("apigateway")
    s3.create_bucket(Bucket="packaged", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.upload_file(str(files.artifacts["artifacts/app.zip"]), "packaged", "app.zip")
    body = packaged(json.loads(files.files["template.json"]), "packaged", "app.zip")
    for resource in body["Resources"].values():  # moto 5.2 reads both of every integration (AWS: not of a MOCK)
        if resource["Type"] == "AWS::ApiGateway::Method" and resource["Properties"]["Integration"]["Type"] == "MOCK":
            resource["Properties"]["Integration"].update(IntegrationHttpMethod="POST", Uri="")
    cfn.create_stack(StackName="tenants-cors-dev", TemplateBody=json.dumps(body), Capabilities=["CAPABILITY_NAMED_IAM"])

    assert cfn.describe_stacks(StackName="tenants-cors-dev")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    [api] = gateway.get_rest_apis()["items"]
    assert api["name"] == "tenants-cors-dev-tenants"
    items = gateway.get_resources(restApiId=api["id"])["items"]
    assert sorted(i["path"] for i in items) == ["/", "/projects", "/projects/{project_id}"]
    # moto's CloudFormation keeps a method's type, authorization and integration (its type and URI), no more;
    # it makes no RequestValidator or Stage
    integrations = {
        (i["path"], m): gateway.get_method(restApiId=api["id"], resourceId=i["id"], httpMethod=m)["methodIntegration"]
        for i in items
        for m in i.get("resourceMethods") or {}
    }
    account = client("sts").get_caller_identity()["Account"]
    assert {where: (found["type"], found["uri"]) for where, found in integrations.items()} == {
        ("/projects", "GET"): ("AWS_PROXY", invoke_uri(account, "list_projects")),
        ("/projects", "HEAD"): ("AWS_PROXY", invoke_uri(account, "list_projects")),
        ("/projects", "OPTIONS"): ("MOCK", ""),
        ("/projects/{project_id}", "GET"): ("AWS_PROXY", invoke_uri(account, "get_project")),
        ("/projects/{project_id}", "HEAD"): ("AWS_PROXY", invoke_uri(account, "get_project")),
        ("/projects/{project_id}", "POST"): ("AWS_PROXY", invoke_uri(account, "update_project")),
        ("/projects/{project_id}", "OPTIONS"): ("MOCK", ""),
    }


def invoke_uri(account: str, function: str) -> str:
    function_arn = f"arn:aws:lambda:{REGION}:{account}:function:tenants-cors-dev-{function}"
    return f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def test_terraform_holds_the_rest_api_with_a_deployment_triggered_by_every_method(tmp_path: Path) -> None:
    document = parse(exported(tmp_path, "tenants_cors", "terraform").files["main.tf"])
    resources = document["resource"]
    assert sorted(resources["aws_api_gateway_resource"]) == ["tenants_projects", "tenants_projects_project_id"]
    assert resources["aws_api_gateway_resource"]["tenants_projects_project_id"] == {
        "rest_api_id": "${aws_api_gateway_rest_api.tenants.id}",
        "parent_id": "${aws_api_gateway_resource.tenants_projects.id}",
        "path_part": "{project_id}",
    }
    assert resources["aws_api_gateway_method"]["tenants_post_projects_project_id"] == {
        "rest_api_id": "${aws_api_gateway_rest_api.tenants.id}",
        "resource_id": "${aws_api_gateway_resource.tenants_projects_project_id.id}",
        "http_method": "POST",
        "authorization": "NONE",
        "request_parameters": {"method.request.header.X-Tenant-Id": True},
        "request_validator_id": "${aws_api_gateway_request_validator.tenants.id}",
    }
    assert resources["aws_api_gateway_integration"]["tenants_post_projects_project_id"] == {
        "rest_api_id": "${aws_api_gateway_rest_api.tenants.id}",
        "resource_id": "${aws_api_gateway_resource.tenants_projects_project_id.id}",
        "http_method": "POST",
        "type": "AWS_PROXY",
        "integration_http_method": "POST",
        "uri": "${aws_lambda_function.update_project.invoke_arn}",
        "request_parameters": {"integration.request.header.X-Amz-Tenant-Id": "method.request.header.X-Tenant-Id"},
        "depends_on": ["${aws_api_gateway_method.tenants_post_projects_project_id}"],
    }
    answer = resources["aws_api_gateway_integration_response"]["tenants_options_projects"]
    assert answer["response_parameters"]["method.response.header.Access-Control-Allow-Methods"] == "'GET,POST'"
    assert answer["response_templates"]["application/json"].splitlines()[3] == (
        '#if(["https://admin.example.com", "https://app.example.com"].contains($origin))'
    )
    hashed = [
        f"aws_api_gateway_{kind}.tenants_{name}.id"
        for name in (
            "get_projects",
            "get_projects_project_id",
            "head_projects",
            "head_projects_project_id",
            "post_projects_project_id",
        )
        for kind in ("method", "integration")
    ] + [
        f"aws_api_gateway_{kind}.tenants_{name}.id"
        for name in ("options_projects", "options_projects_project_id")
        for kind in ("method", "integration", "method_response", "integration_response")
    ]
    assert resources["aws_api_gateway_deployment"]["tenants"] == {
        "rest_api_id": "${aws_api_gateway_rest_api.tenants.id}",
        "description": "portable-fn export",
        "triggers": {"redeployment": f"${{sha1(jsonencode([{', '.join(hashed)}]))}}"},
        "lifecycle": [{"create_before_destroy": True}],
    }
    assert resources["aws_api_gateway_stage"]["tenants"]["deployment_id"] == (
        "${aws_api_gateway_deployment.tenants.id}"
    )
    assert resources["aws_lambda_permission"]["get_project_tenants"] == {
        "statement_id": "portable-fn-tenants",
        "action": "lambda:InvokeFunction",
        "function_name": "${aws_lambda_function.get_project.function_name}",
        "principal": "apigateway.amazonaws.com",
        "source_arn": "${aws_api_gateway_rest_api.tenants.execution_arn}/*/*/projects/*",  # its GET and HEAD
    }
    assert document["output"]["tenants_api"] == {"value": "${aws_api_gateway_stage.tenants.invoke_url}"}


REFUSAL_HEADERS = {
    "gatewayresponse.header.Access-Control-Allow-Credentials": "'true'",
    "gatewayresponse.header.Access-Control-Allow-Origin": "'https://app.example.com'",
    "gatewayresponse.header.Access-Control-Expose-Headers": "'retry-after,x-request-id'",
}
REFUSAL_BODY = {"application/json": '{"message":$context.error.messageString}'}


def test_the_template_holds_the_gateway_responses_the_deployment_waits_for(tmp_path: Path) -> None:
    resources = template(tmp_path, "tenants_origin")["Resources"]
    for kind, logical in (("DEFAULT_4XX", "Default4xx"), ("DEFAULT_5XX", "Default5xx")):
        assert resources[f"TenantsRestApiGatewayResponse{logical}"] == {
            "Type": "AWS::ApiGateway::GatewayResponse",
            "Properties": {
                "RestApiId": {"Ref": "TenantsRestApi"},
                "ResponseType": kind,
                "ResponseParameters": REFUSAL_HEADERS,
                "ResponseTemplates": REFUSAL_BODY,
            },
        }
    [deployment] = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Deployment"]
    assert deployment["DependsOn"] == [
        "TenantsRestApiGetProjectsProjectId",
        "TenantsRestApiHeadProjectsProjectId",
        "TenantsRestApiOptionsProjectsProjectId",
        "TenantsRestApiGatewayResponseDefault4xx",
        "TenantsRestApiGatewayResponseDefault5xx",
    ]
    several = template(tmp_path / "several", "tenants_cors")["Resources"]
    assert [k for k, r in several.items() if r["Type"] == "AWS::ApiGateway::GatewayResponse"] == []


def test_terraform_holds_the_gateway_responses_and_redeploys_when_their_headers_change(tmp_path: Path) -> None:
    resources = parse(exported(tmp_path, "tenants_origin", "terraform").files["main.tf"])["resource"]
    assert resources["aws_api_gateway_gateway_response"] == {
        f"tenants_{kind.lower()}": {
            "rest_api_id": "${aws_api_gateway_rest_api.tenants.id}",
            "response_type": kind,
            "response_parameters": REFUSAL_HEADERS,
            "response_templates": REFUSAL_BODY,
        }
        for kind in ("DEFAULT_4XX", "DEFAULT_5XX")
    }
    trigger = resources["aws_api_gateway_deployment"]["tenants"]["triggers"]["redeployment"]
    assert trigger.endswith(
        "aws_api_gateway_gateway_response.tenants_default_4xx.response_parameters, "
        "aws_api_gateway_gateway_response.tenants_default_5xx.response_parameters]))}"
    )
