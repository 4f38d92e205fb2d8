"""LocalStorageProvider: the embedded default, an encrypted SQLite file."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import ClassVar, Final, TypeVar

from ..domain import Credential, CredentialId, InvalidCredential
from ..providers import CredentialProvider, ListFilter
from .store import DB_NAME, LocalStore

T = TypeVar("T")
HOME_ENV: Final = "NEBULA_CREDENTIAL_HOME"


def default_data_dir() -> Path:
    """``NEBULA_CREDENTIAL_HOME``, else the platform's user data directory."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("nebula-credential", appauthor=False))


class LocalStorageProvider(CredentialProvider):
    """Credentials in one SQLite file (WAL), each row sealed with AES-256-GCM.

    The key comes from ``key=``, else ``NEBULA_CREDENTIAL_KEY``, else a passphrase
    (``passphrase=`` or ``NEBULA_CREDENTIAL_PASSPHRASE``, stretched with Argon2id), else
    a 0600 key file created on first use beside the database. Nothing touches the disk
    until the first operation.
    """

    name: ClassVar[str] = "local"

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        key: bytes | None = None,
        passphrase: str | None = None,
        durable: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        self._key = key
        self._passphrase = passphrase
        self._durable = durable
        self._store: LocalStore | None = None
        self._executor: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"LocalStorageProvider(data_dir={str(self.data_dir)!r})"

    @property
    def path(self) -> Path:
        return self.data_dir / DB_NAME

    async def _call(self, fn: Callable[[LocalStore], T]) -> T:
        if self._executor is None:
            # One worker owns the SQLite connection; SQLite serialises writers anyway.
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="nebula-local")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._with, fn)

    def _with(self, fn: Callable[[LocalStore], T]) -> T:
        if self._store is None:
            self._store = LocalStore(
                self.data_dir, key=self._key, passphrase=self._passphrase, durable=self._durable
            )
        return fn(self._store)

    async def store(
        self, credential: Credential, *, expected_version: int | None = None
    ) -> Credential:
        if not isinstance(credential, Credential):
            raise InvalidCredential(f"store() takes a Credential, not {type(credential).__name__}")
        return await self._call(lambda s: s.store(credential, expected_version))

    async def retrieve(self, credential_id: str) -> Credential | None:
        cid = CredentialId(credential_id)
        return await self._call(lambda s: s.retrieve(cid))

    async def delete(self, credential_id: str) -> bool:
        cid = CredentialId(credential_id)
        return await self._call(lambda s: s.delete(cid))

    async def exists(self, credential_id: str) -> bool:
        cid = CredentialId(credential_id)
        return await self._call(lambda s: s.exists(cid))

    async def iter_credentials(self, selection: ListFilter) -> AsyncIterator[Credential]:
        after: str | None = ""
        while after is not None:
            batch, after = await self._call(
                partial(LocalStore.page, selection=selection, after=after)
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
