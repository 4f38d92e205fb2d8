"""The asyncio driver: requests to one origin on one aiohttp session, bytes in and out.

It sends a :class:`~.message.Request`, reads at most its ``max_body`` bytes and hands back
a :class:`~.message.Response`; it follows no redirect, repeats nothing (aiohttp's own
silent repeat of PUT and DELETE on a reused connection is switched off) and reports a
missing reply as :class:`~.message.NoReply`, raised outside aiohttp's handlers: its
exceptions hold the request, headers included. The session is created on first use,
inside the running loop, and kept; when the TLS context changes (an exec plugin's new
client certificate) the next request opens a new one and at most a few old ones stay
open for the calls still in flight. A session belongs to its event loop: the driver is
bound to the first loop that sends (:class:`~nebula_credential._loops.LoopBinding`) and
refuses another one while that loop is open.
"""

from __future__ import annotations

import asyncio
import io
import ssl
import sys
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Final

import aiohttp

from .._loops import LoopBinding
from . import message
from ._aiohttp_compat import no_silent_repeat
from .message import NoReply, Request, Response, StatusError
from .urls import shown_url

CONNECTIONS: Final = 64  # keep-alive connections to the origin at most
# Pythons before the fix of cpython#118960 leave a closed TLS connection's socket open
# until garbage collection; aiohttp then aborts them itself, at the latest on close().
_CLEANUP_CLOSED: Final = sys.version_info < (3, 12, 8) or (3, 13) <= sys.version_info < (3, 13, 1)
_LARGE_BODY: Final = 512 * 1024  # sent from a buffer in chunks, as aiohttp asks
_RETIRED: Final = 4  # sessions of replaced credentials kept open for calls in flight
_CHUNK: Final = 64 * 1024


class AioDriver:
    """Requests to ``origin`` (``scheme://host:port``) with the TLS context that
    ``context()`` returns now, through ``proxy`` when given."""

    blocking: bool = False

    def __init__(
        self,
        origin: str,
        *,
        context: Callable[[], ssl.SSLContext | bool],
        user_agent: str,
        timeout: float,
        proxy: str | None = None,
        server_hostname: str | None = None,
        decompress: bool = True,
        connections: int = CONNECTIONS,
    ) -> None:
        self.origin = origin.rstrip("/")
        self._shown = shown_url(self.origin)
        self.proxy = proxy
        self._context = context
        self._server_hostname = server_hostname
        self._user_agent = user_agent
        self._decompress = decompress
        self._connections = connections
        # Opening a socket and each read are bounded; waiting for a pooled connection is
        # not (a timer per request for nothing: the pool is as large as the concurrency).
        self._timeout = aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout)
        self._stream_timeout = aiohttp.ClientTimeout(sock_connect=timeout, sock_read=None)
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | bool | None = None
        self._retired: list[aiohttp.ClientSession] = []
        self._closing: set[asyncio.Future[None]] = set()
        self._auth: Mapping[str, str] = {}
        self._auth_seen: Mapping[str, str] | None = None  # the last mapping given
        self._home = LoopBinding("Kubernetes client (its aiohttp session)")

    def _session_for(self, auth: Mapping[str, str]) -> aiohttp.ClientSession:
        """The session for the current TLS context, sending ``auth`` from now on.

        The auth headers live in the session's default headers, updated when they change
        (a rotated token): aiohttp merges per-request headers into a new multidict on
        every request, which costs as much as the rest of a GET.
        """
        if self._home.enter():  # the sessions' loop was closed, and their sockets with it
            self._session, self._retired, self._ssl = None, [], None
        context = self._context()
        session = self._session
        if auth is not self._auth_seen and auth != self._auth:
            if session is not None:
                defaults = session.headers
                for key in self._auth.keys() - auth.keys():
                    defaults.pop(key, None)
                defaults.update(auth)
            self._auth = dict(auth)
        self._auth_seen = auth
        if session is not None and context is self._ssl:
            return session
        if session is not None:
            self._retire(session)
        connector = aiohttp.TCPConnector(
            ssl=context,
            limit=self._connections,
            limit_per_host=self._connections,
            keepalive_timeout=60,
            enable_cleanup_closed=_CLEANUP_CLOSED,
        )
        self._session = session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self._user_agent, "Accept": "application/json", **self._auth},
            timeout=self._timeout,
            auto_decompress=self._decompress,
            # No API we call sets cookies; a jar would be searched on every request
            # (about 10 us each) and would send back whatever a proxy set.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        no_silent_repeat(session)
        self._ssl = context
        return session

    def _retire(self, session: aiohttp.ClientSession) -> None:
        self._retired.append(session)
        if len(self._retired) > _RETIRED:
            # Closed in the background: its calls, if any, fail and are retried.
            closing = asyncio.ensure_future(self._retired.pop(0).close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    def _payload(self, request: Request) -> aiohttp.Payload | None:
        body = request.body
        if body is None:
            return None
        if len(body) > _LARGE_BODY:
            return aiohttp.BytesIOPayload(io.BytesIO(body), content_type=request.content_type)
        return aiohttp.BytesPayload(body, content_type=request.content_type)

    async def send(self, request: Request, auth: Mapping[str, str]) -> Response:
        """The answer to ``request``, whatever its status; NoReply when there is none."""
        session = self._session_for(auth)
        failure: NoReply | None = None
        answer: Response | None = None
        try:
            async with session.request(
                request.method,
                self.origin + request.target,
                data=self._payload(request),
                headers=request.headers,
                proxy=self.proxy,
                server_hostname=self._server_hostname,
                allow_redirects=False,
            ) as reply:
                body = await _read(reply, request.max_body)
                if body is None:
                    failure = NoReply(
                        message.TOO_LARGE,
                        f"an answer larger than {request.max_body} bytes",
                        sent=True,
                    )
                else:
                    answer = Response(reply.status, reply.reason or "", reply.headers, body)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            failure = self.no_reply(exc)
        if answer is None:
            assert failure is not None
            raise failure
        return answer

    async def lines(
        self, request: Request, auth: Mapping[str, str], max_line: int
    ) -> AsyncGenerator[bytes, None]:
        """The lines of a streamed 2xx answer (a watch), each at most ``max_line`` bytes;
        StatusError for another status, NoReply when the stream breaks."""
        session = self._session_for(auth)
        failure: Exception | None = None
        try:
            async with session.request(
                request.method,
                self.origin + request.target,
                proxy=self.proxy,
                server_hostname=self._server_hostname,
                timeout=self._stream_timeout,
                allow_redirects=False,
            ) as reply:
                if reply.status >= 300:
                    body = await _read(reply, request.max_body) or b""
                    failure = StatusError(
                        Response(reply.status, reply.reason or "", reply.headers, body)
                    )
                else:
                    buffer = bytearray()
                    async for chunk in reply.content.iter_any():
                        buffer += chunk
                        start = 0
                        while (end := buffer.find(b"\n", start)) >= 0:
                            if end > start:
                                yield bytes(buffer[start:end])
                            start = end + 1
                        del buffer[:start]
                        if len(buffer) > max_line:
                            failure = NoReply(
                                message.TOO_LARGE, f"a line longer than {max_line} bytes", sent=True
                            )
                            break
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            failure = self.no_reply(exc)
        if failure is not None:
            raise failure

    def no_reply(self, exc: BaseException) -> NoReply:
        """What a failure of aiohttp's says, without the request it may hold."""
        name = type(exc).__name__
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return NoReply(message.UNTRUSTED, name, sent=False)
        if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
            status = getattr(exc, "status", None)
            said = f" (it answered HTTP {status})" if isinstance(status, int) else ""
            return NoReply(message.PROXY, f"{name}{said}", sent=False)
        if isinstance(exc, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError):
            return NoReply(message.TLS, name, sent=False)
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return NoReply(message.TIMEOUT, f"{name}: no connection in time", sent=False)
        if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.InvalidURL):
            return NoReply(message.CONNECT, f"{name}: {self._detail(exc)}", sent=False)
        if isinstance(exc, TimeoutError):  # aiohttp's read timeouts are TimeoutErrors too
            return NoReply(message.TIMEOUT, f"{name}: no answer in time", sent=True)
        return NoReply(message.DROPPED, f"{name}: {self._detail(exc)}", sent=True)

    def _detail(self, exc: BaseException) -> str:
        if isinstance(exc, aiohttp.InvalidURL):
            return "not a valid URL"
        return str(exc).replace(self.origin, self._shown)[:120] or "no detail"

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        """Close the sessions on their own loop: from another one (a sync facade closing
        a provider that async code used), that loop is handed the closing."""
        sessions = [*self._retired, *([self._session] if self._session else [])]
        self._session, self._retired, self._ssl = None, [], None
        home = self._home.loop
        if home is not None and self._home.is_foreign():
            asyncio.run_coroutine_threadsafe(_close_all(sessions), home)
            return
        await _close_all(sessions)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


async def _close_all(sessions: list[aiohttp.ClientSession]) -> None:
    for session in sessions:
        await session.close()


async def _read(reply: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The body, or None when it is longer than ``limit`` (not read past it)."""
    length = reply.content_length
    if length is not None and "Content-Encoding" not in reply.headers:
        # Declared and not compressed: what is read is what was declared.
        return await reply.read() if length <= limit else None
    data = bytearray()
    while chunk := await reply.content.read(_CHUNK):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)
