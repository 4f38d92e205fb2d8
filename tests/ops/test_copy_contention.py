"""Contention fails one credential, not the run: another writer holding the store's
lock, or writing the same Secret meanwhile, costs only the credential it was in the
way of; the others are still copied."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from k8s_support import new_namespace, patch_credential_json, provider_for
from ops_support import CANARY, digests, sample, sample_id

from nebula_credential import Credential, LocalStorageProvider
from nebula_credential.ops import Outcome, Progress, migrate
from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.envtest.plugin import PlaneFactory

COUNT = 6


async def test_a_writer_holding_the_store_lock_fails_one_credential_only(tmp_path: Path) -> None:
    async with (
        LocalStorageProvider(tmp_path / "laptop") as laptop,
        LocalStorageProvider(tmp_path / "target", lock_timeout=0.5) as target,
    ):
        for i in range(COUNT):
            await laptop.store(sample(i))
        await target.store(Credential("already-there", "api_key", {"api_key": CANARY}))
        # Another writer: a transaction that holds the target's write lock until the
        # first credential has given up waiting for it.
        other = sqlite3.connect(target.path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            seen: list[Progress] = []

            def release_after_the_first_failure(step: Progress) -> None:
                seen.append(step)
                if step.result.outcome is Outcome.FAILED and other.in_transaction:
                    other.execute("ROLLBACK")

            async with asyncio.timeout(60):
                summary = await migrate(
                    laptop, target, concurrency=1, on_progress=release_after_the_first_failure
                )
        finally:
            other.close()
    failed = summary.failures
    assert len(failed) == 1, summary.to_dict()
    assert "locked by another process" in (failed[0].reason or "")
    assert "not attempted" not in repr(summary.to_dict())
    assert summary.count(Outcome.CREATED) == COUNT - 1
    assert [s.done for s in seen] == list(range(1, COUNT + 1))
    async with LocalStorageProvider(tmp_path / "target") as target:
        landed = await digests(target)
    assert len(landed) == COUNT  # five copies and the credential that was there before
    assert failed[0].credential_id not in landed
    # A rerun copies the one that failed.
    async with (
        LocalStorageProvider(tmp_path / "laptop") as laptop,
        LocalStorageProvider(tmp_path / "target") as target,
    ):
        rerun = await migrate(laptop, target)
    assert rerun.count(Outcome.CREATED) == 1
    assert rerun.count(Outcome.UNCHANGED) == COUNT - 1


@pytest.mark.kubernetes
async def test_a_concurrent_writer_on_one_secret_fails_that_credential_only(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = new_namespace(control_plane, "contend")
    contended = sample_id(3)
    async with asyncio.timeout(120):
        async with (
            LocalStorageProvider(tmp_path / "laptop") as laptop,
            provider_for(control_plane, namespace) as cluster,
            provider_for(control_plane, namespace) as other_writer,
        ):
            for i in range(20):
                await laptop.store(sample(i))
                await cluster.store(sample(i).evolve(owner="before"))
            stop, going = asyncio.Event(), asyncio.Event()
            writes = 0

            async def keep_writing() -> None:
                nonlocal writes
                while not stop.is_set() and writes < 2000:
                    await other_writer.store(sample(3).evolve(owner=f"writer-{writes}"))
                    writes += 1
                    if writes == 3:
                        going.set()

            writer = asyncio.create_task(keep_writing())
            try:
                await going.wait()  # the other writer is going
                summary = await migrate(laptop, cluster, overwrite=True, concurrency=4)
            finally:
                stop.set()
                await writer
    assert summary.count(Outcome.UPDATED) >= 19, summary.to_dict()
    for failure in summary.failures:
        assert failure.credential_id == contended
        assert "changed by another writer" in (failure.reason or "")
    assert CANARY not in repr(summary.to_dict())


@pytest.mark.kubernetes
async def test_a_copy_spoiled_before_its_read_back_fails_alone(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """Another writer makes one copy unreadable between its write and the read-back:
    that credential fails, the others are verified as written."""
    namespace = new_namespace(control_plane, "spoil")
    spoiled = sample_id(2)

    def spoil_after_its_write(step: Progress) -> None:
        if step.result.credential_id == spoiled and step.result.outcome is Outcome.CREATED:
            patch_credential_json(control_plane, namespace, f"nebula-credentials-{spoiled}", b"{")

    async with asyncio.timeout(120):
        async with (
            LocalStorageProvider(tmp_path / "laptop") as laptop,
            provider_for(control_plane, namespace) as cluster,
        ):
            for i in range(COUNT):
                await laptop.store(sample(i))
            summary = await migrate(laptop, cluster, on_progress=spoil_after_its_write)
    assert [f.credential_id for f in summary.failures] == [spoiled], summary.to_dict()
    assert "unreadable when read back" in (summary.failures[0].reason or "")
    assert summary.count(Outcome.CREATED) == COUNT - 1


@pytest.mark.kubernetes
async def test_a_source_gone_down_mid_copy_stops_the_run(
    control_plane_factory: PlaneFactory, tmp_path: Path
) -> None:
    """The previous versions are read from the source while copying: once the source
    is down, the run stops (the rest "not attempted") instead of each credential
    waiting out its own retries."""
    plane = control_plane_factory("ops-source-down")
    namespace = new_namespace(plane, "src-down")
    total = 40

    def stop_the_source_after_the_first(step: Progress) -> None:
        if step.done == 1:
            plane.stop_apiserver()

    try:
        async with asyncio.timeout(180):
            async with (
                provider_for(plane, namespace) as cluster,
                LocalStorageProvider(tmp_path / "backup") as backup,
            ):
                for i in range(total):
                    await cluster.store(sample(i))
                summary = await migrate(
                    cluster, backup, concurrency=2, on_progress=stop_the_source_after_the_first
                )
    finally:
        plane.start_apiserver()
    reasons = [f.reason or "" for f in summary.failures]
    assert summary.count(Outcome.CREATED) >= 1
    assert len(reasons) >= total - 3
    assert sum(r.startswith("not attempted: the source is unavailable") for r in reasons) >= 30
