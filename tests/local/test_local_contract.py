"""The provider contract, run against the local encrypted store on a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from nebula_credential import (
    CorruptData,
    Credential,
    LocalStorageProvider,
    SyncCredentialProvider,
)
from nebula_credential.providers import CredentialProvider
from nebula_credential.testing import ProviderContract
from nebula_credential.testing.contract import Corrupter

DAMAGED = b"\x02" + bytes(40)  # format 2, but not what was sealed


class TestLocalProviderContract(ProviderContract):
    @pytest.fixture
    async def provider(self, tmp_path: Path) -> AsyncIterator[LocalStorageProvider]:
        async with LocalStorageProvider(tmp_path / "store") as provider:
            yield provider

    @pytest.fixture
    def corrupt(self) -> Corrupter:
        async def damage(provider: CredentialProvider, credential_id: str) -> None:
            assert isinstance(provider, LocalStorageProvider)
            with closing(sqlite3.connect(provider.path)) as db, db:
                db.execute("UPDATE credentials SET blob = ? WHERE id = ?", (DAMAGED, credential_id))

        return damage


def test_sync_facade_skips_and_reports_an_undecodable_row(tmp_path: Path) -> None:
    provider = LocalStorageProvider(tmp_path / "store")
    with SyncCredentialProvider(provider) as store:
        for cid in ("a", "b", "c"):
            store.store(Credential(cid, "api_key", {"api_key": "k"}))
        with closing(sqlite3.connect(provider.path)) as db, db:
            db.execute("UPDATE credentials SET blob = ? WHERE id = 'b'", (DAMAGED,))
        skipped: list[CorruptData] = []
        assert [c.id for c in store.list_all(on_skip=skipped.append)] == ["a", "c"]
        assert [e.credential_id for e in skipped] == ["b"]
        with pytest.raises(CorruptData):
            list(store.list_all())
        with pytest.raises(CorruptData):
            store.get("b")
