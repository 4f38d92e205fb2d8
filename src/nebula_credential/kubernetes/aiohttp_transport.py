"""The default :class:`SecretTransport`: msgspec bodies on one aiohttp session."""

from __future__ import annotations

from .connect import Endpoint
from .http_session import HttpSession
from .http_transport import HttpTransport
from .retry import RetryPolicy


class AiohttpTransport(HttpTransport):
    """Secret calls in ``namespace`` at ``endpoint``, on one aiohttp keep-alive session."""

    def __init__(
        self,
        endpoint: Endpoint,
        namespace: str,
        *,
        policy: RetryPolicy,
        context: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(HttpSession(endpoint, timeout), namespace, policy=policy, context=context)
