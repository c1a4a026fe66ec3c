"""`[tool.portable-fn.azure]`: every setting the Azure provider reads, with its type and default
(`AzureProvider.settings_model`; the README lists them for users)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from portable_fn.config import ProviderSettings


class AzureSettings(ProviderSettings):
    """Azure Functions and the resources around it. Unknown keys are errors."""

    subscription_id: str | None = None  # else AZURE_SUBSCRIPTION_ID
    location: str | None = None  # e.g. "westeurope"; required to deploy
    resource_group: str = ""  # "": named after the app and stage
    plan_sku: Literal["Y1", "FC1", "EP1", "EP2", "EP3"] = "Y1"
    instance_memory_mb: Literal[512, 2048, 4096] = 2048  # Flex Consumption (FC1) only
    maximum_instance_count: int = Field(default=100, ge=40, le=1000)  # Flex Consumption (FC1) only
    storage_auth: Literal["identity", "connection_string"] = "identity"
    remote_build: bool = False  # ship source only; the platform installs requirements
    # bindings: the transports of queue and topic triggers and the app settings holding their connections
    queue_transport: Literal["storage_queue", "service_bus"] = "storage_queue"
    topic_transport: Literal["event_grid", "service_bus"] = "event_grid"
    storage_connection: str = "AzureWebJobsStorage"
    service_bus_connection: str = "ServiceBusConnection"
    # the ARM id of that Service Bus namespace: deploy then grants each sender Azure Service Bus Data Sender on
    # the entity it sends to (without it the connection's own rights apply)
    service_bus_namespace_id: str | None = None
    # waits while Azure applies role assignments and hosts take packages, and long-running operations
    role_wait_s: float = Field(default=600, ge=0)
    host_wait_s: float = Field(default=300, ge=0)
    retry_every_s: float = Field(default=15, ge=0)
    lro_timeout_s: float = Field(default=1800, gt=0)
    lro_report_every_s: float = Field(default=10, gt=0)
    package_sas_days: int = Field(default=3650, ge=1)  # storage_auth = "connection_string" only
    # Key Vault (when a function declares a secret): the tenant the vault trusts, and the object id of who sets
    # the secrets (granted the secrets officer's custom role on the vault); else the `tid` and `oid` of the deploying
    # credential's token
    tenant_id: str | None = None
    secrets_officer_id: str | None = None
    keyvault_endpoint: str | None = None  # where requests to a vault's host go, the host in `Host` (emulators)
    # an ARM endpoint, storage and TLS of your own (Azure Stack, emulators)
    arm_endpoint: str | None = None
    scm_endpoint: str | None = None  # where requests to a site's SCM (Kudu) host go, the host in `Host`
    event_grid_endpoint: str | None = None  # where publishes to a topic's endpoint go, the host in `Host`
    service_bus_endpoint: str | None = None  # where a redrive's sends to Service Bus go, the namespace in `Host`
    functions_host_endpoint: str | None = None  # where a redrive's requests to the app's host go, it in `Host`
    storage_connection_string: str | None = None
    connection_verify: bool | str = True  # false, or a CA bundle's path
    polling_interval_s: float | None = Field(default=None, ge=0)
    # `portable-fn logs`: the Log Analytics workspace of the app's Application Insights, and its query API
    logs_workspace_id: str | None = None  # else AZURE_LOG_ANALYTICS_WORKSPACE_ID
    logs_endpoint: str = "https://api.loganalytics.io"
