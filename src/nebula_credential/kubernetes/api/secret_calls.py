"""The :class:`SecretTransport` on the API core (``api``) and a driver of ours.

Secret bodies are encoded from and decoded into the typed structs of ``wire_secret``
with decoders built once; each call is a request of ``api.requests`` run by the one loop
of ``api.exchange`` on the asyncio driver (``transport="aiohttp"``, the default) or the
blocking one (``transport="blocking"``).

On the blocking driver no call ever suspends: waits between attempts sleep, list pages
are fetched one after the other. So the provider's coroutines finish on the caller's
thread, and the sync facade runs them without an event loop or a thread
(:mod:`..providers.inline`): a CLI command pays for neither asyncio nor aiohttp. A watch
needs a loop; on the blocking driver it is refused, and the provider then offers no
change feed (caches rely on their TTL).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING

import msgspec

from ...domain import (
    ConfigurationError,
    PermissionDenied,
    ProviderUnavailable,
)
from ...http.message import Response
from ..model.naming import LEASE_API_VERSION, LEASE_RESOURCE
from ..model.objects import SecretObject
from ..model.wire_secret import (
    SECRET,
    SECRET_LIST,
    STATUS,
    WATCH_EVENT,
    Secret,
    delete_body,
    rewrite_body,
    secret_body,
    to_object,
)
from .errors import Missing, Operation, PatchRefused
from .exchange import ApiClient
from .requests import JSON_PATCH, MERGE_PATCH, ApiRequest, Collection
from .transport import SecretTransport, one_by_one, read_ahead

if TYPE_CHECKING:  # loaded by the first lease call
    from ..model.wire_lease import LeaseObject


class _Written(msgspec.Struct):
    """Only the resourceVersion of a write's reply: the rest is skipped, not decoded."""

    class Meta(msgspec.Struct):
        resourceVersion: str | None = None

    metadata: Meta = msgspec.field(default_factory=Meta)


_WRITTEN = msgspec.json.Decoder(_Written)


class HttpTransport(SecretTransport):
    """Secret calls in ``namespace`` through ``api``; closing it closes ``api`` when
    ``owns`` (a client shared between providers stays its owner's to close)."""

    def __init__(self, api: ApiClient, namespace: str, *, owns: bool = True) -> None:
        self.namespace = namespace
        self.server = api.site.server
        self.stats = api.stats
        self.blocking = api.blocking
        self._api = api
        self._owns = owns
        self._patch_denied = False
        base = api.base
        self._secrets = Collection(f"{base}/api/v1", namespace, "secrets", "secrets")
        self._leases = Collection(
            f"{base}/apis/{LEASE_API_VERSION}", namespace, "leases", LEASE_RESOURCE
        )

    def _decode(self, op: Operation, body: bytes) -> Secret:
        try:
            return SECRET.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass
        raise self._not_secret(op)

    def _version(self, request: ApiRequest, answer: Response) -> str:
        try:
            return _WRITTEN.decode(answer.body).metadata.resourceVersion or ""
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass
        raise self._not_secret(request.op)

    def _not_secret(self, op: Operation) -> ProviderUnavailable:
        return ProviderUnavailable(
            f"the API server at {self.server} answered {op.describe()} with a reply that "
            "is not a Secret; check that the kubeconfig points at an API server"
        )

    async def get(self, name: str) -> SecretObject | None:
        request = self._secrets.get(name)
        try:
            answer = await self._api.call(request)
        except Missing:
            return None
        return to_object(self._decode(request.op, answer.body))

    async def create(self, secret: SecretObject) -> str:
        request = self._secrets.create(secret.name, secret_body(secret, self.namespace))
        return self._version(request, await self._api.call(request))

    async def replace(self, secret: SecretObject) -> str:
        request = self._secrets.replace(secret.name, secret_body(secret, self.namespace))
        return self._version(request, await self._api.call(request))

    async def patch(self, name: str, operations: bytes) -> str | None:
        if self._patch_denied:
            return None
        request = self._secrets.patch(name, operations, JSON_PATCH)
        try:
            answer = await self._api.call(request)
        except (PatchRefused, Missing):
            return None
        except PermissionDenied:
            # A Role from before updates were patches grants 'update' only: read and
            # replace from now on, as that Role allows.
            self._patch_denied = True
            return None
        return self._version(request, answer)

    async def rewrite(self, name: str, resource_version: str) -> str:
        # A merge patch of only the resourceVersion: a CAS write that keeps every field.
        request = self._secrets.patch(name, rewrite_body(resource_version), MERGE_PATCH)
        return self._version(request, await self._api.call(request))

    async def delete(self, secret: SecretObject) -> bool:
        body = delete_body(secret.uid, secret.resource_version)
        try:
            await self._api.call(self._secrets.delete(secret.name, body))
        except Missing:
            return False
        return True

    def _lease(self, op: Operation, answer: Response) -> LeaseObject:
        from ..model.wire_lease import lease_object

        found = lease_object(answer.body, answer.headers.get("Date"))
        if found is None:
            raise ProviderUnavailable(
                f"the API server at {self.server} answered {op.describe()} with a reply "
                "that is not a Lease; check that the kubeconfig points at an API server"
            )
        return found

    async def lease_get(self, name: str) -> LeaseObject | None:
        request = self._leases.get(name)
        try:
            answer = await self._api.call(request)
        except Missing:
            return None
        return self._lease(request.op, answer)

    async def lease_create(self, lease: LeaseObject) -> LeaseObject:
        from ..model.wire_lease import lease_body

        body = lease_body(lease, self.namespace)
        request = self._leases.create(lease.name, body)
        return self._lease(request.op, await self._api.call(request))

    async def lease_delete(self, lease: LeaseObject) -> bool:
        body = delete_body(lease.uid, lease.resource_version)
        try:
            await self._api.call(self._leases.delete(lease.name, body))
        except Missing:
            return False
        return True

    async def _list(
        self, labels: Mapping[str, str], limit: int, token: str | None
    ) -> tuple[str | None, str, list[Secret]]:
        request = self._secrets.list(labels, limit, token)
        answer = await self._api.call(request)
        try:
            found = SECRET_LIST.decode(answer.body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            found = None
        if found is None:
            raise self._not_secret(request.op)
        meta = found.metadata
        return meta.continue_ or None, meta.resourceVersion or "", found.items or []

    async def list_pages(
        self, labels: Mapping[str, str], page_size: int
    ) -> AsyncGenerator[list[SecretObject], None]:
        token: str | None = None

        async def page() -> tuple[bool, list[Secret]]:
            nonlocal token
            token, _, items = await self._list(labels, page_size, token)
            return token is not None, items

        async with aclosing(self._paged(page)) as pages:
            async for items in pages:
                yield [to_object(item) for item in items]

    def _paged(
        self, fetch: Callable[[], Awaitable[tuple[bool, list[Secret]]]]
    ) -> AsyncGenerator[list[Secret], None]:
        # The blocking driver cannot fetch ahead: its pages come one after the other.
        return one_by_one(fetch) if self.blocking else read_ahead(fetch)

    async def pause(self, seconds: float) -> None:
        await self._api.driver.sleep(seconds)

    async def resource_version(self, labels: Mapping[str, str]) -> str:
        _, version, _ = await self._list(labels, 1, None)
        return version

    async def watch(
        self,
        labels: Mapping[str, str],
        resource_version: str | None = None,
        *,
        restart_on_gone: bool = True,
    ) -> AsyncGenerator[tuple[str, SecretObject], None]:
        from .watch import WatchState  # watches need a loop: not the CLI
        from .watch_stream import Event, Refusal, stream

        api = self._api
        if api.blocking:
            raise ConfigurationError(
                "the blocking Kubernetes transport cannot watch; use transport='aiohttp' "
                "(the default)"
            )
        state = WatchState(
            self._secrets,
            labels,
            resource_version,
            restart_on_gone=restart_on_gone,
            policy=api.policy,
            site=api.site,
        )

        def decode(line: bytes) -> Event | Refusal:
            event = WATCH_EVENT.decode(line)
            if event.type == "ERROR":
                return Refusal(STATUS.decode(event.object))
            secret = SECRET.decode(event.object)
            return Event(event.type, to_object(secret), secret.metadata.resourceVersion)

        undecodable = (msgspec.DecodeError, msgspec.ValidationError)
        async with aclosing(stream(api, state, decode, undecodable)) as events:
            async for kind, secret in events:
                yield kind, secret

    async def close(self) -> None:
        if self._owns:
            await self._api.close()
