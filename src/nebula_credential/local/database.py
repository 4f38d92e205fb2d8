"""Opening the SQLite file safely: the private directory, race-free creation, errors.

A new store is built under a temporary name (WAL mode, schema, row format) and linked
into place with ``link()``, which fails when another process got there first. So the
file at the final path is always a complete store: several processes opening a
brand-new store at once never race on the WAL conversion, and a zero-length file there
is damage, never a store being born.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from ..domain import ConfigurationError, CorruptData, CredentialError, ProviderUnavailable

T = TypeVar("T")
ROW_FORMAT: Final = 2

SCHEMA: Final = """
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
CREATE TABLE IF NOT EXISTS previous (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    blob BLOB NOT NULL
) WITHOUT ROWID;
"""


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says another connection holds the lock (by result code)."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def classify(path: Path, exc: sqlite3.Error, lock_timeout: float) -> CredentialError:
    """A typed error for a SQLite failure, chosen by its result code, never its text."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return ProviderUnavailable(
            f"the local store {path} stayed locked by another process for "
            f"{lock_timeout:g} s; retry when that process has finished"
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return CorruptData(
            f"the local store {path} is not a usable SQLite database ({name}); "
            "restore it from a backup or move it away to start a new store"
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return ConfigurationError(
            f"the local store {path} cannot be opened for writing ({name}); check the "
            "permissions of the file and its directory"
        )
    if name.startswith("SQLITE_FULL"):
        return ProviderUnavailable(f"the disk holding the local store {path} is full")
    return ProviderUnavailable(
        f"the local store {path} failed ({name or type(exc).__name__}); retry, and check "
        "the disk if it keeps failing"
    )


def guarded(path: Path, lock_timeout: float, fn: Callable[[], T]) -> T:
    """Run ``fn``; SQLite errors become typed errors that carry no SQLite exception."""
    try:
        return fn()
    except sqlite3.Error as exc:
        failure = classify(path, exc, lock_timeout)
    # Raised outside the handler so that neither __cause__ nor __context__ is set.
    raise failure


def retry_busy(fn: Callable[[], T], lock_timeout: float) -> T:
    """Retry ``fn`` while SQLite reports busy, for statements its busy handler skips.

    Changing the journal mode needs an exclusive lock, and SQLite gives up at once
    (without waiting out the busy timeout) when that upgrade could deadlock.
    """
    deadline = time.monotonic() + lock_timeout
    delay = 0.002
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            remaining = deadline - time.monotonic()
            if not is_busy(exc) or remaining <= 0:
                raise
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.1)


def check_data_dir(path: Path) -> bool:
    """True when ``path`` is a private directory, False when absent; else refuse it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ConfigurationError(f"cannot use the data directory {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigurationError(f"the data directory {path} is not a directory")
    if info.st_mode & 0o077:
        raise ConfigurationError(
            f"the data directory {path} is open to other users (mode "
            f"{stat.S_IMODE(info.st_mode):o}); use a directory of your own with --data-dir "
            f"or NEBULA_CREDENTIAL_HOME, or make it private: chmod 700 {path}"
        )
    return True


def make_data_dir(path: Path) -> None:
    if check_data_dir(path):
        return
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the data directory {path}: {exc.strerror}"
        ) from None
    check_data_dir(path)  # someone else may have created it, with another mode


def create_database(path: Path, lock_timeout: float) -> None:
    """Build a complete empty store beside ``path`` and link it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")

    def build() -> None:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            db.execute("INSERT INTO meta VALUES ('row_format', ?)", (ROW_FORMAT,))
        finally:
            db.close()  # checkpoints and removes the -wal and -shm files
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        # link() fails if another process created the store first; its store is the store.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        _fsync_dir(path.parent)

    try:
        guarded(path, lock_timeout, build)
    except OSError as exc:
        raise ConfigurationError(f"cannot create the local store {path}: {exc.strerror}") from None
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)


def open_database(path: Path, *, durable: bool, lock_timeout: float) -> sqlite3.Connection:
    """Connect to an existing store in WAL mode with the schema in place."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigurationError(f"cannot open the local store {path}: {exc.strerror}") from None
    if size == 0:
        raise CorruptData(
            f"the local store {path} is empty (0 bytes): it was truncated or replaced; "
            "restore it from a backup, or move it away to start a new store"
        )
    db = guarded(
        path,
        lock_timeout,
        lambda: sqlite3.connect(
            path, timeout=lock_timeout, isolation_level=None, check_same_thread=False
        ),
    )
    try:
        guarded(path, lock_timeout, lambda: _prepare(db, durable, lock_timeout))
    except BaseException:
        db.close()
        raise
    return db


def _prepare(db: sqlite3.Connection, durable: bool, lock_timeout: float) -> None:
    (mode,) = db.execute("PRAGMA journal_mode").fetchone()
    if str(mode).lower() != "wal":  # a store made by hand or by an old tool
        retry_busy(lambda: db.execute("PRAGMA journal_mode=WAL"), lock_timeout)
    db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not {"meta", "credentials", "previous"} <= tables:  # "previous" came in 0.2
        retry_busy(lambda: db.executescript(SCHEMA), lock_timeout)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
