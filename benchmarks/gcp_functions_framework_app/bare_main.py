"""The anchor of benchmarks/gcp_functions_framework.py: bare functions-framework CloudEvent handlers."""

import functions_framework


@functions_framework.cloud_event
def bare(cloud_event):
    """Receives the framework's CloudEvent and does nothing with it."""
