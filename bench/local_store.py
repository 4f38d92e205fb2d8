"""Local store latency and CLI cold start, each beside a baseline measured in the same run.

    python bench/local_store.py [--n 500]

Prints p50/p95 for store and retrieve of a 10 KB credential through the sync facade and
the async provider, next to plain SQLite (WAL, same synchronous setting) writing and
reading a 10 KB blob; and CLI cold start next to a bare ``python -c pass``.
Targets (PRODUCT.md §6): retrieve p95 <= 1 ms, store p95 <= 5 ms, cold start <= 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from nebula_credential import Credential, LocalStorageProvider, SyncCredentialProvider


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def timed(fn: Callable[[int], object], n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def report(name: str, ours: list[float], base: list[float] | None = None) -> None:
    p50, p95 = percentiles(ours)
    line = f"{name:<34} p50 {p50:7.3f} ms  p95 {p95:7.3f} ms"
    if base:
        b50, b95 = percentiles(base)
        line += f"   baseline p50 {b50:7.3f} p95 {b95:7.3f}   ratio p50 {p50 / b50:5.2f}x"
    print(line)


def credential(i: int) -> Credential:
    return Credential(
        f"bench-{i % 50}",
        "generic",
        {"payload": secrets.token_urlsafe(7500)[:10_000]},
        scope="org:bench/team:perf",
        tags={"env": "bench"},
    )


def bench_sqlite(directory: Path, n: int) -> tuple[list[float], list[float]]:
    db = sqlite3.connect(directory / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, blob BLOB) WITHOUT ROWID")
    blob = os.urandom(10_000)

    def write(i: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT OR REPLACE INTO t VALUES (?, ?)", (f"bench-{i % 50}", blob))
        db.execute("COMMIT")

    stores = timed(write, n)
    reads = timed(
        lambda i: db.execute("SELECT blob FROM t WHERE id=?", (f"bench-{i % 50}",)).fetchone(), n
    )
    db.close()
    return stores, reads


def bench_sync(directory: Path, n: int) -> tuple[list[float], list[float]]:
    drafts = [credential(i) for i in range(n)]
    with SyncCredentialProvider(LocalStorageProvider(directory / "sync")) as store:
        store.store(drafts[0])
        stores = timed(lambda i: store.store(drafts[i]), n)
        reads = timed(lambda i: store.retrieve(f"bench-{i % 50}"), n)
    return stores, reads


def bench_async(directory: Path, n: int) -> tuple[list[float], list[float]]:
    drafts = [credential(i) for i in range(n)]

    async def run() -> tuple[list[float], list[float]]:
        async with LocalStorageProvider(directory / "async") as store:
            await store.store(drafts[0])
            stores, reads = [], []
            for i in range(n):
                start = time.perf_counter()
                await store.store(drafts[i])
                stores.append((time.perf_counter() - start) * 1000)
            for i in range(n):
                start = time.perf_counter()
                await store.retrieve(f"bench-{i % 50}")
                reads.append((time.perf_counter() - start) * 1000)
            return stores, reads

    return asyncio.run(run())


def cold_start(args: list[str], env: dict[str, str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--cold-runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        raw_store, raw_read = bench_sqlite(directory, args.n)
        sync_store, sync_read = bench_sync(directory, args.n)
        async_store, async_read = bench_async(directory, args.n)
        print(f"10 KB credential, {args.n} operations each (baseline: plain SQLite, 10 KB blob)")
        report("store   (sync facade)", sync_store, raw_store)
        report("store   (async provider)", async_store, raw_store)
        report("retrieve (sync facade)", sync_read, raw_read)
        report("retrieve (async provider)", async_read, raw_read)

        env = dict(os.environ, NEBULA_CREDENTIAL_HOME=str(directory / "cli"))
        exe = str(Path(sys.executable).with_name("nebula-credential"))
        subprocess.run(
            [exe, "store", "cold", "--kind", "api_key", "--field", "api_key=-"],
            input=b"k",
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        bare = cold_start([sys.executable, "-c", "pass"], env, args.cold_runs)
        print(f"CLI cold start, {args.cold_runs} runs (baseline: python -c pass)")
        report("nebula-credential --help", cold_start([exe, "--help"], env, args.cold_runs), bare)
        report(
            "nebula-credential get (local)",
            cold_start([exe, "get", "cold"], env, args.cold_runs),
            bare,
        )


if __name__ == "__main__":
    main()
