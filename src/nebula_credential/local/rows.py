"""One credential row: its clear-text columns and the sealed blob that binds them.

Format 2 (current) authenticates every column of the row — id, kind, scope, tags and
version — as AES-GCM associated data, so a blob copied onto another row, an older blob
written back over a newer one, or an edited column fails the integrity check. Format 1
(the first release) bound the id only; a store still in format 1 is rewritten to
format 2 the first time it is opened, and afterwards format-1 blobs are refused.

The previous version a rotation keeps (table ``previous``) is sealed the same way with
its own format byte, binding the id and that version's number, so it cannot be moved
onto another credential's row.

What no per-row scheme can notice is the whole file replaced by an older copy: keep
the store on a disk only you can write.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Final, NamedTuple

from ..domain import CorruptData, Credential, CredentialError, CredentialId
from ..domain.trusted import from_sealed_json
from ..domain.wire import encode_json
from .keys import Sealer

FORMAT_V1: Final = b"\x01"
FORMAT_V2: Final = b"\x02"
PREVIOUS_V1: Final = b"\x01"
COLUMNS: Final = "id, kind, scope, tags, version, blob"
_AD_V2: Final = b"nebula-credential/row/v2"  # then each of id, kind, scope, tags, version
# as a 4-byte big-endian length and its UTF-8 bytes


class Row(NamedTuple):
    """The columns of one row of the ``credentials`` table."""

    id: str
    kind: str
    scope: str
    tags: str
    version: int
    blob: bytes

    @classmethod
    def of(cls, record: tuple[Any, ...]) -> Row:
        """The row as read; a column of another SQLite type is converted (and then fails
        the integrity check, which authenticates what was written)."""
        cid, kind, scope, tags, version, blob = record
        if (
            type(cid) is str
            and type(kind) is str
            and type(scope) is str
            and type(tags) is str
            and type(version) is int
            and type(blob) is bytes
        ):
            return cls._make(record)
        return cls(str(cid), str(kind), str(scope), str(tags), int(version), bytes(blob))

    def params(self) -> tuple[str, str, str, str, int, bytes]:
        return (self.id, self.kind, self.scope, self.tags, self.version, self.blob)


def _associated(fmt: bytes, row: Row) -> bytes:
    if fmt == FORMAT_V1:
        return b"nebula-credential/v1:" + row.id.encode("utf-8")
    cid, kind, scope, tags = (part.encode("utf-8") for part in row[:4])
    version = str(row.version).encode("ascii")
    return b"".join(
        (
            _AD_V2,
            len(cid).to_bytes(4, "big"),
            cid,
            len(kind).to_bytes(4, "big"),
            kind,
            len(scope).to_bytes(4, "big"),
            scope,
            len(tags).to_bytes(4, "big"),
            tags,
            len(version).to_bytes(4, "big"),
            version,
        )
    )


def seal(sealer: Sealer, credential: Credential, plain: bytes) -> Row:
    """The row that stores ``credential`` (whose JSON, secrets revealed, is ``plain``)."""
    unsealed = Row(
        credential.id,
        credential.kind.value,
        str(credential.scope),
        encode_json(dict(sorted(credential.tags.items()))).decode("utf-8"),
        credential.version,
        b"",
    )
    blob = FORMAT_V2 + sealer.seal(plain, _associated(FORMAT_V2, unsealed))
    return Row(unsealed.id, unsealed.kind, unsealed.scope, unsealed.tags, unsealed.version, blob)


def unseal(
    sealer: Sealer, row: Row, path: Path, *, legacy: bool = False, cid: CredentialId | None = None
) -> Credential:
    """Decrypt and check one row; ``legacy`` also accepts format-1 blobs.

    ``cid`` is the validated id the row was looked up by, when there is one.
    """
    fmt = row.blob[:1]
    if fmt != FORMAT_V2 and not (legacy and fmt == FORMAT_V1):
        raise CorruptData(
            f"{_what(row, path)} is not in a known format; restore it from a backup or delete it",
            credential_id=row.id,
        )
    sealed = memoryview(row.blob)[1:]
    plain = sealer.try_open(sealed, _associated(fmt, row))
    if plain is None:
        raise CorruptData(sealer.failure(sealed, _what(row, path)), credential_id=row.id)
    failure: CredentialError | None = None
    try:
        # The blob passed the integrity check: the id it was stored under is the row's.
        known = cid if isinstance(cid, CredentialId) and cid == row.id else CredentialId(row.id)
        credential = from_sealed_json(plain, known)
    except CredentialError as exc:
        failure = CorruptData(f"{_what(row, path)} does not decode: {exc}", credential_id=row.id)
    if failure is not None:
        raise failure  # outside the handler: the decoder's error holds the plaintext
    if credential.id != row.id or (fmt == FORMAT_V2 and credential.version != row.version):
        raise CorruptData(f"{_what(row, path)} holds another credential", credential_id=row.id)
    return credential


def _previous_associated(cid: str, version: int) -> bytes:
    encoded = [cid.encode("utf-8"), str(version).encode("ascii")]
    return b"nebula-credential/previous/v1" + b"".join(
        len(e).to_bytes(4, "big") + e for e in encoded
    )


def seal_previous(sealer: Sealer, previous: Credential) -> tuple[str, int, bytes]:
    """The ``previous`` row (id, version, blob) keeping ``previous``."""
    plain = previous.to_json(reveal=True).encode("utf-8")
    ad = _previous_associated(previous.id, previous.version)
    return previous.id, previous.version, PREVIOUS_V1 + sealer.seal(plain, ad)


def unseal_previous(sealer: Sealer, cid: str, version: int, blob: bytes, path: Path) -> Credential:
    """Decrypt and check the previous version kept for ``cid``."""
    what = f"the previous version of credential {cid!r} in {path}"
    if blob[:1] != PREVIOUS_V1:
        raise CorruptData(f"{what} is not in a known format", credential_id=cid)
    plain = sealer.open(blob[1:], _previous_associated(cid, version), what)
    failure: CredentialError | None = None
    try:
        credential = Credential.from_json(plain)
    except CredentialError as exc:
        failure = CorruptData(f"{what} does not decode: {exc}", credential_id=cid)
    if failure is not None:
        raise failure
    if credential.id != cid or credential.version != version:
        raise CorruptData(f"{what} holds another credential", credential_id=cid)
    return credential


def _what(row: Row, path: Path) -> str:
    return f"credential {row.id!r} in {path}"


def upgrade(db: sqlite3.Connection, sealer: Sealer, path: Path) -> None:
    """Rewrite a format-1 store to format 2 in one transaction (no-op when done)."""
    if _row_format(db) >= 2:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if _row_format(db) < 2:
            rows = [Row.of(r) for r in db.execute(f"SELECT {COLUMNS} FROM credentials")]  # noqa: S608
            for row in rows:
                if row.blob[:1] != FORMAT_V1:
                    continue
                try:
                    unseal(sealer, row, path, legacy=True)
                except CorruptData:
                    continue  # left as it is: reading it keeps reporting the damage
                plain = sealer.open(row.blob[1:], _associated(FORMAT_V1, row), row.id)
                db.execute(
                    "UPDATE credentials SET blob = ? WHERE id = ?",
                    (FORMAT_V2 + sealer.seal(plain, _associated(FORMAT_V2, row)), row.id),
                )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('row_format', 2)")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _row_format(db: sqlite3.Connection) -> int:
    found = db.execute("SELECT value FROM meta WHERE key = 'row_format'").fetchone()
    return 1 if found is None else int(found[0])
