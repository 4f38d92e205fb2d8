"""Migration local → Kubernetes against direct concurrent creates, in one run.

    python bench/migrate.py [--kubeconfig PATH] [--count 1000] [--concurrency 16] [--rounds 3]

Without ``--kubeconfig`` a control plane is started with nebula_credential.testing.envtest.
Each round migrates ``count`` credentials from a local store into a fresh namespace with
``nebula_credential.ops.migrate`` (read the source, list the destination, create, read
back by listing and compare digests), and separately creates the same credentials with
``provider.store(..., expected_version=0)`` from memory, with the same kind of client and
the same concurrency, each in a fresh namespace; the two are interleaved so the machine's
drift hits both. Target (PRODUCT.md section 6): migrate >= 0.8x the direct throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cluster import cluster_target

from nebula_credential import Credential, LocalStorageProvider
from nebula_credential.kubernetes import KubernetesSecretsProvider
from nebula_credential.ops import fresh_copy, migrate


def sample(i: int) -> Credential:
    return Credential(
        f"bench-{i}",
        "oauth2",
        {"access_token": f"at-{i}-" + "x" * 200, "refresh_token": f"rt-{i}", "client_id": "app"},
        scope=f"org:acme/team:t{i % 8}",
        owner="platform",
        tags={"env": "prod"},
    )


async def fill(directory: Path, count: int) -> list[Credential]:
    async with LocalStorageProvider(directory) as store:
        for i in range(count):
            await store.store(sample(i))
        return [c async for c in store.list_all()]


async def direct(kubeconfig: Path, ns: str, items: list[Credential], concurrency: int) -> float:
    copies = [fresh_copy(c) for c in items]  # prepared outside the timed region
    gate = asyncio.Semaphore(concurrency)
    async with KubernetesSecretsProvider(ns, kubeconfig=kubeconfig) as provider:

        async def one(credential: Credential) -> None:
            async with gate:
                await provider.store(credential, expected_version=0)

        started = time.perf_counter()
        await asyncio.gather(*(one(c) for c in copies))
        return time.perf_counter() - started


async def migrated(kubeconfig: Path, ns: str, local: Path, count: int, concurrency: int) -> float:
    async with (
        LocalStorageProvider(local) as source,
        KubernetesSecretsProvider(ns, kubeconfig=kubeconfig) as provider,
    ):
        started = time.perf_counter()
        summary = await migrate(source, provider, concurrency=concurrency)
        took = time.perf_counter() - started
    if summary.counts()["created"] != count or not summary.ok:
        raise SystemExit(f"migration did not create everything: {summary.counts()}")
    return took


async def bench(
    args: argparse.Namespace, kubeconfig: Path, make_ns: Callable[[str], object]
) -> None:
    with tempfile.TemporaryDirectory(prefix="nebula-bench-local-") as tmp:
        local = Path(tmp) / "store"
        items = await fill(local, args.count)
        times: dict[str, list[float]] = {"migrate": [], "direct": []}
        for round_ in range(args.rounds):
            order = ["migrate", "direct"] if round_ % 2 == 0 else ["direct", "migrate"]
            for name in order:
                ns = f"bench-{name}-{secrets.token_hex(3)}"
                make_ns(ns)
                if name == "direct":
                    took = await direct(kubeconfig, ns, items, args.concurrency)
                else:
                    took = await migrated(kubeconfig, ns, local, args.count, args.concurrency)
                times[name].append(took)
                print(f"round {round_ + 1} {name:<8} {args.count / took:8.0f} credentials/s")
    wall = {name: statistics.median(values) for name, values in times.items()}
    ratio = wall["direct"] / wall["migrate"]
    print(
        f"\n{args.count} credentials, concurrency {args.concurrency}, median of {args.rounds}: "
        f"migrate {args.count / wall['migrate']:.0f}/s, direct creates "
        f"{args.count / wall['direct']:.0f}/s; migrate/direct throughput = {ratio:.2f}x "
        f"(target >= 0.80x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", help="use this cluster instead of starting one")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with cluster_target(args.kubeconfig) as target:
        asyncio.run(bench(args, target.kubeconfig, target.create_namespace))


if __name__ == "__main__":
    main()
