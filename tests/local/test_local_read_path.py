"""The read path of the local store: where a read runs, and decoding by the same rules.

Reads of an open store run on the caller's thread; rows sealed with the store's key but
written by hand go through the same checks as ``Credential.from_json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from nebula_credential import (
    ConfigurationError,
    CorruptData,
    Credential,
    CredentialError,
    LocalStorageProvider,
    SyncCredentialProvider,
)

CANARY = "canary-read-path-41c7"


async def turn_given(read: object) -> bool:
    """Whether awaiting ``read`` let the event loop run another callback."""
    ran: list[int] = []
    asyncio.get_running_loop().call_soon(ran.append, 1)
    await read  # type: ignore[misc]
    return bool(ran)


def test_async_reads_of_an_open_store_do_not_hop_to_a_thread(tmp_path: Path) -> None:
    async def main() -> None:
        async with LocalStorageProvider(tmp_path) as store:
            stored = await store.store(Credential("svc", "api_key", {"api_key": CANARY}))
            assert not await turn_given(store.retrieve("svc"))
            assert not await turn_given(store.exists("svc"))
            assert not await turn_given(store.retrieve("absent"))
            assert await store.retrieve("svc") == stored
            assert await store.exists("svc")
            assert not await store.exists("absent")

    asyncio.run(main())


def test_the_first_read_opens_the_store_off_the_event_loop(tmp_path: Path) -> None:
    async def main() -> None:
        async with LocalStorageProvider(tmp_path) as store:
            await store.store(Credential("svc", "api_key", {"api_key": CANARY}))
        # A new provider must open the file and check its key: that runs on the worker.
        async with LocalStorageProvider(tmp_path) as store:
            assert await turn_given(store.retrieve("svc"))
            assert not await turn_given(store.retrieve("svc"))
        async with LocalStorageProvider(tmp_path, passphrase="not-the-one") as store:
            with pytest.raises(ConfigurationError, match="created with a key, not a passphrase"):
                await store.retrieve("svc")

    asyncio.run(main())


def seal_row(path: Path, key: bytes, plain: bytes) -> None:
    """Replace the blob of row ``svc`` with ``plain`` sealed by the store's own key."""
    with closing(sqlite3.connect(path / "credentials.db")) as db:
        row = db.execute("SELECT id, kind, scope, tags, version FROM credentials").fetchone()
        aad = b"nebula-credential/row/v2" + b"".join(
            len(p).to_bytes(4, "big") + p for p in (str(part).encode() for part in row)
        )
        nonce = os.urandom(12)
        blob = b"\x02" + nonce + AESGCM(key).encrypt(nonce, plain, aad)
        db.execute("UPDATE credentials SET blob = ? WHERE id = 'svc'", (blob,))
        db.commit()


def stored_form(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "schema_version": 1,
        "id": "svc",
        "kind": "database",
        "scope": "org:acme/team:core",
        "owner": "alice",
        "tags": {"env": "prod"},
        "fields": {"host": "db", "port": 5432, "username": "u", "password": CANARY},
        "created_at": "2026-01-02T03:04:05.000006Z",
        "updated_at": "2026-01-02T05:04:05.000006+02:00",
        "expires_at": None,
        "version": 1,
    }
    record.update(changes)
    return record


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"owner": None, "tags": {}, "expires_at": "2030-01-01T00:00:00-05:00"},
        {"fields": {"host": "db", "username": "u", "password": "pässwörd"}},
        {"schema_version": 0},
        {"fields": {"host": "db", "port": None, "username": "u", "password": "p"}},
    ],
)
def test_a_row_written_by_hand_reads_as_from_json_would(
    tmp_path: Path, changes: dict[str, object]
) -> None:
    key = os.urandom(32)
    original = Credential("svc", "database", {"host": "h", "username": "u", "password": "p"})
    with SyncCredentialProvider(LocalStorageProvider(tmp_path, key=key)) as store:
        store.store(original)
    plain = json.dumps(stored_form(**changes)).encode()
    seal_row(tmp_path, key, plain)
    with SyncCredentialProvider(LocalStorageProvider(tmp_path, key=key)) as store:
        assert store.retrieve("svc") == Credential.from_json(plain)


@pytest.mark.parametrize(
    "changes",
    [
        {"fields": {"host": "db", "username": "u", "password": "p", "not a name": "x"}},
        {"fields": {"host": "db", "username": "u"}},
        {"fields": {"host": "db", "port": True, "username": "u", "password": "p"}},
        {"fields": {"host": "db", "username": "u", "password": "bad\ud800"}},
        {"tags": {"-bad": "x"}},
        {"tags": {"env": "line\nbreak"}},
        {"owner": ""},
        {"scope": "org:"},
        {"created_at": "2026-01-02T03:04:05"},
        {"schema_version": 2},
        {"kind": "nope"},
        {"extra": 1},
        {"version": -1},
    ],
)
def test_a_row_written_by_hand_is_refused_as_from_json_would(
    tmp_path: Path, changes: dict[str, object]
) -> None:
    key = os.urandom(32)
    with SyncCredentialProvider(LocalStorageProvider(tmp_path, key=key)) as store:
        store.store(Credential("svc", "database", {"host": "h", "username": "u", "password": "p"}))
    plain = json.dumps(stored_form(**changes)).encode()
    with pytest.raises(CredentialError) as expected:
        Credential.from_json(plain)
    seal_row(tmp_path, key, plain)
    with (
        SyncCredentialProvider(LocalStorageProvider(tmp_path, key=key)) as store,
        pytest.raises(CorruptData, match="does not decode") as caught,
    ):
        store.retrieve("svc")
    assert str(expected.value) in str(caught.value)
    assert CANARY not in str(caught.value)
