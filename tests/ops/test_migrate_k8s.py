"""Migration through real API servers: local → plane → second plane → fresh local."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from k8s_support import kubectl, new_namespace, provider_for
from ops_support import (
    CANARY,
    digests,
    run_cli,
    sample,
    sample_id,
    secret_count,
    summary_of,
)

from nebula_credential import LocalStorageProvider
from nebula_credential.ops import Outcome, migrate
from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes
COUNT = 40


async def test_round_trip_keeps_every_digest(
    control_plane: ControlPlane, second_control_plane: ControlPlane, tmp_path: Path
) -> None:
    first_ns = new_namespace(control_plane, "mig-a")
    second_ns = new_namespace(second_control_plane, "mig-b")
    async with asyncio.timeout(300):
        async with (
            LocalStorageProvider(tmp_path / "laptop") as laptop,
            provider_for(control_plane, first_ns) as cluster_a,
            provider_for(second_control_plane, second_ns) as cluster_b,
            LocalStorageProvider(tmp_path / "fresh") as fresh,
        ):
            for i in range(COUNT):
                await laptop.store(sample(i))
            await laptop.store(sample(0))  # version 2: still a straight create below
            hops = [(laptop, cluster_a), (cluster_a, cluster_b), (cluster_b, fresh)]
            for source, destination in hops:
                summary = await migrate(source, destination, concurrency=8)
                assert summary.counts()["created"] == COUNT, summary.to_dict()
                if destination is cluster_a:
                    # One listing to plan, one POST per credential (no GET before it),
                    # one listing to read back. An id that is not its own Secret name
                    # may live under its legacy name: the provider looks there first.
                    stats = cluster_a.stats.snapshot()
                    lossy = len([i for i in range(COUNT) if sample_id(i) != sample_id(i).lower()])
                    assert stats["requests"] - stats["retries"] == 2 + COUNT + lossy
            expected = await digests(laptop)
            assert len(expected) == COUNT
            for provider in (cluster_a, cluster_b, fresh):
                assert await digests(provider) == expected
            rerun = await migrate(cluster_a, cluster_b)
            assert rerun.count(Outcome.UNCHANGED) == COUNT
            assert rerun.ok
    assert secret_count(control_plane, first_ns) == COUNT
    assert secret_count(second_control_plane, second_ns) == COUNT


async def test_differing_copy_skipped_then_overwritten_with_cas(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = new_namespace(control_plane, "mig-ow")
    async with asyncio.timeout(180):
        async with (
            LocalStorageProvider(tmp_path / "laptop") as laptop,
            provider_for(control_plane, namespace) as cluster,
        ):
            for i in range(3):
                await laptop.store(sample(i))
            await cluster.store(sample(1).evolve(owner="someone-else"))
            await cluster.store(sample(1).evolve(owner="someone-else"))  # version 2 there
            kept = await migrate(laptop, cluster)
            assert kept.count(Outcome.SKIPPED) == 1
            assert (await cluster.get("svc-1-key")).owner == "someone-else"
            forced = await migrate(laptop, cluster, overwrite=True)
            assert forced.count(Outcome.UPDATED) == 1
            assert forced.count(Outcome.UNCHANGED) == 2
            after = await cluster.get("svc-1-key")
            assert after.version == 3
            assert after.owner == "platform"
            assert await digests(cluster) == await digests(laptop)


def test_cli_dry_run_then_json_summary(control_plane: ControlPlane, tmp_path: Path) -> None:
    namespace = new_namespace(control_plane, "mig-cli")
    laptop = tmp_path / "laptop"

    async def fill() -> None:
        async with LocalStorageProvider(laptop) as store:
            for i in range(6):
                await store.store(sample(i))

    asyncio.run(asyncio.wait_for(fill(), 60))
    base = ["--data-dir", str(laptop), "--output", "json", "migrate", "--to-provider"]
    target = [
        "kubernetes",
        "--to-kubeconfig",
        str(control_plane.admin_kubeconfig),
        "--to-namespace",
        namespace,
    ]
    dry = run_cli(tmp_path, *base, *target, "--dry-run", "--scope", "org:acme", "--descendants")
    assert dry.returncode == 0, dry.stderr
    assert summary_of(dry)["created"] == 6
    assert summary_of(dry)["dry_run"] is True
    assert secret_count(control_plane, namespace) == 0
    done = run_cli(tmp_path, *base, *target, "--kind", "api_key", "--concurrency", "4")
    assert done.returncode == 0, done.stderr
    assert summary_of(done) == {
        "target": "kubernetes",
        "dry_run": False,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
        "problems": [],
    }
    assert "created Svc_0.Key" in done.stderr  # a plain line per credential off a terminal
    assert CANARY not in done.stderr
    assert secret_count(control_plane, namespace) == 2


def test_a_secret_labelled_for_adoption_is_written_over_only_with_overwrite(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """Create means create: a Secret at the name that holds no credential (what the
    "adopt it" hint makes) is skipped, then adopted with --overwrite, and each says so.
    It used to fail as "changed by another writer meanwhile; rerun", with or without
    --overwrite, so it could never be migrated."""
    namespace = new_namespace(control_plane, "mig-adopt")
    laptop = tmp_path / "laptop"
    kubeconfig = control_plane.admin_kubeconfig

    async def fill() -> None:
        async with LocalStorageProvider(laptop) as store:
            await store.store(sample(0))
            await store.store(sample(1))

    asyncio.run(asyncio.wait_for(fill(), 60))
    taken = sample_id(1)

    async def name_of() -> str:
        async with provider_for(control_plane, namespace) as cluster:
            return cluster.secret_name(taken)

    secret = asyncio.run(name_of())
    kubectl(kubeconfig, "-n", namespace, "create", "secret", "generic", secret,
            "--from-literal=note=made by hand")  # fmt: skip
    kubectl(kubeconfig, "-n", namespace, "label", "secret", secret,
            "app.kubernetes.io/managed-by=nebula-credential")  # fmt: skip
    base = ["--data-dir", str(laptop), "migrate", "--to-provider", "kubernetes",
            "--to-kubeconfig", str(kubeconfig), "--to-namespace", namespace]  # fmt: skip
    first = run_cli(tmp_path, *base)
    assert first.returncode == 0, first.stderr
    assert "1 created, 0 updated, 0 unchanged, 1 skipped, 0 failed" in first.stdout
    assert f"skipped {taken} (something that is not a credential is at its name; " in first.stderr
    assert "--overwrite" in first.stderr
    untouched = kubectl(kubeconfig, "-n", namespace, "get", "secret", secret,
                        "-o", "jsonpath={.data}")  # fmt: skip
    assert "credential.json" not in untouched
    adopted = run_cli(tmp_path, *base, "--overwrite")
    assert adopted.returncode == 0, adopted.stderr
    assert "0 created, 1 updated, 1 unchanged, 0 skipped, 0 failed" in adopted.stdout
    assert f"updated {taken} (written over what was at its name (--overwrite))" in adopted.stderr

    async def read() -> str:
        async with provider_for(control_plane, namespace) as cluster:
            return str((await cluster.get(taken)).id)

    assert asyncio.run(read()) == taken
