"""The app's pytest configuration: it never ships."""

import pytest


@pytest.fixture
def user() -> str:
    return "ada"
