"""Every Secret of a namespace or of the whole cluster, for ``store.reencrypt``.

A key rotation is finished only when every Secret the API server stores has been
written again, ours or not, in every namespace. So the sweep lists without a label
selector, cluster-wide when asked (``GET /api/v1/secrets``), and decodes only the
metadata it needs: a page of 250 Secrets of up to 1 MiB each is skipped over, not
decoded. The API server lists in etcd key order (``namespace/name``), which makes the
last key of a finished page a resume point. Rewrites go through the namespace's
:class:`HttpTransport`, as the provider's own writes do.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import NamedTuple
from urllib.parse import quote, urlencode

import msgspec

from ...domain import PermissionDenied, ProviderUnavailable
from ...http.message import NoReply
from ..model.wire_secret import ListMeta
from .errors import Operation
from .exchange import ApiClient
from .requests import MAX_LIST, ApiRequest
from .secret_calls import HttpTransport
from .transport import one_by_one, read_ahead


class _Meta(msgspec.Struct):
    name: str = ""
    namespace: str = ""
    labels: dict[str, str] | None = None
    resourceVersion: str = ""


class _Item(msgspec.Struct):
    metadata: _Meta = msgspec.field(default_factory=_Meta)


class _Page(msgspec.Struct):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[_Item] | None = None


_PAGE = msgspec.json.Decoder(_Page)


class SweptSecret(NamedTuple):
    """A listed Secret: where it is, its labels and the version it was read at."""

    namespace: str
    name: str
    labels: dict[str, str]
    resource_version: str

    @property
    def key(self) -> str:
        """``namespace/name``: the order the API server lists in."""
        return f"{self.namespace}/{self.name}"


class _EveryNamespace(Operation, frozen=True):
    def describe(self) -> str:
        return f"{self.verb} {self.resource} in every namespace"


class SecretSweep:
    """The calls a cluster-wide re-encryption makes through ``api`` (closed with it when
    ``owns``)."""

    def __init__(self, api: ApiClient, *, owns: bool = True) -> None:
        self._api = api
        self._owns = owns
        self._transports: dict[str, HttpTransport] = {}
        self.server = api.site.server

    def _transport(self, namespace: str) -> HttpTransport:
        found = self._transports.get(namespace)
        if found is None:
            found = self._transports[namespace] = HttpTransport(self._api, namespace, owns=False)
        return found

    async def namespace_exists(self, namespace: str) -> bool | None:
        """True or False; None when it cannot tell (no right to read namespaces, or no
        answer: the list that follows then fails with the retry policy's error)."""
        path = f"{self._api.base}/api/v1/namespaces/{quote(namespace, safe='')}"
        op = Operation("get", namespace, namespace, "namespaces")
        try:
            answer = await self._api.fetch(ApiRequest(op, "GET", path))
        except NoReply:
            return None
        return {200: True, 404: False}.get(answer.status)

    async def pages(
        self, namespace: str | None, page_size: int
    ) -> AsyncGenerator[list[SweptSecret], None]:
        """Every Secret of ``namespace`` (None: of every namespace), page by page."""
        if namespace is None:
            path = f"{self._api.base}/api/v1/secrets"
            op: Operation = _EveryNamespace("list", "")
        else:
            path = f"{self._api.base}/api/v1/namespaces/{quote(namespace, safe='')}/secrets"
            op = Operation("list", namespace)
        token: str | None = None

        async def fetch() -> tuple[bool, list[SweptSecret]]:
            nonlocal token
            params: dict[str, str | int] = {"limit": page_size}
            if token is not None:
                params["continue"] = token
            request = ApiRequest(op, "GET", f"{path}?{urlencode(params)}", max_body=MAX_LIST)
            try:
                answer = await self._api.call(request)
            except PermissionDenied as exc:
                raise self._refused(exc, namespace) from None
            try:
                page = _PAGE.decode(answer.body)
            except (msgspec.DecodeError, msgspec.ValidationError):
                raise ProviderUnavailable(
                    f"the API server at {self.server} answered {op.describe()} with a reply "
                    "that is not a Secret list; check that the kubeconfig points at an API server"
                ) from None
            token = page.metadata.continue_ or None
            found = [
                SweptSecret(
                    m.namespace or namespace or "",
                    m.name,
                    m.labels or {},
                    m.resourceVersion,
                )
                for m in (item.metadata for item in page.items or [])
            ]
            return token is not None, found

        paged = one_by_one(fetch) if self._api.blocking else read_ahead(fetch)
        async with aclosing(paged) as listed:
            async for items in listed:
                yield items

    @staticmethod
    def _refused(exc: PermissionDenied, namespace: str | None) -> PermissionDenied:
        if namespace is not None:
            return exc
        return PermissionDenied(
            "permission denied: cannot list secrets in every namespace; --all-namespaces "
            "needs a ClusterRole granting 'list' and 'patch' on secrets (bound with a "
            "ClusterRoleBinding); check with: kubectl auth can-i list secrets --all-namespaces",
            verb="list",
            resource="secrets",
        )

    async def version(self, namespace: str, name: str) -> str | None:
        """The Secret's resourceVersion now; None when it is gone."""
        found = await self._transport(namespace).get(name)
        return None if found is None else found.resource_version

    async def rewrite(self, namespace: str, name: str, resource_version: str) -> str:
        """See :meth:`SecretTransport.rewrite` (a merge patch: the verb is ``patch``)."""
        return await self._transport(namespace).rewrite(name, resource_version)

    async def close(self) -> None:
        if self._owns:
            await self._api.close()
