"""Providers are found through entry points; a missing one says what to install."""

from __future__ import annotations

import pytest

from portable_fn.local.provider import LocalProvider
from portable_fn.provider import GROUP, _install_hint, available, load_provider
from portable_fn.runtime.errors import ProviderNotInstalledError


def test_the_local_provider_is_registered_like_any_other() -> None:
    entry = available()["local"]
    assert entry.group == GROUP
    assert entry.value == "portable_fn.local.provider:LocalProvider"
    provider = load_provider("local", {"state_dir": "/x"}, endpoint_url="http://127.0.0.1:1")
    assert isinstance(provider, LocalProvider)
    assert provider.settings == {"state_dir": "/x"} and provider.endpoint_url == "http://127.0.0.1:1"


@pytest.mark.parametrize("name", ["aws", "gcp", "azure"])
def test_a_cloud_provider_that_is_not_installed_names_the_extra(name: str) -> None:
    only_local = {"local": available()["local"]}
    with pytest.raises(ProviderNotInstalledError, match=rf"installed: local\).*pip install 'portable-fn\[{name}\]'"):
        load_provider(name, installed=only_local)


@pytest.mark.parametrize("name", ["aws", "gcp", "azure"])
def test_installed_cloud_providers_load_through_their_entry_points(name: str) -> None:
    assert load_provider(name).name == name


def test_the_hint_names_the_extra_of_every_cloud_provider() -> None:
    for name in ("aws", "gcp", "azure"):
        assert f"pip install 'portable-fn[{name}]'" in _install_hint(name, {})


def test_an_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ProviderNotInstalledError, match="no provider named 'ibm'.*known: aws, azure, gcp, local"):
        load_provider("ibm")
