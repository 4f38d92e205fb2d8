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
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import ClassVar, Final

from .._log import get_logger
from .._loops import LoopBinding
from ..domain import ConfigurationError, Credential, CredentialId
from ..observe import cache_event
from .base import (
    NOT_CACHED,
    BlockingAccess,
    Change,
    CredentialProvider,
    ListFilter,
    NotCached,
    not_found,
)
from .caching_feed import FeedSupervisor
from .lease import Lease

logger = get_logger("nebula_credential.cache")

# A read raced by our own writes is read again; under writes without pause it gives
# up after this many tries and returns its last read (not remembered).
_REREADS: Final = 5


@dataclass(slots=True)
class CacheStats:
    """What the cache did; counts and states only, no ids.

    ``feed`` is the change feed's state: ``off``, ``idle`` (starts with the first miss),
    ``running``, ``restarting`` (it died; ``feed_restarts`` counts new starts) or
    ``stopped`` (for good: a credential error, or the cache was closed).
    """

    hits: int = 0
    misses: int = 0
    evictions: int = 0
    invalidations: int = 0
    resyncs: int = 0
    watch_lost: int = 0
    watching: bool = False
    feed: str = "off"
    feed_restarts: int = 0

    def snapshot(self) -> dict[str, int | bool | str]:
        return asdict(self)


class _Flight:
    """A read of one id in flight; ``stale`` once one of our writes to it returned."""

    __slots__ = ("future", "stale")

    def __init__(self, future: asyncio.Future[Credential | None]) -> None:
        self.future = future
        self.stale = False


class CachingProvider(CredentialProvider):
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
        self.inner = inner
        self.ttl = ttl
        self.absent_ttl = absent_ttl
        self.capacity = capacity
        self.stats = CacheStats()
        self._clock = clock
        # Reads from any thread (the sync facade's hits) and writes from the loop.
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Credential | None, float]] = OrderedDict()
        self._generation = 0  # bumped by every invalidation: a slow miss must not land
        self._inflight: dict[str, _Flight] = {}
        self._home = LoopBinding("CachingProvider")
        self._feed: FeedSupervisor | None = None
        if watch is not False:
            self._feed = FeedSupervisor(inner, self._apply, self.stats, required=bool(watch))

    def __repr__(self) -> str:
        return f"CachingProvider({self.inner!r}, ttl={self.ttl}, capacity={self.capacity})"

    # -- the cache itself ----------------------------------------------------------------

    def peek(self, credential_id: str) -> Credential | NotCached | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(credential_id)
            if entry is None:
                return NOT_CACHED
            if entry[1] <= now:
                del self._entries[credential_id]
                return NOT_CACHED
            self._entries.move_to_end(credential_id)
            self.stats.hits += 1
        cache_event("hit")
        return entry[0]

    def count_miss(self) -> int:
        """Count a miss; the generation to pass to :meth:`remember` with its result."""
        with self._lock:
            self.stats.misses += 1
            generation = self._generation
        cache_event("miss")
        return generation

    def remember(self, credential_id: str, value: Credential | None, generation: int) -> None:
        """Keep what a read that started at ``generation`` found, unless invalidated since."""
        lifetime = self.ttl if value is not None else self.absent_ttl
        evicted = 0
        with self._lock:
            if generation != self._generation or lifetime <= 0:
                return  # invalidated while it was being read: the value may be stale
            self._entries[credential_id] = (value, self._clock() + lifetime)
            self._entries.move_to_end(credential_id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
                evicted += 1
            self.stats.evictions += evicted
        for _ in range(evicted):
            cache_event("eviction")

    def invalidate(self, credential_id: str | None = None) -> None:
        """Forget ``credential_id``, or everything when None."""
        with self._lock:
            self._generation += 1
            if credential_id is None:
                dropped = bool(self._entries)
                self._entries.clear()
            else:
                dropped = self._entries.pop(credential_id, None) is not None
            if dropped:
                self.stats.invalidations += 1
        if dropped:
            cache_event("invalidation")

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
            if self._feed is not None:
                self._feed.ensure_running()

    async def retrieve(self, credential_id: str) -> Credential | None:
        found = self.peek(credential_id)
        if not isinstance(found, NotCached):
            if self._feed is not None and self._feed.dead:
                self._wake_feed()
            return found
        cid = CredentialId(credential_id)
        self._enter()
        if self._feed is not None:
            self._feed.ensure_running()
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
            with self._lock:
                generation = self._generation
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
        if change.kind == "changed":
            self.invalidate(change.credential_id)
        elif change.kind == "resync":
            self.invalidate(None)
            self.stats.resyncs += 1
            self.stats.watching = True
        elif change.kind == "resumed":
            self.stats.watching = True
        elif change.kind == "lost":
            self.stats.watching = False
            self.stats.watch_lost += 1
            cache_event("watch_lost")
            logger.warning(
                "cache over the %s provider: change feed lost; entries now expire by "
                "TTL only (%g s) until it is back",
                self.inner.name,
                self.ttl,
            )
