"""Rotations that race: each other, a hand edit, a crashed rotation's lease."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from oauth_server import AuthServer
from rotate_support import ACCESS, oauth2

from nebula_credential import Conflict, LeaseHeld
from nebula_credential.domain import CredentialId, format_timestamp, utcnow
from nebula_credential.local import FileJournal, LocalStorageProvider
from nebula_credential.ops import LEASE_TAG, RotateOptions, resume, rotate
from nebula_credential.providers import CredentialProvider


async def _wait_for_issue(auth: AuthServer, path: str, count: int = 1) -> None:
    """Until the endpoint at ``path`` was called ``count`` times (at most 10 s)."""
    for _ in range(200):
        if auth.hits[path] >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} was not called")


async def test_two_concurrent_rotations_one_wins_and_the_endpoint_is_hit_once(
    store: CredentialProvider, auth: AuthServer
) -> None:
    cid = CredentialId.new()
    before = await store.store(oauth2(cid, auth, auth.grant("app"), path="/token-slow"))
    outcomes = await asyncio.gather(rotate(store, cid), rotate(store, cid), return_exceptions=True)
    kinds = sorted(type(o).__name__ for o in outcomes)
    assert kinds == ["LeaseHeld", "RotationResult"]
    assert auth.hits["/token-slow"] == 1
    now = await store.get(cid)
    assert now.reveal("access_token") == auth.issued[-1]["access_token"]
    assert now.version == before.version + 1


async def test_a_held_lease_changes_nothing_in_the_credential(
    store: CredentialProvider, auth: AuthServer
) -> None:
    cid = CredentialId.new()
    before = await store.store(oauth2(cid, auth, auth.grant("app")))
    lease = await store.acquire_lease(cid, seconds=60)
    assert await store.get(cid) == before  # the lease is outside the credential
    with pytest.raises(LeaseHeld) as caught:
        await rotate(store, cid)
    assert "being rotated by another process" in str(caught.value)
    assert auth.hits["/token"] == 0
    assert await store.get(cid) == before
    await store.release_lease(lease)
    result = await rotate(store, cid)
    assert (result.version_before, result.version_after) == (before.version, before.version + 1)


async def test_hand_edit_during_rotation_is_merged_when_it_kept_the_refresh_token(
    store: CredentialProvider, auth: AuthServer
) -> None:
    cid = CredentialId.new()
    await store.store(oauth2(cid, auth, auth.grant("app"), path="/token-slow"))
    task = asyncio.create_task(rotate(store, cid))
    await _wait_for_issue(auth, "/token-slow")  # the rotation holds the lease and waits
    current = await store.get(cid)
    edited = await store.store(
        current.evolve(owner="someone-else"), expected_version=current.version
    )
    result = await asyncio.wait_for(task, 20)
    now = await store.get(cid)
    assert result.outcome == "rotated"
    assert (result.version_before, result.version_after) == (edited.version, edited.version + 1)
    assert now.owner == "someone-else"
    assert now.reveal("access_token") == auth.issued[-1]["access_token"]
    assert await store.retrieve_previous(cid) == edited


async def test_hand_edit_that_replaced_the_refresh_token_keeps_the_grant_for_later(
    store: CredentialProvider, auth: AuthServer, tmp_path: Path
) -> None:
    """The rotation does not overwrite a re-authorized credential, and does not lose the
    tokens it was issued either: they wait in the journal until the user decides."""
    journal = FileJournal(tmp_path / "journal")
    options = RotateOptions(journal=journal)
    cid = CredentialId.new()
    await store.store(oauth2(cid, auth, auth.grant("app"), path="/token-slow"))
    task = asyncio.create_task(rotate(store, cid, options=options))
    await _wait_for_issue(auth, "/token-slow")
    current = await store.get(cid)
    edited = current.evolve(fields={"refresh_token": "rt-reauthorized"}, tags={"env": "prod"})
    await store.store(edited, expected_version=current.version)
    with pytest.raises(Conflict) as caught:
        await asyncio.wait_for(task, 20)
    message = str(caught.value)
    assert "no longer holds the refresh token that was spent" in message
    assert "--resume --force" in message
    now = await store.get(cid)
    assert now.reveal("refresh_token") == "rt-reauthorized"
    assert now.reveal("access_token") == ACCESS
    assert journal.load(store.location, cid) is not None
    # Without --force the kept grant is not written over the re-authorized credential.
    with pytest.raises(Conflict):
        await resume(store, cid, options=options)
    done = await resume(store, cid, options=options, force=True)
    assert done.resumed
    assert (await store.get(cid)).reveal("access_token") == auth.issued[-1]["access_token"]
    assert journal.load(store.location, cid) is None
    assert auth.hits["/token-slow"] == 1


async def test_an_expired_lease_is_taken_over(store: CredentialProvider, auth: AuthServer) -> None:
    cid = CredentialId.new()
    before = await store.store(oauth2(cid, auth, auth.grant("app")))
    await store.acquire_lease(cid, seconds=1)  # a rotation that crashed
    with pytest.raises(LeaseHeld):
        await rotate(store, cid)
    # The API server's clock counts whole seconds (creationTimestamp and Date).
    await asyncio.sleep(1.2 if store.name == "local" else 2.5)
    result = await rotate(store, cid)
    assert (result.outcome, result.version_after) == ("rotated", before.version + 1)
    assert auth.hits["/token"] == 1


async def test_a_lease_left_by_an_earlier_version_in_the_tags_is_no_lease(
    store: CredentialProvider, auth: AuthServer
) -> None:
    """Earlier versions kept a live lease as a tag; rotation ignores it and drops it."""
    cid = CredentialId.new()
    fresh = format_timestamp(utcnow())
    credential = oauth2(cid, auth, auth.grant("app"))
    await store.store(credential.evolve(tags={**credential.tags, LEASE_TAG: f"{fresh} old"}))
    result = await rotate(store, cid)
    assert result.outcome == "rotated"
    assert LEASE_TAG not in (await store.get(cid)).tags


async def test_a_lease_from_the_future_or_with_an_absurd_term_is_stale(
    tmp_path: Path, auth: AuthServer
) -> None:
    """A hand-edited lease row never blocks rotation for good (the local store's table;
    the API server sets a Lease's creationTimestamp itself, so no client can forge one)."""
    async with LocalStorageProvider(tmp_path / "store", durable=False) as store:
        await store.store(oauth2("svc", auth, auth.grant("app")))
        await store.acquire_lease("svc", seconds=60)
        db = sqlite3.connect(store.path)
        future = format_timestamp(utcnow() + timedelta(days=2))
        with db:
            db.execute("UPDATE leases SET acquired_at = ? WHERE id = 'svc'", (future,))
        result = await rotate(store, "svc")
        assert result.outcome == "rotated"
        await store.acquire_lease("svc", seconds=60)
        with db:
            db.execute("UPDATE leases SET seconds = 1e12 WHERE id = 'svc'")
        assert (await rotate(store, "svc")).outcome == "rotated"
        db.close()
        assert auth.hits["/token"] == 2
