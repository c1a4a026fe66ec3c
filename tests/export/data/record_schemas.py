"""Records the Terraform schema excerpts `tests/export/terraform_schema.py` checks the exports against (run by
hand, not by pytest).

No terraform binary or provider plugin installs offline, but npm serves the prebuilt CDK for Terraform bindings,
generated from `terraform providers schema -json` of one provider release. Their `.jsii` file names every
resource and data source (each class links its registry page) and, per argument, its Terraform name (the link's
anchor), whether it is required and the nested block it opens. The releases recorded here (read 2026-12-06):

- `aws.json`: npm @cdktf/provider-aws 21.22.1, https://www.npmjs.com/package/@cdktf/provider-aws
  (registry.terraform.io/hashicorp/aws 6.25.0)
- `google.json`: npm @cdktf/provider-google 16.12.1, https://www.npmjs.com/package/@cdktf/provider-google
  (hashicorp/google 6.50.0)
- `azurerm.json`: npm @cdktf/provider-azurerm 14.23.1, https://www.npmjs.com/package/@cdktf/provider-azurerm
  (hashicorp/azurerm 4.55.0)

To record one again (or a newer release):

    npm pack @cdktf/provider-aws@21.22.1 && tar -xzf cdktf-provider-aws-21.22.1.tgz package/.jsii
    python tests/export/data/record_schemas.py aws package/.jsii

writes `aws.json` here: every resource and data source type of the release, and for the types the exports write
(`WANTED`), their arguments (nested blocks as objects), which are required, and the attributes a reference may
read.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LINK = re.compile(
    r"registry\.terraform\.io/providers/hashicorp/(\w+)/([\d.]+)/docs/(resources|data-sources)/(\w+)(#(\w+))?"
)
BASES = ("cdktf.TerraformResource", "cdktf.TerraformDataSource")
# The types each provider's export writes (data sources prefixed `data.`); a type an export adds must be added here.
WANTED = {
    "aws": [
        "aws_api_gateway_deployment",
        "aws_api_gateway_gateway_response",
        "aws_api_gateway_integration",
        "aws_api_gateway_integration_response",
        "aws_api_gateway_method",
        "aws_api_gateway_method_response",
        "aws_api_gateway_request_validator",
        "aws_api_gateway_resource",
        "aws_api_gateway_rest_api",
        "aws_api_gateway_stage",
        "aws_apigatewayv2_api",
        "aws_apigatewayv2_authorizer",
        "aws_apigatewayv2_integration",
        "aws_apigatewayv2_route",
        "aws_apigatewayv2_stage",
        "aws_cloudwatch_log_group",
        "aws_dynamodb_table",
        "aws_iam_role",
        "aws_iam_role_policy",
        "aws_lambda_event_source_mapping",
        "aws_lambda_function",
        "aws_lambda_function_event_invoke_config",
        "aws_lambda_function_url",
        "aws_lambda_permission",
        "aws_s3_bucket",
        "aws_s3_bucket_notification",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_object",
        "aws_scheduler_schedule",
        "aws_scheduler_schedule_group",
        "aws_sns_topic",
        "aws_sns_topic_subscription",
        "aws_sqs_queue",
        "data.aws_caller_identity",
        "data.aws_partition",
        "data.aws_region",
    ],
    "google": [
        "google_cloud_run_service_iam_member",
        "google_cloud_scheduler_job",
        "google_cloud_tasks_queue",
        "google_cloud_tasks_queue_iam_member",
        "google_cloudfunctions2_function",
        "google_firestore_database",
        "google_firestore_field",
        "google_project_iam_member",
        "google_pubsub_subscription",
        "google_pubsub_topic",
        "google_pubsub_topic_iam_member",
        "google_secret_manager_secret",
        "google_secret_manager_secret_iam_member",
        "google_service_account",
        "google_service_account_iam_member",
        "google_storage_bucket",
        "google_storage_bucket_iam_member",
        "google_storage_bucket_object",
        "data.google_compute_default_service_account",
        "data.google_project",
        "data.google_storage_project_service_account",
    ],
    "azurerm": [
        "azurerm_eventgrid_event_subscription",
        "azurerm_eventgrid_system_topic",
        "azurerm_eventgrid_system_topic_event_subscription",
        "azurerm_eventgrid_topic",
        "azurerm_function_app_flex_consumption",
        "azurerm_key_vault",
        "azurerm_linux_function_app",
        "azurerm_resource_group",
        "azurerm_role_assignment",
        "azurerm_role_definition",
        "azurerm_service_plan",
        "azurerm_storage_account",
        "azurerm_storage_blob",
        "azurerm_storage_container",
        "azurerm_storage_queue",
        "azurerm_storage_table",
        "azurerm_user_assigned_identity",
        "data.azurerm_client_config",
        "data.azurerm_function_app_host_keys",
        "data.azurerm_storage_account_blob_container_sas",
        "data.azurerm_subscription",
    ],
}
PACKAGES = {"aws": "21.22.1", "google": "16.12.1", "azurerm": "14.23.1"}  # npm @cdktf/provider-<name> releases


def link(docs: dict[str, Any]) -> re.Match[str] | None:
    return LINK.search(docs.get("remarks", "") + " " + docs.get("summary", ""))


def nested_fqn(kind: dict[str, Any]) -> str | None:
    """The interface a property's type names, through lists and unions (`IResolvable | Block[]`)."""
    if "fqn" in kind:
        return str(kind["fqn"])
    for inner in (kind.get("collection", {}).get("elementtype"), *kind.get("union", {}).get("types", [])):
        if inner and (found := nested_fqn(inner)) and not found.startswith("cdktf."):
            return found
    return None


def block(types: dict[str, Any], fqn: str) -> dict[str, Any]:
    """{"arguments": {name: {} or a nested block}, "required": [...]} of one config interface."""
    arguments: dict[str, Any] = {}
    required = []
    for prop in types[fqn].get("properties", []):
        found = link(prop["docs"])
        if found is None or not found.group(6):
            continue  # cdktf's own meta-arguments (count, provider, lifecycle...)
        name = found.group(6)
        inner = nested_fqn(prop["type"])
        arguments[name] = block(types, inner) if inner and inner in types else {}
        if not prop.get("optional"):
            required.append(name)
    return {"arguments": dict(sorted(arguments.items())), "required": sorted(required)}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def record(provider: str, jsii: Path) -> dict[str, Any]:
    types = json.loads(jsii.read_text(encoding="utf-8"))["types"]
    classes: dict[str, str] = {}
    version = ""
    for fqn, kind in types.items():
        found = link(kind.get("docs", {})) if kind.get("kind") == "class" else None
        if found and found.group(1) == provider and kind.get("base") in BASES:
            prefix = "data." if found.group(3) == "data-sources" else ""
            classes[f"{prefix}{provider}_{found.group(4)}"] = fqn
            version = found.group(2)
    schemas = {}
    for name in WANTED[provider]:
        fqn = classes[name]
        readable = {snake(p["name"]) for p in types[fqn].get("properties", []) if not p.get("static")}
        readable = {r for r in readable if not r.endswith("_input") and r != "tf_resource_type"}
        schemas[name] = {**block(types, fqn + "Config"), "attributes": sorted(readable)}
    package = f"@cdktf/provider-{provider}"
    return {
        "provider": f"hashicorp/{provider}",
        "version": version,
        "source": f"npm {package} {PACKAGES[provider]} (.jsii, https://www.npmjs.com/package/{package}), generated "
        f"from registry.terraform.io/hashicorp/{provider} {version}; recorded 2026-12-06 by "
        "tests/export/data/record_schemas.py",
        "resource_types": sorted(n for n in classes if not n.startswith("data.")),
        "data_source_types": sorted(n[5:] for n in classes if n.startswith("data.")),
        "schemas": schemas,
    }


if __name__ == "__main__":
    provider, jsii = sys.argv[1], Path(sys.argv[2])
    out = HERE / f"{provider}.json"
    out.write_text(json.dumps(record(provider, jsii), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(out)
