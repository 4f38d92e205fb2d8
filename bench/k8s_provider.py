"""KubernetesSecretsProvider against a raw aiohttp client, side by side in one run.

    python bench/k8s_provider.py [--kubeconfig PATH] [--count 1000] [--concurrency 32]

Without ``--kubeconfig`` a control plane is started with nebula_credential.testing.envtest. Each
round stores, updates, retrieves and lists ``count`` oauth2 credentials per client, each
client in its own namespace, rounds and chunks interleaved so the machine's drift hits
both: the provider on its default transport and raw aiohttp. The raw client sends the
same Secret bodies (prepared outside the timed region), so the ratio is what our layer
costs; it connects with the kubeconfig's own settings (CA, client certificate, token,
insecure-skip-tls-verify, proxy) through the same ``kubernetes.connect`` Endpoint as the
provider. Its update is a GET followed by a PUT with the read resourceVersion (what a
client without a known version has to do); the provider's update stores a credential
whose version it knows. Targets (PRODUCT.md section 6): store, retrieve and list reach
>= 0.95x raw aiohttp throughput, update >= 1.0x the throughput of a raw aiohttp GET+PUT.
Client CPU per operation is printed too: the API server shares the machine, so wall time
alone hides where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from cluster import Target, cluster_target

from nebula_credential import Credential
from nebula_credential.kubernetes import KubernetesSecretsProvider, load_cluster_config
from nebula_credential.kubernetes.config.endpoint import endpoint_for
from nebula_credential.kubernetes.model.mapping import encode, list_labels
from nebula_credential.kubernetes.model.naming import secret_name
from nebula_credential.providers import ListFilter, next_revision

SCOPE = "org:bench/user:alice"
OPS = ("store", "update", "retrieve", "list")
CHUNK = 100
LISTS = 3
NAMES = ("provider", "aiohttp")
# Throughput provider/raw each operation must reach (PRODUCT.md section 6).
TARGETS = {"store": 0.95, "update": 1.0, "retrieve": 0.95, "list": 0.95}


def credential(i: int) -> Credential:
    return Credential(
        f"bench-{i:05d}",
        "oauth2",
        {
            "access_token": f"gho_{i:05d}" + "a" * 60,
            "refresh_token": f"ghr_{i:05d}" + "r" * 60,
            "client_id": "Iv1.bench",
        },
        scope=SCOPE,
        tags={"env": "bench"},
    )


def changed(held: Credential) -> Credential:
    """A changed copy of a stored credential (version 1), as a caller would hold it."""
    return held.evolve(fields={"client_id": "Iv1.next"}, version=1)


def _plain(stored: Credential) -> dict[str, Any]:
    secret = encode(stored, secret_name("nebula-credentials", stored.id))
    return {
        "name": secret.name,
        "labels": secret.labels,
        "annotations": secret.annotations,
        "data": secret.data,
    }


def bodies(count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The Secrets the provider would write on store and on update, as plain dicts for the
    raw client. The update bodies differ from the stored ones (a changed field, the next
    version), so the raw PUT is a real write: an unchanged PUT skips etcd."""
    stored = [next_revision(credential(i), None) for i in range(count)]
    updated = [next_revision(changed(c), c) for c in stored]
    return [_plain(c) for c in stored], [_plain(c) for c in updated]


async def run_all(indices: range, concurrency: int, fn: Callable[[int], Awaitable[object]]) -> None:
    queue = iter(indices)

    async def worker() -> None:
        for i in queue:
            await fn(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


class Raw:
    """The floor: aiohttp with JSON dicts, no models at all, the kubeconfig's TLS and auth."""

    def __init__(
        self,
        kubeconfig: Path,
        namespace: str,
        prepared: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    ) -> None:
        self.endpoint = endpoint_for(load_cluster_config(kubeconfig=kubeconfig))
        self.base = f"{self.endpoint.server}/api/v1/namespaces/{namespace}/secrets"
        self.prepared, self.updated = prepared
        labels = list_labels(ListFilter.build(scope=SCOPE))
        self.selector = ",".join(f"{k}={v}" for k, v in labels.items())
        self._http: aiohttp.ClientSession | None = None
        self._extra: dict[str, Any] = {
            "proxy": self.endpoint.proxy,
            "server_hostname": self.endpoint.server_hostname,
        }

    def prepare(self, op: str) -> None:
        """Its bodies are ready from the start."""

    async def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            headers = await self.endpoint.headers()
            connector = aiohttp.TCPConnector(ssl=self.endpoint.ssl_context(), limit=100)
            self._http = aiohttp.ClientSession(connector=connector, headers=headers)
        return self._http

    @staticmethod
    def _body(b: dict[str, Any], rv: str | None = None) -> dict[str, Any]:
        meta = {"name": b["name"], "labels": b["labels"], "annotations": b["annotations"]}
        if rv:
            meta["resourceVersion"] = rv
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta,
            "type": "Opaque",
            "data": b["data"],
        }

    async def store(self, i: int) -> None:
        http = await self.http()
        async with http.post(self.base, json=self._body(self.prepared[i]), **self._extra) as resp:
            assert resp.status == 201, resp.status
            await resp.json()

    async def update(self, i: int) -> None:
        http = await self.http()
        url = f"{self.base}/{self.prepared[i]['name']}"
        async with http.get(url, **self._extra) as resp:
            rv = (await resp.json())["metadata"]["resourceVersion"]
        async with http.put(url, json=self._body(self.updated[i], rv), **self._extra) as resp:
            assert resp.status == 200, resp.status
            await resp.json()

    async def retrieve(self, i: int) -> None:
        http = await self.http()
        async with http.get(f"{self.base}/{self.prepared[i]['name']}", **self._extra) as resp:
            assert resp.status == 200, resp.status
            await resp.json()

    async def list(self) -> int:
        seen, token = 0, ""
        for _ in range(100_000):
            params = {"labelSelector": self.selector, "limit": "250"}
            if token:
                params["continue"] = token
            http = await self.http()
            async with http.get(self.base, params=params, **self._extra) as resp:
                page = await resp.json()
            seen += len(page["items"])
            token = page["metadata"].get("continue", "")
            if not token:
                break
        return seen

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


class Ours:
    """The provider on its default transport, handed ready credentials as the raw client
    gets ready bodies."""

    def __init__(self, kubeconfig: Path, namespace: str, count: int) -> None:
        self.provider = KubernetesSecretsProvider(namespace, kubeconfig=kubeconfig, timeout=30)
        self.fresh = [credential(i) for i in range(count)]
        self.stored: list[Credential | None] = [None] * count
        self.changed: list[Credential] = []

    def prepare(self, op: str) -> None:
        """Before the updates (untimed): the stored credentials, changed, as a caller who
        stored or read them holds them."""
        if op == "update":
            pairs = zip(self.stored, self.fresh, strict=True)
            self.changed = [changed(stored or fresh) for stored, fresh in pairs]

    async def store(self, i: int) -> None:
        self.stored[i] = await self.provider.store(self.fresh[i])

    async def update(self, i: int) -> None:
        await self.provider.store(self.changed[i])

    async def retrieve(self, i: int) -> None:
        await self.provider.retrieve(f"bench-{i:05d}")

    async def list(self) -> int:
        return len([c async for c in self.provider.list(scope=SCOPE)])

    async def close(self) -> None:
        await self.provider.close()


async def measure(client: Any, op: str, indices: range, concurrency: int) -> tuple[float, float]:
    """(wall seconds, client CPU seconds) for the operations on ``indices`` (or one list)."""
    wall, cpu = time.perf_counter(), time.process_time()
    if op == "list":
        assert await client.list() == len(indices)
    else:
        await run_all(indices, concurrency, getattr(client, op))
    return time.perf_counter() - wall, time.process_time() - cpu


async def bench(args: argparse.Namespace, target: Target) -> None:
    prepared = bodies(args.count)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    names = NAMES
    for round_ in range(args.rounds):
        spaces = {name: f"bench-{name}-{round_}" for name in names}
        for ns in spaces.values():
            target.create_namespace(ns)
        clients: dict[str, Ours | Raw] = {
            "provider": Ours(target.kubeconfig, spaces["provider"], args.count),
            "aiohttp": Raw(target.kubeconfig, spaces["aiohttp"], prepared),
        }
        try:
            for op in OPS:
                # Small chunks in alternating order spread the machine's drift over both.
                chunks = (
                    [range(args.count)] * LISTS
                    if op == "list"
                    else [
                        range(start, min(start + CHUNK, args.count))
                        for start in range(0, args.count, CHUNK)
                    ]
                )
                totals = dict.fromkeys(names, (0.0, 0.0))
                for client in clients.values():
                    client.prepare(op)
                for turn, indices in enumerate(chunks):
                    shift = (turn + round_) % len(names)
                    for name in names[shift:] + names[:shift]:
                        wall, cpu = await measure(clients[name], op, indices, args.concurrency)
                        totals[name] = (totals[name][0] + wall, totals[name][1] + cpu)
                for name in names:
                    per = LISTS if op == "list" else 1
                    results.setdefault((op, name), []).append(
                        (totals[name][0] / per, totals[name][1] / per)
                    )
        finally:
            for client in clients.values():
                await client.close()
            for ns in spaces.values():
                target.clear_namespace(ns)
    report(args, results, names)


def report(
    args: argparse.Namespace,
    results: dict[tuple[str, str], list[tuple[float, float]]],
    names: tuple[str, ...],
) -> None:
    print(
        f"\n{args.count} oauth2 credentials, concurrency {args.concurrency}, "
        f"median of {args.rounds} interleaved rounds\n"
        "provider: KubernetesSecretsProvider on its default transport; aiohttp: raw aiohttp "
        "(update = GET + PUT)\n"
    )
    head = "".join(f"{n:>14}" for n in names)
    print(
        f"{'op':<9}{head}   {'provider/aiohttp':>16}  {'target':>6}         "
        f"client CPU ms/op ({' / '.join(names)})"
    )
    for op in OPS:
        # list: one full streaming list of all credentials, counted as credentials per second.
        per = 1 if op == "list" else args.count
        wall = {n: statistics.median(w for w, _ in results[(op, n)]) for n in names}
        cpu = {n: statistics.median(c for _, c in results[(op, n)]) * 1000 / per for n in names}
        cells = "".join(f"{args.count / wall[n]:>9.0f} op/s" for n in names)
        ratio = wall["aiohttp"] / wall["provider"]  # throughput ratio: higher is better
        verdict = "ok" if ratio >= TARGETS[op] else "BELOW"
        shown = " / ".join(f"{cpu[n]:.2f}" for n in names)
        print(f"{op:<9}{cells}   {ratio:>15.2f}x  {TARGETS[op]:>5.2f}x {verdict:<5}   {shown}")
    print(
        "\n(provider/aiohttp = throughput ratio, higher is better; targets: store, retrieve, "
        "list >= 0.95,\n update >= 1.00 against the raw GET+PUT; list counts credentials "
        "listed per second,\n its CPU column is ms per full list)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", help="use this cluster instead of starting one")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with cluster_target(args.kubeconfig) as target:
        asyncio.run(bench(args, target))


if __name__ == "__main__":
    main()
