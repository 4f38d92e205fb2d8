"""``seal --cert URL`` against real HTTP servers and a real forward proxy on 127.0.0.1:
a redirect is refused and its target never asked, an answer over 64 KiB is cut off where
the cap is reached, the environment's proxy is used, and a dead proxy is named as such."""

from __future__ import annotations

import gc
import http.client
import http.server
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from seal_keys import self_signed

from loopback_sites import PROXY_VARIABLES, Answer, Site
from nebula_credential.domain import ProviderUnavailable, ValidationError
from nebula_credential.seal import fetch_url, load_certificate
from nebula_credential.seal._sources import MAX_CERT_BYTES

HUGE = 256 * 1024 * 1024  # what an endless answer would send at most, if nobody hung up
BLOCK = 64 * 1024


@pytest.fixture
def pem(controller_key: rsa.RSAPrivateKey) -> bytes:
    return self_signed(controller_key)


def body(data: bytes, status: int = 200) -> Answer:
    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/x-pem-file")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return answer


def redirect(location: str, status: int = 302) -> Answer:
    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def forward(handler: http.server.BaseHTTPRequestHandler) -> None:
    """A forward proxy for http:// URLs: asks the origin, hands its answer back."""
    url = urlsplit(handler.path)
    if url.scheme != "http" or url.hostname is None:
        handler.send_error(400)
        return
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
    try:
        conn.request("GET", url.path or "/", headers={"Accept": handler.headers["Accept"]})
        reply = conn.getresponse()
        data = reply.read(1024 * 1024)
    finally:
        conn.close()
    body(data, reply.status)(handler)


# -- a working fetch -----------------------------------------------------------------------


def test_a_certificate_url_is_fetched(
    serve: Callable[[Answer], Site], pem: bytes, no_proxy_env: pytest.MonkeyPatch
) -> None:
    site = serve(body(pem))
    fetched = fetch_url(f"{site.url}/v1/cert.pem")
    assert fetched == pem
    assert load_certificate(fetched, source="the test").key_size == 2048
    assert site.hits == Counter({"/v1/cert.pem": 1})


def test_an_answer_of_exactly_the_cap_is_accepted(
    serve: Callable[[Answer], Site], no_proxy_env: pytest.MonkeyPatch
) -> None:
    site = serve(body(b"x" * MAX_CERT_BYTES))
    assert len(fetch_url(f"{site.url}/cert.pem")) == MAX_CERT_BYTES


def test_an_error_status_is_unavailable_and_never_shows_the_urls_password(
    serve: Callable[[Answer], Site], no_proxy_env: pytest.MonkeyPatch
) -> None:
    site = serve(body(b"gone", 404))
    url = site.url.replace("http://", "http://user-canary:pw-canary@") + "/cert.pem"
    with pytest.raises(ProviderUnavailable) as caught:
        fetch_url(url)
    assert f"certificate URL {site.url}/cert.pem answered HTTP 404" in str(caught.value)
    assert "canary" not in str(caught.value)


# -- redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_refused_and_its_target_never_asked(
    serve: Callable[[Answer], Site], pem: bytes, no_proxy_env: pytest.MonkeyPatch, status: int
) -> None:
    target = serve(body(pem))
    moved = target.url.replace("127.0.0.1", "localhost") + "/cert.pem"  # loopback, plain http
    site = serve(redirect(moved, status))
    with pytest.raises(ValidationError) as caught:
        fetch_url(f"{site.url}/cert.pem")
    port = urlsplit(target.url).port
    assert str(caught.value) == (
        f"certificate URL {site.url}/cert.pem redirects (HTTP {status}) to "
        f"http://localhost:{port}; redirects are not followed: give the final https:// URL"
    )
    assert site.hits == Counter({"/cert.pem": 1})
    assert sum(target.hits.values()) == 0


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        (
            "https://user-canary:pw-canary@certs.example:8443/x?token=q-canary",
            "https://certs.example:8443",
        ),
        ("https://evil\x1b.example\x07x/cert.pem", "https://evil?.example?x"),
        ("https://[v1.evil/cert.pem", None),  # not a URL: no target shown
        ("/elsewhere/cert.pem", "http://127.0.0.1:{port}"),
    ],
)
def test_a_redirect_shows_only_the_scheme_and_host_it_points_to(
    serve: Callable[[Answer], Site],
    no_proxy_env: pytest.MonkeyPatch,
    location: str,
    shown: str | None,
) -> None:
    site = serve(redirect(location))
    with pytest.raises(ValidationError) as caught:
        fetch_url(f"{site.url}/cert.pem")
    message = str(caught.value)
    to = "" if shown is None else f" to {shown.format(port=urlsplit(site.url).port)}"
    assert f"redirects (HTTP 302){to}; redirects are not followed" in message
    assert "canary" not in message
    assert "\x1b" not in message
    assert "\x07" not in message
    assert site.hits == Counter({"/cert.pem": 1})  # the relative target was not asked either


# -- the 64 KiB cap ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "framing",
    ["content-length", "chunked", "until-close"],
)
def test_a_huge_answer_is_refused_at_the_cap_and_the_connection_dropped(
    serve: Callable[[Answer], Site], no_proxy_env: pytest.MonkeyPatch, framing: str
) -> None:
    """256 MiB on offer, declared, chunked or until the connection closes: the client
    reads no more than the cap allows and hangs up, and the server's writes fail long
    before it could send it all."""
    outcome: dict[str, object] = {}
    finished = threading.Event()

    def endless(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        if framing == "content-length":
            handler.send_header("Content-Length", str(HUGE))
        elif framing == "chunked":
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        written = 0
        block = b"A" * BLOCK
        if framing == "chunked":
            block = b"%x\r\n" % BLOCK + block + b"\r\n"
        try:
            while written < HUGE:
                handler.wfile.write(block)
                written += BLOCK
            outcome["stopped"] = None
        except OSError as exc:
            outcome["stopped"] = type(exc).__name__
        finally:
            outcome["written"] = written
            finished.set()

    site = serve(endless)
    started = time.monotonic()
    with pytest.raises(ValidationError) as caught:
        fetch_url(f"{site.url}/cert.pem")
    elapsed = time.monotonic() - started
    assert str(caught.value) == (
        f"certificate from {site.url}/cert.pem is larger than {MAX_CERT_BYTES} bytes"
    )
    assert elapsed < 5
    try:
        assert finished.wait(5), "the server is still writing: the client never hung up"
    finally:
        gc.collect()  # a socket left open warns now, in this test, not in a later one
    assert outcome["stopped"] in ("BrokenPipeError", "ConnectionResetError")
    written = outcome["written"]
    assert isinstance(written, int)
    assert written < 64 * 1024 * 1024  # socket buffers at most, nowhere near the whole


# -- proxies -------------------------------------------------------------------------------


def test_the_environments_proxy_is_used_and_no_proxy_exempts(
    serve: Callable[[Answer], Site],
    pem: bytes,
    no_proxy_env: pytest.MonkeyPatch,
    closed_port: int,
) -> None:
    origin = serve(body(pem))
    proxy = serve(forward)
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    assert fetch_url(f"{origin.url}/cert.pem") == pem
    assert proxy.hits == Counter({f"{origin.url}/cert.pem": 1})
    assert origin.hits == Counter({"/cert.pem": 1})
    # NO_PROXY names the host: straight there, although the proxy is dead.
    no_proxy_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")
    no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
    assert fetch_url(f"{origin.url}/cert.pem") == pem
    assert origin.hits == Counter({"/cert.pem": 2})


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_dead_proxy_is_named_as_the_failure(
    serve: Callable[[Answer], Site],
    pem: bytes,
    no_proxy_env: pytest.MonkeyPatch,
    closed_port: int,
    scheme: str,
) -> None:
    origin = serve(body(pem))
    variable = f"{scheme.upper()}_PROXY"
    # A user and password in the proxy URL are never shown.
    no_proxy_env.setenv(variable, f"http://puser:ppass-canary@127.0.0.1:{closed_port}")
    no_proxy_env.setenv("NO_PROXY", "example.com")  # not this host
    url = origin.url.replace("http://", f"{scheme}://") + "/cert.pem"
    with pytest.raises(ProviderUnavailable) as caught:
        fetch_url(url)
    message = str(caught.value)
    assert message.startswith(
        f"cannot fetch certificate from {url}: the proxy http://127.0.0.1:{closed_port} "
        f"(from {variable}) failed ("
    )
    assert "check the proxy, or exempt the host in NO_PROXY" in message
    assert "canary" not in message
    assert sum(origin.hits.values()) == 0


def test_a_seal_through_the_cli_refuses_a_redirect_in_one_line(
    cli: Callable[..., subprocess.CompletedProcess[str]],
    serve: Callable[[Answer], Site],
    pem: bytes,
) -> None:
    target = serve(body(pem))
    site = serve(redirect(f"{target.url}/cert.pem"))
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\ndata: {}\n"
    unset = dict.fromkeys((*PROXY_VARIABLES, "no_proxy", "NO_PROXY"), "")
    done = cli(
        "seal", "--from-secret", "-", "--cert", f"{site.url}/cert.pem", stdin=secret, env=unset
    )
    assert done.returncode == 2, done.stderr
    assert "redirects (HTTP 302)" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert sum(target.hits.values()) == 0
