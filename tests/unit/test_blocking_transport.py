"""The blocking transport against a real HTTP server on loopback that behaves as the real
API server cannot be made to on demand: it closes idle keep-alive connections, counts
connections, answers 429 and 401, and receives requests as a plain-HTTP proxy would."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from nebula_credential.kubernetes.blocking_transport import BlockingTransport

from nebula_credential import AuthenticationError
from nebula_credential.kubernetes import RetryPolicy
from nebula_credential.kubernetes.config.cluster import load_cluster_config
from nebula_credential.kubernetes.config.endpoint import endpoint_for
from nebula_credential.providers.inline import run_inline

CANARY = "canary-blocking-8c2a"
Answer = Callable[["Handler"], tuple[int, dict[str, Any], dict[str, str]]]


def secret(name: str) -> dict[str, Any]:
    return {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "7", "uid": "u"},
        "data": {},
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: Server

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.seen.append((self.path, dict(self.headers)))
            count = len(self.server.seen)
        status, body, headers = self.server.answer(self)
        raw = json.dumps(body).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
        if self.server.close_every and count % self.server.close_every == 0:
            self.close_connection = True  # without saying so: a keep-alive timeout

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: Answer, close_every: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answer = answer
        self.close_every = close_every
        self.lock = threading.Lock()
        self.connections = 0
        self.seen: list[tuple[str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def ok(handler: Handler) -> tuple[int, dict[str, Any], dict[str, str]]:
    return 200, secret(handler.path.rsplit("/", 1)[-1]), {}


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[Server, BlockingTransport]]]:
    servers: list[Server] = []
    transports: list[BlockingTransport] = []

    def start(
        answer: Answer = ok, *, close_every: int = 0, cluster: dict[str, Any] | None = None
    ) -> tuple[Server, BlockingTransport]:
        server = Server(answer, close_every)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        token = tmp_path / "token"
        token.write_text(f"token-{CANARY}")
        config = tmp_path / "config"
        config.write_text(
            json.dumps(
                {
                    "clusters": [{"name": "c", "cluster": cluster or {"server": server.url}}],
                    "users": [{"name": "u", "user": {"tokenFile": str(token)}}],
                    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                    "current-context": "x",
                }
            )
        )
        target = load_cluster_config(kubeconfig=config, namespace="ns", environ={})
        policy = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05, deadline=20)
        transport = BlockingTransport(endpoint_for(target, environ={}), "ns", policy=policy)
        transports.append(transport)
        return server, transport

    yield start
    for transport in transports:
        run_inline(transport.close())
    for server in servers:
        server.shutdown()
        server.server_close()


def test_one_keep_alive_connection_serves_call_after_call(serve: Any) -> None:
    server, transport = serve()
    for i in range(20):
        found = run_inline(transport.get(f"s{i}"))
        assert found is not None
        assert found.name == f"s{i}"
    assert server.connections == 1
    assert transport.stats.requests == 20
    path, headers = server.seen[0]
    assert path == "/api/v1/namespaces/ns/secrets/s0"
    assert headers["Authorization"] == f"Bearer token-{CANARY}"
    assert headers["User-Agent"].startswith("nebula-credential/")


def test_a_connection_closed_while_idle_is_replaced_without_a_retry(serve: Any) -> None:
    server, transport = serve(close_every=3)
    for i in range(12):
        assert run_inline(transport.get(f"s{i}")) is not None
    assert server.connections == 4
    assert transport.stats.connection_errors == 0
    assert transport.stats.retries == 0


def test_threads_sharing_one_transport_never_share_a_connection(serve: Any) -> None:
    server, transport = serve()

    def read(n: int) -> list[str]:
        return [run_inline(transport.get(f"t{n}-{i}")).name for i in range(30)]  # type: ignore[union-attr]

    with ThreadPoolExecutor(8) as pool:
        names = [name for batch in pool.map(read, range(8)) for name in batch]
    assert sorted(names) == sorted(f"t{n}-{i}" for n in range(8) for i in range(30))
    assert 1 <= server.connections <= 16  # at most one per thread, plus replacements


def test_429_is_retried_after_retry_after(serve: Any) -> None:
    answers = iter([429, 429, 200])

    def throttled(handler: Handler) -> tuple[int, dict[str, Any], dict[str, str]]:
        code = next(answers)
        if code == 429:
            return (
                429,
                {"kind": "Status", "code": 429, "reason": "TooManyRequests"},
                {"Retry-After": "0"},
            )
        return ok(handler)

    _, transport = serve(throttled)
    assert run_inline(transport.get("svc")) is not None
    assert transport.stats.throttled == 2


def test_401_rereads_the_token_file_once(serve: Any, tmp_path: Path) -> None:
    def refused(handler: Handler) -> tuple[int, dict[str, Any], dict[str, str]]:
        if handler.headers["Authorization"] == "Bearer rotated":
            return ok(handler)
        return 401, {"kind": "Status", "code": 401, "reason": "Unauthorized"}, {}

    server, transport = serve(refused)
    with pytest.raises(AuthenticationError) as caught:
        run_inline(transport.get("svc"))
    assert CANARY not in str(caught.value)
    assert len(server.seen) == 1  # the file read again holds the same token: no retry
    (tmp_path / "token").write_text("rotated")
    assert run_inline(transport.get("svc")) is not None  # read again after the 401
    assert server.seen[-1][1]["Authorization"] == "Bearer rotated"


def test_plain_http_through_a_proxy_sends_the_whole_url_and_proxy_credentials(
    serve: Any,
) -> None:
    """The server stands in for a plain-HTTP proxy: it answers requests whose target is
    the API server's whole URL, as a proxy receives them."""
    proxy, _ = serve()
    cluster = {
        "server": "http://api.invalid:6443",
        "proxy-url": proxy.url.replace("http://", "http://user:p%40ss@"),
    }
    _, proxied = serve(cluster=cluster)
    assert run_inline(proxied.get("svc")) is not None
    path, headers = proxy.seen[-1]
    assert path == "http://api.invalid:6443/api/v1/namespaces/ns/secrets/svc"
    assert headers["Proxy-Authorization"] == "Basic dXNlcjpwQHNz"  # user:p@ss
