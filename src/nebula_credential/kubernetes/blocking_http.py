"""Requests to one API server with the standard library, blocking: no event loop.

The twin of ``http_session.HttpSession`` for one-shot work (a CLI command, a script):
``http.client`` on a few keep-alive connections (one per thread at a time), with TLS,
SNI name, proxy and credentials from the same :class:`~.connect.Endpoint`. Its
``request`` is a coroutine that never suspends, so the provider's own code runs
unchanged and can be driven without a loop (:func:`~..providers.inline.run_inline`).
A connection the server closed while idle is opened again once, at once; other
failures come out as the transport-neutral exceptions of ``errors``, raised outside
the handlers: a TLS or socket error may hold the request.
"""

from __future__ import annotations

import base64
import http.client
import ssl
import threading
from collections.abc import AsyncGenerator
from typing import Final
from urllib.parse import unquote, urlencode, urlsplit

from .connect import Endpoint
from .errors import ConnectionFailed, ErrorReply, server_reply
from .http_transport import Params, Reply
from .naming import MANAGER
from .wire_secret import read_status

USER_AGENT: Final = f"{MANAGER}/0.1 (http.client)"
# Failures of a reused keep-alive connection that mean "closed while idle", not "down".
_STALE: Final = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
_IDLE: Final = 8  # idle connections kept at most


class _Connection(http.client.HTTPSConnection):
    """An HTTPS connection that checks the certificate for ``sni`` when given
    (kubeconfig ``tls-server-name``), through a CONNECT tunnel or directly."""

    def __init__(
        self,
        host: str,
        port: int | None,
        *,
        sni: str | None,
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._sni = sni

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # TCP, and the CONNECT of a tunnel
        name = self._sni or self._tunnel_host or self.host  # type: ignore[attr-defined]
        self.sock = self._context.wrap_socket(self.sock, server_hostname=name)  # type: ignore[attr-defined]


class BlockingHttpSession:
    """Requests to one endpoint; bodies are bytes, as for ``HttpSession``. Exec
    credential plugins need an event loop: ``transports`` never pairs one with this."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self.endpoint = endpoint
        self._timeout = timeout
        parts = urlsplit(endpoint.server)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._tls else 80)
        # Request targets: the path, or through a proxy to an http:// server the whole URL.
        self._base = endpoint.server if endpoint.proxy and not self._tls else parts.path
        self._base = self._base.rstrip("/")
        # Idle keep-alive connections: a call takes one (or opens one) and gives it back,
        # so threads sharing a provider never share a connection.
        self._idle: list[http.client.HTTPConnection] = []
        self._ssl: ssl.SSLContext | bool | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        self._proxy_auth: dict[str, str] = {}
        if endpoint.proxy is not None:
            proxy = urlsplit(endpoint.proxy)
            if proxy.username is not None:
                pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
                basic = base64.b64encode(pair.encode()).decode()
                self._proxy_auth["Proxy-Authorization"] = f"Basic {basic}"
            if not self._tls:
                self._headers.update(self._proxy_auth)  # plain HTTP: each request says it

    def _open(self, context: ssl.SSLContext | bool) -> http.client.HTTPConnection:
        host, port = self._host, self._port
        if self.endpoint.proxy is not None:
            proxy = urlsplit(self.endpoint.proxy)
            host, port = proxy.hostname or "", proxy.port or 80
        if not self._tls:
            return http.client.HTTPConnection(host, port, timeout=self._timeout)
        assert isinstance(context, ssl.SSLContext)
        sni = self.endpoint.server_hostname
        conn = _Connection(host, port, sni=sni, timeout=self._timeout, context=context)
        if self.endpoint.proxy is not None:
            conn.set_tunnel(self._host, self._port, self._proxy_auth)  # CONNECT
        return conn

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection of the current TLS context (reused: True), or a new one."""
        context = self.endpoint.ssl_context()
        with self._lock:
            if context is not self._ssl:  # new credentials: the old connections go
                stale, self._idle, self._ssl = self._idle, [], context
            else:
                stale = []
            conn = self._idle.pop() if self._idle else None
        for old in stale:
            old.close()
        return (conn, True) if conn is not None else (self._open(context), False)

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < _IDLE and not self._closed:
                self._idle.append(conn)
                return
        conn.close()

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> Reply:
        """The 2xx reply; raises ErrorReply for others, ConnectionFailed for no reply.

        After a 401 the endpoint drops its cached credentials and the request is sent
        once more when that may help (a rotated token file).
        """
        target = self._base + url[len(self.endpoint.server) :]
        if params:
            target += "?" + urlencode(params)
        for attempt in (1, 2):
            headers = {**self._headers, **(await self.endpoint.headers())}
            if body is not None:
                headers["Content-Type"] = content_type
            failure: ConnectionFailed | None = None
            status, phrase, retry_after, date, data = 0, "", None, None, b""
            try:
                status, phrase, retry_after, date, data = self._exchange(
                    method, target, body, headers
                )
            except (OSError, http.client.HTTPException, ValueError) as exc:
                failure = self.connection_failed(exc)
            if failure is not None:
                raise failure
            if status < 300:
                return Reply(status, data, date)
            if status == 401 and attempt == 1 and await self.endpoint.unauthorized():
                continue
            raise ErrorReply(server_reply(status, phrase, retry_after, read_status(data)))
        raise AssertionError("unreachable")

    def _exchange(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, str, str | None, str | None, bytes]:
        for attempt in (1, 2):
            conn, reused = self._take()
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except _STALE:
                conn.close()
                if reused and attempt == 1:
                    # Closed by the server while idle (a timeout, a restart): the other
                    # idle ones likely were too. Once more, on a new connection.
                    self._drop_idle()
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                self._give_back(conn)
            return (
                response.status,
                response.reason or "",
                response.getheader("Retry-After"),
                response.getheader("Date"),
                data,
            )
        raise AssertionError("unreachable")

    def stream_lines(self, url: str, params: Params) -> AsyncGenerator[bytes, None]:
        raise ConnectionFailed("the blocking transport cannot watch")

    def connection_failed(self, exc: BaseException) -> ConnectionFailed:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return ConnectionFailed(type(exc).__name__, untrusted=True)
        if isinstance(exc, TimeoutError):
            return ConnectionFailed(f"{type(exc).__name__}: no reply within {self._timeout}s")
        detail = str(exc).replace(self.endpoint.server, self.endpoint.shown)[:120]
        return ConnectionFailed(f"{type(exc).__name__}: {detail or 'no detail'}")

    def _drop_idle(self, *, closing: bool = False) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._closed = self._closed or closing
        for conn in idle:
            conn.close()

    async def close(self) -> None:
        self._drop_idle(closing=True)
