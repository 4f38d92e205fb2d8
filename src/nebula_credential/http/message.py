"""What the drivers send and read back, and how a request can fail without a reply.

A :class:`Request` says how it may be repeated (:data:`IDEMPOTENT`, :data:`GUARDED`,
:data:`ONCE`) and how many bytes of answer it accepts; the drivers never repeat a request
themselves and never read more than that. Who decides about repeating is the caller's
protocol core (for Kubernetes, ``kubernetes.api.interpret``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, Protocol

# How a request may be repeated after a connection dropped under it:
IDEMPOTENT: Final = "idempotent"  # a read: sending it twice changes nothing
GUARDED: Final = "guarded"  # a write with a precondition: a repeat cannot apply twice
ONCE: Final = "once"  # never repeated once it may have left (an OAuth2 token request)
Resend = Literal["idempotent", "guarded", "once"]

MAX_BODY: Final = 4 * 1024 * 1024  # an answer's bytes at most, unless the request says


class Request:
    """One HTTP request to a driver's origin: ``target`` is the path and query."""

    __slots__ = ("body", "content_type", "headers", "max_body", "method", "resend", "target")

    def __init__(
        self,
        method: str,
        target: str,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        resend: Resend = IDEMPOTENT,
        max_body: int = MAX_BODY,
    ) -> None:
        self.method = method
        self.target = target
        self.body = body
        self.content_type = content_type
        self.headers = headers
        self.resend: Resend = resend
        self.max_body = max_body

    def __repr__(self) -> str:  # the target only: bodies and headers may hold secrets
        return f"Request({self.method} {self.target.split('?', 1)[0]})"


class Headers(Protocol):
    """A reply's headers, looked up case-insensitively (aiohttp's and http.client's)."""

    def get(self, key: str, /) -> str | None: ...


class Response:
    """A complete answer: status, reason phrase, headers (case-insensitive ``get``) and
    the body, at most the request's ``max_body`` bytes."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: Headers, body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"Response({self.status} {self.reason}, {len(self.body)} bytes)"


# Why no reply came (``NoReply.kind``):
CONNECT: Final = "connect"  # no connection to the server (refused, unreachable, DNS)
PROXY: Final = "proxy"  # the proxy could not be reached or refused the tunnel
UNTRUSTED: Final = "untrusted"  # the server's TLS certificate is not trusted
TLS: Final = "tls"  # another TLS failure (handshake, client certificate)
TIMEOUT: Final = "timeout"  # no reply in time
DROPPED: Final = "dropped"  # the connection broke during the exchange
TOO_LARGE: Final = "too_large"  # the answer (or one streamed line) was over the cap


class NoReply(Exception):
    """No (complete) reply came. ``sent`` is True when the request may have reached the
    server; ``reused`` when it went out on a kept-alive connection, which the server may
    have closed while idle. ``detail`` holds no request data."""

    def __init__(self, kind: str, detail: str, *, sent: bool, reused: bool = False) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.sent = sent
        self.reused = reused

    @property
    def stale(self) -> bool:
        """True for a kept-alive connection the server had closed: not an outage."""
        return self.reused and self.kind == DROPPED


class StatusError(Exception):
    """A streamed request got a non-2xx answer (``response``, body capped)."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"HTTP {response.status}")
        self.response = response
