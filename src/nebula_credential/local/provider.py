"""LocalStorageProvider: the embedded default, an encrypted SQLite file."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import ClassVar, Final, TypeVar

from ..domain import ConfigurationError, Credential, CredentialId, InvalidCredential
from ..providers import CredentialProvider, ListFilter
from .database import check_data_dir
from .store import DB_NAME, LOCK_TIMEOUT_S, LocalStore
from .unlock import given_key

T = TypeVar("T")
HOME_ENV: Final = "NEBULA_CREDENTIAL_HOME"
LOCK_TIMEOUT_ENV: Final = "NEBULA_CREDENTIAL_LOCK_TIMEOUT"


class _Write:
    """Marks an operation that creates the store when it does not exist yet."""


WRITE: Final = _Write()


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
        self._key = key
        self._passphrase = passphrase
        self._durable = durable
        self._lock_timeout = _lock_timeout(lock_timeout)
        self._store: LocalStore | None = None
        self._executor: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"LocalStorageProvider(data_dir={str(self.data_dir)!r})"

    @property
    def path(self) -> Path:
        return self.data_dir / DB_NAME

    async def _call(self, fn: Callable[[LocalStore], T], *, absent: T | _Write = WRITE) -> T:
        if self._executor is None:
            # One worker owns the SQLite connection; SQLite serialises writers anyway.
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="nebula-local")
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._with, fn, absent
        )

    def _with(self, fn: Callable[[LocalStore], T], absent: T | _Write) -> T:
        """Run ``fn`` on the open store; reads of a store never created return ``absent``."""
        if self._store is None:
            if not isinstance(absent, _Write) and not self._exists():
                return absent
            self._store = LocalStore(
                self.data_dir,
                key=self._key,
                passphrase=self._passphrase,
                durable=self._durable,
                lock_timeout=self._lock_timeout,
            )
        return fn(self._store)

    def _exists(self) -> bool:
        # The directory and a given key are vetted even when there is nothing to read.
        given_key(self._key)
        return check_data_dir(self.data_dir) and self.path.exists()

    async def store(
        self, credential: Credential, *, expected_version: int | None = None
    ) -> Credential:
        if not isinstance(credential, Credential):
            raise InvalidCredential(f"store() takes a Credential, not {type(credential).__name__}")
        return await self._call(lambda s: s.store(credential, expected_version))

    async def retrieve(self, credential_id: str) -> Credential | None:
        cid = CredentialId(credential_id)
        return await self._call(lambda s: s.retrieve(cid), absent=None)

    async def delete(self, credential_id: str) -> bool:
        cid = CredentialId(credential_id)
        return await self._call(lambda s: s.delete(cid), absent=False)

    async def exists(self, credential_id: str) -> bool:
        cid = CredentialId(credential_id)
        return await self._call(lambda s: s.exists(cid), absent=False)

    async def iter_credentials(self, selection: ListFilter) -> AsyncIterator[Credential]:
        after: str | None = ""
        nothing: tuple[list[Credential], str | None] = ([], None)
        while after is not None:
            batch, after = await self._call(
                partial(LocalStore.page, selection=selection, after=after), absent=nothing
            )
            for credential in batch:
                yield credential

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        store, self._store = self._store, None
        if store is not None:
            await asyncio.get_running_loop().run_in_executor(executor, store.close)
        executor.shutdown(wait=True)
