"""``rotate_due``: only what expires within the window, a result for each, bounded."""

from __future__ import annotations

from datetime import timedelta

from oauth_server import AuthServer
from rotate_support import oauth2

from nebula_credential import Credential
from nebula_credential.domain import CredentialId
from nebula_credential.ops import RotationResult, rotate_due
from nebula_credential.providers import CredentialProvider, ListFilter


async def test_due_rotates_exactly_what_expires_within_the_window(
    store: CredentialProvider, auth: AuthServer
) -> None:
    root = f"org:due{CredentialId.new()[-8:]}"
    soon, late, past, never = (CredentialId.new() for _ in range(4))
    broken, elsewhere = CredentialId.new(), CredentialId.new()
    await store.store(oauth2(soon, auth, auth.grant("app"), scope=root))
    await store.store(
        oauth2(late, auth, auth.grant("app"), scope=root, expires_in=timedelta(hours=2))
    )
    await store.store(
        oauth2(past, auth, auth.grant("app"), scope=f"{root}/team:a", expires_in=timedelta(0))
    )
    await store.store(oauth2(never, auth, auth.grant("app"), scope=root, expires_in=None))
    revoked = auth.grant("app")
    auth.revoke(revoked)
    await store.store(oauth2(broken, auth, revoked, scope=root))
    await store.store(oauth2(elsewhere, auth, auth.grant("app"), scope="org:other-due"))
    await store.store(Credential(CredentialId.new(), "api_key", {"api_key": "k"}, scope=root))
    seen: list[RotationResult] = []

    summary = await rotate_due(
        store,
        within=timedelta(minutes=10),
        selection=ListFilter.build(scope=root, descendants=True),
        concurrency=2,
        on_result=seen.append,
    )

    outcomes = {r.credential_id: r.outcome for r in summary.results}
    assert outcomes == {soon: "rotated", past: "rotated", broken: "failed"}
    assert seen == summary.results
    assert summary.not_due == 2  # late, never (the api_key is not oauth2)
    assert summary.counts() == {"rotated": 2, "failed": 1, "skipped": 0, "not_due": 2}
    assert not summary.ok
    failed = next(r for r in summary.results if r.outcome == "failed")
    assert failed.error_code == "invalid_grant"
    assert auth.hits["/token"] == 3
    assert (await store.get(elsewhere)).version == 1
    assert (await store.get(late)).version == 1


async def test_due_with_nothing_due_is_ok(store: CredentialProvider, auth: AuthServer) -> None:
    root = f"org:quiet{CredentialId.new()[-8:]}"
    await store.store(
        oauth2(CredentialId.new(), auth, "rt", scope=root, expires_in=timedelta(days=1))
    )
    summary = await rotate_due(store, selection=ListFilter.build(scope=root))
    assert summary.ok
    assert (summary.results, summary.not_due) == ([], 1)
    assert sum(auth.hits.values()) == 0
