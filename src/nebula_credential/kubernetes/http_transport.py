"""The :class:`SecretTransport` on msgspec and an HTTP client of ours (aiohttp or blocking).

Secret bodies are encoded from and decoded into the typed structs of ``wire_secret``
with decoders built once; requests go through an :class:`HttpClient`: the aiohttp
session of ``http_session`` (``transport="aiohttp"``, the default) or the blocking one
of ``blocking_http`` (``transport="blocking"``). Every call goes through the same retry
policy and error mapping as the lightkube transport, so 404/409 signals, 429 /
Retry-After, 5xx, lost connections and the watch behave alike on all of them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import Final, Protocol

import msgspec

from .. import observe
from ..domain import CredentialError, ProviderUnavailable
from . import wire_lease
from .connect import Endpoint
from .errors import (
    RETRY_STATUSES,
    ConnectionFailed,
    ErrorReply,
    Gone,
    Missing,
    Operation,
    ServerReply,
    error_for,
    server_reply,
)
from .naming import MANAGER
from .objects import SecretObject
from .retry import Retrier, RetryPolicy, TransportStats
from .transport import SecretTransport, read_ahead, selector
from .wire_lease import LeaseObject
from .wire_secret import (
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

_WRITE: Final = f"?fieldManager={MANAGER}"  # a name of [a-z-]: no quoting needed
_MERGE_PATCH: Final = "application/merge-patch+json"


class _Written(msgspec.Struct):
    """Only the resourceVersion of a write's reply: the rest is skipped, not decoded."""

    class Meta(msgspec.Struct):
        resourceVersion: str | None = None

    metadata: Meta = msgspec.field(default_factory=Meta)


_WRITTEN: Final = msgspec.json.Decoder(_Written)

Params = Mapping[str, str | int]


class Reply:
    """A 2xx reply's status, body and ``Date`` header (the server's clock)."""

    __slots__ = ("body", "date", "status")

    def __init__(self, status: int, body: bytes, date: str | None = None) -> None:
        self.status = status
        self.body = body
        self.date = date


class HttpClient(Protocol):
    """Requests to one endpoint; 2xx replies come back, anything else is raised as
    ``ErrorReply`` (an HTTP status) or ``ConnectionFailed`` (no reply)."""

    endpoint: Endpoint

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> Reply: ...

    def stream_lines(self, url: str, params: Params) -> AsyncGenerator[bytes, None]: ...

    async def close(self) -> None: ...


class HttpTransport(SecretTransport):
    """Secret calls in ``namespace`` at the endpoint of ``http``."""

    def __init__(
        self,
        http: HttpClient,
        namespace: str,
        *,
        policy: RetryPolicy,
        context: str | None = None,
    ) -> None:
        endpoint = http.endpoint
        self.namespace = namespace
        self.server = endpoint.shown
        self.stats = TransportStats()
        self._http = http
        self._retry = Retrier(
            policy, self.stats, server=self.server, context=context, pause=self.pause
        )
        self._base = f"{endpoint.server}/api/v1/namespaces/{namespace}/secrets"
        self._leases = (
            f"{endpoint.server}/apis/{wire_lease.API_VERSION}/namespaces/{namespace}/leases"
        )

    def _decode(self, op: Operation, body: bytes) -> Secret:
        try:
            return SECRET.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass
        raise self._not_secret(op)

    def _version(self, op: Operation, body: bytes) -> str:
        try:
            return _WRITTEN.decode(body).metadata.resourceVersion or ""
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass
        raise self._not_secret(op)

    def _not_secret(self, op: Operation) -> ProviderUnavailable:
        return ProviderUnavailable(
            f"the API server at {self.server} answered {op.describe()} with a reply that "
            "is not a Secret; check that the kubeconfig points at an API server"
        )

    async def get(self, name: str) -> SecretObject | None:
        op = Operation("get", self.namespace, name)
        url = f"{self._base}/{name}"
        try:
            reply = await self._retry.run(op, lambda: self._http.request("GET", url))
        except Missing:
            return None
        return to_object(self._decode(op, reply.body))

    async def create(self, secret: SecretObject) -> str:
        body = secret_body(secret, self.namespace)
        op = Operation("create", self.namespace, secret.name)
        url = self._base + _WRITE
        reply = await self._retry.run(op, lambda: self._http.request("POST", url, body=body))
        return self._version(op, reply.body)

    async def replace(self, secret: SecretObject) -> str:
        body = secret_body(secret, self.namespace)
        op = Operation("update", self.namespace, secret.name)
        url = f"{self._base}/{secret.name}{_WRITE}"
        reply = await self._retry.run(op, lambda: self._http.request("PUT", url, body=body))
        return self._version(op, reply.body)

    async def rewrite(self, name: str, resource_version: str) -> str:
        # A merge patch of only the resourceVersion: a CAS write that keeps every field.
        body = rewrite_body(resource_version)
        op = Operation("update", self.namespace, name)
        url = f"{self._base}/{name}{_WRITE}"
        reply = await self._retry.run(
            op, lambda: self._http.request("PATCH", url, body=body, content_type=_MERGE_PATCH)
        )
        return self._version(op, reply.body)

    async def delete(self, secret: SecretObject) -> bool:
        body = delete_body(secret.uid, secret.resource_version)
        op = Operation("delete", self.namespace, secret.name)
        url = f"{self._base}/{secret.name}"
        try:
            await self._retry.run(op, lambda: self._http.request("DELETE", url, body=body))
        except Missing:
            return False
        return True

    def _lease(self, op: Operation, reply: Reply) -> LeaseObject:
        found = wire_lease.lease_object(reply.body, reply.date)
        if found is None:
            raise ProviderUnavailable(
                f"the API server at {self.server} answered {op.describe()} with a reply "
                "that is not a Lease; check that the kubeconfig points at an API server"
            )
        return found

    async def lease_get(self, name: str) -> LeaseObject | None:
        op = Operation("get", self.namespace, name, wire_lease.RESOURCE)
        url = f"{self._leases}/{name}"
        try:
            reply = await self._retry.run(op, lambda: self._http.request("GET", url))
        except Missing:
            return None
        return self._lease(op, reply)

    async def lease_create(self, lease: LeaseObject) -> LeaseObject:
        body = wire_lease.lease_body(lease, self.namespace)
        op = Operation("create", self.namespace, lease.name, wire_lease.RESOURCE)
        url = self._leases + _WRITE
        reply = await self._retry.run(op, lambda: self._http.request("POST", url, body=body))
        return self._lease(op, reply)

    async def lease_delete(self, lease: LeaseObject) -> bool:
        body = delete_body(lease.uid, lease.resource_version)
        op = Operation("delete", self.namespace, lease.name, wire_lease.RESOURCE)
        url = f"{self._leases}/{lease.name}"
        try:
            await self._retry.run(op, lambda: self._http.request("DELETE", url, body=body))
        except Missing:
            return False
        return True

    async def _list(self, op: Operation, params: Params) -> tuple[str | None, str, list[Secret]]:
        reply = await self._retry.run(
            op, lambda: self._http.request("GET", self._base, params=params)
        )
        try:
            found = SECRET_LIST.decode(reply.body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            found = None
        if found is None:
            raise self._not_secret(op)
        meta = found.metadata
        return meta.continue_ or None, meta.resourceVersion or "", found.items or []

    def _list_params(self, labels: Mapping[str, str], limit: int) -> dict[str, str | int]:
        params: dict[str, str | int] = {"limit": limit}
        chosen = selector(labels)
        if chosen:
            params["labelSelector"] = chosen
        return params

    async def list_pages(
        self, labels: Mapping[str, str], page_size: int
    ) -> AsyncGenerator[list[SecretObject], None]:
        op = Operation("list", self.namespace)
        params = self._list_params(labels, page_size)

        async def page() -> tuple[bool, list[Secret]]:
            token, _, items = await self._list(op, params)
            if token is not None:
                params["continue"] = token
            return token is not None, items

        async with aclosing(self._paged(page)) as pages:
            async for items in pages:
                yield [to_object(item) for item in items]

    def _paged(
        self, fetch: Callable[[], Awaitable[tuple[bool, list[Secret]]]]
    ) -> AsyncGenerator[list[Secret], None]:
        return read_ahead(fetch)

    async def resource_version(self, labels: Mapping[str, str]) -> str:
        op = Operation("list", self.namespace)
        _, version, _ = await self._list(op, self._list_params(labels, 1))
        return version

    async def watch(
        self,
        labels: Mapping[str, str],
        resource_version: str | None = None,
        *,
        restart_on_gone: bool = True,
    ) -> AsyncGenerator[tuple[str, SecretObject], None]:
        op = Operation("watch", self.namespace)
        policy = self._retry.policy
        version = resource_version
        errors = 0
        opened = time.monotonic()
        failure: Exception | None = None
        try:
            # Each round is one watch request; the server ends one after its timeout and
            # the next resumes from the last version seen, as lightkube's watch does.
            while failure is None:
                params: dict[str, str | int] = {"watch": "true"}
                if labels:
                    params["labelSelector"] = selector(labels)
                if version is not None:
                    params["resourceVersion"] = version
                reply: ServerReply | None = None
                started = False
                try:
                    stream = self._http.stream_lines(self._base, params)
                    async with aclosing(stream) as lines:
                        async for line in lines:
                            if not started:
                                started, errors = True, 0
                            event = WATCH_EVENT.decode(line)
                            if event.type == "ERROR":
                                reply = server_reply(0, "", None, STATUS.decode(event.object))
                                break
                            secret = SECRET.decode(event.object)
                            version = secret.metadata.resourceVersion or version
                            yield event.type, to_object(secret)
                except ErrorReply as exc:
                    reply = exc.reply
                except (msgspec.DecodeError, msgspec.ValidationError):
                    reply = server_reply(500, "a watch event that does not decode", None, None)
                if reply is None:
                    continue
                errors += 1
                gone = reply.status == 410 and restart_on_gone
                if errors <= policy.attempts and (gone or reply.status in RETRY_STATUSES):
                    if reply.status == 410:
                        version = None  # start over from the current state
                    await self.pause(policy.delay(errors, None))
                    continue
                if reply.status == 410:
                    failure = Gone(op.describe())
                else:
                    failure = error_for(reply, op, server=self.server, context=self._retry.context)
        except ConnectionFailed as exc:
            failure = ProviderUnavailable(
                f"lost the watch on secrets in namespace {self.namespace!r} at {self.server} "
                f"({exc.detail.split(':')[0]}); start it again from the last resource version"
            )
        except CredentialError as exc:  # credentials that could not be obtained
            failure = exc
        finally:
            observe.api_call("watch", observe.status_of(failure), time.monotonic() - opened)
        if failure is not None:
            raise failure  # outside the handler

    async def close(self) -> None:
        await self._http.close()
        await self._http.endpoint.aclose()
