"""Deploy commands without cloud credentials, as a user on a fresh machine runs them: a clear error that
names what is missing and how to get it, exit code 1, no traceback. The environment is emptied of
credentials, and every place the SDKs would look further (instance metadata services, CLIs, config
files) is pointed at nothing or at a closed port on 127.0.0.1, so nothing leaves this machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from portable_fn.emulators import free_port

REPO = Path(__file__).resolve().parents[2]
CLOSED = f"127.0.0.1:{free_port()}"  # nothing listens there
ADVICE = {
    "aws": "no AWS credentials were found",
    "azure": "no Azure credentials were found",
    "gcp": "no Google Cloud credentials were found",
}
FIX = {"aws": "aws configure", "azure": "az login", "gcp": "gcloud auth application-default login"}


def bare_environment(home: Path) -> dict[str, str]:
    keep = {"PATH", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "HOME": str(home),
            "USERPROFILE": str(home),
            # AWS: no shared files, no instance metadata (IMDS would be 169.254.169.254)
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
            "AWS_CONFIG_FILE": str(home / "none"),
            "AWS_EC2_METADATA_DISABLED": "true",
            # Azure: managed identity's metadata endpoint on a closed local port; no az/azd/pwsh on PATH matters
            "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
            "AZURE_POD_IDENTITY_AUTHORITY_HOST": f"http://{CLOSED}",
            "IDENTITY_ENDPOINT": f"http://{CLOSED}/msi",
            "IMDS_ENDPOINT": f"http://{CLOSED}",
            # Google: no gcloud configuration, no Compute Engine metadata check
            "GOOGLE_CLOUD_PROJECT": "shop-project",
            "CLOUDSDK_CONFIG": str(home / "gcloud"),
            "NO_GCE_CHECK": "True",
            "GCE_METADATA_HOST": CLOSED,
            "GCE_METADATA_IP": CLOSED,
        }
    )
    return env


@pytest.mark.slow  # the CLI in a process of its own, waiting out each SDK's credential chain
@pytest.mark.parametrize("provider", sorted(ADVICE))
def test_info_without_credentials_says_what_is_missing_and_how_to_sign_in(provider: str, tmp_path: Path) -> None:
    app = tmp_path / "shop"
    shutil.copytree(REPO / "samples" / "shop", app, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "portable_fn.cli",
            "info",
            str(app),
            "--provider",
            provider,
            "--endpoint-url",
            f"https://{CLOSED}",
        ],
        env=bare_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith(
        f"error: Reading what exists for 'shop' (stage 'dev') on {provider} failed, and nothing was changed: "
    ), done.stderr
    assert ADVICE[provider] in error and FIX[provider] in error
    assert "Traceback" not in done.stderr


def _aws_error(code: str, message: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}}, "ListFunctions")


def _aws_unreachable() -> Exception:
    from botocore.exceptions import EndpointConnectionError

    return EndpointConnectionError(endpoint_url="https://sts.eu-west-1.amazonaws.com/")


def _azure_unreachable() -> Exception:
    from azure.core.exceptions import ClientAuthenticationError

    return ClientAuthenticationError(
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\nAttempted credentials:"
        "\n\tEnvironmentCredential: Authentication failed: <urllib3.connection.HTTPSConnection object>: Failed to "
        "resolve 'login.microsoftonline.com' ([Errno -3] Temporary failure in name resolution)"
    )


def _azure_service_request() -> Exception:
    from azure.core.exceptions import ServiceRequestError

    return ServiceRequestError("Failed to resolve 'management.azure.com'")


def _google_refresh() -> Exception:
    from google.auth.exceptions import RefreshError

    return RefreshError("invalid_grant: Token has been expired or revoked.")


@pytest.mark.parametrize(
    ("provider", "error", "said"),
    [
        (
            "aws",
            lambda: _aws_error("ExpiredToken", "The security token included in the request is expired"),
            "the AWS credentials have expired (ExpiredToken); refresh them",
        ),
        (
            "aws",
            lambda: _aws_error("InvalidClientTokenId", "The security token included in the request is invalid."),
            "AWS refused the credentials (InvalidClientTokenId: The security token included in the request is "
            "invalid.)",
        ),
        ("aws", lambda: _aws_error("AccessDenied", "User is not authorized"), None),  # AWS's own words say it
        ("gcp", _google_refresh, "the Google Cloud credentials could not be refreshed (invalid_grant"),
        ("gcp", lambda: ValueError("something else"), None),
        # Not reached: said as such, not as botocore's bare words or as credentials that are not there
        ("aws", lambda: _aws_unreachable(), "AWS could not be reached (Could not connect to the endpoint URL"),
        ("azure", lambda: _azure_unreachable(), "Azure's sign-in (login.microsoftonline.com) could not be reached"),
        ("azure", lambda: _azure_service_request(), "Azure could not be reached (Failed to resolve"),
    ],
)
def test_expired_and_refused_credentials_are_explained(provider: str, error: object, said: str | None) -> None:
    from portable_fn.provider import load_provider

    explained = load_provider(provider, {}).explain(error())  # type: ignore[operator]
    assert explained == said if said is None else (explained or "").startswith(said)
