"""Keys, tampering and file permissions of the local store, on real SQLite files."""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path

import pytest

from nebula_credential import (
    ConfigurationError,
    CorruptData,
    Credential,
    DecryptionFailed,
    LocalStorageProvider,
    SyncCredentialProvider,
)

CANARY = "canary-7f3e9d-secret"


def open_store(path: Path, **kwargs: object) -> SyncCredentialProvider:
    return SyncCredentialProvider(LocalStorageProvider(path, **kwargs))  # type: ignore[arg-type]


def put(path: Path, cid: str = "svc", **kwargs: object) -> None:
    with open_store(path, **kwargs) as store:
        store.store(Credential(cid, "api_key", {"api_key": CANARY}))


def test_values_are_encrypted_on_disk_and_files_are_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    put(home)
    for name in os.listdir(home):
        data = (home / name).read_bytes()
        assert CANARY.encode() not in data, name
    assert (home.stat().st_mode & 0o777) == 0o700
    assert ((home / "key").stat().st_mode & 0o777) == 0o600
    assert ((home / "credentials.db").stat().st_mode & 0o777) == 0o600


def test_wrong_key_is_decryption_failed_not_garbage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(tmp_path, key=os.urandom(32))
    with open_store(tmp_path, key=os.urandom(32)) as store, pytest.raises(DecryptionFailed):
        store.retrieve("svc")
    monkeypatch.setenv("NEBULA_CREDENTIAL_KEY", base64.b64encode(os.urandom(32)).decode())
    with open_store(tmp_path) as store, pytest.raises(DecryptionFailed, match="cannot decrypt"):
        list(store.list_all())


def test_key_from_environment_opens_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = os.urandom(32)
    monkeypatch.setenv("NEBULA_CREDENTIAL_KEY", key.hex())
    put(tmp_path)
    assert not (tmp_path / "key").exists()
    monkeypatch.setenv("NEBULA_CREDENTIAL_KEY", base64.urlsafe_b64encode(key).decode())
    with open_store(tmp_path) as store:
        assert store.get("svc").reveal("api_key") == CANARY


def test_malformed_environment_key_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEBULA_CREDENTIAL_KEY", "too-short")
    with open_store(tmp_path) as store, pytest.raises(ConfigurationError, match="32-byte"):
        store.retrieve("svc")


def test_passphrase_store_needs_the_same_passphrase(tmp_path: Path) -> None:
    put(tmp_path, passphrase="correct horse battery staple")
    assert not (tmp_path / "key").exists()
    with open_store(tmp_path, passphrase="correct horse battery staple") as store:
        assert store.get("svc").reveal("api_key") == CANARY
    with open_store(tmp_path, passphrase="wrong") as store, pytest.raises(DecryptionFailed):
        store.retrieve("svc")
    with open_store(tmp_path) as store, pytest.raises(ConfigurationError, match="passphrase"):
        store.retrieve("svc")


def test_tampered_row_is_corrupt_data(tmp_path: Path) -> None:
    put(tmp_path, "a")
    put(tmp_path, "b")
    db = sqlite3.connect(tmp_path / "credentials.db")
    blob = bytearray(db.execute("SELECT blob FROM credentials WHERE id='a'").fetchone()[0])
    blob[-5] ^= 0x01
    db.execute("UPDATE credentials SET blob=? WHERE id='a'", (bytes(blob),))
    db.commit()
    with open_store(tmp_path) as store:
        with pytest.raises(CorruptData, match="'a'") as caught:
            store.retrieve("a")
        assert CANARY not in str(caught.value)
        assert store.get("b").reveal("api_key") == CANARY


def test_row_moved_to_another_id_is_corrupt_data(tmp_path: Path) -> None:
    put(tmp_path, "a")
    put(tmp_path, "b")
    db = sqlite3.connect(tmp_path / "credentials.db")
    blob = db.execute("SELECT blob FROM credentials WHERE id='a'").fetchone()[0]
    db.execute("UPDATE credentials SET blob=? WHERE id='b'", (blob,))
    db.commit()
    with open_store(tmp_path) as store, pytest.raises(CorruptData):
        store.retrieve("b")


def test_truncated_database_file_is_corrupt_data(tmp_path: Path) -> None:
    put(tmp_path)
    db_file = tmp_path / "credentials.db"
    db_file.write_bytes(db_file.read_bytes()[:100])
    with open_store(tmp_path) as store, pytest.raises(CorruptData, match="not a usable"):
        store.retrieve("svc")


def test_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    put(tmp_path)
    (tmp_path / "key").chmod(0o644)
    with open_store(tmp_path) as store, pytest.raises(ConfigurationError, match="chmod 600"):
        store.retrieve("svc")
