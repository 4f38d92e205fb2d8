"""Blocking access through the cache, for an inner provider that has its own.

:class:`~.sync.SyncCredentialProvider` then serves a cache over the local store (or over
Kubernetes on its blocking transport) on the caller's thread: hits from memory, misses
and writes straight to the inner provider's blocking access, never through an event
loop. The cache's rules hold as on the async side: own writes drop the entry before and
after the write, and a read that raced a write is not remembered. Misses of one id from
several threads each read (single-flight is for the async side).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..domain import Credential, CredentialId
from .base import BlockingAccess, ListFilter, NotCached

if TYPE_CHECKING:
    from .caching import CachingProvider


class CachedBlockingAccess:
    """:class:`~.base.BlockingAccess` of ``cache``, over ``inner`` (the inner provider's)."""

    def __init__(self, cache: CachingProvider, inner: BlockingAccess) -> None:
        self._cache = cache
        self._inner = inner

    def retrieve(self, credential_id: str) -> Credential | None:
        found = self._cache.peek(credential_id)
        if not isinstance(found, NotCached):
            return found
        cid = CredentialId(credential_id)
        generation = self._cache.count_miss()
        value = self._inner.retrieve(cid)
        self._cache.remember(cid, value, generation)
        return value

    def exists(self, credential_id: str) -> bool:
        return self.retrieve(credential_id) is not None

    def store(
        self,
        credential: Credential,
        expected_version: int | None,
        previous: Credential | None = None,
    ) -> Credential:
        self._cache.invalidate(credential.id)
        try:
            return self._inner.store(credential, expected_version, previous)
        finally:
            self._cache.written(credential.id)

    def delete(self, credential_id: str) -> bool:
        cid = CredentialId(credential_id)
        self._cache.invalidate(cid)
        try:
            return self._inner.delete(cid)
        finally:
            self._cache.written(cid)

    def retrieve_previous(self, credential_id: str) -> Credential | None:
        """Not cached: rollback must see what is stored now."""
        return self._inner.retrieve_previous(credential_id)

    def iter_credentials(self, selection: ListFilter) -> Iterator[Credential]:
        """Lists are not cached."""
        return self._inner.iter_credentials(selection)

    def close(self) -> None:
        self._cache.close_blocking()
        self._inner.close()
