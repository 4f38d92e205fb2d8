"""Requests to one API server with the standard library, blocking: no event loop.

The twin of ``http_session.HttpSession`` for one-shot work (a CLI command, a script):
``http.client`` on one keep-alive connection, TLS, SNI name, proxy and credentials from
the same :class:`~.connect.Endpoint`. Its ``request`` is a coroutine that never
suspends, so the provider's own code runs unchanged and can be driven without a loop
(:func:`~..providers.inline.run_inline`). A connection the server closed while idle is
opened again once, at once; other failures come out as the transport-neutral
exceptions of ``errors``, raised outside the handlers: a TLS or socket error may hold
the request.
"""

from __future__ import annotations

import base64
import http.client
import ssl
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
    """Requests to one endpoint on one connection; bodies are bytes, as for
    ``HttpSession``. Exec credential plugins need an event loop: not supported here."""

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
        self._conn: http.client.HTTPConnection | None = None
        self._ssl: ssl.SSLContext | bool | None = None
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

    def _connect(self) -> http.client.HTTPConnection:
        context = self.endpoint.ssl_context()
        if self._conn is not None and context is self._ssl:
            return self._conn
        self.close_now()
        host, port = self._host, self._port
        if self.endpoint.proxy is not None:
            proxy = urlsplit(self.endpoint.proxy)
            host, port = proxy.hostname or "", proxy.port or 80
        conn: http.client.HTTPConnection
        if self._tls:
            assert isinstance(context, ssl.SSLContext)
            sni = self.endpoint.server_hostname
            conn = _Connection(host, port, sni=sni, timeout=self._timeout, context=context)
            if self.endpoint.proxy is not None:
                conn.set_tunnel(self._host, self._port, self._proxy_auth)  # CONNECT
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self._timeout)
        self._conn, self._ssl = conn, context
        return conn

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
            status, phrase, retry_after, data = 0, "", None, b""
            try:
                status, phrase, retry_after, data = self._exchange(method, target, body, headers)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self.close_now()
                failure = self.connection_failed(exc)
            if failure is not None:
                raise failure
            if status < 300:
                return Reply(status, data)
            if status == 401 and attempt == 1 and await self.endpoint.unauthorized():
                continue
            raise ErrorReply(server_reply(status, phrase, retry_after, read_status(data)))
        raise AssertionError("unreachable")

    def _exchange(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, str, str | None, bytes]:
        reused = self._conn is not None
        for _ in (1, 2):
            conn = self._connect()
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except _STALE:
                if not reused:
                    raise
                reused = False  # closed while idle: once more, on a new connection
                self.close_now()
                continue
            if response.will_close:
                self.close_now()
            return response.status, response.reason or "", response.getheader("Retry-After"), data
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

    def close_now(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def close(self) -> None:
        self.close_now()
