"""CachingProvider hits and misses, each beside a baseline measured in the same run.

    python bench/cache.py [--n 200000]

Prints per-lookup time for:
- an async hit (``await cache.retrieve(id)``) beside ``cachetools.TTLCache`` doing the
  same lookups (target <= 1x);
- a sync-facade hit (``SyncCredentialProvider(cache).retrieve(id)``), same baseline
  (target <= 3x);
- a miss beside the bare provider it falls through to (the local store).

    python bench/cache.py --watch [--count 10000] [--rounds 100]

starts a real API server (the envtest kit), stores ``--count`` credentials, reads each
once through a watch-fed cache (every one a hit from then on), then has ANOTHER PROCESS
change credentials one at a time and prints how long each change took to become visible
through the cache (p50/p99 from the writer's return to the first read that sees it;
target p99 <= 1 s) and the memory the warm cache and its watch hold (tracemalloc, and
the growth of the RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cachetools import TTLCache

from nebula_credential import (
    CachingProvider,
    Credential,
    LocalStorageProvider,
    SyncCredentialProvider,
)

KEYS = 100
ROUNDS = 5


def per_op(seconds: float, n: int) -> float:
    return seconds / n * 1e6  # microseconds


def best_of(fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(ROUNDS))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--watch", action="store_true")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    if args.watch:
        from cache_watch import watch_bench

        watch_bench(args.count, args.rounds)
        return
    n = args.n
    ids = [f"bench-{i:03d}" for i in range(KEYS)]
    with tempfile.TemporaryDirectory() as tmp:
        local = LocalStorageProvider(Path(tmp), durable=False)
        cache = CachingProvider(local, capacity=KEYS * 2)
        sync = SyncCredentialProvider(cache)
        for cid in ids:
            sync.store(Credential(cid, "api_key", {"api_key": "x" * 64}))
        for cid in ids:
            sync.retrieve(cid)  # warm: every id is now a hit

        ttl: TTLCache[str, object] = TTLCache(maxsize=KEYS * 2, ttl=300)
        for cid in ids:
            ttl[cid] = cid

        def baseline() -> float:
            get = ttl.get
            started = time.perf_counter()
            for i in range(n):
                get(ids[i % KEYS])
            return per_op(time.perf_counter() - started, n)

        async def async_hits() -> float:
            retrieve = cache.retrieve
            started = time.perf_counter()
            for i in range(n):
                await retrieve(ids[i % KEYS])
            return per_op(time.perf_counter() - started, n)

        def sync_hits() -> float:
            retrieve = sync.retrieve
            started = time.perf_counter()
            for i in range(n):
                retrieve(ids[i % KEYS])
            return per_op(time.perf_counter() - started, n)

        loop = asyncio.new_event_loop()
        base = best_of(baseline)
        hit = best_of(lambda: loop.run_until_complete(async_hits()))
        sync_hit = best_of(sync_hits)
        loop.close()

        misses = 2000
        fresh = LocalStorageProvider(Path(tmp), durable=False)
        miss_cache = CachingProvider(fresh, capacity=1, watch=False)

        async def miss_vs_bare() -> tuple[list[float], list[float]]:
            cached_times, bare_times = [], []
            for i in range(misses):
                cid = ids[i % KEYS]
                miss_cache.invalidate()
                started = time.perf_counter()
                await miss_cache.retrieve(cid)
                cached_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                await fresh.retrieve(cid)
                bare_times.append(time.perf_counter() - started)
            return cached_times, bare_times

        cached_times, bare_times = asyncio.run(miss_vs_bare())
        miss = statistics.median(cached_times) * 1e6
        bare = statistics.median(bare_times) * 1e6
        sync.close()

    print(f"{n} lookups over {KEYS} ids, best of {ROUNDS} (baseline: cachetools.TTLCache.get)")
    print(f"baseline TTLCache.get           {base:8.3f} us")
    row("async hit  cache.retrieve", hit, base, "(target <= 1)")
    row("sync hit   facade.retrieve", sync_hit, base, "(target <= 3)")
    print(f"{misses} misses, median (baseline: the bare local provider)")
    row("miss through the cache", miss, bare, f"(bare {bare:.1f} us)")


def row(what: str, value: float, baseline: float, note: str) -> None:
    print(f"{what:<31} {value:8.3f} us   ratio {value / baseline:5.2f}x  {note}")


if __name__ == "__main__":
    main()
