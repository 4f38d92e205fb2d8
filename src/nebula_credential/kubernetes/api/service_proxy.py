"""GET a path of an in-cluster service through the API server's service proxy.

Used to fetch the Sealed Secrets controller's certificate the way kubeseal does, with
the kubeconfig's identity, so no port-forward or ingress is needed.
"""

from __future__ import annotations

import os
from typing import Final
from urllib.parse import quote

from ...domain import (
    AuthenticationError,
    CredentialError,
    NotFound,
    PermissionDenied,
    ProviderUnavailable,
)
from ...http.message import NoReply
from ..config.cluster import load_cluster_config, shown_server
from .clients import client_on
from .errors import Operation
from .requests import ApiRequest
from .retry import RetryPolicy

MAX_BODY: Final = 1024 * 1024


def proxy_path(namespace: str, service: str, port: str, path: str) -> str:
    """``/api/v1/namespaces/NS/services/http:NAME:PORT/proxy/PATH``."""
    target = quote(f"http:{service}:{port}", safe=":")
    return (
        f"/api/v1/namespaces/{quote(namespace, safe='')}/services/{target}/proxy/{path.lstrip('/')}"
    )


async def fetch_service_path(
    *,
    namespace: str,
    service: str,
    path: str,
    port: str = "http",
    context: str | None = None,
    kubeconfig: str | os.PathLike[str] | None = None,
    request_timeout: float = 10.0,
) -> bytes:
    """The body the service answers at ``path``; typed errors say what to check."""
    target = load_cluster_config(namespace=None, context=context, kubeconfig=kubeconfig)
    client = client_on("aiohttp", target, policy=RetryPolicy(attempts=1), timeout=request_timeout)
    url = client.base + proxy_path(namespace, service, port, path)
    server = shown_server(target.cluster.server or "")
    where = f"service {namespace}/{service} (port {port}) through the API server at {server}"
    service_url = f"{client.base}/api/v1/namespaces/{quote(namespace, safe='')}/services/"
    service_url += quote(service, safe="")
    op = Operation("get", namespace, service, "services/proxy")
    try:
        reply = await client.fetch(ApiRequest(op, "GET", url, max_body=MAX_BODY))
        # The proxy says "services not found" also when the service has no Endpoints yet.
        exists = (
            reply.status == 404
            and (await client.fetch(ApiRequest(op, "GET", service_url))).status == 200
        )
    except NoReply as exc:
        if exc.kind == "too_large":
            raise CredentialError(f"{where} answered more than {MAX_BODY} bytes") from None
        if exc.kind == "proxy" and client.site.proxy is not None:
            raise ProviderUnavailable(
                f"the proxy {client.site.proxy} did not let us reach the API server at "
                f"{server} ({exc.detail.split(':')[0]}); check the cluster's proxy-url, or "
                "HTTPS_PROXY / HTTP_PROXY and NO_PROXY"
            ) from None
        raise ProviderUnavailable(
            f"cannot reach the API server at {server} to fetch /{path.lstrip('/')} from "
            f"{where}: {exc.detail.split(':')[0]}; check with: kubectl get --raw /readyz"
        ) from None
    finally:
        await client.close()
    status = reply.status
    if status == 200:
        return reply.body
    if status == 503 or exists:
        raise ProviderUnavailable(
            f"{where} has no ready endpoint (HTTP {status}): check its pods with: kubectl "
            f"get pods,endpoints -n {namespace}, or pass the certificate with --cert"
        )
    if status == 404:
        raise NotFound(
            f"no {where} (HTTP 404): is it installed? Check with: kubectl get service "
            f"{service} -n {namespace}, or name it with --controller-name/"
            "--controller-namespace, or pass the certificate with --cert"
        )
    if status == 403:
        raise PermissionDenied(
            f"permission denied fetching from {where} (HTTP 403): ask for 'get' on "
            f"services/proxy in {namespace!r}; check with: kubectl auth can-i get "
            f"services/proxy -n {namespace}",
            verb="get",
            resource="services/proxy",
            namespace=namespace,
        )
    if status == 401:
        raise AuthenticationError(
            f"the API server at {server} rejected our credentials (HTTP 401); refresh the "
            "kubeconfig user's token or certificate"
        )
    raise ProviderUnavailable(f"{where} answered HTTP {status}")
