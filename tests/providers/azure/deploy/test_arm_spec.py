"""The fake ARM holds requests and its own answers to the published API descriptions, and can refuse.

Each check is shown failing: a wrong field name, a value outside the spec's enum, a value of the wrong
type, a missing required property and an operation the excerpt does not hold are refused with the words
ARM uses, naming what the spec defines. The official clients' own requests (every other Azure deploy test)
pass the same checks; here requests are sent raw, as a hand-written body or a mistaken model would be.
"""

from __future__ import annotations

import json
import ssl
import sys
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
GROUP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg"
ACCOUNT = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/acct"
ROLE = f"{ACCOUNT}/providers/Microsoft.Authorization/roleAssignments/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
READER = (
    f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
)
SPECS = Path(__file__).resolve().parents[3] / "data/azure/azure-rest-api-specs/specification"
CUSTOM_GUID = "0b6c5f2e-8d0a-4f5b-9c1e-3a7d2e4f6b81"  # a custom role's name


def call(arm: Any, certificate: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A raw request to the fake ARM with the api-version its namespace's client sends; (status, JSON)."""
    namespace = sys.modules[type(arm).__module__].namespace_of(path.lower())
    url = f"{arm.url}{path}?api-version={arm.api_versions[namespace]}"
    data = json.dumps(body).encode() if body is not None else None
    request = Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {arm.token}", "Content-Type": "application/json"},
    )
    context = ssl.create_default_context(cafile=str(certificate[0]))
    try:
        with urlopen(request, context=context, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except HTTPError as exc:
        return exc.code, json.loads(exc.read())


def with_account(arm: Any, certificate: Any) -> None:
    assert call(arm, certificate, "PUT", GROUP, {"location": "westeurope"})[0] == 201
    status, _ = call(
        arm,
        certificate,
        "PUT",
        ACCOUNT,
        {"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}},
    )
    assert status == 202


def refusal(answer: tuple[int, Any]) -> tuple[int, str, str]:
    status, body = answer
    return status, body["error"]["code"], body["error"]["message"]


# -- requests -------------------------------------------------------------------------------------------
def test_a_wrong_field_name_is_refused_naming_the_specs_definition(arm: Any, certificate: Any) -> None:
    with_account(arm, certificate)
    status, code, message = refusal(
        call(
            arm,
            certificate,
            "PUT",
            ROLE,
            {"properties": {"roleDefinitionId": READER, "principalID": "00000000-0000-0000-0000-000000000001"}},
        )
    )
    assert (status, code) == (400, "InvalidRequestContent")
    assert (
        "Could not find member 'principalID' on object of type 'RoleAssignmentProperties'. "
        "Path 'properties.principalID'."
    ) in message
    status, code, message = refusal(
        call(
            arm,
            certificate,
            "PUT",
            ACCOUNT,
            {
                "location": "westeurope",
                "kind": "StorageV2",
                "sku": {"name": "Standard_LRS"},
                "properties": {"supportsHttpsOnly": True},
            },
        )
    )
    assert (status, code) == (400, "InvalidRequestContent")
    assert "'supportsHttpsOnly' on object of type 'StorageAccountPropertiesCreateParameters'" in message
    status, code, message = refusal(
        call(
            arm,
            certificate,
            "PUT",
            f"{ACCOUNT}/blobServices/default/containers/c",
            {"properties": {"publicAcess": "None"}},
        )
    )
    assert (status, code) == (400, "InvalidRequestContent")
    assert "'publicAcess' on object of type 'ContainerProperties'. Path 'properties.publicAcess'" in message


def test_a_value_outside_the_specs_enum_is_refused_listing_what_it_allows(arm: Any, certificate: Any) -> None:
    with_account(arm, certificate)
    status, code, message = refusal(
        call(
            arm,
            certificate,
            "PUT",
            ROLE,
            {
                "properties": {
                    "roleDefinitionId": READER,
                    "principalId": "00000000-0000-0000-0000-000000000001",
                    "principalType": "ServicePrinciple",
                }
            },
        )
    )
    assert (status, code) == (400, "InvalidRequestContent")
    assert (
        "The value \"ServicePrinciple\" at 'properties.principalType' is not one of the values the spec "
        "allows for PrincipalType: User, Group, ServicePrincipal, ForeignGroup."
    ) in message
    tags = f"{ACCOUNT}/providers/Microsoft.Resources/tags/default"
    status, code, message = refusal(
        call(arm, certificate, "PATCH", tags, {"operation": "Append", "properties": {"tags": {"a": "b"}}})
    )
    assert (status, code) == (400, "InvalidRequestContent")
    assert "for tagsPatchOperation: Replace, Merge, Delete." in message
    status, _, message = refusal(
        call(
            arm,
            certificate,
            "PUT",
            f"{ACCOUNT}/blobServices/default/containers/c",
            {"properties": {"publicAccess": "Private"}},
        )
    )
    assert status == 400 and "for PublicAccess: Container, Blob, None." in message
    status, code, message = refusal(
        call(
            arm,
            certificate,
            "PUT",
            ACCOUNT,
            {"location": "westeurope", "kind": "StorageV3", "sku": {"name": "Standard_LRS"}},
        )
    )
    assert (status, code) == (400, "InvalidRequestContent")
    assert "The value \"StorageV3\" at 'kind' is not one of the values the spec allows for Kind: Storage, " in message


def test_a_wrong_type_and_a_missing_required_property_are_refused(arm: Any, certificate: Any) -> None:
    status, code, message = refusal(call(arm, certificate, "PUT", GROUP, {"tags": {"a": "b"}}))
    assert (status, code) == (400, "InvalidRequestContent")
    assert "no 'location', which ResourceGroup requires" in message
    status, _, message = refusal(call(arm, certificate, "PUT", GROUP, {"location": "westeurope", "tags": {"n": 1}}))
    assert status == 400 and "Error converting value 1 to type 'string'. Path 'tags.n'." in message
    status, _, message = refusal(
        call(
            arm,
            certificate,
            "PUT",
            ACCOUNT,
            {
                "location": "westeurope",
                "kind": "StorageV2",
                "sku": {"name": "Standard_LRS"},
                "properties": {"allowBlobPublicAccess": "false"},
            },
        )
    )
    assert status == 400 and "to type 'boolean'. Path 'properties.allowBlobPublicAccess'." in message


def test_an_operation_the_excerpt_does_not_hold_is_not_served(arm: Any, certificate: Any) -> None:
    with_account(arm, certificate)
    status, code, message = refusal(call(arm, certificate, "POST", f"{ACCOUNT}/regenerateKey", {"keyName": "key1"}))
    assert (status, code) == (404, "NoRegisteredProviderFound")
    assert "is not an operation of the microsoft.storage excerpt (2026-09-01)" in message
    status, code, _ = refusal(call(arm, certificate, "POST", GROUP))
    assert (status, code) == (405, "MethodNotAllowed")


# -- answers --------------------------------------------------------------------------------------------
def test_the_fakes_answers_are_held_to_the_response_schema(arm: Any) -> None:
    spec = sys.modules[type(arm).__module__].arm_spec
    operation = spec.spec("microsoft.authorization").operation("PUT", ROLE)
    spec.check_response(
        operation,
        201,
        {
            "id": ROLE,
            "name": "x",
            "type": "t",
            "properties": {"roleDefinitionId": READER, "principalId": "p", "scope": ACCOUNT},
        },
    )
    with pytest.raises(
        spec.SpecViolation, match="Could not find member 'principal' on object of type 'RoleAssignmentProperties'"
    ):
        spec.check_response(operation, 201, {"properties": {"principal": "p"}})
    with pytest.raises(
        spec.SpecViolation,
        match=r"answered RoleAssignments_Create with 202; the spec lists "
        r"\['200', '201'\]",
    ):
        spec.check_response(operation, 202, None)


# -- the spec's own examples ------------------------------------------------------------------------------
def shape(value: Any) -> Any:
    """A JSON value's keys, recursively (values stand for their type)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return type(value).__name__


def example(path: str) -> Any:
    return json.loads((SPECS / path).read_text())


def test_a_role_assignment_is_taken_and_answered_as_the_specs_example(arm: Any, certificate: Any) -> None:
    sample = example(
        "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/examples/"
        "RoleAssignments_CreateForResource.json"
    )
    body = sample["parameters"]["parameters"]
    with_account(arm, certificate)
    arm.state.resources["app"] = {"identity": {"principalId": body["properties"]["principalId"]}}  # the principal
    body["properties"]["roleDefinitionId"] = READER  # a built-in role of this subscription
    status, answer = call(arm, certificate, "PUT", ROLE, body)
    assert status == 201
    assert shape(answer) == shape(sample["responses"]["201"]["body"])


def test_tags_are_replaced_and_answered_as_the_specs_example(arm: Any, certificate: Any) -> None:
    sample = example(
        "resources/resource-manager/Microsoft.Resources/resources/stable/2025-04-01/examples/PatchTagsResource.json"
    )
    site = f"{GROUP}/providers/Microsoft.Web/sites/app"
    arm.state.resources[site.lower()] = {"id": site, "name": "app", "type": "Microsoft.Web/sites", "tags": {"a": "b"}}
    status, answer = call(
        arm,
        certificate,
        "PATCH",
        f"{site}/providers/Microsoft.Resources/tags/default",
        sample["parameters"]["parameters"],
    )
    assert status == 200
    expected = shape(sample["responses"]["200"]["body"])
    assert {k: shape(answer)[k] for k in expected} == expected  # name and type too: TagsResource defines them
    assert answer["properties"]["tags"] == sample["parameters"]["parameters"]["properties"]["tags"]  # Replace


def test_a_plan_is_held_to_app_service_plan(arm: Any, certificate: Any) -> None:
    """`reserved` (Linux) is a boolean of AppServicePlanProperties; `linux` is no member of it."""
    assert call(arm, certificate, "PUT", GROUP, {"location": "westeurope"})[0] == 201
    plan = f"{GROUP}/providers/Microsoft.Web/serverfarms/plan"
    body = {"location": "westeurope", "kind": "functionapp", "sku": {"name": "Y1", "tier": "Dynamic"}}
    status, _, message = refusal(call(arm, certificate, "PUT", plan, {**body, "properties": {"linux": True}}))
    assert status == 400 and "'linux' on object of type 'AppServicePlanProperties'" in message
    status, _, message = refusal(call(arm, certificate, "PUT", plan, {**body, "properties": {"reserved": "true"}}))
    assert status == 400 and "to type 'boolean'. Path 'properties.reserved'." in message
    assert call(arm, certificate, "PUT", plan, {**body, "properties": {"reserved": True}})[0] == 200


def test_a_site_config_is_held_to_site_config(arm: Any, certificate: Any) -> None:
    """A misspelt `linuxFxVersion` (the Python version of a Consumption or Premium app) is refused, in the web
    config's PATCH and in a site's PUT alike."""
    site = f"{GROUP}/providers/Microsoft.Web/sites/app"
    status, _, message = refusal(
        call(arm, certificate, "PATCH", f"{site}/config/web", {"properties": {"linuxFXVersion": "Python|3.12"}})
    )
    assert status == 400
    assert "'linuxFXVersion' on object of type 'SiteConfig'. Path 'properties.linuxFXVersion'" in message
    status, _, message = refusal(
        call(
            arm,
            certificate,
            "PUT",
            site,
            {
                "location": "westeurope",
                "properties": {"siteConfig": {"linuxFxVersion": "Python|3.12", "minTlsVersion": "1.4"}},
            },
        )
    )
    assert status == 400 and "for SupportedTlsVersions: 1.0, 1.1, 1.2, 1.3." in message


def test_an_event_subscription_destination_is_held_to_the_subtype_its_endpoint_type_names(
    arm: Any, certificate: Any
) -> None:
    subscription = f"{GROUP}/providers/Microsoft.EventGrid/systemTopics/topic/eventSubscriptions/on-upload"
    function = {"endpointType": "AzureFunction", "properties": {"endpointUrl": "https://app.azurewebsites.net/x"}}
    status, _, message = refusal(call(arm, certificate, "PUT", subscription, {"properties": {"destination": function}}))
    assert status == 400
    assert (
        "'endpointUrl' on object of type 'AzureFunctionEventSubscriptionDestinationProperties'. "
        "Path 'properties.destination.properties.endpointUrl'"
    ) in message
    webhook = {"endpointType": "Webhook", "properties": {"endpointUrl": "https://app.azurewebsites.net/x"}}
    status, _, message = refusal(call(arm, certificate, "PUT", subscription, {"properties": {"destination": webhook}}))
    assert status == 400 and "for EndpointType: WebHook, EventHub, StorageQueue" in message


def test_a_site_identity_and_a_host_key_are_held_to_the_spec(arm: Any, certificate: Any) -> None:
    site = f"{GROUP}/providers/Microsoft.Web/sites/app"
    status, _, message = refusal(
        call(arm, certificate, "PUT", site, {"location": "westeurope", "identity": {"type": "SystemAssignedIdentity"}})
    )
    assert status == 400 and "for ManagedServiceIdentityType: SystemAssigned, UserAssigned" in message
    status, _, message = refusal(
        call(
            arm,
            certificate,
            "PUT",
            f"{site}/host/default/systemKeys/blobs_extension",
            {"name": "blobs_extension", "key": "secret"},
        )
    )
    assert status == 400 and "'key' on object of type 'KeyInfo'" in message


def test_a_custom_role_is_held_to_role_definition_and_is_not_deleted_while_assigned(arm: Any, certificate: Any) -> None:
    with_account(arm, certificate)
    custom = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{CUSTOM_GUID}"
    read = ["Microsoft.Storage/storageAccounts/tableServices/tables/entities/read"]
    body = {
        "properties": {
            "roleName": "reads entities",
            "type": "CustomRole",
            "permissions": [{"actions": [], "dataActions": read}],
            "assignableScopes": [GROUP],
        }
    }
    typo = {"properties": {**body["properties"], "permissions": [{"dataAction": read}]}}
    status, code, message = refusal(call(arm, certificate, "PUT", custom, typo))
    assert (status, code) == (400, "InvalidRequestContent")
    assert "'dataAction' on object of type 'Permission'. Path 'properties.permissions[0].dataAction'" in message
    elsewhere = {"properties": {**body["properties"], "assignableScopes": [f"{GROUP}x"]}}
    assert refusal(call(arm, certificate, "PUT", custom, elsewhere))[:2] == (400, "InvalidAssignableScope")
    assert call(arm, certificate, "PUT", custom, body)[0] == 201

    principal = "00000000-0000-0000-0000-000000000001"
    arm.state.resources["app"] = {"identity": {"principalId": principal}}  # the principal
    assigned = {"properties": {"roleDefinitionId": custom, "principalId": principal}}
    assert call(arm, certificate, "PUT", ROLE, assigned)[0] == 201
    assert refusal(call(arm, certificate, "DELETE", custom))[:2] == (409, "RoleDefinitionHasAssignments")
    assert call(arm, certificate, "DELETE", ROLE)[0] == 200
    assert call(arm, certificate, "DELETE", custom)[0] == 200
    assert refusal(call(arm, certificate, "GET", custom))[:2] == (404, "RoleDefinitionDoesNotExist")
