"""LocalStorageProvider: the embedded default, an encrypted SQLite file."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

from ..domain import ConfigurationError, Credential
from ..providers import BlockingAccess, CredentialProvider, Lease, ListFilter, new_holder
from ..providers.lease import check_lease_seconds
from .access import Busy, LocalAccess
from .store import DB_NAME, LOCK_TIMEOUT_S

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

T = TypeVar("T")
HOME_ENV: Final = "NEBULA_CREDENTIAL_HOME"
LOCK_TIMEOUT_ENV: Final = "NEBULA_CREDENTIAL_LOCK_TIMEOUT"


def default_data_dir() -> Path:
    """``NEBULA_CREDENTIAL_HOME``, else the platform's user data directory."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("nebula-credential", appauthor=False))


def _lock_timeout(given: float | None) -> float:
    if given is not None:
        return given
    text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not text:
        return LOCK_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86_400:
        raise ConfigurationError(
            f"{LOCK_TIMEOUT_ENV}={text[:30]!r} is not a number of seconds between 0 and 86400"
        )
    return seconds


class LocalStorageProvider(CredentialProvider):
    """Credentials in one SQLite file (WAL), each row sealed with AES-256-GCM.

    The key comes from ``key=``, else ``NEBULA_CREDENTIAL_KEY``, else a passphrase
    (``passphrase=`` or ``NEBULA_CREDENTIAL_PASSPHRASE``, stretched with Argon2id), else
    a 0600 key file created on first use beside the database. Nothing touches the disk
    until the first operation, and only ``store`` creates a new store: reading from a
    directory that holds none finds nothing. ``lock_timeout`` (else
    ``NEBULA_CREDENTIAL_LOCK_TIMEOUT``, else 30 s) is how long an operation waits for
    another process's lock before raising ProviderUnavailable.

    Where the work runs, per call: ``retrieve`` and ``exists`` read one row on the
    calling event loop's thread when the store is open and no other call holds it — a
    SELECT in WAL mode (readers do not wait for writers), an AES-GCM check and a decode,
    tens of microseconds, less than a hop to a thread costs. Such a read never waits: if
    SQLite reports another connection's lock, it goes to the worker instead. The first
    call (it opens the store and may derive a key with Argon2id), a read while a write is
    in progress, every write and every list page run on one worker thread, so the loop
    never waits for the disk's fsync or for a lock. The sync facade (:meth:`blocking`)
    runs everything on the caller's thread.
    """

    name: ClassVar[str] = "local"

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        key: bytes | None = None,
        passphrase: str | None = None,
        durable: bool = True,
        lock_timeout: float | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        self._access = LocalAccess(
            self.data_dir,
            key=key,
            passphrase=passphrase,
            durable=durable,
            lock_timeout=_lock_timeout(lock_timeout),
        )
        self._executor: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"LocalStorageProvider(data_dir={str(self.data_dir)!r})"

    @property
    def path(self) -> Path:
        return self.data_dir / DB_NAME

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        import asyncio  # loaded already (this runs in a loop); a blocking-only user skips it
        from concurrent.futures import ThreadPoolExecutor

        if self._executor is None:
            # One worker thread keeps SQLite off the event loop; SQLite serialises writers.
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="nebula-local")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def blocking(self) -> BlockingAccess:
        return self._access

    async def store(
        self,
        credential: Credential,
        *,
        expected_version: int | None = None,
        previous: Credential | None = None,
    ) -> Credential:
        return await self._call(self._access.store, credential, expected_version, previous)

    @property
    def location(self) -> str:
        return f"local:{self.data_dir.resolve()}"

    async def acquire_lease(
        self, credential_id: str, *, seconds: float, holder: str | None = None
    ) -> Lease:
        term = check_lease_seconds(seconds)
        who = holder or new_holder()
        acquire = self._access.acquire_lease
        return await self._call(acquire, credential_id, who, term, holder is not None)

    async def release_lease(self, lease: Lease) -> None:
        await self._call(self._access.release_lease, lease)

    async def store_fenced(
        self,
        credential: Credential,
        *,
        lease: Lease,
        expected_version: int | None,
        previous: Credential | None = None,
    ) -> Credential:
        write = self._access.store_fenced
        return await self._call(write, credential, expected_version, previous, lease)

    async def retrieve_previous(self, credential_id: str) -> Credential | None:
        return await self._call(self._access.retrieve_previous, credential_id)

    async def retrieve(self, credential_id: str) -> Credential | None:
        found = self._access.retrieve_now(credential_id)
        if not isinstance(found, Busy):
            return found
        return await self._call(self._access.retrieve, credential_id)

    async def delete(self, credential_id: str) -> bool:
        return await self._call(self._access.delete, credential_id)

    async def exists(self, credential_id: str) -> bool:
        found = self._access.exists_now(credential_id)
        if not isinstance(found, Busy):
            return found
        return await self._call(self._access.exists, credential_id)

    async def iter_credentials(self, selection: ListFilter) -> AsyncIterator[Credential]:
        after: str | None = ""
        while after is not None:
            batch, after = await self._call(self._access.page, selection, after)
            for credential in batch:
                yield credential

    async def close(self) -> None:
        import asyncio

        executor, self._executor = self._executor, None
        if executor is None:
            self._access.close()
            return
        await asyncio.get_running_loop().run_in_executor(executor, self._access.close)
        executor.shutdown(wait=True)
