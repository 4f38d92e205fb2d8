"""The kit's public names are pinned, and each one loads on first use."""

from __future__ import annotations

import pytest

import nebula_credential.testing
from nebula_credential.testing import envtest

EXPECTED = {
    "DEFAULT_VERBS",
    "ApiResponse",
    "Binaries",
    "ControlPlane",
    "ControlPlaneError",
    "ControllerManager",
    "Identity",
    "MissingBinaryError",
    "cache_dir",
    "close_all",
    "find_binaries",
    "missing_binaries_message",
    "start_all",
}


def test_exported_names_are_pinned_and_resolve() -> None:
    assert set(envtest.__all__) == EXPECTED
    for name in envtest.__all__:
        assert getattr(envtest, name) is not None, name
    assert issubclass(envtest.MissingBinaryError, envtest.ControlPlaneError)
    with pytest.raises(AttributeError, match="no attribute 'Plane'"):
        envtest.Plane  # noqa: B018


def test_the_provider_contract_is_still_exported_from_testing() -> None:
    assert nebula_credential.testing.__all__ == ["ProviderContract"]
    assert nebula_credential.testing.ProviderContract.__name__ == "ProviderContract"
