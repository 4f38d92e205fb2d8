"""The :class:`SecretTransport` on lightkube (``transport="lightkube"``).

lightkube's and httpx2's exceptions are translated where they are caught into the
transport-neutral failures of ``errors`` (``ErrorReply``, ``ConnectionFailed``,
``AuthFailed``), raised outside the handlers, so the retry policy and the error mapping
are the same code for every transport.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import Any, TypeVar

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube import ConfigError as LightkubeConfigError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret
from lightkube.types import OnErrorAction, OnErrorResult, PatchType

from .. import observe
from ..domain import ProviderUnavailable
from ._lightkube_compat import delete_exactly, list_page, status_error
from .auth_errors import describe_auth_failure
from .config import shown_server
from .errors import (
    RETRY_STATUSES,
    AuthFailed,
    ConnectionFailed,
    ErrorReply,
    Gone,
    Missing,
    Operation,
    error_for,
    read_reply,
    untrusted_certificate,
)
from .objects import SecretObject
from .retry import Retrier, RetryPolicy, TransportStats
from .transport import SecretTransport, read_ahead, selector
from .wire_secret import to_object

T = TypeVar("T")


async def translated(call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, its failures as the transport-neutral exceptions of ``errors``."""
    failure: Exception
    try:
        return await call()
    except (httpx2.HTTPStatusError, KeyError) as exc:
        http_error = status_error(exc)
        if http_error is None:
            raise
        failure = ErrorReply(read_reply(http_error))
    except httpx2.TransportError as exc:
        failure = ConnectionFailed(
            f"{type(exc).__name__}: {str(exc)[:120] or 'no detail'}",
            untrusted=untrusted_certificate(exc),
        )
    except LightkubeConfigError as exc:
        # An exec plugin's message carries its stderr, which may hold tokens.
        failure = AuthFailed(describe_auth_failure(str(exc)))
    raise failure  # outside the handler: the HTTP error holds the request


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
        self._retry = Retrier(
            policy, self.stats, server=self.server, context=context, pause=self.pause
        )

    def _to_lightkube(self, secret: SecretObject) -> Secret:
        meta = ObjectMeta(
            name=secret.name,
            namespace=self.namespace,
            labels=secret.labels,
            annotations=secret.annotations,
            resourceVersion=secret.resource_version,
        )
        return Secret(metadata=meta, data=secret.data, type=secret.type)

    def _run(self, op: Operation, call: Callable[[], Awaitable[T]]) -> Awaitable[T]:
        return self._retry.run(op, lambda: translated(call))

    async def get(self, name: str) -> SecretObject | None:
        op = Operation("get", self.namespace, name)
        try:
            found = await self._run(
                op, lambda: self._client.get(Secret, name, namespace=self.namespace)
            )
        except Missing:
            return None
        return to_object(found)

    async def create(self, secret: SecretObject) -> str:
        body = self._to_lightkube(secret)
        op = Operation("create", self.namespace, secret.name)
        created = await self._run(op, lambda: self._client.create(body))
        return to_object(created).resource_version or ""

    async def replace(self, secret: SecretObject) -> str:
        body = self._to_lightkube(secret)
        op = Operation("update", self.namespace, secret.name)
        replaced = await self._run(op, lambda: self._client.replace(body))
        return to_object(replaced).resource_version or ""

    async def rewrite(self, name: str, resource_version: str) -> str:
        # An empty merge patch with a resourceVersion precondition: a CAS write that
        # keeps every field, even those SecretObject does not carry.
        body = {"metadata": {"resourceVersion": resource_version}}
        op = Operation("update", self.namespace, name)
        patched = await self._run(
            op,
            lambda: self._client.patch(
                Secret, name, body, namespace=self.namespace, patch_type=PatchType.MERGE
            ),
        )
        return to_object(patched).resource_version or ""

    async def delete(self, secret: SecretObject) -> bool:
        op = Operation("delete", self.namespace, secret.name)
        try:
            await self._run(
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

        async with aclosing(read_ahead(lambda: self._run(op, page))) as pages:
            async for items in pages:
                yield [to_object(item) for item in items]

    async def resource_version(self, labels: Mapping[str, str]) -> str:
        params: dict[str, Any] = {"limit": 1, "labelSelector": selector(labels) or None}
        op = Operation("list", self.namespace)
        _, version, _ = await self._run(op, lambda: list_page(self._client, self.namespace, params))
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
                yield event, to_object(secret)
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
