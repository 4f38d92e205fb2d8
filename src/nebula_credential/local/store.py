"""The SQLite file behind the local provider (blocking; runs on one worker thread)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from ..domain import CorruptData, Credential, CredentialId, PayloadTooLarge, utcnow
from ..providers import Lease, ListFilter, next_revision
from . import leases, rows
from .database import create_database, guarded, is_busy, make_data_dir, open_database
from .rows import COLUMNS, Row
from .unlock import unlock

T = TypeVar("T")
DB_NAME: Final = "credentials.db"
MAX_PAYLOAD_BYTES: Final = 1024 * 1024
LOCK_TIMEOUT_S: Final = 30.0
_PAGE: Final = 256
_SELECT_ONE: Final = f"SELECT {COLUMNS} FROM credentials WHERE id = ?"  # noqa: S608


class WouldWait(Exception):
    """A read asked not to wait found the database locked by another connection."""


class LocalStore:
    """One open SQLite database with an unlocked key. Not thread-safe by design."""

    def __init__(
        self,
        data_dir: Path,
        *,
        key: bytes | None,
        passphrase: str | None,
        durable: bool,
        lock_timeout: float = LOCK_TIMEOUT_S,
    ) -> None:
        self.path = data_dir / DB_NAME
        self._lock_timeout = lock_timeout
        make_data_dir(data_dir)
        if not self.path.exists():
            create_database(self.path, lock_timeout)
        self._db = open_database(self.path, durable=durable, lock_timeout=lock_timeout)
        try:
            self._sealer = self._guard(
                lambda: unlock(self._db, self.path, key=key, passphrase=passphrase)
            )
            self._guard(lambda: rows.upgrade(self._db, self._sealer, self.path))
        except BaseException:
            self._db.close()
            raise

    def _guard(self, fn: Callable[[], T]) -> T:
        return guarded(self.path, self._lock_timeout, fn)

    def _decode(self, record: tuple[Any, ...], cid: CredentialId | None = None) -> Credential:
        return rows.unseal(self._sealer, Row.of(record), self.path, cid=cid)

    def _transaction(self, fn: Callable[[], T]) -> T:
        """``fn`` inside one write transaction, rolled back when it raises."""

        def run() -> T:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = fn()
                self._db.execute("COMMIT")
                return result
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

        return self._guard(run)

    def store(
        self,
        credential: Credential,
        expected_version: int | None,
        previous: Credential | None = None,
        fence: Lease | None = None,
    ) -> Credential:
        """Write ``credential``; with ``fence``, only while that lease is still its
        holder's, giving the lease up in the same transaction."""
        kept = None if previous is None else self._kept(previous)

        def write() -> Credential:
            if fence is not None:
                leases.check_held(self._db, fence)
            record = self._db.execute(_SELECT_ONE, (credential.id,)).fetchone()
            current: Credential | None = None
            if record is not None:
                try:
                    current = self._decode(record)
                except CorruptData:
                    current = None  # an unreadable row is overwritten, keeping its version
            stored = next_revision(
                credential,
                current,
                current_version=None if record is None else int(record[4]),
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
                f"INSERT OR REPLACE INTO credentials ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608
                rows.seal(self._sealer, stored, plain).params(),
            )
            if kept is not None:
                self._db.execute("INSERT OR REPLACE INTO previous VALUES (?, ?, ?)", kept)
            if fence is not None:
                leases.release(self._db, fence)
            return stored

        return self._transaction(write)

    def acquire_lease(
        self, cid: CredentialId, *, holder: str, seconds: float, retake: bool
    ) -> Lease:
        return self._transaction(
            lambda: leases.acquire(
                self._db, cid, holder=holder, seconds=seconds, now=utcnow(), retake=retake
            )
        )

    def release_lease(self, lease: Lease) -> None:
        self._transaction(lambda: leases.release(self._db, lease))

    def _kept(self, previous: Credential) -> tuple[str, int, bytes]:
        row = rows.seal_previous(self._sealer, previous)
        if len(row[2]) > MAX_PAYLOAD_BYTES + 64:
            raise PayloadTooLarge(
                f"the previous version of credential {previous.id!r} is over "
                f"{MAX_PAYLOAD_BYTES} bytes serialized",
                credential_id=previous.id,
            )
        return row

    def retrieve_previous(self, credential_id: str) -> Credential | None:
        record = self._guard(
            lambda: self._db.execute(
                "SELECT version, blob FROM previous WHERE id = ?", (credential_id,)
            ).fetchone()
        )
        if record is None:
            return None
        return rows.unseal_previous(
            self._sealer, credential_id, int(record[0]), bytes(record[1]), self.path
        )

    def _fetch_one(self, sql: str, params: tuple[object, ...], wait: bool) -> Any:
        if wait:
            return self._guard(lambda: self._db.execute(sql, params).fetchone())
        return self._guard(lambda: self._fetch_now(sql, params))

    def _fetch_now(self, sql: str, params: tuple[object, ...]) -> Any:
        """The row, or WouldWait at once where SQLite would wait for another's lock."""
        db = self._db
        db.execute("PRAGMA busy_timeout = 0")
        try:
            try:
                return db.execute(sql, params).fetchone()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
            raise WouldWait
        finally:
            db.execute(f"PRAGMA busy_timeout = {int(self._lock_timeout * 1000)}")

    def retrieve(self, credential_id: CredentialId, *, wait: bool = True) -> Credential | None:
        """The credential or None; with ``wait=False``, WouldWait instead of waiting for
        another process's lock."""
        record = self._fetch_one(_SELECT_ONE, (credential_id,), wait)
        return None if record is None else self._decode(record, credential_id)

    def delete(self, credential_id: str) -> bool:
        def remove() -> bool:
            self._db.execute("DELETE FROM previous WHERE id = ?", (credential_id,))
            cursor = self._db.execute("DELETE FROM credentials WHERE id = ?", (credential_id,))
            return cursor.rowcount > 0

        return self._transaction(remove)

    def exists(self, credential_id: str, *, wait: bool = True) -> bool:
        sql = "SELECT 1 FROM credentials WHERE id = ?"
        return self._fetch_one(sql, (credential_id,), wait) is not None

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
            # json_each compares keys literally; a JSON path would parse quotes and dots.
            clauses.append(
                "EXISTS (SELECT 1 FROM json_each(credentials.tags) AS t "
                "WHERE t.key = ? AND t.value = ?)"
            )
            params += [key, value]
        sql = (
            f"SELECT {COLUMNS} FROM credentials WHERE {' AND '.join(clauses)} "  # noqa: S608
            f"ORDER BY id LIMIT {_PAGE}"
        )
        records = self._guard(lambda: self._db.execute(sql, params).fetchall())
        # The clear-text columns only narrow the search; the sealed row decides.
        matched: list[Credential] = []
        for record in records:
            failure: CorruptData | None = None
            try:
                credential = self._decode(record)
            except CorruptData as exc:
                failure = exc
            if failure is not None:
                failure.credential_id = failure.credential_id or record[0]
                selection.skip(failure)  # raises unless the caller asked to skip
                continue
            if selection.matches(credential):
                matched.append(credential)
        return matched, (records[-1][0] if len(records) == _PAGE else None)

    def close(self) -> None:
        self._db.close()
