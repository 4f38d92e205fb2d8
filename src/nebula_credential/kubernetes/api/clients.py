"""An :class:`ApiClient` to a cluster, on the driver chosen by name.

``aiohttp`` (the default) or ``blocking``; ``NEBULA_CREDENTIAL_TRANSPORT`` picks one when
the caller does not. Each driver is imported only when chosen. ``blocking`` is for one
request or a few in a row (the CLI takes it for its one-shot commands): it needs no
event loop. Where credentials or the proxy need one (an exec credential plugin, an
``https://`` proxy) it is the aiohttp driver instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ...domain import ConfigurationError
from ..config.cluster import ClusterConfig, load_cluster_config
from ..model.naming import MANAGER
from .retry import RetryPolicy

if TYPE_CHECKING:
    from .exchange import ApiClient, Driver

TRANSPORT_ENV: Final = "NEBULA_CREDENTIAL_TRANSPORT"
TRANSPORTS: Final = ("aiohttp", "blocking")
DEFAULT_TRANSPORT: Final = "aiohttp"


def transport_name(
    chosen: str | None,
    environ: Mapping[str, str] | None = None,
    *,
    may_block: bool = True,
) -> str:
    """``chosen``, else ``NEBULA_CREDENTIAL_TRANSPORT``, else the default; checked.

    The variable picks ``blocking`` only where the caller may block (``may_block``: the
    sync facades and the CLI); for an async caller it means the default, so a setting
    made for scripts never stalls a service's event loop.
    """
    env = os.environ if environ is None else environ
    name = chosen or env.get(TRANSPORT_ENV, "").strip().lower() or DEFAULT_TRANSPORT
    if name not in TRANSPORTS:
        where = "transport=" if chosen else f"{TRANSPORT_ENV}="
        raise ConfigurationError(
            f"unknown Kubernetes transport {where}{name[:40]!r}; use one of: "
            f"{', '.join(TRANSPORTS)}"
        )
    if name == "blocking" and not chosen and not may_block:
        return DEFAULT_TRANSPORT
    return name


def client_on(
    name: str, target: ClusterConfig, *, policy: RetryPolicy, timeout: float
) -> ApiClient:
    """A client of ``target`` on the driver ``name`` names (no network until used)."""
    from ...http.urls import origin_and_path
    from ..config.endpoint import endpoint_for
    from .exchange import ApiClient

    endpoint = endpoint_for(target)
    origin, _ = origin_and_path(endpoint.server)
    needs_loop = endpoint.runs_plugin or (endpoint.proxy or "").startswith("https:")
    settings: dict[str, Any] = {
        "context": endpoint.ssl_context,
        "timeout": timeout,
        "proxy": endpoint.proxy,
        "server_hostname": endpoint.server_hostname,
    }
    driver: Driver
    if name == "blocking" and not needs_loop:
        from ...http.blocking import BlockingDriver

        driver = BlockingDriver(origin, user_agent=f"{MANAGER}/0.1 (http.client)", **settings)
    else:
        from ...http.aio import AioDriver

        driver = AioDriver(origin, user_agent=f"{MANAGER}/0.1 (aiohttp)", **settings)
    return ApiClient(
        driver, endpoint, policy=policy, context=target.context, namespace=target.namespace
    )


def open_client(
    *,
    namespace: str | None = None,
    context: str | None = None,
    kubeconfig: str | os.PathLike[str] | None = None,
    transport: str | None = None,
    retry: RetryPolicy | None = None,
    timeout: float = 10.0,
) -> ApiClient:
    """A client of the cluster the kubeconfig (or the pod's ServiceAccount) names, to share
    between providers: ``KubernetesSecretsProvider.with_client(client, namespace)``."""
    name = transport_name(transport, may_block=False)
    target = load_cluster_config(namespace=namespace, context=context, kubeconfig=kubeconfig)
    return client_on(name, target, policy=retry or RetryPolicy(), timeout=timeout)
