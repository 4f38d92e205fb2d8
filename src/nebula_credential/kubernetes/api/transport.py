"""The one seam between the provider and the Kubernetes API: Secret calls only.

The provider speaks :class:`SecretTransport` with plain :class:`SecretObject` values;
``http_transport.HttpTransport`` implements it on the API core (``api``), and tests or
callers may bring their own. Every call goes through the retry policy; errors come out
as nebula-credential errors or as the internal signals of ``errors``.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from ...domain import ConfigurationError
from ..model.objects import SecretObject
from .retry import TransportStats

if TYPE_CHECKING:
    import asyncio

    from ..model.wire_lease import LeaseObject

T = TypeVar("T")


class SecretTransport(abc.ABC):
    """Secret calls in one namespace. 404/409 become results or signals, never raw errors."""

    namespace: str
    server: str
    stats: TransportStats
    # True when no call ever suspends (the I/O blocks instead): the provider's
    # coroutines may then be driven without an event loop (``providers.inline``).
    blocking: bool = False

    @abc.abstractmethod
    async def get(self, name: str) -> SecretObject | None:
        """The Secret, or None when absent."""

    @abc.abstractmethod
    async def create(self, secret: SecretObject) -> str:
        """Create; returns the new resourceVersion. Raises AlreadyExists."""

    @abc.abstractmethod
    async def replace(self, secret: SecretObject) -> str:
        """Replace if ``secret.resource_version`` is current. Raises StaleWrite or Missing."""

    @abc.abstractmethod
    async def delete(self, secret: SecretObject) -> bool:
        """Delete exactly ``secret`` as read (uid and resourceVersion preconditions).

        False when there was nothing to delete; raises StaleWrite when it was replaced
        or changed since it was read.
        """

    @abc.abstractmethod
    def list_pages(
        self, labels: Mapping[str, str], page_size: int
    ) -> AsyncGenerator[list[SecretObject], None]:
        """Pages of Secrets matching every label, fetched with ``limit``/``continue``."""

    @abc.abstractmethod
    async def resource_version(self, labels: Mapping[str, str]) -> str:
        """The resourceVersion of the matching Secrets now: a watch from it misses nothing."""

    @abc.abstractmethod
    def watch(
        self,
        labels: Mapping[str, str],
        resource_version: str | None = None,
        *,
        restart_on_gone: bool = True,
    ) -> AsyncGenerator[tuple[str, SecretObject], None]:
        """(ADDED | MODIFIED | DELETED, Secret) events for matching Secrets.

        When ``resource_version`` is too old (HTTP 410), the watch starts over from the
        current state, or raises ``Gone`` when ``restart_on_gone`` is False.
        """

    async def patch(self, name: str, operations: bytes) -> str | None:
        """Apply a JSON Patch whose ``test`` operations guard it (see
        ``model.json_patch``); the new resourceVersion, or None when a test did not hold
        or the Secret is absent (nothing changed). Transports that cannot patch answer
        None, and the store reads and replaces instead."""
        return None

    async def rewrite(self, name: str, resource_version: str) -> str:
        """Write the Secret back unchanged if ``resource_version`` is current, so the API
        server encrypts it again with its current key; returns the new resourceVersion.
        Raises StaleWrite or Missing. Transports that cannot do this say so."""
        raise NotImplementedError(f"{type(self).__name__} cannot rewrite Secrets in place")

    # Rotation leases (coordination.k8s.io/v1 Leases, see ``leases``). Each reply's
    # LeaseObject carries the server's clock (``server_now``).

    async def lease_get(self, name: str) -> LeaseObject | None:
        """The Lease, or None when absent."""
        raise self._no_leases()

    async def lease_create(self, lease: LeaseObject) -> LeaseObject:
        """Create; returns the Lease as the server stored it. Raises AlreadyExists."""
        raise self._no_leases()

    async def lease_delete(self, lease: LeaseObject) -> bool:
        """Delete exactly ``lease`` as read (uid and resourceVersion preconditions);
        False when absent, StaleWrite when it changed since it was read."""
        raise self._no_leases()

    def _no_leases(self) -> ConfigurationError:
        return ConfigurationError(
            f"the {type(self).__name__} cannot hold rotation leases; rotate with the "
            "transport nebula-credential brings (aiohttp or blocking)"
        )

    async def pause(self, seconds: float) -> None:
        """Wait between attempts, the way this transport waits (blocking or not)."""
        import asyncio  # loaded already when anything runs on a loop

        await asyncio.sleep(seconds)

    async def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release connections."""


async def read_ahead(
    fetch: Callable[[], Awaitable[tuple[bool, list[T]]]],
) -> AsyncGenerator[list[T], None]:
    """The pages ``fetch`` returns (``(more, items)`` each), one request ahead.

    The server prepares page N+1 while the caller decodes page N. At most two pages are
    held, so memory stays flat however long the list.
    """
    import asyncio  # not at import: a blocking transport reads its pages one by one

    ahead: asyncio.Task[tuple[bool, list[T]]] | None = asyncio.ensure_future(fetch())
    try:
        while ahead is not None:
            more, items = await ahead
            ahead = asyncio.ensure_future(fetch()) if more else None
            if ahead is not None:
                await asyncio.sleep(0)  # let the next request go out before decoding
            yield items
    finally:
        if ahead is not None:
            ahead.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ahead


async def one_by_one(
    fetch: Callable[[], Awaitable[tuple[bool, list[T]]]],
) -> AsyncGenerator[list[T], None]:
    """The pages ``fetch`` returns (``(more, items)`` each), each fetched when wanted."""
    more = True
    while more:
        more, items = await fetch()
        yield items
