"""The history part of the provider contract: one kept previous version per credential.

Mixed into :class:`~nebula_credential.testing.contract.ProviderContract`, so every
provider (and every wrapper) runs it with the same ``provider`` and ``root`` fixtures.
"""

from __future__ import annotations

import pytest

from ..domain import Conflict, Credential, CredentialId, InvalidCredential, SecretValue
from ..providers import CredentialProvider

_OLD = "history-canary-old-token"
_NEW = "history-canary-new-token"


def _oauth(cid: str, scope: str, token: str) -> Credential:
    fields = {"access_token": token, "refresh_token": f"r-{token}", "client_id": "app"}
    return Credential(cid, "oauth2", fields, scope=scope, owner="ops", tags={"env": "t"})


class HistoryContract:
    """``store(..., previous=...)`` and ``retrieve_previous``; see the provider base."""

    async def test_nothing_kept_until_asked(self, provider: CredentialProvider, root: str) -> None:
        cid = CredentialId.new()
        assert await provider.retrieve_previous(cid) is None
        await provider.store(_oauth(cid, root, _OLD))
        await provider.store(_oauth(cid, root, _NEW))
        assert await provider.retrieve_previous(cid) is None

    async def test_store_keeps_the_given_previous_version(
        self, provider: CredentialProvider, root: str
    ) -> None:
        cid = CredentialId.new()
        old = await provider.store(_oauth(cid, root, _OLD))
        new = await provider.store(
            _oauth(cid, root, _NEW), expected_version=old.version, previous=old
        )
        assert new.version == old.version + 1
        kept = await provider.retrieve_previous(cid)
        assert kept == old
        assert kept is not None
        assert isinstance(kept.fields["access_token"], SecretValue)
        assert kept.reveal("access_token") == _OLD
        current = await provider.retrieve(cid)
        assert current == new
        # The kept version is no second credential: lists show the current one only.
        listed = [c async for c in provider.list(scope=root)]
        assert listed == [new]

    async def test_plain_store_carries_the_kept_version_and_delete_drops_it(
        self, provider: CredentialProvider, root: str
    ) -> None:
        cid = CredentialId.new()
        old = await provider.store(_oauth(cid, root, _OLD))
        new = await provider.store(_oauth(cid, root, _NEW), previous=old)
        await provider.store(new.evolve(tags={"env": "t", "edited": "yes"}))
        assert await provider.retrieve_previous(cid) == old
        assert await provider.delete(cid) is True
        assert await provider.retrieve_previous(cid) is None
        await provider.store(_oauth(cid, root, _NEW))
        assert await provider.retrieve_previous(cid) is None

    async def test_a_newer_previous_replaces_the_kept_one(
        self, provider: CredentialProvider, root: str
    ) -> None:
        cid = CredentialId.new()
        first = await provider.store(_oauth(cid, root, _OLD))
        second = await provider.store(_oauth(cid, root, _NEW), previous=first)
        await provider.store(first.evolve(version=0), previous=second)
        assert await provider.retrieve_previous(cid) == second

    async def test_previous_of_another_id_is_refused_and_nothing_written(
        self, provider: CredentialProvider, root: str
    ) -> None:
        cid, other = CredentialId.new(), CredentialId.new()
        stored = await provider.store(_oauth(cid, root, _OLD))
        foreign = await provider.store(_oauth(other, root, _OLD))
        with pytest.raises(InvalidCredential):
            await provider.store(_oauth(cid, root, _NEW), previous=foreign)
        assert await provider.retrieve(cid) == stored
        assert await provider.retrieve_previous(cid) is None

    async def test_stale_write_keeps_neither_version_nor_previous(
        self, provider: CredentialProvider, root: str
    ) -> None:
        cid = CredentialId.new()
        old = await provider.store(_oauth(cid, root, _OLD))
        current = await provider.store(_oauth(cid, root, _NEW))
        with pytest.raises(Conflict):
            await provider.store(
                _oauth(cid, root, "lost-write"), expected_version=old.version, previous=old
            )
        assert await provider.retrieve(cid) == current
        assert await provider.retrieve_previous(cid) is None
