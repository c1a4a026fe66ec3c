"""The refusals deploy waits out are told by Azure's error codes, read from real SDK exceptions.

Each refusal is answered by the fake ARM (or Azurite, for Azure Storage's own code) and raised by the
official client, so the code is read where the SDK puts it (`HttpResponseError.error.code`, the storage
SDK's `error_code`, the body of a raw Kudu answer); the message counts only with the code it comes with,
or where Azure documents none.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from portable_fn_azure.deploy import errors

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
ROLE_NAME = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
HANDSHAKE = (
    "Webhook validation handshake failed for https://app.azurewebsites.net/runtime/webhooks/blobs. "
    "Http POST request failed with response code Unknown."
)


def refused_sync(provider: Any, arm: Any, code: str, message: str) -> HttpResponseError:
    arm.fail_once("POST", "/sites/app/syncfunctiontriggers", 400, code, message)
    with pytest.raises(HttpResponseError) as raised:
        provider.deployer.client.web.web_apps.sync_function_triggers("rg", "app")
    return raised.value


def refused_subscription(provider: Any, arm: Any, code: str, message: str) -> HttpResponseError:
    arm.fail_once("PUT", "/eventsubscriptions/on-upload", 400, code, message)
    grid = provider.deployer.client.eventgrid.system_topic_event_subscriptions
    with pytest.raises(HttpResponseError) as raised:
        grid.begin_create_or_update(
            "rg",
            "topic",
            "on-upload",
            {
                "properties": {
                    "destination": {
                        "endpointType": "WebHook",
                        "properties": {"endpointUrl": "https://app.azurewebsites.net/x"},
                    }
                }
            },
        )
    return raised.value


@pytest.mark.parametrize(
    ("code", "message", "waited"),
    [
        ("BadRequest", "Encountered an error (ServiceUnavailable) from host runtime.", True),
        ("BadRequest", "The site app is stopped.", False),  # the code alone says nothing
        ("Conflict", "Encountered an error (ServiceUnavailable) from host runtime.", False),  # words of another code
    ],
)
def test_a_host_that_cannot_start_yet_is_told_by_code_and_words(
    code: str, message: str, waited: bool, provider: Any, arm: Any
) -> None:
    exc = refused_sync(provider, arm, code, message)
    assert errors.error_code(exc) == code
    assert errors.role_not_yet_effective(exc) is waited
    assert not errors.host_not_up(exc)


@pytest.mark.parametrize(
    ("code", "message", "waited"),
    [
        ("Url validation", HANDSHAKE, True),
        (
            "BadRequest",
            "Destination endpoint not found. Resource details: resourceId: /x/functions/f. Resource should "
            "pre-exist before attempting this operation.",
            True,
        ),
        (
            "InvalidRequest",
            "The attempt to validate the provided endpoint https://a.b/x failed. For more details, "
            "visit https://aka.ms/esvalidation",
            True,
        ),
        ("InvalidRequest", HANDSHAKE, False),  # a handshake refused under another code is not the host starting
        ("BadRequest", "A topic with the CloudEvents input schema delivers CloudEvents.", False),
    ],
)
def test_event_grid_not_reaching_a_new_host_is_told_by_its_code(
    code: str, message: str, waited: bool, provider: Any, arm: Any
) -> None:
    exc = refused_subscription(provider, arm, code, message)
    assert errors.error_code(exc) == code
    assert errors.host_not_up(exc) is waited
    assert not errors.role_not_yet_effective(exc)


def test_a_publish_the_platform_could_not_store_is_told_by_kudus_code(provider: Any, arm: Any) -> None:
    """`Releases.publish` raises the raw Kudu answer as text: its code is read from the body."""
    arm.fail_once("POST", "/api/publish", 400, "BlobUploadFailedException", "403 AuthorizationPermissionMismatch")
    answer = provider.deployer.client.scm_request(
        "POST", "https://app.scm.azurewebsites.net/api/publish", b"zip", {"Content-Type": "application/zip"}
    )
    exc = RuntimeError(f"publishing the package to app was refused ({answer.status_code}): {answer.text()}")
    assert errors.error_code(exc) == "BlobUploadFailedException"
    assert errors.role_not_yet_effective(exc)


def test_a_missing_data_role_is_told_by_azure_storages_code(blobs: Any, azurite: str) -> None:
    """Azurite answers as Azure Storage does: 403 with `x-ms-error-code: AuthorizationPermissionMismatch`."""
    from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas

    blobs.create_container("packages")
    parts = dict(p.split("=", 1) for p in azurite.split(";") if "=" in p)
    sas = generate_container_sas(
        parts["AccountName"],
        "packages",
        account_key=parts["AccountKey"],
        permission=ContainerSasPermissions(read=True),
        expiry=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1),
    )
    reader = ContainerClient.from_container_url(f"{parts['BlobEndpoint']}/packages?{sas}")
    with pytest.raises(HttpResponseError) as raised:
        reader.upload_blob("app.zip", b"zip")
    assert errors.error_code(raised.value) == "AuthorizationPermissionMismatch"
    assert errors.role_not_yet_effective(raised.value)


def test_a_principal_not_replicated_and_a_running_operation_have_codes_of_their_own(provider: Any, arm: Any) -> None:
    scope = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg"
    arm.fail_once(
        "PUT",
        f"/roleassignments/{ROLE_NAME}",
        400,
        "PrincipalNotFound",
        "Principal 0000 does not exist in the directory 1111.",
    )
    with pytest.raises(HttpResponseError) as raised:
        provider.deployer.client.authorization.role_assignments.create(
            scope, ROLE_NAME, {"properties": {"roleDefinitionId": "/x", "principalId": "0000"}}
        )
    assert errors.principal_not_replicated(raised.value) and not errors.operation_in_progress(raised.value)
    arm.fail_once("PUT", "/sites/app", 409, "AnotherOperationInProgress", "Another operation is in progress.")
    with pytest.raises(HttpResponseError) as raised:
        provider.deployer.client.web.web_apps.begin_create_or_update("rg", "app", {"location": "westeurope"})
    assert errors.operation_in_progress(raised.value) and not errors.principal_not_replicated(raised.value)
