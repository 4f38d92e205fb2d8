"""Rotation leases of the local store: a table of their own beside the credentials.

Each function runs inside the caller's write transaction (``BEGIN IMMEDIATE``), so a
lease is taken, checked and given up atomically with respect to every other process
that opens the same file. Times are the local clock's: there is no other here.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from ..domain import (
    CredentialError,
    CredentialId,
    LeaseLost,
    format_timestamp,
    parse_timestamp,
)
from ..providers import Lease
from ..providers.lease import held_elsewhere, is_live

TABLE: Final = """
CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    seconds REAL NOT NULL
) WITHOUT ROWID
"""


def ensure_table(db: sqlite3.Connection) -> None:
    """Stores made before leases existed get the table on first use."""
    db.execute(TABLE)


def _row(db: sqlite3.Connection, cid: CredentialId) -> tuple[str, datetime | None, float] | None:
    record = db.execute(
        "SELECT holder, acquired_at, seconds FROM leases WHERE id = ?", (cid,)
    ).fetchone()
    if record is None:
        return None
    try:
        since: datetime | None = parse_timestamp(record[1], "lease")
    except CredentialError:
        since = None  # unreadable: stale
    try:
        seconds = float(record[2])
    except (TypeError, ValueError):
        seconds = 0.0
    return str(record[0]), since, seconds


def acquire(
    db: sqlite3.Connection,
    cid: CredentialId,
    *,
    holder: str,
    seconds: float,
    now: datetime,
    retake: bool,
) -> Lease:
    """Take the lease, unless another holder has a live one (LeaseHeld)."""
    ensure_table(db)
    found = _row(db, cid)
    if found is not None:
        other, since, term = found
        live = since is not None and is_live(since, term, now)
        if live and not (retake and other == holder):
            assert since is not None
            raise held_elsewhere(Lease(cid, other, since, term))
    db.execute(
        "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?)",
        (cid, holder, format_timestamp(now), seconds),
    )
    return Lease(cid, holder, now, seconds)


def check_held(db: sqlite3.Connection, lease: Lease) -> None:
    """LeaseLost unless ``lease``'s holder still has the row (whatever the time)."""
    ensure_table(db)
    found = _row(db, lease.credential_id)
    if found is None or found[0] != lease.holder:
        taken = "is gone" if found is None else f"was taken over by {found[0]}"
        raise LeaseLost(
            f"the rotation lease on credential {lease.credential_id!r} {taken}; "
            "this rotation may not write",
            credential_id=lease.credential_id,
        )


def release(db: sqlite3.Connection, lease: Lease) -> None:
    ensure_table(db)
    db.execute(
        "DELETE FROM leases WHERE id = ? AND holder = ?", (lease.credential_id, lease.holder)
    )
