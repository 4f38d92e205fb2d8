"""Which :class:`SecretTransport` a provider talks through: one given, or the Secret
transport on a new :class:`ApiClient` (see ``clients`` for the choice of driver)."""

from __future__ import annotations

import os

from ..config.cluster import ClusterConfig, load_cluster_config
from .clients import client_on, transport_name
from .retry import RetryPolicy
from .transport import SecretTransport


def transport_for(
    transport: SecretTransport | str | None,
    *,
    namespace: str | None,
    context: str | None,
    kubeconfig: str | os.PathLike[str] | None,
    policy: RetryPolicy,
    timeout: float,
) -> SecretTransport:
    """The provider's transport: ``transport`` itself, or the one ``transport`` names to
    the cluster the kubeconfig infers."""
    if isinstance(transport, SecretTransport):
        return transport
    # A bad name fails before any file is read; the variable's "blocking" is for the sync
    # facades, which pass it on explicitly.
    name = transport_name(transport, may_block=False)
    target = load_cluster_config(namespace=namespace, context=context, kubeconfig=kubeconfig)
    return open_transport(name, target, policy=policy, timeout=timeout)


def open_transport(
    name: str, target: ClusterConfig, *, policy: RetryPolicy, timeout: float
) -> SecretTransport:
    """The transport ``name`` to ``target`` (no network until the first call)."""
    from .secret_calls import HttpTransport

    return HttpTransport(client_on(name, target, policy=policy, timeout=timeout), target.namespace)
