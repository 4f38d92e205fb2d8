"""CachingProvider: a provider that remembers what another provider returned.

Entries live for ``ttl`` seconds (absent ids for ``absent_ttl``), at most ``capacity``
of them, least recently used out first. Concurrent misses of one id make one call to
the inner provider (single-flight). Our own writes and deletes drop the entry, and a
read still in flight when one of them returns is read again before anyone gets it: after
``store()`` or ``delete()`` returns, no read hands back what was there before. When the
inner provider has a change feed (Kubernetes: a watch), changes made by anyone else drop
entries too, within the feed's latency; a feed that dies is started again
(:mod:`.caching_feed`). While it is down the cache relies on the TTL alone, and says so
in a log line and in ``stats``.

Hits are answered from memory on any thread or loop. Everything else runs on the event
loop the cache was first used on (its feed and its single-flight futures live there); a
call from another loop raises :class:`~nebula_credential._loops.WrongEventLoop`. Lists
are not cached: they always go to the inner provider.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import ClassVar, Final

from .._loops import LoopBinding
from ..domain import ConfigurationError, Credential, CredentialId
from .base import BlockingAccess, Change, CredentialProvider, ListFilter, NotCached, not_found
from .caching_feed import FeedSupervisor
from .caching_memory import CacheMemory, CacheStats
from .lease import Lease

__all__ = ["CacheStats", "CachingProvider"]

# A read raced by our own writes is read again; under writes without pause it gives
# up after this many tries and returns its last read (not remembered).
_REREADS: Final = 5
# How long a miss waits for a feed it just started to be live (one LIST, normally ms).
_FEED_START_WAIT: Final = 2.0


class _Flight:
    """A read of one id in flight; ``stale`` once one of our writes to it returned."""

    __slots__ = ("future", "stale")

    def __init__(self, future: asyncio.Future[Credential | None]) -> None:
        self.future = future
        self.stale = False


class CachingProvider(CacheMemory, CredentialProvider):
    """Wraps ``inner``; see the module docstring. ``watch=None`` watches when it can."""

    name: ClassVar[str] = "cached"

    def __init__(
        self,
        inner: CredentialProvider,
        *,
        ttl: float = 300.0,
        capacity: int = 1000,
        absent_ttl: float = 5.0,
        watch: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Written so that NaN fails too: a NaN lifetime would never expire.
        if not (ttl >= 0 and absent_ttl >= 0 and capacity >= 1):
            raise ConfigurationError("the cache needs ttl >= 0, absent_ttl >= 0, capacity >= 1")
        super().__init__(ttl=ttl, capacity=capacity, absent_ttl=absent_ttl, clock=clock)
        self.inner = inner
        self._inflight: dict[str, _Flight] = {}
        self._home = LoopBinding("CachingProvider")
        self._feed: FeedSupervisor | None = None
        self._feed_dead = False  # the feed died with its loop: the next hit starts it
        if watch is not False:
            self._feed = FeedSupervisor(
                inner, self._apply, self.stats, required=bool(watch), on_dead=self._on_dead
            )

    def __repr__(self) -> str:
        return f"CachingProvider({self.inner!r}, ttl={self.ttl}, capacity={self.capacity})"

    # -- the cache itself ----------------------------------------------------------------

    def written(self, credential_id: str) -> None:
        """One of our writes to ``credential_id`` returned: forget it, and have a read of
        it still in flight read again rather than hand out what was there before."""
        self.invalidate(credential_id)
        flight = self._inflight.get(credential_id)
        if flight is not None:
            flight.stale = True

    def _enter(self) -> None:
        """Bind to the running loop (WrongEventLoop from another one while it is open)."""
        if self._home.enter():  # the loop it ran on was closed: its feed died with it
            self._inflight.clear()
            if self._feed is not None:
                self._feed.loop_ended()

    # -- provider operations -------------------------------------------------------------

    def _wake_feed(self) -> None:
        """A hit found the feed dead with its loop: start it on this loop, if it may."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        home = self._home.loop
        if home is None or home is running:
            self._enter()
            self._feed_dead = False
            if self._feed is not None:
                self._feed.ensure_running()

    async def retrieve(self, credential_id: str) -> Credential | None:
        found = self.peek(credential_id)
        if not isinstance(found, NotCached):
            if self._feed_dead:
                self._wake_feed()
            return found
        cid = CredentialId(credential_id)
        self._enter()
        if self._feed is not None:
            self._feed.ensure_running()
            await self._feed.until_live(_FEED_START_WAIT)
        while (flight := self._inflight.get(cid)) is not None:
            try:
                return await asyncio.shield(flight.future)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not flight.future.cancelled() or (task is not None and task.cancelling()):
                    raise
                # The caller that was reading it was cancelled, not us: read it ourselves.
        return await self._lead(cid)

    async def _lead(self, cid: CredentialId) -> Credential | None:
        """Read ``cid`` for every caller that joins meanwhile."""
        flight = _Flight(asyncio.get_running_loop().create_future())
        self._inflight[cid] = flight
        try:
            value = await self._read(cid, flight)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                flight.future.cancel()
            else:
                flight.future.set_exception(exc)
                flight.future.exception()  # retrieved: no warning when nobody else waited
            raise
        finally:
            if self._inflight.get(cid) is flight:
                del self._inflight[cid]
        flight.future.set_result(value)
        return value

    async def _read(self, cid: CredentialId, flight: _Flight) -> Credential | None:
        generation = self.count_miss()
        for _ in range(_REREADS):
            flight.stale = False
            value = await self.inner.retrieve(cid)
            if not flight.stale:
                self.remember(cid, value, generation)
                return value
            generation = self.generation()
        return value

    async def get(self, credential_id: str) -> Credential:
        found = await self.retrieve(credential_id)
        if found is None:
            raise not_found(self.inner.name, credential_id)
        return found

    async def exists(self, credential_id: str) -> bool:
        return await self.retrieve(credential_id) is not None

    async def store(
        self,
        credential: Credential,
        *,
        expected_version: int | None = None,
        previous: Credential | None = None,
    ) -> Credential:
        self._enter()
        self.invalidate(credential.id)
        try:
            return await self.inner.store(
                credential, expected_version=expected_version, previous=previous
            )
        finally:
            self.written(credential.id)

    async def store_fenced(
        self,
        credential: Credential,
        *,
        lease: Lease,
        expected_version: int | None,
        previous: Credential | None = None,
    ) -> Credential:
        self._enter()
        self.invalidate(credential.id)
        try:
            return await self.inner.store_fenced(
                credential, lease=lease, expected_version=expected_version, previous=previous
            )
        finally:
            self.written(credential.id)

    async def delete(self, credential_id: str) -> bool:
        cid = CredentialId(credential_id)
        self._enter()
        self.invalidate(cid)
        try:
            return await self.inner.delete(cid)
        finally:
            self.written(cid)

    @property
    def location(self) -> str:
        return self.inner.location

    async def acquire_lease(
        self, credential_id: str, *, seconds: float, holder: str | None = None
    ) -> Lease:
        return await self.inner.acquire_lease(credential_id, seconds=seconds, holder=holder)

    async def release_lease(self, lease: Lease) -> None:
        await self.inner.release_lease(lease)

    async def retrieve_previous(self, credential_id: str) -> Credential | None:
        """Not cached: rollback must see what is stored now."""
        return await self.inner.retrieve_previous(credential_id)

    def iter_credentials(self, selection: ListFilter) -> AsyncIterator[Credential]:
        return self.inner.iter_credentials(selection)

    def changes(self) -> AsyncIterator[Change] | None:
        return self.inner.changes()

    def blocking(self) -> BlockingAccess | None:
        """The cache on the caller's thread, when the inner provider has blocking access."""
        inner = self.inner.blocking()
        if inner is None:
            return None
        from .caching_blocking import CachedBlockingAccess

        return CachedBlockingAccess(self, inner)

    async def close(self) -> None:
        try:
            if self._feed is not None:
                await self._feed.close()
        finally:
            self.stats.watching = False
            await self.inner.close()

    def close_blocking(self) -> None:
        """Stop the feed (on its own loop, if it has one); the blocking side closes inner."""
        if self._feed is not None:
            self._feed.stop()
        self.stats.watching = False

    # -- the change feed -----------------------------------------------------------------

    def _apply(self, change: Change) -> None:
        self.apply(change, self.inner.name)

    def _on_dead(self) -> None:
        self._feed_dead = True
