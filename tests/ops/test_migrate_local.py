"""Migration between two real local stores: plan, idempotence, overwrite, dry run."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nebula_credential import Credential, LocalStorageProvider
from nebula_credential.ops import Outcome, Progress, content_digest, migrate
from nebula_credential.providers import ListFilter

CANARY = "canary-5e0c-ops-do-not-print"


def sample(i: int, scope: str = "org:acme") -> Credential:
    return Credential(
        f"cred-{i}",
        "api_key",
        {"api_key": f"{CANARY}-{i}"},
        scope=scope,
        owner="alice",
        tags={"env": "prod"},
    )


async def fill(provider: LocalStorageProvider, count: int) -> None:
    for i in range(count):
        await provider.store(sample(i))


async def digests(provider: LocalStorageProvider) -> dict[str, str]:
    return {c.id: content_digest(c) async for c in provider.list_all()}


async def test_migrate_copies_then_leaves_identical_copies_alone(tmp_path: Path) -> None:
    async with (
        LocalStorageProvider(tmp_path / "a") as source,
        LocalStorageProvider(tmp_path / "b") as destination,
    ):
        await fill(source, 5)
        await source.store(sample(0))  # version 2 in the source: digests ignore versions
        seen: list[Progress] = []
        async with asyncio.timeout(60):
            first = await migrate(source, destination, on_progress=seen.append)
            second = await migrate(source, destination)
        assert first.counts()["created"] == 5
        assert first.ok
        assert [p.done for p in seen] == [1, 2, 3, 4, 5]
        assert {p.total for p in seen} == {5}
        assert second.counts() == {
            "created": 0,
            "updated": 0,
            "unchanged": 5,
            "skipped": 0,
            "failed": 0,
        }
        assert await digests(source) == await digests(destination)
        # Copies are created (not replaced) with the source's version numbers: a rollback
        # at the destination finds the kept previous version right below, as at the source.
        versions = {c.id: c.version async for c in destination.list_all()}
        assert versions == {c.id: c.version async for c in source.list_all()}
        assert versions["cred-0"] == 2


async def test_differing_copy_is_skipped_unless_overwrite(tmp_path: Path) -> None:
    async with (
        LocalStorageProvider(tmp_path / "a") as source,
        LocalStorageProvider(tmp_path / "b") as destination,
    ):
        await fill(source, 3)
        await destination.store(sample(1).evolve(fields={"api_key": "other-value"}))
        async with asyncio.timeout(60):
            skipped = await migrate(source, destination)
            dry = await migrate(source, destination, overwrite=True, dry_run=True)
            after_dry = await destination.get("cred-1")
            forced = await migrate(source, destination, overwrite=True)
        assert skipped.count(Outcome.SKIPPED) == 1
        assert skipped.ok
        problem = skipped.to_dict()["problems"]
        assert problem == [
            {
                "id": "cred-1",
                "outcome": "skipped",
                "reason": "destination copy differs; use --overwrite",
            }
        ]
        assert dry.count(Outcome.UPDATED) == 1
        assert after_dry.reveal("api_key") == "other-value"
        assert forced.count(Outcome.UPDATED) == 1
        assert forced.count(Outcome.UNCHANGED) == 2
        assert (await destination.get("cred-1")).version == 2
        assert await digests(source) == await digests(destination)
        assert CANARY not in repr(skipped) + repr(forced)


async def test_dry_run_writes_nothing_and_selection_filters(tmp_path: Path) -> None:
    async with (
        LocalStorageProvider(tmp_path / "a") as source,
        LocalStorageProvider(tmp_path / "b") as destination,
    ):
        await fill(source, 3)
        await source.store(sample(9, scope="org:other"))
        async with asyncio.timeout(60):
            dry = await migrate(source, destination, dry_run=True)
            assert await digests(destination) == {}
            picked = await migrate(
                source, destination, selection=ListFilter.build(scope="org:other")
            )
        assert dry.dry_run
        assert dry.count(Outcome.CREATED) == 4
        assert [r.credential_id for r in picked.results] == ["cred-9"]
        assert set(await digests(destination)) == {"cred-9"}


async def test_migrate_does_not_copy_an_old_rotation_lease_tag(tmp_path: Path) -> None:
    """Earlier versions kept a rotation's lease in the tag ``nebula-credential/rotating``;
    a copy must not claim, at its destination, a rotation that is not running there."""
    async with (
        LocalStorageProvider(tmp_path / "a") as source,
        LocalStorageProvider(tmp_path / "b") as destination,
    ):
        leased = sample(0).evolve(tags={"env": "prod", "nebula-credential/rotating": "x y"})
        await source.store(leased)
        summary = await migrate(source, destination)
        assert summary.counts()["created"] == 1
        copy = await destination.get("cred-0")
        assert dict(copy.tags) == {"env": "prod"}
        assert copy.reveal("api_key") == f"{CANARY}-0"
