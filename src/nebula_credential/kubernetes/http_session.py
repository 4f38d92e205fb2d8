"""One aiohttp session to one API server: keep-alive, TLS and auth from an Endpoint.

The session is created on first use, inside the running event loop, and kept: every
request reuses its pooled keep-alive connections and the one SSL context of the
endpoint. When the endpoint's credentials change (an exec plugin returned a new client
certificate, so ``ssl_context()`` is a new object) the next request opens a new
session. Failures come out as the transport-neutral exceptions of ``errors``, raised
outside aiohttp's handlers: its exceptions hold the request, headers included.
"""

from __future__ import annotations

import asyncio
import io
import ssl
import sys
from collections.abc import AsyncGenerator
from typing import Final

import aiohttp

from .connect import Endpoint
from .errors import ConnectionFailed, ErrorReply, server_reply
from .http_transport import Params, Reply
from .naming import MANAGER
from .wire_secret import read_status

# managedFields name us through fieldManager; the User-Agent names us in audit logs.
USER_AGENT: Final = f"{MANAGER}/0.1 (aiohttp)"
CONNECTIONS: Final = 64  # keep-alive connections to the API server at most
MAX_LINE: Final = 8 * 1024 * 1024  # a watch event: a Secret of at most 1 MiB, base64
# Pythons before the fix of cpython#118960 leave a closed TLS connection's socket open
# until garbage collection; aiohttp then aborts them itself, at the latest on close().
_CLEANUP_CLOSED: Final = sys.version_info < (3, 12, 8) or (3, 13) <= sys.version_info < (3, 13, 1)
_LARGE_BODY: Final = 512 * 1024  # sent from a buffer in chunks, as aiohttp asks
_RETIRED: Final = 4  # sessions of replaced credentials kept open for calls in flight


class HttpSession:
    """Requests to one endpoint; bodies are bytes, encoded and decoded by the caller."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self.endpoint = endpoint
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)
        # A watch waits for events as long as the server keeps it open.
        self._watch_timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=None)
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | bool | None = None
        self._retired: list[aiohttp.ClientSession] = []
        self._closing: set[asyncio.Future[None]] = set()
        self._auth: dict[str, str] = {}

    def session(self) -> aiohttp.ClientSession:
        context = self.endpoint.ssl_context()
        session = self._session
        if session is not None and context is self._ssl:
            return session
        if session is not None:
            self._retired.append(session)
            if len(self._retired) > _RETIRED:
                # Closed in the background: its calls, if any, fail and are retried.
                closing = asyncio.ensure_future(self._retired.pop(0).close())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)
        connector = aiohttp.TCPConnector(
            ssl=context,
            limit=CONNECTIONS,
            limit_per_host=CONNECTIONS,
            keepalive_timeout=60,
            enable_cleanup_closed=_CLEANUP_CLOSED,
        )
        self._session = session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **self._auth},
            timeout=self._timeout,
        )
        self._ssl = context
        return session

    def _authorize(self, auth: dict[str, str]) -> aiohttp.ClientSession:
        """The session, sending ``auth`` from now on.

        The auth headers live in the session's default headers, updated when the
        endpoint's change (a rotated token): aiohttp merges per-request headers into a
        new multidict on every request, which costs as much as the rest of a GET.
        """
        if auth != self._auth:
            if self._session is not None:
                defaults = self._session.headers
                for key in self._auth.keys() - auth.keys():
                    defaults.pop(key, None)
                defaults.update(auth)
            self._auth = auth
        return self.session()

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
        once more when that may help (a rotated token, an expired exec credential).
        """
        endpoint = self.endpoint
        for attempt in (1, 2):
            session = self._authorize(await endpoint.headers())
            failure: Exception | None = None
            status, data, phrase, retry_after, date = 0, b"", "", None, None
            sent: aiohttp.Payload | None = None
            if body is not None and len(body) > _LARGE_BODY:
                sent = aiohttp.BytesIOPayload(io.BytesIO(body), content_type=content_type)
            elif body is not None:
                sent = aiohttp.BytesPayload(body, content_type=content_type)
            try:
                async with session.request(
                    method,
                    url,
                    params=params,
                    data=sent,
                    proxy=endpoint.proxy,
                    server_hostname=endpoint.server_hostname,
                ) as response:
                    data = await response.read()
                    status, phrase = response.status, response.reason or ""
                    retry_after = response.headers.get("Retry-After")
                    date = response.headers.get("Date")
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                failure = self.connection_failed(exc)
            if failure is not None:
                raise failure
            if status < 300:
                return Reply(status, data, date)
            if status == 401 and attempt == 1 and await endpoint.unauthorized():
                continue
            raise ErrorReply(server_reply(status, phrase, retry_after, read_status(data)))
        raise AssertionError("unreachable")

    async def stream_lines(self, url: str, params: Params) -> AsyncGenerator[bytes, None]:
        """The lines of a streamed 2xx reply (a watch); ErrorReply / ConnectionFailed."""
        endpoint = self.endpoint
        for attempt in (1, 2):
            session = self._authorize(await endpoint.headers())
            failure: Exception | None = None
            reply: tuple[int, str, str | None, bytes] | None = None
            try:
                async with session.get(
                    url,
                    params=params,
                    proxy=endpoint.proxy,
                    server_hostname=endpoint.server_hostname,
                    timeout=self._watch_timeout,
                ) as response:
                    if response.status >= 300:
                        data = await response.read()
                        retry_after = response.headers.get("Retry-After")
                        reply = (response.status, response.reason or "", retry_after, data)
                    else:
                        buffer = bytearray()
                        async for chunk in response.content.iter_any():
                            buffer += chunk
                            start = 0
                            while (end := buffer.find(b"\n", start)) >= 0:
                                if end > start:
                                    yield bytes(buffer[start:end])
                                start = end + 1
                            del buffer[:start]
                            if len(buffer) > MAX_LINE:
                                failure = ConnectionFailed("a watch event larger than 8 MiB")
                                break
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                failure = self.connection_failed(exc)
            if failure is not None:
                raise failure
            if reply is None:
                return  # the server ended the watch
            status, phrase, retry_after, data = reply
            if status == 401 and attempt == 1 and await endpoint.unauthorized():
                continue
            raise ErrorReply(server_reply(status, phrase, retry_after, read_status(data)))

    def connection_failed(self, exc: BaseException) -> ConnectionFailed:
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return ConnectionFailed(type(exc).__name__, untrusted=True)
        if isinstance(exc, aiohttp.InvalidURL):
            return ConnectionFailed(f"{type(exc).__name__}: {self.endpoint.shown}")
        detail = str(exc).replace(self.endpoint.server, self.endpoint.shown)[:120]
        return ConnectionFailed(f"{type(exc).__name__}: {detail or 'no detail'}")

    async def close(self) -> None:
        sessions = [*self._retired, *([self._session] if self._session else [])]
        self._session, self._retired = None, []
        for session in sessions:
            await session.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
