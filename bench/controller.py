"""The controller on a real API server: change -> patch latency, memory, API requests.

    python bench/controller.py [--changes 100] [--credentials 10000] [--concurrency 32]
                               [--settle 1.2] [--no-rotation]

Starts a control plane with nebula_credential.testing.envtest and the real controller
(``nebula-credential controller``, rotation on as by default unless ``--no-rotation``)
as a process of its own, with a client certificate of its own so that the plane's
audit log tells its requests apart.

1. Latency: one opted-in Deployment reads one credential. Each change is a store through
   KubernetesSecretsProvider; timed from the moment the write is sent until a watch the
   bench opened on the Deployment sees the new ``credentials-digest`` annotation, then
   the bench waits out the controller's quiet period (``--settle``) so that no two
   changes are coalesced. Baseline side by side: a plain aiohttp watch on the Secret,
   timed from the same moment. "minus quiet" takes away the 1 s debounce the controller
   waits on purpose; its ratio to the Secret watch is what the controller adds.
2. Requests: the controller's requests in the audit log over those changes, by verb and
   resource, per change; the leader Lease's renewals go by time, so per minute.
3. Memory: VmRSS / VmHWM of a controller on an empty namespace once /readyz answers,
   then on one holding ``--credentials`` credentials stored through the library, once a
   Deployment that uses the credential listed last has its digest (so every Secret is
   in); beside it, the byte size of the Secret list the API server returns.

The default run takes about 4 minutes on 2 cores, most of it the changes (each waits
out the quiet period, about 2.3 s a change).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from _controller_support import (
    Controller,
    Watch,
    audit_offset,
    audit_requests,
    controller_kubeconfig,
    deployment,
    digest_of,
    list_bytes,
    wait_digest,
)

from nebula_credential import Credential, KubernetesSecretsProvider
from nebula_credential.testing.envtest import ControlPlane

QUIET = 1.0  # the controller's debounce: it acts once changes have been quiet this long
LATENCY_NS, EMPTY_NS, FULL_NS = "bench-ctl", "bench-ctl-empty", "bench-ctl-full"
CID = "payments-db"
MiB = 2**20


def quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class Results:
    def __init__(self) -> None:
        self.writes: list[float] = []
        self.watch: list[float] = []
        self.patch: list[float] = []
        self.requests: Counter[tuple[str, str]] = Counter()
        self.window = 0.0
        self.patches = 0
        self.memory: dict[str, tuple[int, int, float, float | None]] = {}  # rss, hwm, ready, seen
        self.list_bytes: dict[str, int] = {}
        self.fill_seconds = 0.0
        self.unseen_after_ready = 0.0  # a credential still unknown this long after /readyz


async def latency(
    args: argparse.Namespace, plane: ControlPlane, tmp: Path, kube: Path, out: Results
) -> None:
    plane.ensure_namespace(LATENCY_NS)
    admin = str(plane.admin_kubeconfig)
    async with KubernetesSecretsProvider(LATENCY_NS, kubeconfig=admin) as store:
        await store.store(Credential(CID, "api_key", {"api_key": secrets.token_hex(16)}))
        secret = store.secret_name(CID)
        deployments = f"/apis/apps/v1/namespaces/{LATENCY_NS}/deployments"
        plane.request("POST", deployments, deployment(secret, CID)).raise_for_status("deployment")
        controller = Controller(kube, LATENCY_NS, tmp, rotation=args.rotation)
        try:
            await controller.wait_ready(60)
            await wait_digest(plane, LATENCY_NS, 30)  # the opt-in patch: the first digest
            await asyncio.sleep(QUIET + 0.5)  # its own patch's event, evaluated: quiet now
            before = plane.request("GET", f"{deployments}/app").json()
            held = plane.request("GET", f"/api/v1/namespaces/{LATENCY_NS}/secrets/{secret}")
            secret_watch = Watch(
                plane,
                f"/api/v1/namespaces/{LATENCY_NS}/secrets",
                secret,
                held.json()["metadata"]["resourceVersion"],
            )
            workload_watch = Watch(plane, deployments, "app", before["metadata"]["resourceVersion"])
            try:
                await secret_watch.open()
                await workload_watch.open()
                offset, since = audit_offset(plane), datetime.now(UTC)
                await changes(args, store, secret_watch, workload_watch, digest_of(before), out)
                out.requests = audit_requests(plane, offset, audit_offset(plane), since)
            finally:
                await secret_watch.close()
                await workload_watch.close()
            after = plane.request("GET", f"{deployments}/app").json()
            out.patches = after["metadata"]["generation"] - before["metadata"]["generation"]
        finally:
            controller.stop()


async def changes(
    args: argparse.Namespace,
    store: KubernetesSecretsProvider,
    secret_watch: Watch,
    workload_watch: Watch,
    digest: str | None,
    out: Results,
) -> None:
    """Each change: a store, the Secret watch's event, the Deployment's new digest, then
    the quiet period waited out so that the next change starts a burst of its own."""
    began = time.monotonic()
    for number in range(args.changes):
        value = Credential(CID, "api_key", {"api_key": secrets.token_hex(16)})
        secret_watch.drain()
        workload_watch.drain()
        sent = time.monotonic()
        await store.store(value)
        out.writes.append(time.monotonic() - sent)
        arrived, _, _ = await secret_watch.next(10)
        out.watch.append(arrived - sent)
        for _ in range(10):  # the patch is the next change of the Deployment
            arrived, _, workload = await workload_watch.next(10 + QUIET)
            if digest_of(workload) != digest:
                digest = digest_of(workload)
                break
        else:
            raise SystemExit(f"change {number}: the Deployment changed but not its digest")
        out.patch.append(arrived - sent)
        await asyncio.sleep(args.settle)
    out.window = time.monotonic() - began


async def fill(kubeconfig: str, count: int, concurrency: int) -> tuple[str, str]:
    """``count`` credentials stored through the library, ``concurrency`` at a time; the
    id and Secret name of the one listed last (Secrets are listed by name)."""
    gate = asyncio.Semaphore(concurrency)
    async with KubernetesSecretsProvider(FULL_NS, kubeconfig=kubeconfig) as store:

        async def one(index: int) -> None:
            async with gate:
                fields = {"api_key": f"bench-{index:05d}-" + secrets.token_hex(16)}
                await store.store(Credential(f"svc-{index:05d}", "api_key", fields))

        await asyncio.gather(*(one(index) for index in range(count)))
        last = f"svc-{max(range(count), key=lambda i: store.secret_name(f'svc-{i:05d}')):05d}"
        return last, store.secret_name(last)


async def memory(
    args: argparse.Namespace, plane: ControlPlane, tmp: Path, kube: Path, out: Results
) -> None:
    """RSS once the controller has seen every credential: /readyz, and in the full
    namespace also the digest of a Deployment that uses the credential listed last."""
    for namespace, label in ((EMPTY_NS, "empty"), (FULL_NS, "full")):
        plane.ensure_namespace(namespace)
        if label == "full":
            started = time.monotonic()
            last, secret = await fill(
                str(plane.admin_kubeconfig), args.credentials, args.concurrency
            )
            out.fill_seconds = time.monotonic() - started
            deployments = f"/apis/apps/v1/namespaces/{namespace}/deployments"
            plane.request("POST", deployments, deployment(secret, last)).raise_for_status("app")
        out.list_bytes[label] = await list_bytes(plane, namespace)
        controller = Controller(kube, namespace, tmp, rotation=args.rotation)
        try:
            ready = await controller.wait_ready(120)
            seen = None
            if label == "full":
                await wait_digest(plane, namespace, 180)
                seen = time.monotonic() - controller.started
                missing = [m["at"] for m in controller.actions("missing-credential")]
                out.unseen_after_ready = max([at - ready for at in missing if at > ready] or [0])
            await asyncio.sleep(1.0)  # what it does right after: leader, first evaluations
            rss, hwm = controller.memory()
            out.memory[label] = (rss, hwm, ready, seen)
        finally:
            controller.stop()


def report(args: argparse.Namespace, out: Results, total: float) -> None:
    ms = 1000.0
    watch50, watch99 = quantiles(out.watch)
    patch50, patch99 = quantiles(out.patch)
    write50, write99 = quantiles(out.writes)
    extra50, extra99 = patch50 - QUIET, patch99 - QUIET
    print(f"\nchange -> patch: {args.changes} changes of one credential, one opted-in Deployment")
    print(f"{'':<40}{'p50 ms':>9}{'p99 ms':>9}   vs Secret watch p50")
    print(
        f"{'store through the provider (round trip)':<40}{write50 * ms:>9.1f}{write99 * ms:>9.1f}"
    )
    print(f"{'Secret watch, plain aiohttp (baseline)':<40}{watch50 * ms:>9.1f}{watch99 * ms:>9.1f}")
    print(f"{'Deployment patched, seen by a watch':<40}{patch50 * ms:>9.1f}{patch99 * ms:>9.1f}")
    print(
        f"{'  minus the 1 s quiet period':<40}{extra50 * ms:>9.1f}{extra99 * ms:>9.1f}"
        f"   {extra50 / watch50:>6.1f}x"
    )
    print(f"pod-template patches: {out.patches} for {args.changes} changes")

    minutes = out.window / 60
    print(
        f"\nthe controller's requests (audit log, its own user) over the {args.changes} changes "
        f"in {out.window:.0f} s"
    )
    print(f"{'verb':<8}{'resource':<16}{'total':>7}{'/change':>9}{'/minute':>9}")
    for (verb, resource), count in sorted(out.requests.items(), key=lambda item: item[0][::-1]):
        per_change = count / args.changes
        print(f"{verb:<8}{resource:<16}{count:>7}{per_change:>9.2f}{count / minutes:>9.1f}")
    if not out.requests:
        print("(none)")

    rss0, hwm0, _, _ = out.memory["empty"]
    rss1, hwm1, _, _ = out.memory["full"]
    list0, list1 = out.list_bytes["empty"], out.list_bytes["full"]
    n = args.credentials
    print(f"\nmemory of a ready controller; {n} credentials stored in {out.fill_seconds:.1f} s")
    print(f"{'':<20}{'VmRSS MiB':>10}{'VmHWM MiB':>10}{'readyz s':>9}{'seen s':>8}{'list MiB':>10}")
    for label, (rss, hwm, ready, seen), listed_bytes in (
        ("empty namespace", out.memory["empty"], list0),
        (f"{n} credentials", out.memory["full"], list1),
    ):
        shown = "-" if seen is None else f"{seen:.1f}"
        cells = f"{rss / MiB:>10.1f}{hwm / MiB:>10.1f}{ready:>9.1f}{shown:>8}"
        print(f"{label:<20}{cells}{listed_bytes / MiB:>10.2f}")
    grown, peak = rss1 - rss0, hwm1 - hwm0
    listed = list1 - list0
    print(
        f"{'difference':<20}{grown / MiB:>10.1f}{peak / MiB:>10.1f}{'':>17}{listed / MiB:>10.2f}"
        f"   per credential: RSS {grown / n:.0f} B, list JSON {listed / n:.0f} B"
        f" (RSS/list {grown / max(listed, 1):.2f}x)"
    )
    print(
        "(readyz s: /readyz answered 200; seen s: a Deployment using the credential listed "
        "last got its digest, 1 s quiet period included; list: the Secret list's JSON)"
    )
    if out.unseen_after_ready:
        print(
            f"note: {out.unseen_after_ready:.1f} s after /readyz answered 200 the controller "
            "logged missing-credential for the credential listed last: /readyz does not wait "
            "for the Secret list"
        )
    lease = sum(c for (_, resource), c in out.requests.items() if resource == "leases")
    others = sum(c for (_, resource), c in out.requests.items() if resource != "leases")
    print(
        f"\nsummary: change -> patch p50 {patch50 * ms:.0f} ms, p99 {patch99 * ms:.0f} ms "
        f"({extra50 * ms:.0f} ms beyond the 1 s quiet period, {extra50 / watch50:.1f}x the "
        f"Secret watch's {watch50 * ms:.1f} ms); {others / args.changes:.2f} requests per change "
        f"besides the Lease ({lease / minutes:.1f}/min); {n} credentials: "
        f"+{grown / MiB:.1f} MiB RSS ({grown / n:.0f} B each); run {total:.0f} s"
    )


async def bench(args: argparse.Namespace, plane: ControlPlane, tmp: Path) -> Results:
    out = Results()
    kube = controller_kubeconfig(plane, tmp / "controller.yaml")
    await latency(args, plane, tmp, kube, out)
    await memory(args, plane, tmp, kube, out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--credentials", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=32, help="stores at a time")
    parser.add_argument(
        "--no-rotation", dest="rotation", action="store_false", help="run it with --no-rotation"
    )
    parser.add_argument(
        "--settle", type=float, default=QUIET + 0.2, help="seconds waited after each patch"
    )
    args = parser.parse_args()
    if args.changes < 1 or args.credentials < 1 or args.concurrency < 1:
        parser.error("--changes, --credentials and --concurrency must be at least 1")
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="nebula-bench-") as name,
        ControlPlane("bench-ctl", Path(name) / "plane") as plane,
    ):
        out = asyncio.run(bench(args, plane, Path(name)))
    report(args, out, time.monotonic() - started)


if __name__ == "__main__":
    main()
