"""The cache's memory: entries with a lifetime, least recently used out first.

Safe from any thread: the sync facade's hits read it without crossing to the event
loop. Every invalidation bumps a generation, so a read that started before one does not
put back what it found (it may be stale); what the feed reports lands in the stats.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass

from .._log import get_logger
from ..domain import Credential
from ..observe import cache_event
from .base import NOT_CACHED, Change, NotCached

logger = get_logger("nebula_credential.cache")


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


class CacheMemory:
    """Up to ``capacity`` entries, each for ``ttl`` seconds (absent ids ``absent_ttl``)."""

    def __init__(
        self, *, ttl: float, capacity: int, absent_ttl: float, clock: Callable[[], float]
    ) -> None:
        self.ttl = ttl
        self.absent_ttl = absent_ttl
        self.capacity = capacity
        self.stats = CacheStats()
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Credential | None, float]] = OrderedDict()
        self._generation = 0  # bumped by every invalidation: a slow miss must not land

    def generation(self) -> int:
        with self._lock:
            return self._generation

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

    def apply(self, change: Change, source: str) -> None:
        """One event of ``source``'s change feed."""
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
                source,
                self.ttl,
            )
