"""The SQLite file behind the local provider (blocking; runs on one worker thread)."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from ..domain import (
    ConfigurationError,
    CorruptData,
    Credential,
    CredentialError,
    PayloadTooLarge,
    ProviderUnavailable,
)
from ..providers import ListFilter, next_revision
from .keys import (
    KEY_ENV,
    PASSPHRASE_ENV,
    Sealer,
    StoreKey,
    derive_from_passphrase,
    load_or_create_key_file,
    parse_key,
)

T = TypeVar("T")
DB_NAME: Final = "credentials.db"
KEY_FILE_NAME: Final = "key"
MAX_PAYLOAD_BYTES: Final = 1024 * 1024
_KEYCHECK_AD: Final = b"nebula-credential/keycheck/v1"
_KEYCHECK_PLAIN: Final = b"nebula-credential local store v1"
_BUSY_TIMEOUT_S: Final = 30.0
_PAGE: Final = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS credentials (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    tags TEXT NOT NULL,
    version INTEGER NOT NULL,
    blob BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS credentials_scope ON credentials (scope);
"""


def _associated(credential_id: str) -> bytes:
    return b"nebula-credential/v1:" + credential_id.encode("utf-8")


class LocalStore:
    """One open SQLite database with an unlocked key. Not thread-safe by design."""

    def __init__(
        self, data_dir: Path, *, key: bytes | None, passphrase: str | None, durable: bool
    ) -> None:
        self.path = data_dir / DB_NAME
        _ensure_private_dir(data_dir)
        _ensure_private_file(self.path)
        try:
            self._db = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise _database_error(self.path, exc) from None
        try:
            self._sealer = Sealer(self._resolve_key(data_dir, key, passphrase))
            self._check_key()
        except BaseException:
            self._db.close()
            raise

    # -- key handling -----------------------------------------------------------------

    def _meta(self, name: str) -> bytes | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def _resolve_key(self, data_dir: Path, key: bytes | None, passphrase: str | None) -> StoreKey:
        if key is not None:
            if len(key) != 32:
                raise ConfigurationError("the key must be exactly 32 bytes")
            return StoreKey(key, "the key passed in")
        env_key = os.environ.get(KEY_ENV)
        if env_key:
            return StoreKey(parse_key(env_key, KEY_ENV), KEY_ENV)
        passphrase = passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV)
        kdf = self._meta("kdf")
        if passphrase is not None:
            if kdf is None:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    if self._meta("keycheck") is not None:
                        raise ConfigurationError(
                            f"the store {self.path} was created with a key, not a passphrase; "
                            f"unset {PASSPHRASE_ENV}"
                        )
                    salt = secrets.token_bytes(16)
                    params = {"alg": "argon2id", "salt": salt.hex()}
                    self._db.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('kdf', ?)",
                        (json.dumps(params).encode(),),
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                kdf = self._meta("kdf")
            assert kdf is not None
            salt = bytes.fromhex(json.loads(kdf)["salt"])
            return StoreKey(derive_from_passphrase(passphrase, salt), PASSPHRASE_ENV)
        if kdf is not None:
            raise ConfigurationError(
                f"the store {self.path} is protected by a passphrase; set {PASSPHRASE_ENV}"
            )
        key_file = data_dir / KEY_FILE_NAME
        return StoreKey(load_or_create_key_file(key_file), f"key file {key_file}")

    def _check_key(self) -> None:
        blob = self._meta("keycheck")
        if blob is None:
            candidate = self._sealer.seal(_KEYCHECK_PLAIN, _KEYCHECK_AD)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('keycheck', ?)", (candidate,))
            blob = self._meta("keycheck")
            assert blob is not None
        self._sealer.check(blob, _KEYCHECK_AD, _KEYCHECK_PLAIN, self.path)

    # -- rows -------------------------------------------------------------------------

    def _decode(self, credential_id: str, blob: bytes) -> Credential:
        what = f"credential {credential_id!r} in {self.path}"
        plain = self._sealer.open(bytes(blob), _associated(credential_id), what)
        try:
            credential = Credential.from_json(plain)
        except CredentialError as exc:
            raise CorruptData(
                f"{what} does not decode: {exc}", credential_id=credential_id
            ) from None
        if credential.id != credential_id:
            raise CorruptData(f"{what} holds another credential", credential_id=credential_id)
        return credential

    def _guard(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise ProviderUnavailable(
                    f"the local store {self.path} stayed locked by another process for "
                    f"{_BUSY_TIMEOUT_S:.0f} s; retry"
                ) from None
            raise _database_error(self.path, exc) from None
        except sqlite3.DatabaseError as exc:
            raise _database_error(self.path, exc) from None

    def store(self, credential: Credential, expected_version: int | None) -> Credential:
        def write() -> Credential:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT version, blob FROM credentials WHERE id = ?", (credential.id,)
                ).fetchone()
                current: Credential | None = None
                if row is not None:
                    try:
                        current = self._decode(credential.id, row[1])
                    except CorruptData:
                        current = None  # an unreadable row is overwritten, keeping its version
                stored = next_revision(
                    credential,
                    current,
                    current_version=None if row is None else int(row[0]),
                    expected_version=expected_version,
                )
                plain = stored.to_json(reveal=True).encode("utf-8")
                if len(plain) > MAX_PAYLOAD_BYTES:
                    raise PayloadTooLarge(
                        f"credential {credential.id!r} is {len(plain)} bytes serialized; the "
                        f"limit is {MAX_PAYLOAD_BYTES} bytes",
                        credential_id=credential.id,
                    )
                self._db.execute(
                    "INSERT OR REPLACE INTO credentials (id, kind, scope, tags, version, blob) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        stored.id,
                        stored.kind.value,
                        str(stored.scope),
                        json.dumps(dict(stored.tags), sort_keys=True),
                        stored.version,
                        self._sealer.seal(plain, _associated(stored.id)),
                    ),
                )
                self._db.execute("COMMIT")
                return stored
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

        return self._guard(write)

    def retrieve(self, credential_id: str) -> Credential | None:
        row = self._guard(
            lambda: self._db.execute(
                "SELECT blob FROM credentials WHERE id = ?", (credential_id,)
            ).fetchone()
        )
        return None if row is None else self._decode(credential_id, row[0])

    def delete(self, credential_id: str) -> bool:
        cursor = self._guard(
            lambda: self._db.execute("DELETE FROM credentials WHERE id = ?", (credential_id,))
        )
        return cursor.rowcount > 0

    def exists(self, credential_id: str) -> bool:
        row = self._guard(
            lambda: self._db.execute(
                "SELECT 1 FROM credentials WHERE id = ?", (credential_id,)
            ).fetchone()
        )
        return row is not None

    def page(self, selection: ListFilter, after: str) -> tuple[list[Credential], str | None]:
        """One page of matches with ids above ``after``, and where the next page starts."""
        clauses = ["id > ?"]
        params: list[object] = [after]
        scope = selection.scope
        if scope is not None and not (selection.descendants and scope.is_global):
            if selection.descendants:
                # '0' sorts right after '/', so this range is exactly the descendants.
                clauses.append("(scope = ? OR (scope >= ? AND scope < ?))")
                params += [str(scope), f"{scope}/", f"{scope}0"]
            else:
                clauses.append("scope = ?")
                params.append(str(scope))
        if selection.kind is not None:
            clauses.append("kind = ?")
            params.append(selection.kind.value)
        for key, value in selection.tags.items():
            clauses.append("json_extract(tags, ?) = ?")
            params += [f'$."{key}"', value]
        sql = (
            f"SELECT id, blob FROM credentials WHERE {' AND '.join(clauses)} "  # noqa: S608
            f"ORDER BY id LIMIT {_PAGE}"
        )
        rows = self._guard(lambda: self._db.execute(sql, params).fetchall())
        # The clear-text columns only narrow the search; the sealed row decides.
        decoded = (self._decode(row[0], row[1]) for row in rows)
        matched = [c for c in decoded if selection.matches(c)]
        return matched, (rows[-1][0] if len(rows) == _PAGE else None)

    def close(self) -> None:
        self._db.close()


def _database_error(path: Path, exc: sqlite3.DatabaseError) -> CredentialError:
    return CorruptData(
        f"the local store {path} is not a usable SQLite database ({exc}); "
        "restore it from a backup or move it away to start a new store"
    )


def _ensure_private_dir(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the data directory {path}: {exc.strerror}"
        ) from None
    if not path.is_dir():
        raise ConfigurationError(f"the data directory {path} is not a directory")
    if path.stat().st_mode & 0o077:
        try:
            path.chmod(0o700)
        except OSError as exc:
            raise ConfigurationError(
                f"the data directory {path} is open to other users and cannot be fixed "
                f"({exc.strerror}); run: chmod 700 {path}"
            ) from None


def _ensure_private_file(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigurationError(f"cannot open the local store {path}: {exc.strerror}") from None
    os.close(fd)
