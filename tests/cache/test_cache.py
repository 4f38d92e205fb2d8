"""CachingProvider over the real local store: contract, single-flight, TTL, LRU, threads."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from nebula_credential import (
    CachingProvider,
    Change,
    ConfigurationError,
    Credential,
    InvalidCredentialId,
    LocalStorageProvider,
    NotFound,
    ProviderUnavailable,
    SyncCredentialProvider,
    WrongEventLoop,
)
from nebula_credential.testing import ProviderContract

CANARY = "canary-cache-51c7"


class CountingLocal(LocalStorageProvider):
    """The real local store, counting the reads that reach it (and optionally slow)."""

    def __init__(self, *args: object, delay: float = 0.0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.reads = 0
        self.delay = delay

    async def retrieve(self, credential_id: str) -> Credential | None:
        self.reads += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return await super().retrieve(credential_id)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key(cid: str, value: str = CANARY) -> Credential:
    return Credential(cid, "api_key", {"api_key": value})


class TestCachedLocalContract(ProviderContract):
    @pytest.fixture
    async def provider(self, tmp_path: Path) -> AsyncIterator[CachingProvider]:
        async with CachingProvider(LocalStorageProvider(tmp_path / "store")) as provider:
            yield provider


async def test_concurrent_misses_of_one_id_make_one_inner_call(tmp_path: Path) -> None:
    inner = CountingLocal(tmp_path, delay=0.05)
    async with CachingProvider(inner) as cache:
        await inner.store(key("svc"))
        found = await asyncio.gather(*(cache.retrieve("svc") for _ in range(100)))
        assert inner.reads == 1
        assert {c.reveal("api_key") for c in found if c is not None} == {CANARY}
        assert cache.stats.misses == 1
        assert await cache.retrieve("svc") is found[0]
        assert cache.stats.hits == 1


async def test_a_cancelled_reader_does_not_cancel_the_others(tmp_path: Path) -> None:
    inner = CountingLocal(tmp_path, delay=0.2)
    async with CachingProvider(inner) as cache:
        await inner.store(key("svc"))
        leader = asyncio.create_task(cache.retrieve("svc"))
        await asyncio.sleep(0.05)
        follower = asyncio.create_task(cache.retrieve("svc"))
        await asyncio.sleep(0.05)
        leader.cancel()
        found = await asyncio.wait_for(follower, timeout=5)
        assert found is not None
        assert found.reveal("api_key") == CANARY
        assert leader.cancelled()


async def test_own_writes_and_deletes_are_seen_at_once(tmp_path: Path) -> None:
    inner = CountingLocal(tmp_path)
    async with CachingProvider(inner) as cache:
        first = await cache.store(key("svc", "v1"))
        assert (await cache.get("svc")).reveal("api_key") == "v1"
        await cache.store(first.evolve(fields={"api_key": "v2"}), expected_version=1)
        assert (await cache.get("svc")).reveal("api_key") == "v2"
        assert await cache.delete("svc") is True
        assert await cache.retrieve("svc") is None
        with pytest.raises(NotFound, match="local store"):
            await cache.get("svc")


async def test_entries_expire_and_absent_ids_expire_sooner(tmp_path: Path) -> None:
    clock = Clock()
    inner = CountingLocal(tmp_path)
    async with CachingProvider(inner, ttl=60, absent_ttl=2, clock=clock) as cache:
        await inner.store(key("present", "v1"))
        assert await cache.retrieve("present") is not None
        assert await cache.retrieve("absent") is None
        # Changed behind the cache's back: the cache keeps answering until expiry.
        await inner.store(key("absent", "now-here"))
        stored = await inner.get("present")
        await inner.store(stored.evolve(fields={"api_key": "v2"}))
        clock.now += 3
        found = await cache.retrieve("absent")
        assert found is not None
        assert found.reveal("api_key") == "now-here"
        assert (await cache.get("present")).reveal("api_key") == "v1"
        clock.now += 60
        assert (await cache.get("present")).reveal("api_key") == "v2"
        assert inner.reads == 5  # present, absent, the direct get above, absent, present


async def test_least_recently_used_entries_go_first_at_capacity(tmp_path: Path) -> None:
    inner = CountingLocal(tmp_path)
    async with CachingProvider(inner, capacity=2) as cache:
        for cid in ("a", "b", "c"):
            await inner.store(key(cid))
        await cache.retrieve("a")
        await cache.retrieve("b")
        await cache.retrieve("a")  # b is now the least recently used
        await cache.retrieve("c")
        assert cache.stats.evictions == 1
        reads = inner.reads
        await cache.retrieve("a")
        await cache.retrieve("c")
        assert inner.reads == reads
        await cache.retrieve("b")
        assert inner.reads == reads + 1


def test_a_sync_hit_does_not_wait_for_the_event_loop(tmp_path: Path) -> None:
    cache = CachingProvider(LocalStorageProvider(tmp_path))
    with SyncCredentialProvider(cache) as store:
        store.store(key("svc"))
        assert store.get("svc").reveal("api_key") == CANARY  # a miss, through the loop
        loop_thread_busy = threading.Event()
        loop = store._loop.loop()  # the facade's private loop, started if not yet

        def block_the_loop() -> None:
            loop_thread_busy.set()
            time.sleep(1.0)

        loop.call_soon_threadsafe(block_the_loop)
        assert loop_thread_busy.wait(5)
        started = time.monotonic()
        assert store.get("svc").reveal("api_key") == CANARY
        assert store.exists("svc")
        assert time.monotonic() - started < 0.5, "the hit waited for the busy loop"
        assert cache.stats.hits == 2


async def test_nothing_secret_in_repr_or_stats(tmp_path: Path) -> None:
    async with CachingProvider(LocalStorageProvider(tmp_path)) as cache:
        await cache.store(key("svc"))
        await cache.retrieve("svc")
        shown = repr(cache) + repr(cache.stats) + repr(cache.stats.snapshot())
        assert CANARY not in shown
        assert "svc" not in repr(cache.stats)


async def test_invalid_ids_are_refused_before_reaching_the_store(tmp_path: Path) -> None:
    inner = CountingLocal(tmp_path)
    async with CachingProvider(inner) as cache:
        with pytest.raises(InvalidCredentialId, match="path separator"):
            await cache.retrieve("../etc")
        assert inner.reads == 0


@pytest.mark.parametrize(
    "settings",
    [{"ttl": -1}, {"ttl": float("nan")}, {"absent_ttl": float("nan")}, {"capacity": 0}],
)
def test_nonsense_settings_are_refused(tmp_path: Path, settings: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        CachingProvider(LocalStorageProvider(tmp_path), **settings)  # type: ignore[arg-type]


def test_the_same_cache_serves_blocking_and_async_callers(tmp_path: Path) -> None:
    cache = CachingProvider(CountingLocal(tmp_path, delay=0.05))
    with SyncCredentialProvider(cache) as store:
        store.store(key("svc"))

        async def from_another_loop() -> list[Credential | None]:
            return await asyncio.gather(*(cache.retrieve("svc") for _ in range(10)))

        with ThreadPoolExecutor(2) as pool:
            theirs = pool.submit(asyncio.run, from_another_loop())
            mine = [store.retrieve("svc") for _ in range(10)]
            found = theirs.result(timeout=30) + mine
        assert {c.reveal("api_key") for c in found if c is not None} == {CANARY}


class AnswersLate(LocalStorageProvider):
    """The real local store whose reads reach the caller ``delay`` seconds after they
    read: a read in flight holds what was there when it read."""

    def __init__(self, *args: object, delay: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.delay = delay

    async def retrieve(self, credential_id: str) -> Credential | None:
        found = await super().retrieve(credential_id)
        await asyncio.sleep(self.delay)
        return found


async def test_a_read_in_flight_across_our_own_write_never_hands_back_the_old_value(
    tmp_path: Path,
) -> None:
    inner = AnswersLate(tmp_path, delay=0.3)
    async with CachingProvider(inner) as cache:
        first = await inner.store(key("svc", "v1"))
        before = asyncio.create_task(cache.retrieve("svc"))  # reads v1, answers later
        await asyncio.sleep(0.05)
        await cache.store(first.evolve(fields={"api_key": "v2"}), expected_version=1)
        after = await cache.retrieve("svc")  # the read above is still in flight
        assert after is not None
        assert after.reveal("api_key") == "v2"
        earlier = await before
        assert earlier is not None
        assert earlier.reveal("api_key") == "v2"  # it was handed out after the write
        assert (await cache.get("svc")).reveal("api_key") == "v2"


async def test_a_read_in_flight_across_our_own_delete_finds_nothing(tmp_path: Path) -> None:
    inner = AnswersLate(tmp_path, delay=0.3)
    async with CachingProvider(inner) as cache:
        await inner.store(key("svc", "v1"))
        before = asyncio.create_task(cache.retrieve("svc"))
        await asyncio.sleep(0.05)
        assert await cache.delete("svc") is True
        assert await cache.retrieve("svc") is None
        assert await before is None


def test_the_sync_facade_serves_a_cached_local_store_without_an_event_loop(
    tmp_path: Path,
) -> None:
    inner = LocalStorageProvider(tmp_path)
    cache = CachingProvider(inner)
    with SyncCredentialProvider(cache) as store:
        stored = store.store(key("svc", "v1"))
        assert store.get("svc").reveal("api_key") == "v1"  # a miss, then remembered
        assert store.get("svc").reveal("api_key") == "v1"
        assert (cache.stats.misses, cache.stats.hits) == (1, 1)
        store.store(stored.evolve(fields={"api_key": "v2"}), expected_version=1)
        assert store.get("svc").reveal("api_key") == "v2"  # our write dropped the entry
        assert [c.id for c in store.list_all()] == ["svc"]
        assert store.delete("svc") is True
        assert store.retrieve("svc") is None
        assert not store._loop.started, "a call went through an event loop"
    with pytest.raises(ProviderUnavailable):
        store.get("svc")


async def test_a_miss_from_another_event_loop_is_refused_with_what_to_do(
    tmp_path: Path,
) -> None:
    async with CachingProvider(LocalStorageProvider(tmp_path)) as cache:
        await cache.store(key("svc"))
        assert await cache.retrieve("svc") is not None
        cache.invalidate()

        async def elsewhere() -> Credential | None:
            return await cache.retrieve("svc")

        with ThreadPoolExecutor(1) as pool:
            refused = pool.submit(asyncio.run, elsewhere())
            with pytest.raises(WrongEventLoop, match="make one per event loop"):
                refused.result(timeout=30)
        assert isinstance(WrongEventLoop("x"), ConfigurationError)
        assert (await cache.get("svc")).reveal("api_key") == CANARY  # its own loop still works


class FeedAlwaysDies(LocalStorageProvider):
    """The real local store with a change feed that dies at once, every time."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.feeds = 0

    def changes(self) -> AsyncIterator[Change] | None:
        self.feeds += 1
        return self._dies()

    @staticmethod
    async def _dies() -> AsyncIterator[Change]:
        raise RuntimeError("the feed broke")
        yield Change("resync")  # unreachable: makes this an async generator


async def test_a_feed_that_keeps_dying_is_started_again_with_growing_delays(
    tmp_path: Path,
) -> None:
    inner = FeedAlwaysDies(tmp_path)
    async with CachingProvider(inner) as cache:
        await cache.store(key("svc"))
        assert await cache.retrieve("svc") is not None  # a miss starts the feed
        await asyncio.sleep(2.0)
        # Delays of 0.25, 0.5, 1, 2 s (each jittered down by at most half): 2 to 5 starts
        # in two seconds, not hundreds; each death is one loss.
        assert 2 <= inner.feeds <= 5
        assert cache.stats.watch_lost == inner.feeds
        assert cache.stats.feed_restarts == inner.feeds - 1
        assert cache.stats.feed == "restarting"
        assert not cache.stats.watching
    assert cache.stats.feed == "stopped"
    feeds = inner.feeds
    await asyncio.sleep(1.0)
    assert inner.feeds == feeds  # closed with the cache: never started again
