"""A blocking facade over any async provider.

The async provider is the only implementation. When it offers blocking access for
short local work (:meth:`CredentialProvider.blocking`, e.g. the local store), calls go
straight to it on the caller's thread. Otherwise this class runs the provider's
coroutines on a private event loop in a daemon thread, so it works from plain scripts,
from threads and even from code that already runs an event loop.

Closing is final: afterwards every call raises :class:`ProviderUnavailable`, and lists
still being read are closed with the provider.
"""

from __future__ import annotations

import _thread  # a lock without the threading module: the CLI never starts a thread
import weakref
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from ..domain import Credential, ProviderUnavailable
from .base import (
    BlockingAccess,
    CredentialProvider,
    ListFilter,
    NotCached,
    SkipHandler,
    not_found,
)
from .lease import Lease
from .loop_thread import LoopThread, aclose, close_elsewhere

T = TypeVar("T")
_LIST_BATCH = 256


class SyncCredentialProvider:
    """Blocking twin of a :class:`CredentialProvider`; same methods, same semantics."""

    def __init__(self, provider: CredentialProvider) -> None:
        self.provider = provider
        self._blocking: BlockingAccess | None = provider.blocking()
        self._loop = LoopThread()
        self._lock = _thread.allocate_lock()
        self._closed = False
        self._open_lists: weakref.WeakSet[AsyncIterator[Any]] = weakref.WeakSet()

    def _closed_error(self) -> ProviderUnavailable:
        return ProviderUnavailable(
            f"this {self.provider.name} provider was closed; create a new one to go on"
        )

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        with self._lock:
            if self._closed:
                coro.close()
                raise self._closed_error()
            self._loop.loop()  # started under the lock: one loop, however many threads
        return self._loop.run(coro)

    def _direct(self) -> BlockingAccess | None:
        if self._closed:
            raise self._closed_error()
        return self._blocking

    def store(
        self,
        credential: Credential,
        *,
        expected_version: int | None = None,
        previous: Credential | None = None,
    ) -> Credential:
        direct = self._direct()
        if direct is not None:
            return direct.store(credential, expected_version, previous)
        return self._run(
            self.provider.store(credential, expected_version=expected_version, previous=previous)
        )

    def retrieve_previous(self, credential_id: str) -> Credential | None:
        direct = self._direct()
        if direct is not None:
            return direct.retrieve_previous(credential_id)
        return self._run(self.provider.retrieve_previous(credential_id))

    def retrieve(self, credential_id: str) -> Credential | None:
        if self._closed:
            raise self._closed_error()
        found = self.provider.peek(credential_id)  # a cache hit, without crossing threads
        if not isinstance(found, NotCached):
            return found
        direct = self._direct()
        if direct is not None:
            return direct.retrieve(credential_id)
        return self._run(self.provider.retrieve(credential_id))

    def get(self, credential_id: str) -> Credential:
        if self._closed:
            raise self._closed_error()
        found = self.provider.peek(credential_id)
        if isinstance(found, Credential):
            return found
        direct = self._direct()
        if direct is None:
            return self._run(self.provider.get(credential_id))
        found = direct.retrieve(credential_id)
        if found is None:
            raise not_found(self.provider.name, credential_id)
        return found

    def delete(self, credential_id: str) -> bool:
        direct = self._direct()
        if direct is not None:
            return direct.delete(credential_id)
        return self._run(self.provider.delete(credential_id))

    def exists(self, credential_id: str) -> bool:
        if self._closed:
            raise self._closed_error()
        found = self.provider.peek(credential_id)
        if not isinstance(found, NotCached):
            return found is not None
        direct = self._direct()
        if direct is not None:
            return direct.exists(credential_id)
        return self._run(self.provider.exists(credential_id))

    @property
    def location(self) -> str:
        """Where the provider's credentials live (see :attr:`CredentialProvider.location`)."""
        return self.provider.location

    def acquire_lease(
        self, credential_id: str, *, seconds: float, holder: str | None = None
    ) -> Lease:
        """Take the rotation lease on ``credential_id`` (see the async method)."""
        return self._run(self.provider.acquire_lease(credential_id, seconds=seconds, holder=holder))

    def release_lease(self, lease: Lease) -> None:
        """Give ``lease`` up if it is still ours."""
        self._run(self.provider.release_lease(lease))

    def store_fenced(
        self,
        credential: Credential,
        *,
        lease: Lease,
        expected_version: int | None,
        previous: Credential | None = None,
    ) -> Credential:
        """``store`` only while ``lease`` is still ours (see the async method)."""
        return self._run(
            self.provider.store_fenced(
                credential, lease=lease, expected_version=expected_version, previous=previous
            )
        )

    def list(
        self,
        *,
        scope: str | None = None,
        descendants: bool = False,
        kind: str | None = None,
        tags: Mapping[str, str] | None = None,
        on_skip: SkipHandler | None = None,
    ) -> Iterator[Credential]:
        selection = ListFilter.build(
            scope=scope, descendants=descendants, kind=kind, tags=tags, on_skip=on_skip
        )
        return self._iterate(selection)

    def list_all(self, *, on_skip: SkipHandler | None = None) -> Iterator[Credential]:
        return self._iterate(ListFilter(on_skip=on_skip))

    def _iterate(self, selection: ListFilter) -> Iterator[Credential]:
        direct = self._direct()
        if direct is not None:
            return self._iterate_direct(direct, selection)
        return self._iterate_async(selection)

    def _iterate_direct(
        self, direct: BlockingAccess, selection: ListFilter
    ) -> Iterator[Credential]:
        for credential in direct.iter_credentials(selection):
            if self._closed:
                raise self._closed_error()
            yield credential

    def _iterate_async(self, selection: ListFilter) -> Iterator[Credential]:
        return self._stream(self.provider.iter_credentials(selection), _LIST_BATCH)

    def _stream(self, source: AsyncIterator[T], batch_size: int = 1) -> Iterator[T]:
        """Iterate ``source`` from blocking code, fetching up to ``batch_size`` per hop."""
        self._open_lists.add(source)

        async def next_batch() -> list[T]:
            batch: list[T] = []
            async for item in source:
                batch.append(item)
                if len(batch) >= batch_size:
                    break
            return batch

        try:
            while True:
                batch = self._run(next_batch())
                yield from batch
                if len(batch) < batch_size:
                    return
        finally:
            # After close() the stream was already closed with the provider.
            if not self._closed:
                self._open_lists.discard(source)
                self._run(aclose(source))

    def close(self) -> None:
        """Close the provider and stop the private loop; the facade is unusable afterwards."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._loop.started:
            lists = list(self._open_lists)
            self._open_lists.clear()
            self._loop.stop(*(aclose(source) for source in lists), self.provider.close())
        elif self._blocking is not None:
            self._blocking.close()
        else:  # never used through this facade; the caller may be inside a loop
            close_elsewhere(self.provider)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
