"""The Cloud Storage service agent's `roles/pubsub.publisher` on the project, which every Eventarc trigger on
Cloud Storage events needs: the agent publishes the bucket's notifications to Pub/Sub, and Eventarc delivers
them from there. Shared by `remote` (reads only) and `appliers` (writes).

The agent is `service-<project number>@gs-project-accounts.iam.gserviceaccount.com`. The number comes from
`project_number` in `[tool.portable-fn.gcp]`; without it Cloud Storage is asked for the agent's address,
as `gcloud storage service-agent` does (which also has Google make the agent if it does not exist yet).
The project's IAM policy is read as version 3, so conditional bindings come back whole and go back
untouched; the agent is only ever added, to the role's unconditional binding.
"""

from __future__ import annotations

from portable_fn.runtime.errors import DeployError

from .client import GcpClient
from .errors import not_enabled
from .resources import AGENT_DOMAIN, gcloud
from .routes import POLICY_V3, PUBLISHER, grant


def storage_agent(gcp: GcpClient, project: str, project_number: str) -> str:
    """The IAM member of the project's Cloud Storage service agent."""
    if project_number:
        return f"serviceAccount:service-{project_number}@{AGENT_DOMAIN}"
    return f"serviceAccount:{gcp.call('storage', 'get_service_account_email', project=project)}"


def grant_publisher(gcp: GcpClient, project: str, member: str) -> bool:
    """Add the agent to the project's publisher binding; False, and no write, when it is there already."""
    return grant(gcp, "resourcemanager", f"projects/{project}", PUBLISHER, member, POLICY_V3)


def refused(project: str, member: str, exc: Exception) -> DeployError:
    """The error for a caller that may not read or change the project's IAM policy (a 403)."""
    if disabled := not_enabled(exc, project):
        return disabled
    agent = member or f"serviceAccount:service-PROJECT_NUMBER@{AGENT_DOMAIN}"
    number = (
        ""
        if member
        else (
            f" (PROJECT_NUMBER: `gcloud projects describe {project} --format='value(projectNumber)'`; setting "
            'project_number = "..." under [tool.portable-fn.gcp] spares deploy asking Cloud Storage for it)'
        )
    )
    return DeployError(
        f"Deploying to gcp: storage triggers need the Cloud Storage service agent to hold {PUBLISHER} on "
        f"project {project!r}, and Google refused to let deploy check or grant it ({type(exc).__name__}: {exc}). "
        f"Have a project owner run this once:\n    {gcloud('add', project, agent)}\n"
        f"then run `portable-fn deploy` again{number}. If you may not read the project's IAM policy either, "
        "also set grant_storage_agent = false under [tool.portable-fn.gcp] once the grant is made."
    )
