"""Every use of lightkube's undocumented internals, in one place (lightkube 1.0.x).

Each function leans on something lightkube does not promise to keep. The unit tests in
``tests/unit/test_lightkube_compat.py`` pin each quirk by name, so an upgrade that
changes one fails one clearly named test instead of a request in production. Everything
else in this package uses lightkube's public API only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2
from lightkube import AsyncClient
from lightkube.resources.core_v1 import Secret


def _http_client(client: AsyncClient) -> httpx2.AsyncClient:
    # AsyncClient._client is lightkube's GenericAsyncClient; its _client the httpx2 client.
    http: httpx2.AsyncClient = client._client._client
    return http


def http_client(client: AsyncClient) -> httpx2.AsyncClient:
    """The httpx2 client lightkube sends with: base URL, TLS and auth from the kubeconfig.

    For the few raw calls lightkube has no resource for (``/version``, API discovery).
    """
    return _http_client(client)


async def raw_get(client: AsyncClient, path: str) -> httpx2.Response:
    """GET any API server path (a service proxy, say) with the client's auth and TLS.

    lightkube only requests resources it has models for.
    """
    return await _http_client(client).get(path)


def set_user_agent(client: AsyncClient, user_agent: str) -> None:
    """Send ``user_agent`` on every request (audit logs record it).

    lightkube has no option for headers; its ``transport`` argument would do it publicly
    but then drops the TLS settings it derives from the kubeconfig.
    """
    _http_client(client).headers["User-Agent"] = user_agent


def set_auth(client: AsyncClient, auth: httpx2.Auth) -> None:
    """Authenticate every request with ``auth`` instead of lightkube's kubeconfig auth.

    lightkube builds its auth from the kubeconfig user and has no argument to replace it.
    """
    _http_client(client).auth = auth


async def list_page(
    client: AsyncClient, namespace: str, params: Mapping[str, Any]
) -> tuple[str | None, str | None, list[Any]]:
    """One page of a Secret list: (continue token or None, the list's resourceVersion,
    the lightkube Secrets).

    lightkube's public ``list()`` walks every page and hides the continue token, so a
    failed page could not be retried on its own; its generic client sends one page per
    call and records the token in the request's params.
    """
    generic: Any = client._client
    request = generic.prepare_request("list", res=Secret, namespace=namespace, params=dict(params))
    response = await generic.send(generic.build_adapter_request(request))
    more, version, items = generic.handle_response("list", response, request)
    token = request.params.get("continue") if more else None
    return token, version, list(items)


def status_error(exc: BaseException) -> httpx2.HTTPStatusError | None:
    """The HTTP error reply behind ``exc``, or None when ``exc`` is not one.

    lightkube reads the Content-Type of every error reply unconditionally; a reply
    without one (a proxy's bare 502, say) surfaces as ``KeyError`` raised while handling
    the ``HTTPStatusError``, which is then its ``__context__``.
    """
    if isinstance(exc, httpx2.HTTPStatusError):
        return exc
    if isinstance(exc, KeyError) and isinstance(exc.__context__, httpx2.HTTPStatusError):
        return exc.__context__
    return None


async def delete_exactly(
    client: AsyncClient, namespace: str, name: str, uid: str | None, resource_version: str | None
) -> None:
    """Delete Secret ``name`` only if it still has ``uid`` and ``resource_version``.

    lightkube's public ``delete()`` sends no body, so it cannot carry DeleteOptions
    preconditions; its generic client builds the request and we add the body.
    """
    generic: Any = client._client
    request = generic.prepare_request("delete", res=Secret, name=name, namespace=namespace)
    preconditions = {"uid": uid, "resourceVersion": resource_version}
    request.data = {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "preconditions": {k: v for k, v in preconditions.items() if v is not None},
    }
    response = await generic.send(generic.build_adapter_request(request))
    generic.handle_response("delete", response, request)
