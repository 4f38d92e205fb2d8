"""Rotations that race: each other, a hand edit, a crashed rotation's lease."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from oauth_server import AuthServer
from rotate_support import ACCESS, oauth2

from nebula_credential import Conflict
from nebula_credential.domain import CredentialId, utcnow
from nebula_credential.ops import LEASE_TAG, rotate
from nebula_credential.providers import CredentialProvider


async def test_two_concurrent_rotations_one_wins_and_the_endpoint_is_hit_once(
    store: CredentialProvider, auth: AuthServer
) -> None:
    cid = CredentialId.new()
    await store.store(oauth2(cid, auth, auth.grant("app"), path="/token-slow"))
    outcomes = await asyncio.gather(rotate(store, cid), rotate(store, cid), return_exceptions=True)
    kinds = sorted(type(o).__name__ for o in outcomes)
    assert kinds == ["Conflict", "RotationResult"]
    assert auth.hits["/token-slow"] == 1
    assert (await store.get(cid)).reveal("access_token") == auth.issued[-1]["access_token"]


async def test_hand_edit_during_rotation_is_merged_when_it_kept_the_refresh_token(
    store: CredentialProvider, auth: AuthServer
) -> None:
    cid = CredentialId.new()
    await store.store(oauth2(cid, auth, auth.grant("app"), path="/token-slow"))
    task = asyncio.create_task(rotate(store, cid))
    await asyncio.sleep(0.7)  # the rotation holds the lease and waits for the endpoint
    leased = await store.get(cid)
    assert LEASE_TAG in leased.tags
    await store.store(leased.evolve(owner="someone-else"), expected_version=leased.version)
    result = await asyncio.wait_for(task, 20)
    now = await store.get(cid)
    assert result.outcome == "rotated"
    assert now.owner == "someone-else"
    assert now.reveal("access_token") == auth.issued[-1]["access_token"]
    assert LEASE_TAG not in now.tags


async def test_hand_edit_that_replaced_the_refresh_token_wins_over_the_rotation(
    store: CredentialProvider, auth: AuthServer
) -> None:
    cid = CredentialId.new()
    await store.store(oauth2(cid, auth, auth.grant("app"), path="/token-slow"))
    task = asyncio.create_task(rotate(store, cid))
    await asyncio.sleep(0.7)
    leased = await store.get(cid)
    edited = leased.evolve(fields={"refresh_token": "rt-reauthorized"}, tags={"env": "prod"})
    await store.store(edited, expected_version=leased.version)
    with pytest.raises(Conflict) as caught:
        await asyncio.wait_for(task, 20)
    assert "discarded" in str(caught.value)
    now = await store.get(cid)
    assert now.reveal("refresh_token") == "rt-reauthorized"
    assert now.reveal("access_token") == ACCESS


async def test_a_stale_lease_is_taken_over(store: CredentialProvider, auth: AuthServer) -> None:
    cid = CredentialId.new()
    stale = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    credential = oauth2(cid, auth, auth.grant("app"))
    await store.store(credential.evolve(tags={**credential.tags, LEASE_TAG: f"{stale} dead"}))
    result = await rotate(store, cid)
    assert result.outcome == "rotated"
    now = await store.get(cid)
    assert LEASE_TAG not in now.tags
    previous = await store.retrieve_previous(cid)
    assert previous is not None
    assert LEASE_TAG not in previous.tags
    fresh = utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    await store.store(now.evolve(tags={**now.tags, LEASE_TAG: f"{fresh} live"}))
    with pytest.raises(Conflict):
        await rotate(store, cid)
