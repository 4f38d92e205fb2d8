"""Local read path and CLI cold start, each beside a baseline measured in the same run.

    python bench/local_store.py                    # starts a control plane (envtest)
    python bench/local_store.py --kubeconfig PATH  # or uses this cluster
    python bench/local_store.py --no-kubernetes    # local parts only

(a) Local store, 10 KB credential: ``retrieve`` through the sync facade and the async
    provider beside the honest floor, a hand-written read of the same 10 KB credential
    (plain ``sqlite3`` SELECT of an AES-GCM blob in a WAL database, decrypt, JSON decode
    with the same decoder); ``store`` beside a plain SQLite write of a 10 KB blob.
    Targets (issue 11): sync retrieve <= 3x the floor, async <= 5x.
(b) CLI cold start, rounds interleaved with ``kubectl get secret``: ``nebula-credential
    get ID`` on the local store, ``--help``, and ``--provider kubernetes get ID``; beside
    them ``bench/cli_floor.py``, the least a Python CLI on typer, PyYAML and http.client
    does for the same GET (nothing of ours). Target: each within 2x kubectl, and the
    Kubernetes ``get`` within 1.1x the floor (printed last, as the ratio of the medians
    and as the median of each round's ratio). Children run without
    PYTHONDONTWRITEBYTECODE, as an installed package runs with its compiled modules.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
from cluster import cluster_target
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from nebula_credential import Credential, LocalStorageProvider, SyncCredentialProvider

IDS = 50
K8S_GET = "nebula-credential get ID (kubernetes)"
FLOOR = "floor: typer+yaml+http.client GET"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def timed(fn: Callable[[int], object], n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def report(name: str, ours: list[float], base: list[float] | None = None, digits: int = 3) -> None:
    p50, p95 = percentiles(ours)
    line = f"  {name:<38} p50 {p50:8.{digits}f}  p95 {p95:8.{digits}f} ms"
    if base:
        b50, b95 = percentiles(base)
        line += f"   ratio p50 {p50 / b50:5.2f}x  p95 {p95 / b95:5.2f}x"
    print(line)


def credential(i: int) -> Credential:
    return Credential(
        f"bench-{i % IDS}",
        "generic",
        {"payload": secrets.token_urlsafe(7500)[:10_000]},
        scope="org:bench/team:perf",
        tags={"env": "bench"},
    )


def bench_floor(directory: Path, n: int) -> tuple[list[float], list[float]]:
    """The honest floor: the same credentials, sealed with AES-GCM, read by hand."""
    db = sqlite3.connect(directory / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, blob BLOB) WITHOUT ROWID")
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    plain = [credential(i).to_json(reveal=True).encode() for i in range(IDS)]
    decode = msgspec.json.Decoder().decode

    def write(i: int) -> None:
        cid = f"bench-{i % IDS}"
        nonce = os.urandom(12)
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT OR REPLACE INTO t VALUES (?, ?)",
            (cid, nonce + aead.encrypt(nonce, plain[i % IDS], cid.encode())),
        )
        db.execute("COMMIT")

    def read(i: int) -> object:
        cid = f"bench-{i % IDS}"
        (blob,) = db.execute("SELECT blob FROM t WHERE id = ?", (cid,)).fetchone()
        sealed = memoryview(blob)
        return decode(aead.decrypt(sealed[:12], sealed[12:], cid.encode()))

    stores = timed(write, n)
    timed(read, n // 4)  # warm-up, as for the provider
    reads = timed(read, n)
    db.close()
    return stores, reads


def bench_sync(directory: Path, n: int) -> tuple[list[float], list[float]]:
    drafts = [credential(i) for i in range(n)]
    with SyncCredentialProvider(LocalStorageProvider(directory / "sync")) as store:
        store.store(drafts[0])
        stores = timed(lambda i: store.store(drafts[i]), n)
        timed(lambda i: store.retrieve(f"bench-{i % IDS}"), n // 4)  # warm-up
        reads = timed(lambda i: store.retrieve(f"bench-{i % IDS}"), n)
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
            for i in range(n // 4):  # warm-up
                await store.retrieve(f"bench-{i % IDS}")
            for i in range(n):
                start = time.perf_counter()
                await store.retrieve(f"bench-{i % IDS}")
                reads.append((time.perf_counter() - start) * 1000)
            return stores, reads

    return asyncio.run(run())


def local_read_path(directory: Path, n: int) -> None:
    raw_store, raw_read = bench_floor(directory, n)
    sync_store, sync_read = bench_sync(directory, n)
    async_store, async_read = bench_async(directory, n)
    print(f"(a) local store, 10 KB credential, {n} operations each")
    report("retrieve floor (sqlite+AES-GCM+JSON)", raw_read)
    report("retrieve sync facade (target <=3x)", sync_read, raw_read)
    report("retrieve async provider (target <=5x)", async_read, raw_read)
    report("store floor (sqlite write)", raw_store)
    report("store sync facade", sync_store, raw_store)
    report("store async provider", async_store, raw_store)


@contextlib.contextmanager
def cluster(args: argparse.Namespace) -> Iterator[Path | None]:
    if args.no_kubernetes:
        yield None
        return
    with cluster_target(args.kubeconfig) as target:
        yield target.kubeconfig


def run_ok(argv: list[str], env: dict[str, str], stdin: str = "") -> str:
    done = subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])} failed: {done.stderr.strip()}")
    return done.stdout


def cli_cold_start(directory: Path, kubeconfig: Path | None, rounds: int) -> None:
    exe = str(Path(sys.executable).with_name("nebula-credential"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["NEBULA_CREDENTIAL_HOME"] = str(directory / "cli")
    store = [exe, "store", "cold", "--kind", "api_key", "--field", "api_key=-"]
    run_ok(store, env, stdin="k")
    commands: dict[str, list[str]] = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "nebula-credential get ID (local)": [exe, "get", "cold"],
        "nebula-credential --help": [exe, "--help"],
    }
    if kubeconfig is not None:
        ns = f"bench-cli-{secrets.token_hex(3)}"
        kubectl = ["kubectl", f"--kubeconfig={kubeconfig}"]
        run_ok([*kubectl, "create", "namespace", ns], env)
        k8s = [exe, "--provider", "kubernetes", "--kubeconfig", str(kubeconfig), "--namespace", ns]
        run_ok([*k8s, *store[1:]], env, stdin="k")
        secret = run_ok([*kubectl, "-n", ns, "get", "secret", "-o", "name"], env).split()[0]
        commands[K8S_GET] = [*k8s, "get", "cold"]
        floor = [sys.executable, str(Path(__file__).with_name("cli_floor.py")), str(kubeconfig)]
        commands[FLOOR] = [*floor, ns, secret.split("/")[-1]]
        commands["kubectl get secret NAME"] = [*kubectl, "-n", ns, "get", secret]
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # warm-up: compiled modules written, caches filled
        run_ok(argv, env)
    for _ in range(rounds):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            samples[name].append((time.perf_counter() - start) * 1000)
    base = samples.get("kubectl get secret NAME")
    against = "kubectl get secret" if base else "nothing (no cluster)"
    print(f"(b) CLI cold start, {rounds} interleaved rounds; ratios to {against} (target <=2x)")
    for name, values in samples.items():
        report(name, values, base if name.startswith(("nebula", "floor")) else None, digits=1)
    ours, floor_runs = samples.get(K8S_GET), samples.get(FLOOR)
    if ours and floor_runs:
        paired = [a / b for a, b in zip(ours, floor_runs, strict=True)]
        print(
            f"  kubernetes get / floor (target <=1.1x): ratio of p50s "
            f"{statistics.median(ours) / statistics.median(floor_runs):4.2f}x, "
            f"median of per-round ratios {statistics.median(paired):4.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="operations per local measurement")
    parser.add_argument("--rounds", type=int, default=15, help="CLI runs per command")
    parser.add_argument("--kubeconfig", help="use this cluster instead of starting one")
    parser.add_argument("--no-kubernetes", action="store_true", help="skip the cluster parts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        local_read_path(directory, args.n)
        with cluster(args) as kubeconfig:
            cli_cold_start(directory, kubeconfig, args.rounds)


if __name__ == "__main__":
    main()
