"""The refresh-token grant against a real Authlib server and real loopback sockets: which
error code a user sees, when the second client authentication is tried, how
``expires_in`` is read, and whether a failure says the refresh token may be spent."""

from __future__ import annotations

import gc
import socket
import time
from collections.abc import Iterator

import pytest
from oauth_server import EXPIRES_IN, AuthServer

from nebula_credential import RotationFailed, TokenEndpointUnreachable
from nebula_credential.ops.token_endpoint import RefreshRequest, TokenGrant, refresh

REFRESH = "rt-canary-7f3a9c2e41d0"  # lowercase, so an echo of it would pass as a code
SECRET = "client-secret-canary-5c1e"  # the fixture's secret for client "app"
CANARIES = (REFRESH, SECRET, "description-canary", "at-canary", "rt-canary-new")


def ask(
    url: str, *, client: str = "app", secret: str | None = SECRET, token: str = REFRESH
) -> RefreshRequest:
    return RefreshRequest(
        token_url=url, client_id=client, client_secret=secret, refresh_token=token
    )


async def failure(request: RefreshRequest, *, limit: float = 10.0) -> RotationFailed:
    with pytest.raises(RotationFailed) as caught:
        await refresh(request, limit=limit)
    shown = f"{caught.value} {caught.value!r}"
    for canary in CANARIES:
        assert canary not in shown
    return caught.value


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port whose kernel completes the TCP handshake and takes the bytes sent,
    while nobody ever reads or answers them."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


# -- the endpoint's words ------------------------------------------------------------------


async def test_an_endpoint_echoing_the_refresh_token_shows_unknown_error(auth: AuthServer) -> None:
    error = await failure(ask(auth.token_url("/echo-error")))
    assert type(error) is RotationFailed
    assert (error.error_code, error.status) == ("unknown_error", 400)
    assert "refused the refresh: unknown_error (HTTP 400)" in str(error)
    assert auth.hits["/echo-error"] == 1


@pytest.mark.parametrize(
    "query",
    [
        "refresh_token?prefix=echo.",  # holds it
        "refresh_token?cut=12",  # a clipped echo: its first 12 characters
        "client_secret",  # equals it
        "client_secret?prefix=x-",
        "client_id",  # "app"
        "client_id?prefix=no-such-",
    ],
)
async def test_a_code_made_of_what_was_sent_is_unknown_error(auth: AuthServer, query: str) -> None:
    error = await failure(ask(auth.token_url(f"/echo-error/{query}")))
    assert (error.error_code, error.status) == ("unknown_error", 400)
    assert auth.hits[f"/echo-error/{query.split('?')[0]}"] == 1


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("invalid_scope", "invalid_scope"),
        ("unauthorized_client", "unauthorized_client"),
        ("vendor.quota-exceeded_2", "vendor.quota-exceeded_2"),
        ("a" * 40, "a" * 40),
        ("a" * 41, "unknown_error"),
        ("Invalid_Grant", "unknown_error"),
        ("quota%20exceeded", "unknown_error"),
        ("quota:exceeded", "unknown_error"),
    ],
)
async def test_the_error_code_is_shown_only_in_its_plain_form(
    auth: AuthServer, code: str, shown: str
) -> None:
    error = await failure(ask(auth.token_url(f"/error/{code}/400")))
    assert type(error) is RotationFailed
    assert (error.error_code, error.status) == (shown, 400)
    assert f"refused the refresh: {shown} (HTTP 400)" in str(error)


async def test_an_rfc_code_is_shown_even_when_the_client_id_is_part_of_it(
    auth: AuthServer,
) -> None:
    error = await failure(ask(auth.token_url("/error/invalid_client/401"), client="client"))
    assert (error.error_code, error.status) == ("invalid_client", 401)
    assert "does not accept client_id/client_secret" in str(error)


# -- client authentication fallback -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "hits", "code", "status"),
    [
        ("/error/invalid_client/401", 2, "invalid_client", 401),
        ("/error/invalid_client/400", 2, "invalid_client", 400),
        ("/unauthorized", 2, "invalid_response", 401),
        ("/error/invalid_grant/401", 1, "invalid_grant", 401),  # the token may be spent
        ("/error/invalid_grant/400", 1, "invalid_grant", 400),
        ("/error/unauthorized_client/401", 1, "unauthorized_client", 401),
        ("/fail/401", 1, "temporarily_unavailable", 401),
        ("/weird-error", 1, "unknown_error", 400),
    ],
)
async def test_the_second_client_authentication_follows_only_a_refused_client(
    auth: AuthServer, path: str, hits: int, code: str, status: int
) -> None:
    error = await failure(ask(auth.token_url(path)))
    assert (error.error_code, error.status) == (code, status)
    assert auth.hits[path] == hits
    assert sum(auth.hits.values()) == hits


async def test_a_revoked_token_is_asked_once(auth: AuthServer) -> None:
    token = auth.grant("app")
    auth.revoke(token)
    error = await failure(ask(auth.token_url(), token=token))
    assert (error.error_code, error.status) == ("invalid_grant", 400)
    assert "authorize again" in str(error)
    assert token not in str(error)
    assert auth.hits["/token"] == 1


async def test_a_client_registered_for_post_is_granted_on_the_second_try(
    auth: AuthServer,
) -> None:
    secret = "poster-secret-canary-77d0"
    grant = await refresh(
        ask(auth.token_url(), client="poster", secret=secret, token=auth.grant("poster"))
    )
    assert grant.auth_method == "client_secret_post"
    assert grant.access_token == auth.issued[-1]["access_token"]
    assert (grant.expires_in, grant.expires_in_ignored) == (3600, False)
    assert auth.hits["/token"] == 2
    assert grant.access_token not in repr(grant)
    assert secret not in repr(grant)


# -- expires_in ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expires_in", "ignored"),
    [
        ("int", 3600, False),
        ("float", 3600, False),
        ("zero", 0, False),
        ("negative", 0, False),
        ("negative-float", 0, False),
        ("string", 3600, False),  # Azure AD v1
        ("max", 10**9, False),
        ("null", None, False),
        ("absent", None, False),
        ("abc", None, True),
        ("signed-string", None, True),
        ("arabic-digits", None, True),
        ("long-string", None, True),
        ("true", None, True),
        ("float-huge", None, True),
        ("int-huge", None, True),
        ("nan", None, True),
        ("infinity", None, True),
        ("list", None, True),
    ],
)
async def test_expires_in_is_read_or_flagged_as_ignored(
    auth: AuthServer, kind: str, expires_in: int | None, ignored: bool
) -> None:
    assert kind in EXPIRES_IN
    grant = await refresh(ask(auth.token_url(f"/expires/{kind}")))
    assert (grant.expires_in, grant.expires_in_ignored) == (expires_in, ignored)
    assert type(grant.expires_in) is (int if expires_in is not None else type(None))
    assert (grant.access_token, grant.refresh_token) == ("at-canary-expires", "rt-canary-new")
    shown = repr(grant)
    assert f"expires_in={expires_in!r}" in shown
    assert f"expires_in_ignored={ignored}" in shown
    for canary in CANARIES:
        assert canary not in shown


def test_a_grant_made_without_the_flag_is_not_ignored() -> None:
    grant = TokenGrant("a", None, 60, "Bearer", None, "none")
    assert grant.expires_in_ignored is False


# -- sent or not sent ----------------------------------------------------------------------


def assert_not_sent(error: RotationFailed) -> None:
    assert isinstance(error, TokenEndpointUnreachable)
    assert error.request_sent is False
    assert "the request was not sent; the credential is unchanged; safe to retry" in str(error)
    assert "may have spent" not in str(error)


def assert_sent_without_answer(error: RotationFailed) -> None:
    assert isinstance(error, TokenEndpointUnreachable)
    assert error.request_sent is True
    assert "the endpoint may have spent the refresh token; the credential is unchanged" in str(
        error
    )
    assert "safe to retry" not in str(error)


async def test_a_refused_connection_was_not_sent(closed_port: int) -> None:
    error = await failure(ask(f"http://127.0.0.1:{closed_port}/token"))
    assert_not_sent(error)
    assert error.error_code == "unreachable"
    assert str(error).startswith(f"cannot connect to the token endpoint 127.0.0.1:{closed_port}")


async def test_a_failed_tls_handshake_was_not_sent(auth: AuthServer) -> None:
    # The test server speaks plain HTTP: the handshake fails before any request.
    error = await failure(ask(auth.token_url().replace("http://", "https://")))
    assert_not_sent(error)
    assert error.error_code == "unreachable"
    assert sum(auth.hits.values()) == 0


async def test_the_deadline_during_the_tls_handshake_is_not_sent(silent_port: int) -> None:
    started = time.monotonic()
    error = await failure(ask(f"https://127.0.0.1:{silent_port}/token"), limit=1.0)
    assert 0.9 < time.monotonic() - started < 5
    assert_not_sent(error)
    assert error.error_code == "timeout"
    assert "within 1s" in str(error)
    gc.collect()  # a socket left open by the cut handshake would warn now, failing the test


async def test_the_deadline_after_the_request_went_out_may_have_spent_it(
    silent_port: int,
) -> None:
    # The same silent socket over plain HTTP: the request lands in its buffer unanswered.
    error = await failure(ask(f"http://127.0.0.1:{silent_port}/token"), limit=1.0)
    assert_sent_without_answer(error)
    assert error.error_code == "timeout"


async def test_a_slow_endpoint_may_have_spent_the_token(auth: AuthServer) -> None:
    started = time.monotonic()
    error = await failure(ask(auth.token_url("/slow")), limit=1.0)
    assert 0.9 < time.monotonic() - started < 5
    assert_sent_without_answer(error)
    assert error.error_code == "timeout"
    assert "gave no answer within 1s after the request was sent" in str(error)
    assert auth.hits["/slow"] == 1


async def test_a_connection_dropped_after_the_request_may_have_spent_the_token(
    auth: AuthServer,
) -> None:
    error = await failure(ask(auth.token_url("/drop")))
    assert_sent_without_answer(error)
    assert error.error_code == "unreachable"
    assert "broke after the request was sent" in str(error)
    assert auth.hits["/drop"] == 1


@pytest.mark.parametrize(
    ("status", "code"), [(503, "temporarily_unavailable"), (500, "server_error")]
)
async def test_a_5xx_was_answered_and_changes_nothing(
    auth: AuthServer, status: int, code: str
) -> None:
    path = f"/fail/{status}" if status == 503 else f"/error/server_error/{status}"
    error = await failure(ask(auth.token_url(path)))
    assert isinstance(error, TokenEndpointUnreachable)
    assert (error.request_sent, error.error_code, error.status) == (True, code, status)
    assert f"failed with HTTP {status} ({code}): it refused the refresh" in str(error)
    assert "the credential is unchanged" in str(error)
    assert "safe to retry" not in str(error)
    assert auth.hits[path] == 1
