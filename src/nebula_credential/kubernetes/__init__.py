"""Credentials in Kubernetes Secrets, in four layers, each importing only those below:

- ``store``: the provider (reads, compare-and-swap writes, deletes, change feed, leases,
  re-encryption, the sync facade), speaking the ``api.transport`` seam;
- ``api``: the protocol core (request builders, ``interpret``, the retry loop, the watch
  state) and the Secret transport on it, over the drivers of ``nebula_credential.http``;
- ``config``: kubeconfig and in-cluster resolution, and the endpoint (URL, TLS, proxy,
  credentials) it gives;
- ``model``: the Secret model without I/O (names, mapping, foreign Secrets, limits).

Names load on first use: pod readers, manifests and sealing import ``model`` only and
must not pay for the HTTP stack the provider needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .api.clients import open_client
    from .api.exchange import ApiClient
    from .api.retry import RetryPolicy, TransportStats
    from .api.transport import SecretTransport
    from .config.cluster import ClusterConfig, load_cluster_config
    from .model.objects import SecretObject
    from .store.provider import DEFAULT_PREFIX, KubernetesSecretsProvider, SecretEvent
    from .store.sync import SyncKubernetesSecretsProvider

_HOMES: Final = {
    "DEFAULT_PREFIX": ".store.provider",
    "ClusterConfig": ".config.cluster",
    "KubernetesSecretsProvider": ".store.provider",
    "ApiClient": ".api.exchange",
    "RetryPolicy": ".api.retry",
    "SecretEvent": ".store.provider",
    "SecretObject": ".model.objects",
    "SecretTransport": ".api.transport",
    "SyncKubernetesSecretsProvider": ".store.sync",
    "TransportStats": ".api.retry",
    "open_client": ".api.clients",
    "load_cluster_config": ".config.cluster",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOMES)


__all__ = [
    "DEFAULT_PREFIX",
    "ApiClient",
    "ClusterConfig",
    "KubernetesSecretsProvider",
    "RetryPolicy",
    "SecretEvent",
    "SecretObject",
    "SecretTransport",
    "SyncKubernetesSecretsProvider",
    "TransportStats",
    "load_cluster_config",
    "open_client",
]
