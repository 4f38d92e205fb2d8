"""Calls on workloads (``apps/v1``), Leases and Events as plain JSON documents.

The controller reads Deployments, StatefulSets and DaemonSets only for their pod
templates and annotations, so they stay ``dict`` values decoded by msgspec rather than
typed structs of every field. Every call goes through :meth:`ApiClient.call` (retries,
re-authentication, typed errors); a watch reuses :class:`.watch.WatchState` for when to
reopen a stream and when to stop.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, Final

import msgspec

from ...domain import ProviderUnavailable
from ..model.naming import LEASE_API_VERSION, LEASE_RESOURCE
from ..model.wire_secret import read_status
from .errors import Missing
from .exchange import ApiClient
from .requests import MERGE_PATCH, Collection

# kind -> resource under /apis/apps/v1
WORKLOAD_RESOURCES: Final = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
}
_PAGE: Final = 500

Document = dict[str, Any]


class ObjectCalls:
    """Workload, Lease and Event calls in one namespace through ``api`` (not owned)."""

    def __init__(self, api: ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self._api = api
        base = api.base
        self.workloads = {
            kind: Collection(f"{base}/apis/apps/v1", namespace, resource, f"{resource}.apps")
            for kind, resource in WORKLOAD_RESOURCES.items()
        }
        self.leases = Collection(
            f"{base}/apis/{LEASE_API_VERSION}", namespace, "leases", LEASE_RESOURCE
        )
        self.events = Collection(f"{base}/api/v1", namespace, "events", "events")

    async def list(self, kind: str) -> tuple[str, list[Document]]:
        """Every ``kind`` workload in the namespace and the list's resourceVersion."""
        collection = self.workloads[kind]
        items: list[Document] = []
        token: str | None = None
        version = ""
        while True:
            answer = await self._api.call(collection.list({}, _PAGE, token))
            page = _document(answer.body)
            meta = page.get("metadata") or {}
            version = str(meta.get("resourceVersion") or "")
            items.extend(item for item in page.get("items") or () if isinstance(item, dict))
            token = meta.get("continue") or None
            if token is None:
                return version, items

    async def watch(self, kind: str, version: str) -> AsyncGenerator[tuple[str, Document], None]:
        """(ADDED | MODIFIED | DELETED, workload) events from ``version``; raises Gone
        when it is too old, ProviderUnavailable when the stream is lost."""
        from .watch import WatchState
        from .watch_stream import Event, Refusal, stream

        api = self._api
        state = WatchState(
            self.workloads[kind],
            {},
            version,
            restart_on_gone=False,
            policy=api.policy,
            site=api.site,
        )

        def decode(line: bytes) -> Event | Refusal:
            event = _document(line)
            body = event.get("object") or {}
            kind_of = str(event.get("type") or "")
            if kind_of == "ERROR":
                return Refusal(read_status(msgspec.json.encode(body)))
            return Event(kind_of, body, (body.get("metadata") or {}).get("resourceVersion"))

        async with aclosing(stream(api, state, decode, (ProviderUnavailable,))) as events:
            async for kind_of, body in events:
                yield kind_of, body

    async def patch_workload(self, kind: str, name: str, patch: Document) -> Document:
        """A JSON merge patch of one workload; its result as stored."""
        request = self.workloads[kind].patch(name, msgspec.json.encode(patch), MERGE_PATCH)
        return _document((await self._api.call(request)).body)

    async def lease_get(self, name: str) -> Document | None:
        try:
            answer = await self._api.call(self.leases.get(name))
        except Missing:
            return None
        return _document(answer.body)

    async def lease_create(self, name: str, lease: Document) -> Document:
        """Raises AlreadyExists when another replica created it first."""
        request = self.leases.create(name, msgspec.json.encode(lease))
        return _document((await self._api.call(request)).body)

    async def lease_replace(self, name: str, lease: Document) -> Document:
        """Replace if its resourceVersion is current; raises StaleWrite otherwise."""
        request = self.leases.replace(name, msgspec.json.encode(lease))
        return _document((await self._api.call(request)).body)

    async def event_create(self, event: Document) -> None:
        name = str((event.get("metadata") or {}).get("name") or "")
        await self._api.call(self.events.create(name, msgspec.json.encode(event)))


def _document(body: bytes) -> Document:
    """A JSON object, or ProviderUnavailable when the answer is none."""
    try:
        found = msgspec.json.decode(body)
    except msgspec.DecodeError:
        found = None
    if not isinstance(found, dict):
        raise ProviderUnavailable("the API server answered with something that is not JSON")
    return found
