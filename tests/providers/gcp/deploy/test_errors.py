"""Google's refusals are recognised by the code and ErrorInfo reason Google documents, as the official clients
raise them from what the recording endpoint answers (a REST error body, an operation's google.rpc.Status)."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import resourcemanager_v3
from google.rpc import status_pb2
from portable_fn_gcp.deploy.errors import ErrorInfo, disabled_service, error_infos, status, storage_agent_not_ready

from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import DeployError

PROJECT = "shop-project"
AGENT_TEXT = (
    "Creating trigger failed for projects/p/locations/r/triggers/t: The Cloud Storage service account for "
    "your bucket is unable to publish to Cloud Pub/Sub topics in the specified project."
)


def client(cls: Any, url: str) -> Any:
    options = {"api_endpoint": url}
    return cls(credentials=AnonymousCredentials(), transport="rest", client_options=options)


def test_a_rest_refusal_carries_its_status_and_error_info(google: Any, google_server: Any) -> None:
    google.refuse = {"getIamPolicy"}
    projects = client(resourcemanager_v3.ProjectsClient, google_server.url)
    with pytest.raises(exceptions.Forbidden) as refused:
        projects.get_iam_policy(request={"resource": f"projects/{PROJECT}"})
    assert status(refused.value) == "PERMISSION_DENIED"
    assert error_infos(refused.value) == [
        ErrorInfo(
            "IAM_PERMISSION_DENIED",
            "iam.googleapis.com",
            {"permission": "resourcemanager.projects.getIamPolicy", "resource": f"projects/{PROJECT}"},
        )
    ]
    assert disabled_service(refused.value) is None


def test_a_disabled_api_is_known_by_its_reason(google: Any, google_server: Any) -> None:
    google.disabled = {"/v3/"}
    projects = client(resourcemanager_v3.ProjectsClient, google_server.url)
    with pytest.raises(exceptions.Forbidden) as refused:
        projects.get_iam_policy(request={"resource": f"projects/{PROJECT}"})
    assert disabled_service(refused.value) == "cloudresourcemanager.googleapis.com"


def test_an_operation_error_carries_its_code(google: Any, google_server: Any, provider: Any, shop: Any) -> None:
    """The storage agent's refusal comes as the function operation's error: code 7 PERMISSION_DENIED (the grant
    is there, but has not reached Eventarc; as this run granted nothing, it is not waited for)."""
    agent = f"serviceAccount:service-{google.project_number}@gs-project-accounts.iam.gserviceaccount.com"
    google.project_policy(PROJECT)["bindings"].append({"role": "roles/pubsub.publisher", "members": [agent]})
    google.agent_pending = 1
    with pytest.raises(DeployError) as failed:
        pipeline.deploy(provider, shop, "dev")
    cause = failed.value.__cause__
    while cause is not None and not isinstance(cause, exceptions.GoogleAPICallError):
        cause = cause.__cause__
    assert isinstance(cause, exceptions.PermissionDenied)
    assert status(cause) == "PERMISSION_DENIED" and storage_agent_not_ready(cause)


@pytest.mark.parametrize(
    ("code", "text", "recognised"),
    [
        (7, AGENT_TEXT, True),  # what Google answers
        (9, AGENT_TEXT, True),
        (3, AGENT_TEXT, False),  # the same words under a code that means the request itself is wrong
        (7, "Permission 'iam.serviceAccounts.actAs' denied on service account x", False),
    ],
)
def test_the_storage_agent_refusal_is_its_code_and_then_its_words(code: int, text: str, recognised: bool) -> None:
    error = status_pb2.Status(code=code, message=text)  # as api-core raises an operation's error
    raised = exceptions.from_grpc_status(code, text, errors=(error,))
    assert storage_agent_not_ready(raised) is recognised


def test_without_a_code_the_words_alone_decide() -> None:
    assert storage_agent_not_ready(RuntimeError(AGENT_TEXT))
    assert not storage_agent_not_ready(RuntimeError("quota exceeded"))


def test_deploy_says_to_enable_an_api_the_project_has_not(google: Any, provider: Any, shop: Any) -> None:
    google.disabled = {"/v3/"}
    with pytest.raises(DeployError) as refused:
        pipeline.deploy(provider, shop, "dev")
    assert f"gcloud services enable cloudresourcemanager.googleapis.com --project={PROJECT}" in str(refused.value)
    assert "add-iam-policy-binding" not in str(refused.value)


def test_a_stale_etag_is_aborted_not_already_exists(google: Any, google_server: Any) -> None:
    """HTTP 409 is two codes: ALREADY_EXISTS, and ABORTED for a read-modify-write that lost a race (code.proto)."""
    projects = client(resourcemanager_v3.ProjectsClient, google_server.url)
    policy = projects.get_iam_policy(request={"resource": f"projects/{PROJECT}"})
    policy.etag = b"stale"
    with pytest.raises(exceptions.Conflict) as refused:
        projects.set_iam_policy(request={"resource": f"projects/{PROJECT}", "policy": policy})
    assert status(refused.value) == "ABORTED"
