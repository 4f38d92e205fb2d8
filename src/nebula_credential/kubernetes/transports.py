"""Which :class:`SecretTransport` a provider talks through, chosen by name.

``aiohttp`` (the default), ``blocking`` or ``lightkube``; ``NEBULA_CREDENTIAL_TRANSPORT``
picks one when the caller does not. Each transport's HTTP stack is imported only when
chosen. ``blocking`` is for one request or a few in a row (the CLI takes it for its
one-shot commands): it needs no event loop. Where credentials or the proxy need one (an
exec credential plugin, an ``https://`` proxy) it is the aiohttp transport instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from ..domain import ConfigurationError
from .config import ClusterConfig, load_cluster_config, resolve_namespace
from .retry import RetryPolicy
from .transport import SecretTransport

if TYPE_CHECKING:
    from lightkube import AsyncClient

TRANSPORT_ENV: Final = "NEBULA_CREDENTIAL_TRANSPORT"
TRANSPORTS: Final = ("aiohttp", "blocking", "lightkube")
DEFAULT_TRANSPORT: Final = "aiohttp"


def transport_name(chosen: str | None, environ: Mapping[str, str] | None = None) -> str:
    """``chosen``, else ``NEBULA_CREDENTIAL_TRANSPORT``, else the default; checked."""
    env = os.environ if environ is None else environ
    name = chosen or env.get(TRANSPORT_ENV, "").strip().lower() or DEFAULT_TRANSPORT
    if name not in TRANSPORTS:
        where = "transport=" if chosen else f"{TRANSPORT_ENV}="
        raise ConfigurationError(
            f"unknown Kubernetes transport {where}{name[:40]!r}; use one of: "
            f"{', '.join(TRANSPORTS)}"
        )
    return name


def transport_for(
    transport: SecretTransport | str | None,
    client: AsyncClient | None,
    *,
    namespace: str | None,
    context: str | None,
    kubeconfig: str | os.PathLike[str] | None,
    policy: RetryPolicy,
    timeout: float,
) -> SecretTransport:
    """The provider's transport: ``transport`` itself, one on the caller's lightkube
    ``client``, or the one ``transport`` names to the cluster the kubeconfig infers."""
    if isinstance(transport, SecretTransport):
        return transport
    if client is not None:
        from .lightkube_transport import LightkubeTransport

        # lightkube already took the namespace of the context or ServiceAccount.
        ns = resolve_namespace(
            namespace, client.namespace, environ=os.environ, service_account_dir=None
        )
        return LightkubeTransport(
            client, ns, policy=policy, context=client.config.context_name, owns_client=False
        )
    name = transport_name(transport)  # a bad name fails before any file is read
    target = load_cluster_config(namespace=namespace, context=context, kubeconfig=kubeconfig)
    return open_transport(name, target, policy=policy, timeout=timeout)


def open_transport(
    name: str, target: ClusterConfig, *, policy: RetryPolicy, timeout: float
) -> SecretTransport:
    """The transport ``name`` to ``target`` (no network until the first call)."""
    if name == "lightkube":
        from .client import make_client
        from .lightkube_transport import LightkubeTransport

        return LightkubeTransport(
            make_client(target, timeout), target.namespace, policy=policy, context=target.context
        )
    from .connect import endpoint_for

    endpoint = endpoint_for(target)
    needs_loop = endpoint.runs_plugin or (endpoint.proxy or "").startswith("https:")
    if name == "blocking" and not needs_loop:
        from .blocking_transport import BlockingTransport

        return BlockingTransport(
            endpoint, target.namespace, policy=policy, context=target.context, timeout=timeout
        )
    from .aiohttp_transport import AiohttpTransport

    return AiohttpTransport(
        endpoint, target.namespace, policy=policy, context=target.context, timeout=timeout
    )
