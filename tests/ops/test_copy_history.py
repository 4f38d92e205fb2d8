"""A copy is the same credential with its history: the previous version rotation keeps,
the timestamps and the version number travel with it (local → cluster → cluster →
local, and replicate), so a rollback works where the copy landed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from k8s_support import new_namespace, provider_for
from ops_support import CANARY, sample, sample_id

from nebula_credential import Credential, LocalStorageProvider
from nebula_credential.ops import Outcome, content_digest, migrate, replicate, rollback
from nebula_credential.providers import CredentialProvider
from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes
ROTATED = (1, 4)  # the samples that were "rotated": a new version, the old one kept


async def fill(laptop: LocalStorageProvider) -> None:
    """Six credentials; two of them stored again with the replaced version kept, as a
    rotation does (its new secret value differs from the kept one)."""
    for i in range(6):
        first = await laptop.store(sample(i))
        if i in ROTATED:
            newer = first.evolve(fields={next(iter(first.secret_field_names)): f"{CANARY}-new"})
            await laptop.store(newer, expected_version=first.version, previous=first)


async def assert_same_history(source: CredentialProvider, copy: CredentialProvider) -> None:
    for i in range(6):
        cid = sample_id(i)
        want, got = await source.get(cid), await copy.get(cid)
        assert content_digest(got) == content_digest(want)
        assert (got.version, got.created_at, got.updated_at) == (
            want.version,
            want.created_at,
            want.updated_at,
        ), cid
        kept, copied = await source.retrieve_previous(cid), await copy.retrieve_previous(cid)
        if i in ROTATED:
            assert kept is not None
            assert copied is not None
            assert content_digest(copied) == content_digest(kept)
            assert copied.version == kept.version == got.version - 1
        else:
            assert kept is None
            assert copied is None


async def test_previous_versions_and_timestamps_travel_with_every_hop(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    first_ns = new_namespace(control_plane, "hist-a")
    second_ns = new_namespace(control_plane, "hist-b")
    async with asyncio.timeout(240):
        async with (
            LocalStorageProvider(tmp_path / "laptop") as laptop,
            provider_for(control_plane, first_ns) as cluster_a,
            provider_for(control_plane, second_ns) as cluster_b,
            LocalStorageProvider(tmp_path / "fresh") as fresh,
        ):
            await fill(laptop)
            for source, destination in [(laptop, cluster_a), (cluster_a, cluster_b)]:
                summary = await migrate(source, destination, concurrency=4)
                assert summary.count(Outcome.CREATED) == 6, summary.to_dict()
                await assert_same_history(laptop, destination)
            summary = await migrate(cluster_b, fresh)
            assert summary.count(Outcome.CREATED) == 6, summary.to_dict()
            await assert_same_history(laptop, fresh)
            # Where it landed, the rotation can be undone without --force.
            undone = await rollback(cluster_b, sample_id(1))
            assert undone.ok, undone
            assert (await cluster_b.get(sample_id(1))).reveal("password") == f"{CANARY}-1"
            undone = await rollback(fresh, sample_id(4))
            assert undone.ok, undone
            assert (await fresh.get(sample_id(4))).reveal("password") == f"{CANARY}-4"


async def test_replicate_carries_the_previous_version_and_timestamps(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = new_namespace(control_plane, "hist-repl")
    async with asyncio.timeout(120):
        async with (
            LocalStorageProvider(tmp_path / "laptop") as laptop,
            provider_for(control_plane, namespace) as cluster,
        ):
            await fill(laptop)
            report = await replicate(laptop, {"cluster": cluster})
            assert report["cluster"].count(Outcome.CREATED) == 6
            await assert_same_history(laptop, cluster)


async def test_an_overwrite_keeps_the_destination_versions_going_up(tmp_path: Path) -> None:
    """A copy written over a newer destination copy gets the next version there, not
    the (lower) source number: versions at a destination never go back."""
    async with (
        LocalStorageProvider(tmp_path / "a") as source,
        LocalStorageProvider(tmp_path / "b") as destination,
    ):
        stored = await source.store(Credential("c", "api_key", {"api_key": CANARY}))
        for _ in range(3):
            await destination.store(Credential("c", "api_key", {"api_key": "other"}))
        summary = await migrate(source, destination, overwrite=True)
        assert summary.count(Outcome.UPDATED) == 1
        copy = await destination.get("c")
        assert copy.version == 4
        assert (copy.created_at, copy.updated_at) == (stored.created_at, stored.updated_at)
