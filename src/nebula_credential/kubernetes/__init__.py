"""Credentials in Kubernetes Secrets: the provider, its configuration and its seam.

Names load on first use: the Secret mapping (``naming``, ``mapping``, ``foreign``,
``objects``) is imported by pod readers, manifests and sealing, which must not pay for
the HTTP stack that the provider needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .api.exchange import ApiClient
    from .config import ClusterConfig, load_cluster_config
    from .objects import SecretObject
    from .provider import DEFAULT_PREFIX, KubernetesSecretsProvider, SecretEvent
    from .retry import RetryPolicy, TransportStats
    from .sync import SyncKubernetesSecretsProvider
    from .transport import SecretTransport
    from .transports import open_client

_HOMES: Final = {
    "DEFAULT_PREFIX": ".provider",
    "ClusterConfig": ".config",
    "KubernetesSecretsProvider": ".provider",
    "ApiClient": ".api.exchange",
    "RetryPolicy": ".retry",
    "SecretEvent": ".provider",
    "SecretObject": ".objects",
    "SecretTransport": ".transport",
    "SyncKubernetesSecretsProvider": ".sync",
    "TransportStats": ".retry",
    "open_client": ".transports",
    "load_cluster_config": ".config",
}


__getattr__ = lazy_exports(__name__, _HOMES)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
