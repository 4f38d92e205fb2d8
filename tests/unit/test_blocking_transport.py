"""The Secret transport on the blocking driver against a real HTTP server on loopback
that behaves as the real API server cannot be made to on demand: it closes idle
keep-alive connections, counts connections, answers 429 and 401, loses the reply to a
DELETE it carried out, and receives requests as a plain-HTTP proxy would."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from nebula_credential import AuthenticationError, ConfigurationError
from nebula_credential.kubernetes import RetryPolicy
from nebula_credential.kubernetes.api.clients import client_on
from nebula_credential.kubernetes.api.secret_calls import HttpTransport
from nebula_credential.kubernetes.config.cluster import load_cluster_config
from nebula_credential.kubernetes.model.objects import SecretObject
from nebula_credential.providers.inline import run_inline

CANARY = "canary-blocking-8c2a"
Reply = tuple[int, dict[str, Any], dict[str, str]]
Answer = Callable[["Handler"], Reply | None]  # None: drop the connection, no reply
FAST = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05, deadline=20)


def secret(name: str) -> dict[str, Any]:
    return {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "7", "uid": "u"},
        "data": {},
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart
    server: Server

    def setup(self) -> None:
        self.timeout = self.server.idle_timeout  # the server closes idle connections
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with self.server.lock:
            self.server.seen.append((self.command, self.path, dict(self.headers)))
            count = len(self.server.seen)
        answered = self.server.answer(self)
        if answered is None:
            self.close_connection = True  # the request was read; the reply is lost
            return
        status, body, headers = answered
        raw = json.dumps(body).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
        if self.server.close_every and count % self.server.close_every == 0:
            self.close_connection = True  # without saying so: a keep-alive timeout

    do_GET = do_DELETE = do_POST = _any

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: Answer, close_every: int = 0, idle_timeout: float | None = None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.answer = answer
        self.close_every = close_every
        self.idle_timeout = idle_timeout
        self.lock = threading.Lock()
        self.connections = 0
        self.seen: list[tuple[str, str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def ok(handler: Handler) -> Reply:
    return 200, secret(handler.path.rsplit("/", 1)[-1]), {}


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[Server, HttpTransport]]]:
    servers: list[Server] = []
    transports: list[HttpTransport] = []

    def start(
        answer: Answer = ok,
        *,
        close_every: int = 0,
        idle_timeout: float | None = None,
        cluster: dict[str, Any] | None = None,
        policy: RetryPolicy = FAST,
    ) -> tuple[Server, HttpTransport]:
        server = Server(answer, close_every, idle_timeout)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
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
        transport = HttpTransport(client_on("blocking", target, policy=policy, timeout=5), "ns")
        assert transport.blocking
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
    _, path, headers = server.seen[0]
    assert path == "/api/v1/namespaces/ns/secrets/s0"
    assert headers["Authorization"] == f"Bearer token-{CANARY}"
    assert headers["User-Agent"].startswith("nebula-credential/")


def test_a_connection_closed_while_idle_is_replaced_and_the_call_succeeds(serve: Any) -> None:
    server, transport = serve(close_every=3)
    for i in range(12):
        assert run_inline(transport.get(f"s{i}")) is not None
    assert server.connections == 4
    assert len(server.seen) == 12  # the requests on closed connections never arrived
    # A call that met a closed connection sent once more and counted it; none gave up.
    assert transport.stats.retries == transport.stats.connection_errors <= 3
    assert transport.stats.gave_up == 0


def test_idle_connections_all_closed_by_the_server_do_not_fail_the_next_call(
    serve: Any,
) -> None:
    """A burst of calls from threads leaves several kept-alive connections; the server
    (or a load balancer) closes them after its idle timeout. The next call is not an
    outage: it must succeed on a new connection, not use up its attempts on the dead
    ones and report the API server as down."""

    def slow(handler: Handler) -> Reply:
        time.sleep(0.05)  # the burst's calls overlap: one connection each
        return ok(handler)

    policy = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)
    server, transport = serve(slow, idle_timeout=0.2, policy=policy)
    with ThreadPoolExecutor(8) as pool:
        names = list(pool.map(lambda i: run_inline(transport.get(f"b{i}")).name, range(8)))
    assert sorted(names) == sorted(f"b{i}" for i in range(8))
    assert server.connections >= policy.attempts  # more idle connections than attempts
    time.sleep(0.5)  # past the server's idle timeout: every idle connection is closed
    found = run_inline(transport.get("after-idle"))
    assert found is not None
    assert found.name == "after-idle"


def test_threads_sharing_one_transport_never_share_a_connection(serve: Any) -> None:
    server, transport = serve()

    def read(n: int) -> list[str]:
        return [run_inline(transport.get(f"t{n}-{i}")).name for i in range(30)]

    with ThreadPoolExecutor(8) as pool:
        names = [name for batch in pool.map(read, range(8)) for name in batch]
    assert sorted(names) == sorted(f"t{n}-{i}" for n in range(8) for i in range(30))
    assert 1 <= server.connections <= 16  # at most one per thread, plus replacements


def test_429_is_retried_after_retry_after(serve: Any) -> None:
    answers = iter([429, 429, 200])

    def throttled(handler: Handler) -> Reply:
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
    def refused(handler: Handler) -> Reply:
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
    assert server.seen[-1][2]["Authorization"] == "Bearer rotated"


@pytest.mark.parametrize("warm", [False, True], ids=["new-connection", "kept-alive"])
def test_a_delete_whose_reply_is_lost_reports_the_secret_deleted(serve: Any, warm: bool) -> None:
    """The server deletes the Secret and the connection breaks before the reply: the
    DELETE's repeat finds nothing, which the first attempt did; never "was absent"."""
    stored = {"s": True}

    def delete_then_drop(handler: Handler) -> Reply | None:
        if handler.command == "GET":
            return ok(handler)
        if stored.pop("s", False):
            return None  # deleted; the reply is lost
        return 404, {"kind": "Status", "code": 404, "details": {"kind": "secrets"}}, {}

    server, transport = serve(delete_then_drop)
    if warm:
        assert run_inline(transport.get("s")) is not None
    target = SecretObject("s", uid="u", resource_version="7")
    assert run_inline(transport.delete(target)) is True
    assert [method for method, _, _ in server.seen if method == "DELETE"] == ["DELETE"] * 2
    assert stored == {}


def test_a_plain_404_on_delete_reports_nothing_deleted(serve: Any) -> None:
    def absent(handler: Handler) -> Reply:
        return 404, {"kind": "Status", "code": 404, "details": {"kind": "secrets"}}, {}

    server, transport = serve(absent)
    assert run_inline(transport.delete(SecretObject("s", uid="u", resource_version="7"))) is False
    assert len(server.seen) == 1


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
    _, path, headers = proxy.seen[-1]
    assert path == "http://api.invalid:6443/api/v1/namespaces/ns/secrets/svc"
    assert headers["Proxy-Authorization"] == "Basic dXNlcjpwQHNz"  # user:p@ss


def test_the_blocking_transport_refuses_to_watch(serve: Any) -> None:
    _, transport = serve()
    with pytest.raises(ConfigurationError, match="blocking Kubernetes transport cannot watch"):
        run_inline(transport.watch({"a": "b"}).__anext__())
