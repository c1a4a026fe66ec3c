"""Without credentials, `plan --provider azure` says so in one line (`client.explain`), not after the dozen
lines azure-identity logs at WARNING for each credential it tried."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from portable_fn_azure.deploy.client import AzureClient

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def identity_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("azure.identity")
    level = logger.level
    logger.setLevel(logging.NOTSET)
    yield logger
    logger.setLevel(level)


def test_the_credential_chains_warnings_are_not_shown(identity_logger: logging.Logger) -> None:
    AzureClient(SUBSCRIPTION).credential  # noqa: B018 - made on first use
    chained = logging.getLogger("azure.identity._credentials.chained")  # where the chain logs its failure
    assert not chained.isEnabledFor(logging.WARNING)
    assert chained.isEnabledFor(logging.ERROR)


def test_a_level_the_program_chose_is_kept(identity_logger: logging.Logger) -> None:
    identity_logger.setLevel(logging.DEBUG)
    AzureClient(SUBSCRIPTION).credential  # noqa: B018 - made on first use
    assert identity_logger.level == logging.DEBUG
