"""`[tool.portable-fn.aws]`: every setting the AWS provider reads, with its type and default
(`AwsProvider.settings_model`; the README lists them for users)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from portable_fn.config import ProviderSettings


class AwsSettings(ProviderSettings):
    """Lambda and the resources around it. Unknown keys are errors (`regoin` is not `region`)."""

    region: str | None = None  # else AWS_REGION / AWS_DEFAULT_REGION
    profile: str | None = None  # a named profile of ~/.aws/config
    http: Literal["function-url", "http-api"] = "function-url"  # what fronts HTTP functions
    package: Literal["auto", "app", "function"] = "auto"  # one zip per app, per function, or the smaller
    direct_upload_limit_mb: float = Field(default=50, ge=0, le=50)  # zips above it go through S3
    deployment_bucket: str | None = None  # a bucket name of your own for large zips
    buckets: dict[str, str] = Field(default_factory=dict)  # logical bucket -> an existing bucket
    log_retention_days: int = Field(default=14, ge=1)
    secrets: Literal["ssm", "secretsmanager"] = "ssm"  # where the app's secrets live (`portable_fn_aws.secrets`)
    # how boto3 and the deploy wait: client retries, polling of Lambda's state, IAM propagation
    max_attempts: int = Field(default=8, ge=1)
    wait_delay_s: float = Field(default=2, ge=0)
    wait_max_attempts: int = Field(default=150, ge=1)
    iam_propagation_attempts: int = Field(default=10, ge=1)
