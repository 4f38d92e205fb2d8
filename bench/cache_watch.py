"""The watch-fed cache over many credentials on a real API server (``cache.py --watch``)."""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from nebula_credential import CachingProvider, Credential, KubernetesSecretsProvider
from nebula_credential.testing.envtest import ControlPlane

NAMESPACE = "bench-cache"
# The other process: one change per line of stdin, answering with the monotonic time
# (system-wide on Linux) at which its write returned.
WRITER = """
import sys, time
from nebula_credential import Credential, KubernetesSecretsProvider, SyncCredentialProvider
with SyncCredentialProvider(KubernetesSecretsProvider(sys.argv[2], kubeconfig=sys.argv[1])) as w:
    for line in sys.stdin:
        cid, value = line.split()
        w.store(Credential(cid, "api_key", {"api_key": value}))
        print(time.monotonic(), flush=True)
"""


def rss() -> int:
    """Resident memory of this process, in bytes."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


async def fill(provider: KubernetesSecretsProvider, ids: list[str]) -> None:
    gate = asyncio.Semaphore(32)

    async def one(cid: str) -> None:
        async with gate:
            await provider.store(Credential(cid, "api_key", {"api_key": "v0"}))

    await asyncio.gather(*(one(cid) for cid in ids))


async def run(plane: ControlPlane, count: int, rounds: int) -> None:
    ids = [f"bench-{i:05d}" for i in range(count)]
    kubeconfig = str(plane.admin_kubeconfig)
    started = time.monotonic()
    async with KubernetesSecretsProvider(NAMESPACE, kubeconfig=kubeconfig) as seeder:
        await fill(seeder, ids)
    print(f"stored {count} credentials in {time.monotonic() - started:.1f} s")
    before = rss()
    inner = KubernetesSecretsProvider(NAMESPACE, kubeconfig=kubeconfig)
    async with CachingProvider(inner, capacity=count) as cache:
        gate = asyncio.Semaphore(32)

        async def warm(cid: str) -> None:
            async with gate:
                await cache.retrieve(cid)

        tracemalloc.start()
        await asyncio.gather(*(warm(cid) for cid in ids))
        for _ in range(2000):  # the watch goes live within seconds
            if cache.stats.watching:
                break
            await asyncio.sleep(0.01)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        grown = rss() - before
        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WRITER,
            kubeconfig,
            NAMESPACE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert writer.stdin is not None
        assert writer.stdout is not None
        delays: list[float] = []
        for round_ in range(rounds):
            cid, value = ids[(round_ * 97) % count], f"v{round_ + 1}"
            assert cache.peek(cid) is not None  # cached: only the watch can tell
            writer.stdin.write(f"{cid} {value}\n".encode())
            await writer.stdin.drain()
            returned = float(await writer.stdout.readline())
            while True:
                found = await cache.retrieve(cid)
                if found is not None and found.reveal("api_key") == value:
                    break
                if time.monotonic() - returned > 10:
                    raise SystemExit(f"change {round_} not seen within 10 s")
                await asyncio.sleep(0.001)
            delays.append(max(0.0, time.monotonic() - returned))
        writer.stdin.close()
        await asyncio.wait_for(writer.wait(), timeout=30)
        stats = cache.stats
    delays.sort()
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(f"{rounds} changes by another process, cache over {count} credentials (watch-fed)")
    print(f"visible after   p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   (p99 <= 1000)")
    print(
        f"memory          {held / 2**20:7.1f} MiB held by the warm cache and its watch "
        f"(tracemalloc), {held / count:.0f} B per entry; RSS grew {grown / 2**20:.1f} MiB"
    )
    print(
        f"cache stats     hits {stats.hits}, misses {stats.misses}, watch_lost {stats.watch_lost}"
    )


def watch_bench(count: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, ControlPlane("bench-cache", Path(tmp)) as plane:
        plane.ensure_namespace(NAMESPACE)
        asyncio.run(run(plane, count, rounds))
