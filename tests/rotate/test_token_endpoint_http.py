"""The token endpoint's HTTP with real loopback servers: a redirect is reported, never
followed (the grant would go where the endpoint says); the environment's proxy is used,
and a dead one is named as the failure, with the refresh token certainly unspent."""

from __future__ import annotations

import http.client
import http.server
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from oauth_server import AuthServer

from loopback_sites import Answer, Site
from nebula_credential import RotationFailed, TokenEndpointUnreachable
from nebula_credential.ops.token_endpoint import RefreshRequest, refresh

SECRET = "client-secret-canary-5c1e"  # the fixture's secret for client "app"


REFRESH = "rt-canary-7f3a9c2e41d0"


def ask(url: str, token: str = REFRESH) -> RefreshRequest:
    return RefreshRequest(token_url=url, client_id="app", client_secret=SECRET, refresh_token=token)


async def failure(request: RefreshRequest) -> RotationFailed:
    with pytest.raises(RotationFailed) as caught:
        await refresh(request, limit=10.0)
    shown = f"{caught.value} {caught.value!r}"
    for canary in (request.refresh_token, SECRET, "canary"):
        assert canary not in shown
    return caught.value


def redirect(location: str, status: int) -> Answer:
    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def forward(handler: http.server.BaseHTTPRequestHandler) -> None:
    """A forward proxy for http:// URLs: the POST goes on to the origin as it came."""
    url = urlsplit(handler.path)
    data = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    if url.scheme != "http" or url.hostname is None:
        handler.send_error(400)
        return
    keep = ("Authorization", "Content-Type", "Accept", "Accept-Encoding")
    headers = {name: handler.headers[name] for name in keep if handler.headers[name]}
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
    try:
        conn.request("POST", url.path, body=data, headers=headers)
        reply = conn.getresponse()
        answer = reply.read(1024 * 1024)
    finally:
        conn.close()
    handler.send_response(reply.status)
    handler.send_header("Content-Type", reply.getheader("Content-Type") or "application/json")
    handler.send_header("Content-Length", str(len(answer)))
    handler.end_headers()
    handler.wfile.write(answer)


# -- redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_reported_and_its_target_gets_nothing(
    auth: AuthServer, serve: Callable[[Answer], Site], no_proxy_env: pytest.MonkeyPatch, status: int
) -> None:
    site = serve(redirect(auth.token_url(), status))
    error = await failure(ask(f"{site.url}/token", token=auth.grant("app")))
    # An answer, not a lost request: neither "not sent, safe to retry" nor "unreachable".
    assert type(error) is RotationFailed
    assert not isinstance(error, TokenEndpointUnreachable)
    assert (error.error_code, error.status) == ("invalid_response", status)
    assert str(error) == (
        f"the token endpoint {urlsplit(site.url).netloc} answered HTTP {status}, a redirect "
        f"to {auth.url}; redirects are not followed: set token_url to the endpoint's final "
        "https:// address"
    )
    assert site.hits == Counter({"/token": 1})  # a redirect is no refused client: asked once
    assert sum(auth.hits.values()) == 0


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        (
            "https://user-canary:pw-canary@auth.example:8443/t?x=canary",
            " to https://auth.example:8443",
        ),
        ("https://evil\x1b.example\x07x/token", " to https://evil?.example?x"),
        ("https://[v1.evil/token", ""),  # not a URL: nothing shown
        ("/elsewhere", " to http://127.0.0.1:{port}"),
    ],
)
async def test_a_redirect_shows_only_the_scheme_and_host_it_points_to(
    serve: Callable[[Answer], Site], no_proxy_env: pytest.MonkeyPatch, location: str, shown: str
) -> None:
    site = serve(redirect(location, 307))
    error = await failure(ask(f"{site.url}/token"))
    to = shown.format(port=urlsplit(site.url).port)
    assert f"answered HTTP 307, a redirect{to}; redirects are not followed" in str(error)
    assert "\x1b" not in str(error)
    assert "\x07" not in str(error)
    assert site.hits == Counter({"/token": 1})


# -- proxies -------------------------------------------------------------------------------


async def test_the_environments_proxy_is_used_and_no_proxy_exempts(
    auth: AuthServer,
    serve: Callable[[Answer], Site],
    no_proxy_env: pytest.MonkeyPatch,
    closed_port: int,
) -> None:
    proxy = serve(forward)
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    grant = await refresh(ask(auth.token_url(), token=auth.grant("app")))
    assert grant.access_token == auth.issued[-1]["access_token"]
    assert proxy.hits == Counter({auth.token_url(): 1})
    assert auth.hits["/token"] == 1
    # NO_PROXY names the host: straight there, although the proxy is dead.
    no_proxy_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")
    no_proxy_env.setenv("NO_PROXY", "localhost,127.0.0.1")
    grant = await refresh(ask(auth.token_url(), token=auth.grant("app")))
    assert grant.access_token == auth.issued[-1]["access_token"]
    assert auth.hits["/token"] == 2


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_a_dead_proxy_is_named_and_the_request_was_not_sent(
    auth: AuthServer, no_proxy_env: pytest.MonkeyPatch, closed_port: int, scheme: str
) -> None:
    variable = f"{scheme.upper()}_PROXY"
    no_proxy_env.setenv(variable, f"http://puser:ppass-canary@127.0.0.1:{closed_port}")
    no_proxy_env.setenv("NO_PROXY", "example.com")  # not this host
    url = auth.token_url().replace("http://", f"{scheme}://")
    error = await failure(ask(url))
    assert isinstance(error, TokenEndpointUnreachable)
    assert (error.request_sent, error.error_code) == (False, "unreachable")
    message = str(error)
    assert message.startswith(
        f"cannot reach the token endpoint {urlsplit(url).netloc}: the proxy "
        f"http://127.0.0.1:{closed_port} (from {variable}) failed ("
    )
    assert message.endswith(
        "check the proxy, or exempt the host in NO_PROXY: the request was not sent; the "
        "credential is unchanged; safe to retry"
    )
    assert "may have spent" not in message
    assert sum(auth.hits.values()) == 0
