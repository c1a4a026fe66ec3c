"""`[tool.portable-fn.gcp]`: every setting the Google Cloud provider reads, with its type and default
(`GcpProvider.settings_model`; the README lists them for users)."""

from __future__ import annotations

from pydantic import Field

from portable_fn.config import ProviderSettings


class GcpSettings(ProviderSettings):
    """Cloud Functions (2nd gen) and the resources around it. Unknown keys are errors."""

    project: str | None = None  # else GOOGLE_CLOUD_PROJECT / CLOUDSDK_CORE_PROJECT
    region: str | None = None  # else CLOUDSDK_FUNCTIONS_REGION
    service_account: str = ""  # one runtime account for every function ("": each its own, made by deploy)
    ingress: str = "ALLOW_ALL"  # ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB
    min_instances: int = Field(default=0, ge=0)
    max_instances: int = Field(default=100, ge=1)
    buckets: dict[str, str] = Field(default_factory=dict)  # logical bucket -> an existing bucket
    project_number: str = ""  # for the service agents ("": found from the project)
    grant_storage_agent: bool = True  # give the Cloud Storage agent roles/pubsub.publisher
    grant_wait_s: float = Field(default=420, ge=0)  # how long a storage trigger waits for that grant
    retry_every_s: float = Field(default=15, ge=0)
    subscription_wait_s: float = Field(default=120, ge=0)  # how long a route waits for Eventarc's subscription
    # the API endpoints per service (functions, pubsub, scheduler, run, storage, resourcemanager, eventarc,
    # firestore, tasks, iam, secretmanager), and
    # how long-running operations are polled
    endpoints: dict[str, str] | None = None
    poll_s: float = Field(default=2, ge=0)
    operation_timeout_s: float = Field(default=1800, gt=0)
