"""The two HTTP drivers against real servers on loopback: what they send, how often, and
how much they read.

The servers do on demand what a real API server or proxy does only now and then: drop
the connection after reading a request, answer 10 MB, or insist on a Host header in
``CONNECT``. The drivers must report such failures, never repeat a request themselves
(the protocol core decides, knowing the first attempt may have landed) and never read
more than the request allows.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nebula_credential import ProviderUnavailable
from nebula_credential.http import message
from nebula_credential.http._aiohttp_compat import no_silent_repeat
from nebula_credential.http.aio import AioDriver
from nebula_credential.http.blocking import BlockingDriver
from nebula_credential.http.message import NoReply, Request, Response
from nebula_credential.kubernetes.api.clients import client_on
from nebula_credential.kubernetes.api.retry import RetryPolicy
from nebula_credential.kubernetes.api.secret_calls import HttpTransport
from nebula_credential.kubernetes.config.cluster import load_cluster_config
from nebula_credential.providers.inline import run_inline

TEN_MB = 10 * 1024 * 1024
CAP = 64 * 1024
Plan = Callable[["Handler"], None]
Driver = AioDriver | BlockingDriver


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart
    server: Server

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with self.server.lock:
            self.server.seen.append(self.command)
        self.server.plan(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

    def answer(self, code: int = 200, body: bytes = b"{}") -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, plan: Plan, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.plan = plan
        self.tls = tls
        self.lock = threading.Lock()
        self.seen: list[str] = []  # the methods of the requests read, in order
        self.written = -1  # bytes of a flood sent before the client went away
        self.flooded = threading.Event()

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, peer = self.socket.accept()
        if self.tls is not None:  # the handshake happens in the handler's thread
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, peer

    @property
    def origin(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(plan: Plan, tls: ssl.SSLContext | None = None) -> Server:
        server = Server(plan, tls)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def get_then_drop(handler: Handler) -> None:
    """GETs are answered (so the connection is kept alive); any other request is read
    and then the connection is closed without a reply, as a crashing server does."""
    if handler.command == "GET":
        handler.answer()
    else:
        handler.close_connection = True


def flood(chunked: bool) -> Plan:
    def plan(handler: Handler) -> None:
        server = handler.server
        written = 0
        try:
            # A fixed send buffer: what the client does not read stays in its kernel.
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
            handler.connection.settimeout(10)
            handler.send_response(200)
            if chunked:
                handler.send_header("Transfer-Encoding", "chunked")
            else:
                handler.send_header("Content-Length", str(TEN_MB))
            handler.end_headers()
            chunk = b"x" * 65536
            while written < TEN_MB:
                data = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
                handler.wfile.write(data)
                written += len(chunk)
            if chunked:
                handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        finally:
            server.written = written
            handler.close_connection = True
            server.flooded.set()

    return plan


def blocking(origin: str, **kwargs: Any) -> BlockingDriver:
    kwargs.setdefault("context", lambda: False)
    return BlockingDriver(origin, user_agent="driver-test", timeout=5, **kwargs)


def aio(origin: str, **kwargs: Any) -> AioDriver:
    kwargs.setdefault("context", lambda: False)
    return AioDriver(origin, user_agent="driver-test", timeout=5, **kwargs)


async def send(driver: Driver, request: Request) -> Response:
    if isinstance(driver, BlockingDriver):
        return run_inline(driver.send(request, {}))  # never suspends
    return await driver.send(request, {})


async def get(calls: HttpTransport, name: str) -> object:
    if calls.blocking:
        return run_inline(calls.get(name))  # never suspends
    return await calls.get(name)


async def failure(driver: Driver, request: Request) -> NoReply:
    with pytest.raises(NoReply) as caught:
        await send(driver, request)
    return caught.value


# -- no silent repeat --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
@pytest.mark.parametrize("make", [blocking, aio], ids=["blocking", "aiohttp"])
async def test_a_write_on_a_reused_connection_dropped_after_it_was_read_is_sent_once(
    serve: Callable[..., Server], make: Callable[[str], Driver], method: str
) -> None:
    server = serve(get_then_drop)
    driver = make(server.origin)
    try:
        assert (await send(driver, Request("GET", "/warm"))).status == 200
        lost = await failure(driver, Request(method, "/api/v1/x", body=b'{"a": 1}'))
    finally:
        await driver.close()
    assert server.seen == ["GET", method]  # exactly one from the driver
    assert lost.kind == message.DROPPED
    assert lost.sent is True


def test_the_blocking_driver_says_when_the_dropped_connection_was_a_reused_one(
    serve: Callable[..., Server],
) -> None:
    server = serve(get_then_drop)
    driver = blocking(server.origin)
    with pytest.raises(NoReply) as fresh:
        run_inline(driver.send(Request("DELETE", "/x", body=b"{}"), {}))
    assert run_inline(driver.send(Request("GET", "/warm"), {})).status == 200
    with pytest.raises(NoReply) as reused:
        run_inline(driver.send(Request("DELETE", "/x", body=b"{}"), {}))
    run_inline(driver.close())
    assert (fresh.value.sent, fresh.value.reused) == (True, False)
    assert (reused.value.sent, reused.value.reused) == (True, True)
    assert server.seen == ["DELETE", "GET", "DELETE"]


async def test_aiohttps_silent_repeat_switch_is_still_where_the_driver_turns_it_off() -> None:
    async with aiohttp.ClientSession() as session:
        assert hasattr(session, "_retry_connection"), (
            f"aiohttp {aiohttp.__version__} renamed ClientSession._retry_connection: check "
            "whether it still repeats PUT and DELETE on a broken reused connection"
        )
        assert session._retry_connection is True
        no_silent_repeat(session)
        assert session._retry_connection is False


# -- answers over the cap ----------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("make", [blocking, aio], ids=["blocking", "aiohttp"])
async def test_an_answer_over_the_cap_is_refused_without_reading_it_all(
    serve: Callable[..., Server], make: Callable[[str], Driver], chunked: bool
) -> None:
    server = serve(flood(chunked))
    driver = make(server.origin)
    started = time.monotonic()
    try:
        refused = await failure(driver, Request("GET", "/big", max_body=CAP))
    finally:
        await driver.close()
    assert time.monotonic() - started < 5
    assert refused.kind == message.TOO_LARGE
    assert f"larger than {CAP} bytes" in refused.detail
    assert server.flooded.wait(10)
    assert 0 <= server.written < TEN_MB // 4  # the rest was never sent: nobody read it


async def test_an_answer_within_the_cap_is_read_whole(serve: Callable[..., Server]) -> None:
    body = json.dumps({"k": "v" * 1000}).encode()
    server = serve(lambda handler: handler.answer(200, body))
    for driver in (blocking(server.origin), aio(server.origin)):
        try:
            answer = await send(driver, Request("GET", "/small", max_body=len(body)))
        finally:
            await driver.close()
        assert (answer.status, answer.body) == (200, body)


# -- proxies -----------------------------------------------------------------------------


def tls_pair(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) for a certificate of 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "cert.pem").write_bytes(pem)
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return server, ssl.create_default_context(cadata=pem.decode())


class ConnectProxy:
    """A tiny CONNECT proxy on loopback that records each CONNECT's headers and, as some
    proxies do, refuses one without a Host header (400); otherwise it tunnels."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connects: list[dict[str, str]] = []
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(10)
        with client:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = client.recv(4096)
                if not data:
                    return
                head += data
            lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            self.connects.append(headers)
            if method != "CONNECT" or "Host" not in headers:
                client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                return
            host, port = target.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=10) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pump = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
                pump.start()
                _pipe(client, upstream)
                pump.join(10)

    def close(self) -> None:
        self.listener.close()
        for thread in self._threads:
            thread.join(10)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.mark.parametrize("make", [blocking, aio], ids=["blocking", "aiohttp"])
async def test_connect_to_a_proxy_carries_a_host_header(
    serve: Callable[..., Server], make: Callable[..., Driver], tmp_path: Path
) -> None:
    server_tls, client_tls = tls_pair(tmp_path)
    server = serve(lambda handler: handler.answer(200, b'{"through": "proxy"}'), server_tls)
    proxy = ConnectProxy()
    driver = make(server.origin, context=lambda: client_tls, proxy=proxy.url)
    try:
        answer = await send(driver, Request("GET", "/api"))
    finally:
        await driver.close()
        proxy.close()
    assert (answer.status, answer.body) == (200, b'{"through": "proxy"}')
    port = server.server_address[1]
    assert [headers.get("Host") for headers in proxy.connects] == [f"127.0.0.1:{port}"]


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("make", [blocking, aio], ids=["blocking", "aiohttp"])
async def test_a_dead_proxy_is_reported_as_the_proxy(
    make: Callable[..., Driver], scheme: str, tmp_path: Path
) -> None:
    _, client_tls = tls_pair(tmp_path)
    context = (lambda: client_tls) if scheme == "https" else (lambda: False)
    proxy = f"http://127.0.0.1:{closed_port()}"
    driver = make(f"{scheme}://127.0.0.1:6443", context=context, proxy=proxy)
    try:
        lost = await failure(driver, Request("GET", "/api"))
    finally:
        await driver.close()
    assert lost.kind == message.PROXY
    assert lost.sent is False


@pytest.mark.parametrize("name", ["blocking", "aiohttp"])
async def test_a_transport_behind_a_dead_proxy_names_the_proxy(tmp_path: Path, name: str) -> None:
    port = closed_port()
    config = tmp_path / "config"
    cluster = {"server": "http://127.0.0.1:6443", "proxy-url": f"http://127.0.0.1:{port}"}
    config.write_text(
        json.dumps(
            {
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    target = load_cluster_config(kubeconfig=config, namespace="ns", environ={})
    policy = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)
    calls = HttpTransport(client_on(name, target, policy=policy, timeout=5), "ns")
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            await get(calls, "s")
    finally:
        await calls.close()
    said = str(caught.value)
    assert f"the proxy http://127.0.0.1:{port} did not let us get secrets" in said
    assert "API server at http://127.0.0.1:6443 did not" not in said
    assert calls.stats.requests == 2
