"""Blocking operations on one local store, opened lazily and serialised by a lock.

The async provider runs these on its worker thread; the sync facade calls them
directly on the caller's thread (:class:`~nebula_credential.providers.BlockingAccess`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, TypeVar

from ..domain import Credential, CredentialId, InvalidCredential, ProviderUnavailable
from ..providers import Lease, ListFilter, check_previous
from .database import check_data_dir
from .store import DB_NAME, LocalStore, WouldWait
from .unlock import check_settings

T = TypeVar("T")
Page = tuple[list[Credential], str | None]
_NO_PAGE: Final[Page] = ([], None)


class _Write:
    """Marks an operation that creates the store when it does not exist yet."""


class Busy:
    """What :meth:`LocalAccess.retrieve_now` returns when it would have to wait."""


_WRITE: Final = _Write()
BUSY: Final = Busy()


class LocalAccess:
    """The operations of the local provider, without an event loop."""

    def __init__(
        self,
        data_dir: Path,
        *,
        key: bytes | None,
        passphrase: str | None,
        durable: bool,
        lock_timeout: float,
    ) -> None:
        self.data_dir = data_dir
        self.path = data_dir / DB_NAME
        self._key = key
        self._passphrase = passphrase
        self._durable = durable
        self._lock_timeout = lock_timeout
        self._lock = threading.Lock()
        self._store: LocalStore | None = None
        self._closed = False

    def _with(self, fn: Callable[[LocalStore], T], absent: T | _Write = _WRITE) -> T:
        """Run ``fn`` on the open store; reads of a store never created return ``absent``."""
        with self._lock:
            if self._closed:
                raise ProviderUnavailable(
                    f"the local provider for {self.data_dir} was closed; create a new one"
                )
            if self._store is None:
                # A malformed key or an empty passphrase is refused before any file is made.
                check_settings(self._key, self._passphrase)
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

    def _now(self, fn: Callable[[LocalStore], T]) -> T | Busy:
        """``fn`` on the open store if that needs no waiting, else BUSY: the store is
        not open yet (opening may derive a key or create files), another thread holds it
        (a write that waits for the disk), or another process holds the database's lock
        (``fn`` reads with ``wait=False``)."""
        if not self._lock.acquire(blocking=False):
            return BUSY
        try:
            if self._closed or self._store is None:
                return BUSY  # the waiting path opens the store, or says it was closed
            return fn(self._store)
        except WouldWait:
            return BUSY
        finally:
            self._lock.release()

    def retrieve_now(self, credential_id: str) -> Credential | Busy | None:
        """:meth:`retrieve`, or BUSY when it cannot run at once (see :meth:`_now`)."""
        cid = CredentialId(credential_id)
        return self._now(lambda s: s.retrieve(cid, wait=False))

    def exists_now(self, credential_id: str) -> bool | Busy:
        cid = CredentialId(credential_id)
        return self._now(lambda s: s.exists(cid, wait=False))

    def _exists(self) -> bool:
        # The directory is vetted even when there is nothing to read.
        return check_data_dir(self.data_dir) and self.path.exists()

    def store(
        self,
        credential: Credential,
        expected_version: int | None,
        previous: Credential | None = None,
    ) -> Credential:
        if not isinstance(credential, Credential):
            raise InvalidCredential(f"store() takes a Credential, not {type(credential).__name__}")
        check_previous(credential, previous)
        return self._with(lambda s: s.store(credential, expected_version, previous))

    def store_fenced(
        self,
        credential: Credential,
        expected_version: int | None,
        previous: Credential | None,
        lease: Lease,
    ) -> Credential:
        check_previous(credential, previous)
        return self._with(lambda s: s.store(credential, expected_version, previous, lease))

    def acquire_lease(self, credential_id: str, holder: str, seconds: float, retake: bool) -> Lease:
        cid = CredentialId(credential_id)
        return self._with(
            lambda s: s.acquire_lease(cid, holder=holder, seconds=seconds, retake=retake)
        )

    def release_lease(self, lease: Lease) -> None:
        self._with(lambda s: s.release_lease(lease), None)

    def retrieve_previous(self, credential_id: str) -> Credential | None:
        cid = CredentialId(credential_id)
        return self._with(lambda s: s.retrieve_previous(cid), None)

    def retrieve(self, credential_id: str) -> Credential | None:
        cid = CredentialId(credential_id)
        return self._with(lambda s: s.retrieve(cid), None)

    def delete(self, credential_id: str) -> bool:
        cid = CredentialId(credential_id)
        return self._with(lambda s: s.delete(cid), False)

    def exists(self, credential_id: str) -> bool:
        cid = CredentialId(credential_id)
        return self._with(lambda s: s.exists(cid), False)

    def page(self, selection: ListFilter, after: str) -> Page:
        """One page of matches with ids above ``after``, and where the next page starts."""
        return self._with(lambda s: s.page(selection, after), _NO_PAGE)

    def iter_credentials(self, selection: ListFilter) -> Iterator[Credential]:
        after: str | None = ""
        while after is not None:
            batch, after = self.page(selection, after)
            yield from batch

    def close(self) -> None:
        with self._lock:
            self._closed = True
            store, self._store = self._store, None
        if store is not None:
            store.close()
