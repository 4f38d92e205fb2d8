"""Choosing the store's key and proving it is the right one (the key-check record)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Final

from ..domain import ConfigurationError
from .keys import (
    KEY_ENV,
    PASSPHRASE_ENV,
    Sealer,
    StoreKey,
    derive_from_passphrase,
    load_or_create_key_file,
    parse_key,
)

KEY_FILE_NAME: Final = "key"


def unlock(
    db: sqlite3.Connection,
    path: Path,
    *,
    key: bytes | None,
    passphrase: str | None,
) -> Sealer:
    """The sealer for this store, checked against (or recorded in) the key-check row."""
    sealer = Sealer(_resolve(db, path, key, passphrase))
    blob = _meta(db, "keycheck")
    if blob is None:
        db.execute("INSERT OR IGNORE INTO meta VALUES ('keycheck', ?)", (sealer.seal_keycheck(),))
        blob = _meta(db, "keycheck")
        assert blob is not None
    sealer.check(blob, path)
    return sealer


def _meta(db: sqlite3.Connection, name: str) -> bytes | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
    return None if row is None else bytes(row[0])


def _holds_data(db: sqlite3.Connection) -> bool:
    if _meta(db, "keycheck") is not None:
        return True
    return db.execute("SELECT 1 FROM credentials LIMIT 1").fetchone() is not None


def given_key(key: bytes | None) -> StoreKey | None:
    """The key passed in or set in the environment, validated; None when neither."""
    if key is not None:
        if len(key) != 32:
            raise ConfigurationError("the key must be exactly 32 bytes")
        return StoreKey(key, "the key passed in")
    env_key = os.environ.get(KEY_ENV)
    if env_key:
        return StoreKey(parse_key(env_key, KEY_ENV), KEY_ENV)
    return None


def check_settings(key: bytes | None, passphrase: str | None) -> None:
    """Refuse a malformed key or an empty passphrase before anything touches the disk."""
    if given_key(key) is not None:
        return
    if passphrase is None:
        passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is not None and not passphrase:
        raise ConfigurationError(f"the passphrase is empty; set {PASSPHRASE_ENV} to a real one")


def _resolve(
    db: sqlite3.Connection, path: Path, key: bytes | None, passphrase: str | None
) -> StoreKey:
    given = given_key(key)
    if given is not None:
        return given
    passphrase = passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV)
    kdf = _meta(db, "kdf")
    if passphrase is not None:
        if not passphrase:
            # Checked before the salt is recorded: an empty passphrase must leave no trace.
            raise ConfigurationError(f"the passphrase is empty; set {PASSPHRASE_ENV} to a real one")
        if kdf is None:
            kdf = _record_salt(db, path)
        import json  # a passphrase store only

        salt = bytes.fromhex(json.loads(kdf)["salt"])
        return StoreKey(derive_from_passphrase(passphrase, salt), PASSPHRASE_ENV)
    if kdf is not None:
        raise ConfigurationError(
            f"the store {path} is protected by a passphrase; set {PASSPHRASE_ENV}"
        )
    key_file = path.parent / KEY_FILE_NAME
    if not key_file.exists() and _holds_data(db):
        raise ConfigurationError(
            f"the store {path} holds encrypted credentials but its key file {key_file} is "
            f"missing; restore the key file from a backup, or set {KEY_ENV} to the key the "
            "store was created with (a new key could not decrypt it)"
        )
    return StoreKey(load_or_create_key_file(key_file), f"key file {key_file}")


def _record_salt(db: sqlite3.Connection, path: Path) -> bytes:
    db.execute("BEGIN IMMEDIATE")
    try:
        if _meta(db, "keycheck") is not None:
            raise ConfigurationError(
                f"the store {path} was created with a key, not a passphrase; unset {PASSPHRASE_ENV}"
            )
        import json

        params = {"alg": "argon2id", "salt": os.urandom(16).hex()}
        db.execute("INSERT OR IGNORE INTO meta VALUES ('kdf', ?)", (json.dumps(params).encode(),))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    kdf = _meta(db, "kdf")
    assert kdf is not None
    return kdf
