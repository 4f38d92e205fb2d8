"""The one seam between the provider and the Kubernetes API: Secret calls only.

The provider speaks :class:`SecretTransport` with plain :class:`SecretObject` values, so
a faster HTTP stack can replace :class:`LightkubeTransport` without touching the
provider. Every call goes through the retry policy; errors come out as
nebula-credential errors or as the internal signals of ``errors``.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret
from lightkube.types import OnErrorAction, OnErrorResult, PatchType

from .. import observe
from ..domain import ProviderUnavailable
from ._lightkube_compat import delete_exactly, list_page
from .config import shown_server
from .errors import RETRY_STATUSES, Gone, Missing, Operation, error_for, read_reply
from .objects import SecretObject
from .retry import Retrier, RetryPolicy, TransportStats


class SecretTransport(abc.ABC):
    """Secret calls in one namespace. 404/409 become results or signals, never raw errors."""

    namespace: str
    server: str
    stats: TransportStats

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

    async def rewrite(self, name: str, resource_version: str) -> str:
        """Write the Secret back unchanged if ``resource_version`` is current, so the API
        server encrypts it again with its current key; returns the new resourceVersion.
        Raises StaleWrite or Missing. Transports that cannot do this say so."""
        raise NotImplementedError(f"{type(self).__name__} cannot rewrite Secrets in place")

    async def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release connections."""


def selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in labels.items())


def from_lightkube(secret: Any) -> SecretObject:
    meta = secret.metadata
    return SecretObject(
        name=meta.name,
        labels=meta.labels or {},
        annotations=meta.annotations or {},
        data=secret.data or {},
        type=secret.type or "Opaque",
        resource_version=meta.resourceVersion,
        uid=meta.uid,
        created_at=meta.creationTimestamp,
    )


class LightkubeTransport(SecretTransport):
    """:class:`SecretTransport` on one shared ``lightkube.AsyncClient``."""

    def __init__(
        self,
        client: AsyncClient,
        namespace: str,
        *,
        policy: RetryPolicy,
        context: str | None = None,
        owns_client: bool = True,
    ) -> None:
        self.namespace = namespace
        self.server = shown_server(client.config.cluster.server)
        self.stats = TransportStats()
        self._client = client
        self._owns_client = owns_client
        self._retry = Retrier(policy, self.stats, server=self.server, context=context)

    def _to_lightkube(self, secret: SecretObject) -> Secret:
        meta = ObjectMeta(
            name=secret.name,
            namespace=self.namespace,
            labels=secret.labels,
            annotations=secret.annotations,
            resourceVersion=secret.resource_version,
        )
        return Secret(metadata=meta, data=secret.data, type=secret.type)

    async def get(self, name: str) -> SecretObject | None:
        op = Operation("get", self.namespace, name)
        try:
            found = await self._retry.run(
                op, lambda: self._client.get(Secret, name, namespace=self.namespace)
            )
        except Missing:
            return None
        return from_lightkube(found)

    async def create(self, secret: SecretObject) -> str:
        body = self._to_lightkube(secret)
        op = Operation("create", self.namespace, secret.name)
        created = await self._retry.run(op, lambda: self._client.create(body))
        return from_lightkube(created).resource_version or ""

    async def replace(self, secret: SecretObject) -> str:
        body = self._to_lightkube(secret)
        op = Operation("update", self.namespace, secret.name)
        replaced = await self._retry.run(op, lambda: self._client.replace(body))
        return from_lightkube(replaced).resource_version or ""

    async def rewrite(self, name: str, resource_version: str) -> str:
        # An empty merge patch with a resourceVersion precondition: a CAS write that
        # keeps every field, even those SecretObject does not carry.
        body = {"metadata": {"resourceVersion": resource_version}}
        op = Operation("update", self.namespace, name)
        patched = await self._retry.run(
            op,
            lambda: self._client.patch(
                Secret, name, body, namespace=self.namespace, patch_type=PatchType.MERGE
            ),
        )
        return from_lightkube(patched).resource_version or ""

    async def delete(self, secret: SecretObject) -> bool:
        op = Operation("delete", self.namespace, secret.name)
        try:
            await self._retry.run(
                op,
                lambda: delete_exactly(
                    self._client, self.namespace, secret.name, secret.uid, secret.resource_version
                ),
            )
        except Missing:
            return False
        return True

    async def list_pages(
        self, labels: Mapping[str, str], page_size: int
    ) -> AsyncGenerator[list[SecretObject], None]:
        op = Operation("list", self.namespace)
        params: dict[str, Any] = {"limit": page_size, "labelSelector": selector(labels) or None}

        async def page() -> tuple[bool, list[Any]]:
            token, _, items = await list_page(self._client, self.namespace, params)
            params["continue"] = token
            return token is not None, items

        # Read one page ahead: the server prepares page N+1 while the caller decodes page
        # N. At most two pages are held, so memory stays flat however long the list.
        ahead: asyncio.Task[tuple[bool, list[Any]]] | None = asyncio.ensure_future(
            self._retry.run(op, page)
        )
        try:
            while ahead is not None:
                more, items = await ahead
                ahead = asyncio.ensure_future(self._retry.run(op, page)) if more else None
                if ahead is not None:
                    await asyncio.sleep(0)  # let the next request go out before decoding
                yield [from_lightkube(item) for item in items]
        finally:
            if ahead is not None:
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await ahead

    async def resource_version(self, labels: Mapping[str, str]) -> str:
        params: dict[str, Any] = {"limit": 1, "labelSelector": selector(labels) or None}
        op = Operation("list", self.namespace)
        _, version, _ = await self._retry.run(
            op, lambda: list_page(self._client, self.namespace, params)
        )
        return version or ""

    async def watch(
        self,
        labels: Mapping[str, str],
        resource_version: str | None = None,
        *,
        restart_on_gone: bool = True,
    ) -> AsyncGenerator[tuple[str, SecretObject], None]:
        op = Operation("watch", self.namespace)
        policy = self._retry.policy

        def on_error(exc: Exception, count: int) -> OnErrorResult:
            # lightkube restarts from scratch after 410 Gone; other transient errors
            # are retried a bounded number of times.
            code = exc.status.code if isinstance(exc, ApiError) else None
            gone = code == 410 and restart_on_gone
            if count <= policy.attempts and (gone or code in RETRY_STATUSES):
                return OnErrorResult(OnErrorAction.RETRY, sleep=policy.delay(count, None))
            return OnErrorResult(OnErrorAction.RAISE)

        stream = self._client.watch(
            Secret,
            namespace=self.namespace,
            labels=dict(labels),
            resource_version=resource_version,
            on_error=on_error,
        )
        opened = time.monotonic()
        failure: Exception | None = None
        try:
            async for event, secret in stream:
                yield event, from_lightkube(secret)
        except httpx2.HTTPStatusError as exc:
            reply = read_reply(exc)
            if reply.status == 410:
                failure = Gone(op.describe())
            else:
                failure = error_for(reply, op, server=self.server, context=self._retry.context)
        except httpx2.TransportError as exc:
            failure = ProviderUnavailable(
                f"lost the watch on secrets in namespace {self.namespace!r} at {self.server} "
                f"({type(exc).__name__}); start it again from the last resource version"
            )
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
            observe.api_call("watch", observe.status_of(failure), time.monotonic() - opened)
        if failure is not None:
            raise failure  # outside the handler: the HTTP error holds the request

    async def close(self) -> None:
        if self._owns_client:
            await self._client.close()
