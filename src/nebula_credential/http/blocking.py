"""The blocking driver: requests to one origin with ``http.client``, no event loop.

The twin of :mod:`.aio` for one-shot work (a CLI command, a script): a few keep-alive
connections (one per thread at a time), TLS with an optional SNI name, an HTTP proxy
(``CONNECT`` for https, the absolute URL for http). Its ``send`` is a coroutine that never
suspends, so async protocol code runs unchanged and can be driven without a loop
(:func:`~..providers.inline.run_inline`). It repeats nothing: a kept-alive connection the
server closed while idle comes back as :class:`~.message.NoReply` with ``reused`` set,
and ``sent`` says whether the request had been written whole.
"""

from __future__ import annotations

import _thread
import base64
import http.client
import socket
import ssl
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Final
from urllib.parse import unquote, urlsplit

from . import message
from .message import NoReply, Request, Response
from .urls import shown_url

_IDLE: Final = 8  # idle connections kept at most
_CHUNK: Final = 64 * 1024


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
        self.sock = self._context.wrap_socket(self.sock, server_hostname=_encoded(name))  # type: ignore[attr-defined]


class BlockingDriver:
    """Requests to ``origin`` with the TLS context ``context()`` returns now."""

    blocking: bool = True

    def __init__(
        self,
        origin: str,
        *,
        context: Callable[[], ssl.SSLContext | bool],
        user_agent: str,
        timeout: float,
        proxy: str | None = None,
        server_hostname: str | None = None,
    ) -> None:
        self.origin = origin.rstrip("/")
        self.proxy = proxy
        self._shown = shown_url(self.origin)
        self._context = context
        self._sni = server_hostname
        self._timeout = timeout
        parts = urlsplit(self.origin)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._tls else 80)
        # Through a proxy to an http:// origin, each request names the whole URL.
        self._prefix = self.origin if proxy and not self._tls else ""
        self._idle: list[http.client.HTTPConnection] = []
        self._ssl: ssl.SSLContext | bool | None = None
        self._lock = _thread.allocate_lock()  # threading itself is not needed
        self._closed = False
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._tunnel_headers: dict[str, str] = {}
        if proxy is not None:
            host = f"[{self._host}]" if ":" in self._host else self._host
            # Python 3.11 sends no Host header with CONNECT; proxies may insist on one.
            self._tunnel_headers["Host"] = f"{host}:{self._port}"
            url = urlsplit(proxy)
            if url.username is not None:
                pair = f"{unquote(url.username)}:{unquote(url.password or '')}"
                basic = f"Basic {base64.b64encode(pair.encode()).decode()}"
                if self._tls:
                    self._tunnel_headers["Proxy-Authorization"] = basic
                else:
                    self._headers["Proxy-Authorization"] = basic  # each request says it

    def _open(self, context: ssl.SSLContext | bool) -> http.client.HTTPConnection:
        host, port = self._host, self._port
        if self.proxy is not None:
            url = urlsplit(self.proxy)
            host, port = url.hostname or "", url.port or 80
        conn: http.client.HTTPConnection
        if not self._tls:
            conn = http.client.HTTPConnection(host, port, timeout=self._timeout)
        else:
            assert isinstance(context, ssl.SSLContext)
            conn = _Connection(host, port, sni=self._sni, timeout=self._timeout, context=context)
            if self.proxy is not None:
                conn.set_tunnel(self._host, self._port, self._tunnel_headers)
        conn._create_connection = _create_connection  # type: ignore[attr-defined]
        return conn

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection of the current TLS context (reused: True), or a new one."""
        context = self._context()
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

    async def send(self, request: Request, auth: Mapping[str, str]) -> Response:
        """The answer to ``request``, whatever its status; NoReply when there is none."""
        headers = {**self._headers, **auth}
        if request.headers:
            headers.update(request.headers)
        if request.body is not None:
            headers["Content-Type"] = request.content_type
        failure: NoReply | None = None
        answer: Response | None = None
        conn, reused = self._take()
        phase = "connect"
        try:
            if conn.sock is None:
                conn.connect()
            phase = "send"
            conn.request(request.method, self._prefix + request.target, request.body, headers)
            phase = "answer"
            reply = conn.getresponse()
            body = _read(reply, request.max_body)
            if body is None:
                failure = NoReply(
                    message.TOO_LARGE, f"an answer larger than {request.max_body} bytes", sent=True
                )
                reply.close()  # it holds the socket too, until garbage collection
                conn.close()
            else:
                answer = Response(reply.status, reply.reason or "", reply.headers, body)
                if reply.will_close:
                    conn.close()
                else:
                    self._give_back(conn)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            conn.close()
            failure = self.no_reply(exc, phase, reused=reused)
            if failure.stale:
                # Closed by the server while idle (a timeout, a restart): the other idle
                # ones likely were too, and each would cost an attempt.
                self._drop_idle()
        if answer is None:
            assert failure is not None
            raise failure
        return answer

    def lines(
        self, request: Request, auth: Mapping[str, str], max_line: int
    ) -> AsyncGenerator[bytes, None]:
        raise NoReply(message.CONNECT, "the blocking driver does not stream", sent=False)

    def no_reply(self, exc: BaseException, phase: str, *, reused: bool) -> NoReply:
        """What a failure says, without the request it may hold; ``phase`` is where it
        happened: connecting, sending the request or reading the answer."""
        name = type(exc).__name__
        if isinstance(exc, ssl.SSLCertVerificationError):
            return NoReply(message.UNTRUSTED, name, sent=False)
        detail = str(exc).replace(self.origin, self._shown)[:120] or "no detail"
        if phase == "connect":
            if isinstance(exc, TimeoutError):
                kind, detail = message.TIMEOUT, "no connection in time"
            elif self.proxy is not None and (
                not self._tls or "Tunnel connection failed" in str(exc) or not _tls_error(exc)
            ):
                kind = message.PROXY
            elif _tls_error(exc):
                kind = message.TLS
            else:
                kind = message.CONNECT
            return NoReply(kind, f"{name}: {detail}", sent=False)
        sent = phase == "answer"
        if isinstance(exc, TimeoutError):
            return NoReply(message.TIMEOUT, f"{name}: no answer within {self._timeout}s", sent=sent)
        return NoReply(message.DROPPED, f"{name}: {detail}", sent=sent, reused=reused)

    async def sleep(self, seconds: float) -> None:
        time.sleep(seconds)  # noqa: ASYNC251 - this driver blocks by design

    def _drop_idle(self, *, closing: bool = False) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._closed = self._closed or closing
        for conn in idle:
            conn.close()

    async def close(self) -> None:
        self._drop_idle(closing=True)


def _encoded(name: str) -> str | bytes:
    """``name`` as ``getaddrinfo`` and ``ssl`` would encode it: bytes when it is ASCII and
    passes the idna codec's checks, so that they do not import the codec (with
    ``unicodedata``: milliseconds of a command's start-up) to find the same bytes; any
    other name as it is."""
    if not name.isascii():
        return name
    *inner, last = name.split(".")
    if len(last) >= 64 or not all(0 < len(label) < 64 for label in inner):
        return name  # the codec raises its own error, as before
    return name.encode("ascii")


def _create_connection(
    address: tuple[str, int], timeout: float, source_address: tuple[str, int] | None = None
) -> socket.socket:
    """``socket.create_connection`` for ``http.client``, the host name encoded first."""
    host, port = address
    return socket.create_connection((_encoded(host), port), timeout, source_address)  # type: ignore[arg-type]


def _tls_error(exc: BaseException) -> bool:
    return isinstance(exc, ssl.SSLError)


def _read(reply: http.client.HTTPResponse, limit: int) -> bytes | None:
    """The body, or None when it is longer than ``limit`` (not read past it)."""
    length = reply.length
    if length is not None and length > limit:
        return None
    if length is not None:
        return reply.read()
    data = bytearray()
    while chunk := reply.read(min(_CHUNK, limit + 1 - len(data))):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)
