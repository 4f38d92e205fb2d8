"""Keys, tampering and file permissions of the local store, on real SQLite files."""

from __future__ import annotations

import base64
import os
import sqlite3
import traceback
from contextlib import closing
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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


def rows_of(path: Path) -> dict[str, tuple[object, ...]]:
    with closing(sqlite3.connect(path / "credentials.db")) as db:
        found = db.execute("SELECT id, kind, scope, tags, version, blob FROM credentials")
        return {row[0]: row for row in found}


def write_row(path: Path, sql: str, params: tuple[object, ...]) -> None:
    with closing(sqlite3.connect(path / "credentials.db")) as db, db:
        db.execute(sql, params)


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
    blob = bytearray(rows_of(tmp_path)["a"][5])  # type: ignore[arg-type]
    blob[-5] ^= 0x01
    write_row(tmp_path, "UPDATE credentials SET blob=? WHERE id='a'", (bytes(blob),))
    with open_store(tmp_path) as store:
        with pytest.raises(CorruptData, match="'a'") as caught:
            store.retrieve("a")
        assert CANARY not in str(caught.value)
        assert store.get("b").reveal("api_key") == CANARY


def test_row_moved_to_another_id_is_corrupt_data(tmp_path: Path) -> None:
    put(tmp_path, "a")
    put(tmp_path, "b")
    write_row(tmp_path, "UPDATE credentials SET blob=? WHERE id='b'", (rows_of(tmp_path)["a"][5],))
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


def test_an_older_row_written_back_over_a_newer_one_is_corrupt_data(tmp_path: Path) -> None:
    put(tmp_path)  # version 1
    old_blob = rows_of(tmp_path)["svc"][5]
    with open_store(tmp_path) as store:
        store.store(Credential("svc", "api_key", {"api_key": "rotated-value"}))
    write_row(tmp_path, "UPDATE credentials SET blob = ? WHERE id = 'svc'", (old_blob,))
    with open_store(tmp_path) as store, pytest.raises(CorruptData, match="integrity"):
        store.retrieve("svc")


@pytest.mark.parametrize(
    ("column", "value"),
    [("kind", "generic"), ("scope", "org:evil"), ("tags", '{"env": "prod"}'), ("version", 7)],
)
def test_every_clear_text_column_is_authenticated(
    tmp_path: Path, column: str, value: object
) -> None:
    put(tmp_path)
    write_row(tmp_path, f"UPDATE credentials SET {column} = ? WHERE id = 'svc'", (value,))  # noqa: S608
    with open_store(tmp_path) as store:
        with pytest.raises(CorruptData):
            store.retrieve("svc")
        with pytest.raises(CorruptData):
            list(store.list_all())


def seal_v1(key: bytes, cid: str, plain: bytes) -> bytes:
    """A row as the first release sealed it: format 1, the id alone as associated data."""
    nonce = os.urandom(12)
    aad = b"nebula-credential/v1:" + cid.encode()
    return b"\x01" + nonce + AESGCM(key).encrypt(nonce, plain, aad)


def test_a_store_of_the_first_release_is_upgraded_on_open(tmp_path: Path) -> None:
    key = os.urandom(32)
    put(tmp_path, "svc", key=key)
    put(tmp_path, "other", key=key)
    plain = Credential("svc", "api_key", {"api_key": CANARY}, version=1).to_json(reveal=True)
    v1_blob = seal_v1(key, "svc", plain.encode())
    # Turn the store back into what the first release wrote.
    write_row(tmp_path, "UPDATE credentials SET blob = ?, version = 1 WHERE id = 'svc'", (v1_blob,))
    write_row(tmp_path, "DELETE FROM meta WHERE key = ?", ("row_format",))
    with open_store(tmp_path, key=key) as store:
        assert store.get("svc").reveal("api_key") == CANARY
        assert store.get("other").reveal("api_key") == CANARY
    assert {bytes(row[5])[:1] for row in rows_of(tmp_path).values()} == {b"\x02"}
    # Once upgraded, a first-release blob put back is refused.
    write_row(tmp_path, "UPDATE credentials SET blob = ? WHERE id = 'svc'", (v1_blob,))
    with open_store(tmp_path, key=key) as store, pytest.raises(CorruptData, match="format"):
        store.retrieve("svc")


def test_a_deleted_key_file_is_not_silently_replaced(tmp_path: Path) -> None:
    put(tmp_path)
    (tmp_path / "key").unlink()
    with open_store(tmp_path) as store, pytest.raises(ConfigurationError, match="missing") as err:
        store.retrieve("svc")
    assert "restore the key file" in str(err.value)
    assert not (tmp_path / "key").exists()


def test_an_empty_passphrase_leaves_a_new_store_unprotected(tmp_path: Path) -> None:
    with open_store(tmp_path, passphrase="") as store, pytest.raises(ConfigurationError):
        store.store(Credential("svc", "api_key", {"api_key": CANARY}))
    assert list(tmp_path.iterdir()) == []
    put(tmp_path)  # the key file works: the store was not marked as passphrase-protected
    with open_store(tmp_path) as store:
        assert store.get("svc").reveal("api_key") == CANARY


def test_a_zero_length_database_is_corrupt_not_a_new_store(tmp_path: Path) -> None:
    put(tmp_path)
    (tmp_path / "credentials.db").write_bytes(b"")
    for name in ("credentials.db-wal", "credentials.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with open_store(tmp_path) as store, pytest.raises(CorruptData, match="empty"):
        store.store(Credential("new", "api_key", {"api_key": "x"}))
    assert (tmp_path / "credentials.db").stat().st_size == 0


def test_errors_about_undecodable_rows_do_not_chain_the_plaintext(tmp_path: Path) -> None:
    key = os.urandom(32)
    put(tmp_path, key=key)
    row = rows_of(tmp_path)["svc"]
    for plain in (b'{"fields": {"api_key": "' + CANARY.encode() + b'"', b"\xff" + CANARY.encode()):
        nonce = os.urandom(12)
        aad = b"nebula-credential/row/v2" + b"".join(
            len(p).to_bytes(4, "big") + p
            for p in (str(part).encode() for part in (*row[:4], row[4]))
        )
        blob = b"\x02" + nonce + AESGCM(key).encrypt(nonce, plain, aad)
        write_row(tmp_path, "UPDATE credentials SET blob = ? WHERE id = 'svc'", (blob,))
        with open_store(tmp_path, key=key) as store, pytest.raises(CorruptData) as caught:
            store.retrieve("svc")
        shown = "".join(traceback.format_exception(caught.value))
        assert CANARY not in shown
        assert caught.value.__context__ is None
        assert caught.value.__cause__ is None
