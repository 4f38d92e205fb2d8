"""The :class:`SecretTransport` for one-shot work: blocking, no event loop (``"blocking"``).

The same requests, bodies, retries and error mapping as the aiohttp transport, on the
standard library's ``http.client`` (``blocking_http``). No call ever suspends: waits
between attempts sleep, list pages are fetched one after the other. So the provider's
coroutines finish on the caller's thread, and the sync facade runs them without an
event loop or a thread (:mod:`..providers.inline`): a CLI command pays for neither
asyncio nor aiohttp. A watch needs a loop; this transport refuses it, and the provider
then offers no change feed (caches rely on their TTL).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import ClassVar

from ..domain import ConfigurationError
from .blocking_http import BlockingHttpSession
from .connect import Endpoint
from .http_transport import HttpTransport
from .objects import SecretObject
from .retry import RetryPolicy
from .transport import one_by_one
from .wire_secret import Secret


class BlockingTransport(HttpTransport):
    """Secret calls in ``namespace`` at ``endpoint`` on one blocking connection."""

    blocking: ClassVar[bool] = True

    def __init__(
        self,
        endpoint: Endpoint,
        namespace: str,
        *,
        policy: RetryPolicy,
        context: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(
            BlockingHttpSession(endpoint, timeout), namespace, policy=policy, context=context
        )

    async def pause(self, seconds: float) -> None:
        time.sleep(seconds)  # noqa: ASYNC251 - this transport blocks by design

    def _paged(
        self, fetch: Callable[[], Awaitable[tuple[bool, list[Secret]]]]
    ) -> AsyncGenerator[list[Secret], None]:
        return one_by_one(fetch)

    async def watch(
        self,
        labels: Mapping[str, str],
        resource_version: str | None = None,
        *,
        restart_on_gone: bool = True,
    ) -> AsyncGenerator[tuple[str, SecretObject], None]:
        raise ConfigurationError(
            "the blocking Kubernetes transport cannot watch; use transport='aiohttp' "
            "(the default) or 'lightkube'"
        )
        yield  # pragma: no cover - makes this an async generator
