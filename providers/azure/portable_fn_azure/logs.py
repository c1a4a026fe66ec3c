"""Reading a deployed function's logs from Azure Monitor, for `portable-fn logs --provider azure`.

The Functions host sends every function's log lines to the app's Application Insights, which keeps
them in its Log Analytics workspace as the `AppTraces` table: the cloud role (`AppRoleName`) is the
function app, the operation (`OperationName`) the function, `OperationId` the W3C trace id of the
invocation and `Properties` its `InvocationId`. `LogAnalytics` asks the workspace's query API
(POST https://api.loganalytics.io/v1/workspaces/{workspaceId}/query, a KQL query) for the lines of the
given functions since a time, oldest first, through azure-core's pipeline with a bearer token from
azure-identity's DefaultAzureCredential; an endpoint on plain http is a fake, called without one.

Deploy creates no Application Insights of its own, so the workspace is a setting (`logs_workspace_id`,
else AZURE_LOG_ANALYTICS_WORKSPACE_ID): the one the app's `APPLICATIONINSIGHTS_CONNECTION_STRING` feeds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from portable_fn.logread import LogEntry, LogsError, entry_from_line, format_time, merged
from portable_fn.runtime.cloudevent import parse_rfc3339

ENDPOINT = "https://api.loganalytics.io"
SCOPE = "https://api.loganalytics.io/.default"
WORKSPACE_VARIABLE = "AZURE_LOG_ANALYTICS_WORKSPACE_ID"
COLUMNS = ("TimeGenerated", "OperationName", "SeverityLevel", "Message", "OperationId", "Properties", "_ItemId")
# Application Insights' severity levels (SeverityLevel) by number
SEVERITIES = {"0": "DEBUG", "1": "INFO", "2": "WARNING", "3": "ERROR", "4": "CRITICAL"}
API_LOG = logging.getLogger("portable_fn.api")


class LogAnalytics:
    """KQL queries on one Log Analytics workspace."""

    def __init__(self, workspace_id: str, endpoint: str = ENDPOINT, credential: Any = None) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy, HeadersPolicy, RetryPolicy

        self.workspace_id = workspace_id
        self.endpoint = endpoint.rstrip("/")
        policies: list[Any] = [HeadersPolicy(), RetryPolicy()]
        if credential is not None:
            policies.append(BearerTokenCredentialPolicy(credential, SCOPE))
        self._client: Any = PipelineClient(base_url=self.endpoint, policies=policies)

    def read(self, site: str, functions: Sequence[str], since: datetime) -> list[LogEntry]:
        """The `AppTraces` lines of `functions` in the function app `site` at or after `since`."""
        from azure.core.rest import HttpRequest

        url = f"{self.endpoint}/v1/workspaces/{self.workspace_id}/query"
        API_LOG.debug("azure loganalytics Query_Post workspaces/%s", self.workspace_id)
        response = self._client.send_request(
            HttpRequest("POST", url, json={"query": traces_query(site, functions, since)})
        )
        if response.status_code >= 400:
            raise LogsError(
                f"Querying the Log Analytics workspace {self.workspace_id!r} for the logs of "
                f"{site!r}: {_said(response)}."
            )
        tables = response.json().get("tables") or [{"columns": [], "rows": []}]
        names = [c["name"] for c in tables[0]["columns"]]
        return merged(to_entry(dict(zip(names, row))) for row in tables[0]["rows"])


def traces_query(site: str, functions: Sequence[str], since: datetime) -> str:
    """The KQL query for the functions' lines (names quoted as KQL string literals, which take JSON's
    escapes)."""
    wanted = ", ".join(json.dumps(name) for name in sorted(functions))
    return "\n".join(
        [
            "AppTraces",
            f"| where TimeGenerated >= datetime({format_time(since)})",
            f"| where AppRoleName =~ {json.dumps(site)} and OperationName in ({wanted})",
            f"| project {', '.join(COLUMNS)}",
            "| order by TimeGenerated asc",
        ]
    )


def to_entry(row: Mapping[str, Any]) -> LogEntry:
    """One `AppTraces` row as a LogEntry (the API gives every value as a string, or null)."""
    properties = row.get("Properties") or {}
    if isinstance(properties, str):
        properties = json.loads(properties) if properties.startswith("{") else {}
    level = row.get("SeverityLevel")
    return entry_from_line(
        str(row.get("Message") or ""),
        time=parse_rfc3339(str(row["TimeGenerated"])),
        function=str(row.get("OperationName") or ""),
        level=SEVERITIES.get(str(level), level),
        trace_id=row.get("OperationId") or None,
        invocation_id=properties.get("InvocationId"),
        raw=dict(row),
        entry_id=str(row.get("_ItemId") or ""),
    )


def _said(response: Any) -> str:
    """What an error response says (`error.code`, `error.message`), and what to do about a 403 or 404."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    text = f"{response.status_code} {error.get('code', '')} {error.get('message', '')}".strip()
    if response.status_code == 403:
        return f"{text}. Reading logs needs the Log Analytics Reader role on the workspace"
    if response.status_code == 404:
        return (
            f"{text}. Check logs_workspace_id under [tool.portable-fn.azure] (or {WORKSPACE_VARIABLE}): the "
            "Workspace ID of the app's Application Insights workspace"
        )
    return text
