"""One list of provider operations, and every surface offering what it lists."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from nebula_credential import (
    CachingProvider,
    Credential,
    CredentialProvider,
    LeaseHeld,
    LocalStorageProvider,
    SyncCredentialProvider,
    SyncKubernetesSecretsProvider,
)
from nebula_credential.local.access import LocalAccess
from nebula_credential.providers import BlockingAccess
from nebula_credential.providers.inline import InlineAccess
from nebula_credential.providers.operations import OPERATIONS, Surface, missing, names


def test_every_public_method_of_the_provider_is_declared() -> None:
    """A new operation on the base provider must be declared, or no surface is checked."""
    public = {
        name
        for name, _ in inspect.getmembers(CredentialProvider)
        if not name.startswith("_") and name != "name"
    }
    assert public == {op.name for op in OPERATIONS}
    assert missing(CredentialProvider, Surface.PROVIDER) == []


def test_the_cache_passes_every_operation_on() -> None:
    assert missing(CachingProvider, Surface.WRAPPER, inherited_from=[CredentialProvider]) == []


@pytest.mark.parametrize("facade", [SyncCredentialProvider, SyncKubernetesSecretsProvider])
def test_the_blocking_facades_offer_every_operation(facade: type) -> None:
    assert missing(facade, Surface.SYNC) == []


@pytest.mark.parametrize("access", [BlockingAccess, InlineAccess, LocalAccess])
def test_every_blocking_access_offers_every_operation(access: type) -> None:
    assert missing(access, Surface.BLOCKING) == []


def test_a_wrapper_that_forgets_one_is_named() -> None:
    class Partial(CredentialProvider):
        async def store(self, *a: object, **k: object) -> Credential:
            raise NotImplementedError

        async def retrieve(self, credential_id: str) -> Credential | None:
            return None

        async def delete(self, credential_id: str) -> bool:
            return False

        def iter_credentials(self, selection: object) -> object:  # type: ignore[override]
            return iter(())

    absent = missing(Partial, Surface.WRAPPER, inherited_from=[CredentialProvider])
    assert {"acquire_lease", "peek"} <= set(absent)
    assert "store" not in absent
    assert set(names(Surface.SYNC)) - set(names(Surface.BLOCKING)) >= {"list", "store_fenced"}


def test_the_sync_facade_holds_rotation_leases(tmp_path: Path) -> None:
    """Rotation from blocking code: take the lease, write fenced, and see it held meanwhile."""
    key = bytes(range(32))
    with (
        SyncCredentialProvider(LocalStorageProvider(tmp_path, key=key)) as first,
        SyncCredentialProvider(LocalStorageProvider(tmp_path, key=key)) as second,
    ):
        stored = first.store(Credential(id="gh", kind="api_key", fields={"api_key": "k1"}))
        assert first.location == second.location
        lease = first.acquire_lease("gh", seconds=30)
        with pytest.raises(LeaseHeld):
            second.acquire_lease("gh", seconds=30)
        updated = first.store_fenced(
            stored.evolve(fields={"api_key": "k2"}), lease=lease, expected_version=stored.version
        )
        assert updated.version == stored.version + 1
        # The fenced write released the lease: the other process may take it now.
        second.release_lease(second.acquire_lease("gh", seconds=30))
        assert second.get("gh").reveal("api_key") == "k2"
