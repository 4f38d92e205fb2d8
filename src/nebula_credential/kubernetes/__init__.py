"""Credentials in Kubernetes Secrets: the provider, its configuration and its seam."""

from .config import ClusterConfig, load_cluster_config
from .provider import DEFAULT_PREFIX, KubernetesSecretsProvider, SecretEvent
from .retry import RetryPolicy, TransportStats
from .transport import LightkubeTransport, SecretObject, SecretTransport

__all__ = [
    "DEFAULT_PREFIX",
    "ClusterConfig",
    "KubernetesSecretsProvider",
    "LightkubeTransport",
    "RetryPolicy",
    "SecretEvent",
    "SecretObject",
    "SecretTransport",
    "TransportStats",
    "load_cluster_config",
]
