"""CachingProvider: a provider that remembers what another provider returned.

Entries live for ``ttl`` seconds (absent ids for ``absent_ttl``), at most ``capacity``
of them, least recently used out first. Concurrent misses of one id make one call to
the inner provider (single-flight). Our own writes and deletes drop the entry; when the
inner provider has a change feed (Kubernetes: a watch), changes made by anyone else drop
it too, within the feed's latency. While the feed is down the cache relies on the TTL
alone, and says so in a log line and in ``stats.watch_lost``.

Lists are not cached: they always go to the inner provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import ClassVar

from . import observe
from ._log import get_logger
from .domain import ConfigurationError, Credential, CredentialId
from .providers import (
    NOT_CACHED,
    Change,
    CredentialProvider,
    Lease,
    ListFilter,
    NotCached,
    not_found,
)

logger = get_logger("nebula_credential.cache")


@dataclass(slots=True)
class CacheStats:
    """What the cache did; counts only, no ids."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0
    invalidations: int = 0
    resyncs: int = 0
    watch_lost: int = 0
    watching: bool = False

    def snapshot(self) -> dict[str, int | bool]:
        return asdict(self)


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
        self._watch = watch
        self._clock = clock
        # Reads from any thread (the sync facade's hits) and writes from the loop.
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Credential | None, float]] = OrderedDict()
        self._generation = 0  # bumped by every invalidation: a slow miss must not land
        # Keyed by loop too: a future belongs to the loop that made it.
        self._inflight: dict[
            tuple[asyncio.AbstractEventLoop, str], asyncio.Future[Credential | None]
        ] = {}
        self._feed: asyncio.Task[None] | None = None

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
        observe.cache_event("hit")
        return entry[0]

    def _remember(self, credential_id: str, value: Credential | None, generation: int) -> None:
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
            observe.cache_event("eviction")

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
            observe.cache_event("invalidation")

    # -- provider operations -------------------------------------------------------------

    async def retrieve(self, credential_id: str) -> Credential | None:
        found = self.peek(credential_id)
        if not isinstance(found, NotCached):
            return found
        cid = CredentialId(credential_id)
        loop = asyncio.get_running_loop()
        self._start_feed()
        while (pending := self._inflight.get((loop, cid))) is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not pending.cancelled() or (task is not None and task.cancelling()):
                    raise
                # The caller that was reading it was cancelled, not us: read it ourselves.
        with self._lock:
            self.stats.misses += 1
            generation = self._generation
        observe.cache_event("miss")
        pending = loop.create_future()
        self._inflight[loop, cid] = pending
        try:
            value = await self.inner.retrieve(cid)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                pending.cancel()
            else:
                pending.set_exception(exc)
                pending.exception()  # retrieved: no warning when nobody else waited
            raise
        finally:
            del self._inflight[loop, cid]
        self._remember(cid, value, generation)
        pending.set_result(value)
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
        self.invalidate(credential.id)
        try:
            return await self.inner.store(
                credential, expected_version=expected_version, previous=previous
            )
        finally:
            self.invalidate(credential.id)

    async def store_fenced(
        self,
        credential: Credential,
        *,
        lease: Lease,
        expected_version: int | None,
        previous: Credential | None = None,
    ) -> Credential:
        self.invalidate(credential.id)
        try:
            return await self.inner.store_fenced(
                credential, lease=lease, expected_version=expected_version, previous=previous
            )
        finally:
            self.invalidate(credential.id)

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

    async def delete(self, credential_id: str) -> bool:
        cid = CredentialId(credential_id)
        self.invalidate(cid)
        try:
            return await self.inner.delete(cid)
        finally:
            self.invalidate(cid)

    def iter_credentials(self, selection: ListFilter) -> AsyncIterator[Credential]:
        return self.inner.iter_credentials(selection)

    def changes(self) -> AsyncIterator[Change] | None:
        return self.inner.changes()

    async def close(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
        self.stats.watching = False
        await self.inner.close()

    # -- the change feed -----------------------------------------------------------------

    def _start_feed(self) -> None:
        if self._feed is not None or self._watch is False:
            return
        changes = self.inner.changes()
        if changes is None:
            if self._watch:
                raise ConfigurationError(
                    f"the {self.inner.name} provider has no change feed to watch; "
                    "use watch=False or None"
                )
            self._watch = False
            return
        self._feed = asyncio.get_running_loop().create_task(self._follow(changes))

    async def _follow(self, changes: AsyncIterator[Change]) -> None:
        try:
            async for change in changes:
                self._apply(change)
        except Exception as exc:  # the feed must not die silently; the TTL still applies
            self._apply(Change("lost"))
            logger.error("cache change feed stopped: %s", type(exc).__name__)
        finally:
            self.stats.watching = False
            aclose = getattr(changes, "aclose", None)
            if aclose is not None:
                await aclose()

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
            observe.cache_event("watch_lost")
            logger.warning(
                "cache over the %s provider: change feed lost; entries now expire by "
                "TTL only (%g s) until it resumes",
                self.inner.name,
                self.ttl,
            )
