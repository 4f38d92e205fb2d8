"""Many writers on one credential: compare-and-swap on resourceVersion loses nothing."""

from __future__ import annotations

import asyncio

import pytest
from k8s_support import ControlPlane, new_namespace, provider_for, secret_json

from nebula_credential import Conflict, Credential

pytestmark = pytest.mark.kubernetes

WRITERS = 50


@pytest.fixture(scope="module")
def namespace(control_plane: ControlPlane) -> str:
    return new_namespace(control_plane, "writers")


async def test_fifty_read_modify_write_writers_lose_no_update(
    control_plane: ControlPlane, namespace: str
) -> None:
    async with provider_for(control_plane, namespace) as provider:
        await provider.store(Credential("shared", "generic", {"seed": "0"}))
        conflicts = 0

        async def writer(index: int) -> None:
            nonlocal conflicts
            for _ in range(500):
                current = await provider.get("shared")
                try:
                    await provider.store(
                        current.evolve(fields={f"w{index:02d}": str(index)}),
                        expected_version=current.version,
                    )
                    return
                except Conflict:
                    conflicts += 1
            raise AssertionError(f"writer {index} never won")

        await asyncio.gather(*(writer(i) for i in range(WRITERS)))
        final = await provider.get("shared")
    assert final.version == 1 + WRITERS
    assert set(final.fields) == {"seed"} | {f"w{i:02d}" for i in range(WRITERS)}
    assert all(final.reveal(f"w{i:02d}") == str(i) for i in range(WRITERS))
    assert conflicts > 0  # the writers really raced
    on_server = secret_json(control_plane, namespace, "nebula-credentials-shared")
    assert on_server["metadata"]["annotations"]["nebula-credential/version"] == str(1 + WRITERS)
    assert len(on_server["data"]) == 2 + WRITERS  # credential.json + one key per field


async def test_blind_writers_are_serialised_without_losing_a_version(
    control_plane: ControlPlane, namespace: str
) -> None:
    async with provider_for(control_plane, namespace, conflict_retries=60) as provider:
        results = await asyncio.gather(
            *(
                provider.store(Credential("blind", "api_key", {"api_key": f"k{i}"}))
                for i in range(WRITERS)
            )
        )
        final = await provider.get("blind")
    # Each write saw the one before it: versions 1..50, each exactly once.
    assert sorted(r.version for r in results) == list(range(1, WRITERS + 1))
    assert final.version == WRITERS
    winner = next(r for r in results if r.version == WRITERS)
    assert final.reveal("api_key") == winner.reveal("api_key")
    assert final.created_at == min(r.created_at for r in results if r.created_at)


async def test_unpinned_writers_in_separate_clients_all_win(
    control_plane: ControlPlane, namespace: str
) -> None:
    """Like 40 CLI processes storing one id at once, without --expected-version."""
    writers = 40
    providers = [provider_for(control_plane, namespace) for _ in range(writers)]
    try:
        async with asyncio.timeout(120):
            results = await asyncio.gather(
                *(
                    p.store(Credential("unpinned", "api_key", {"api_key": f"k{i}"}))
                    for i, p in enumerate(providers)
                ),
                return_exceptions=True,
            )
            final = await providers[0].get("unpinned")
    finally:
        for p in providers:
            await p.close()
    failures = [type(r).__name__ for r in results if isinstance(r, BaseException)]
    assert failures == []
    assert final.version == writers
