"""The clouds `portable-fn cost` prices, by provider name."""

from __future__ import annotations

from . import aws, azure, gcp
from .estimate import Cloud

CLOUDS: dict[str, Cloud] = {"aws": aws.CLOUD, "gcp": gcp.CLOUD, "azure": azure.CLOUD}
