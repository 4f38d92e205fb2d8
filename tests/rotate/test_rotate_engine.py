"""Rotation against a real authorization server, on the local store and a real API server."""

from __future__ import annotations

import time

import pytest
from oauth_server import AuthServer
from rotate_support import ACCESS, oauth2

from nebula_credential import NotFound
from nebula_credential.domain import (
    CredentialId,
    NotRotatable,
    RotationFailed,
    TokenEndpointUnreachable,
    parse_timestamp,
    utcnow,
)
from nebula_credential.ops import RotateOptions, content_digest, rollback, rotate
from nebula_credential.ops.token_endpoint import RefreshRequest, refresh
from nebula_credential.providers import CredentialProvider


async def test_rotation_writes_new_tokens_and_keeps_the_previous_version(
    store: CredentialProvider, auth: AuthServer
) -> None:
    old_refresh = auth.grant("app")
    cid = CredentialId.new()
    original = await store.store(oauth2(cid, auth, old_refresh))

    result = await rotate(store, cid)

    issued = auth.issued[-1]
    assert auth.hits["/token"] == 1
    assert (result.outcome, result.version_before, result.new_refresh_token) == (
        "rotated",
        original.version,
        True,
    )
    now = await store.get(cid)
    assert result.version_after == now.version
    assert now.reveal("access_token") == issued["access_token"] != ACCESS
    assert now.reveal("refresh_token") == issued["refresh_token"] != old_refresh
    for kept in ("client_id", "client_secret", "token_url", "scopes"):
        assert now.reveal(kept) == original.reveal(kept)
    assert (now.scope, now.owner, dict(now.tags)) == (
        original.scope,
        original.owner,
        dict(original.tags),
    )
    assert result.version_after == original.version + 1
    # The access token's expiry is a field; the credential's own expiry is the user's.
    assert now.expires_at == original.expires_at
    noted = parse_timestamp(now.fields["access_token_expires_at"], "expiry")
    assert 3500 < (noted - utcnow()).total_seconds() <= 3600
    assert now.fields["access_token_expires_at"] == result.expires_at
    assert await store.retrieve_previous(cid) == original
    # The server rotated the refresh token: the old one is refused from now on.
    with pytest.raises(RotationFailed) as caught:
        await refresh(
            RefreshRequest(auth.token_url(), "app", "client-secret-canary-5c1e", old_refresh)
        )
    assert caught.value.error_code == "invalid_grant"


async def test_without_a_new_refresh_token_the_old_one_is_kept(
    store: CredentialProvider, auth: AuthServer
) -> None:
    auth.rotate_refresh = False
    old_refresh = auth.grant("app")
    cid = CredentialId.new()
    await store.store(oauth2(cid, auth, old_refresh))
    result = await rotate(store, cid)
    assert result.new_refresh_token is False
    now = await store.get(cid)
    assert now.reveal("refresh_token") == old_refresh
    assert now.reveal("access_token") == auth.issued[-1]["access_token"]


async def test_revoked_refresh_token_leaves_the_credential_as_it_was(
    store: CredentialProvider, auth: AuthServer, capsys: pytest.CaptureFixture[str]
) -> None:
    refresh_token = auth.grant("app")
    auth.revoke(refresh_token)
    cid = CredentialId.new()
    before = await store.store(oauth2(cid, auth, refresh_token))

    with pytest.raises(RotationFailed) as caught:
        await rotate(store, cid)

    after = await store.get(cid)
    assert type(caught.value) is RotationFailed
    assert (caught.value.error_code, caught.value.status) == ("invalid_grant", 400)
    assert auth.hits["/token"] == 1
    assert after == before  # content and version: a failed rotation changes nothing
    assert await store.retrieve_previous(cid) is None
    assert refresh_token not in str(caught.value)
    with capsys.disabled():
        print(
            f"\n[revoked-token figures] provider={store.name} error_code="
            f"{caught.value.error_code} status={caught.value.status} version before="
            f"{before.version} after={after.version} content unchanged=True endpoint calls="
            f"{auth.hits['/token']} message={caught.value}"
        )


async def test_expired_refresh_token_is_invalid_grant(
    store: CredentialProvider, auth: AuthServer
) -> None:
    cid = CredentialId.new()
    before = await store.store(oauth2(cid, auth, auth.grant("app", expired=True)))
    with pytest.raises(RotationFailed) as caught:
        await rotate(store, cid)
    assert caught.value.error_code == "invalid_grant"
    assert content_digest(await store.get(cid)) == content_digest(before)


async def test_wrong_client_secret_is_invalid_client_after_both_methods(
    store: CredentialProvider, auth: AuthServer
) -> None:
    cid = CredentialId.new()
    credential = oauth2(cid, auth, auth.grant("app"), client_secret="wrong-secret-canary")
    before = await store.store(credential)
    with pytest.raises(RotationFailed) as caught:
        await rotate(store, cid)
    assert (caught.value.error_code, caught.value.status) == ("invalid_client", 401)
    assert auth.hits["/token"] == 2  # basic, then post: the client was refused both times
    assert content_digest(await store.get(cid)) == content_digest(before)


async def test_client_secret_post_fallback(store: CredentialProvider, auth: AuthServer) -> None:
    cid = CredentialId.new()
    await store.store(oauth2(cid, auth, auth.grant("poster"), client="poster"))
    result = await rotate(store, cid)
    assert result.outcome == "rotated"
    assert auth.hits["/token"] == 2  # basic refused with invalid_client, then post
    assert (await store.get(cid)).reveal("access_token") == auth.issued[-1]["access_token"]


@pytest.mark.parametrize(
    ("path", "error", "code"),
    [
        ("/fail/503", TokenEndpointUnreachable, "temporarily_unavailable"),
        ("/fail/500", TokenEndpointUnreachable, "temporarily_unavailable"),
        ("/html", RotationFailed, "invalid_response"),
        ("/no-access-token", RotationFailed, "invalid_response"),
        ("/huge", RotationFailed, "invalid_response"),
        ("/gzip", RotationFailed, "invalid_response"),
        ("/weird-error", RotationFailed, "unknown_error"),
    ],
)
async def test_bad_endpoint_answers_are_typed_and_change_nothing(
    store: CredentialProvider,
    auth: AuthServer,
    path: str,
    error: type[RotationFailed],
    code: str,
) -> None:
    cid = CredentialId.new()
    before = await store.store(oauth2(cid, auth, auth.grant("app"), path=path))
    started = time.monotonic()
    with pytest.raises(error) as caught:
        await rotate(store, cid)
    assert time.monotonic() - started < 10
    assert type(caught.value) is error
    assert caught.value.error_code == code
    assert "\x1b" not in str(caught.value)
    assert await store.get(cid) == before


async def test_slow_endpoint_times_out_within_the_bound(
    store: CredentialProvider, auth: AuthServer
) -> None:
    cid = CredentialId.new()
    before = await store.store(oauth2(cid, auth, auth.grant("app"), path="/slow"))
    started = time.monotonic()
    with pytest.raises(TokenEndpointUnreachable) as caught:
        await rotate(store, cid, options=RotateOptions(timeout=1.0))
    assert 0.9 < time.monotonic() - started < 6
    assert caught.value.error_code == "timeout"
    assert content_digest(await store.get(cid)) == content_digest(before)


async def test_endpoint_down_is_unreachable(store: CredentialProvider, auth: AuthServer) -> None:
    cid = CredentialId.new()
    # A port nothing listens on: bind one, note it, close it.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await store.store(oauth2(cid, auth, "rt-x", token_url=f"http://127.0.0.1:{port}/token"))
    with pytest.raises(TokenEndpointUnreachable) as caught:
        await rotate(store, cid, options=RotateOptions(timeout=5))
    assert caught.value.error_code == "unreachable"


async def test_rollback_restores_and_a_second_rollback_toggles(
    store: CredentialProvider, auth: AuthServer
) -> None:
    cid = CredentialId.new()
    with pytest.raises(NotFound):
        await rollback(store, cid)
    original = await store.store(oauth2(cid, auth, auth.grant("app")))
    with pytest.raises(NotFound) as nothing:
        await rollback(store, cid)
    assert "no previous version" in str(nothing.value)
    await rotate(store, cid)
    rotated = await store.get(cid)

    back = await rollback(store, cid)

    restored = await store.get(cid)
    assert back.outcome == "rolled_back"
    assert (back.version_before, back.version_after) == (rotated.version, rotated.version + 1)
    assert content_digest(restored) == content_digest(original)
    assert (await store.retrieve_previous(cid)) == rotated
    await rollback(store, cid)
    assert content_digest(await store.get(cid)) == content_digest(rotated)


async def test_credentials_that_cannot_rotate_are_refused_before_any_call(
    store: CredentialProvider, auth: AuthServer
) -> None:
    from nebula_credential import Credential

    cases = [
        Credential(CredentialId.new(), "api_key", {"api_key": "k"}),
        oauth2(CredentialId.new(), auth, None),
        oauth2(CredentialId.new(), auth, "rt", token_url="http://auth.example.com/token"),
        oauth2(CredentialId.new(), auth, "rt", token_url="ftp://127.0.0.1/token"),
    ]
    for credential in cases:
        before = await store.store(credential)
        with pytest.raises(NotRotatable):
            await rotate(store, credential.id)
        assert (await store.get(credential.id)).version == before.version
    assert sum(auth.hits.values()) == 0
