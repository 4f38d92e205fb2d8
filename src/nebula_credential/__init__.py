"""nebula-credential: typed credentials in Kubernetes Secrets or an encrypted local store.

>>> from nebula_credential import Credential, LocalStorageProvider, SyncCredentialProvider
>>> with SyncCredentialProvider(LocalStorageProvider()) as store:  # doctest: +SKIP
...     store.store(Credential(id="github", kind="api_key", fields={"api_key": "..."}))
"""

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from .domain import (
    REDACTED,
    AuthenticationError,
    ConfigurationError,
    Conflict,
    CorruptData,
    Credential,
    CredentialError,
    CredentialId,
    CredentialKind,
    CredentialScope,
    DecryptionFailed,
    FieldSpec,
    GrantPending,
    InvalidCredential,
    InvalidCredentialId,
    InvalidScope,
    LeaseHeld,
    LeaseLost,
    NotFound,
    NotOwned,
    NotRotatable,
    PayloadTooLarge,
    PermissionDenied,
    ProviderUnavailable,
    RotationFailed,
    SecretValue,
    TokenEndpointUnreachable,
    ValidationError,
    WrongEventLoop,
    fields_of,
)
from .providers import (
    NOT_CACHED,
    Change,
    CredentialProvider,
    ListFilter,
    NotCached,
    SyncCredentialProvider,
)

if TYPE_CHECKING:
    from .kubernetes import (
        KubernetesSecretsProvider,
        RetryPolicy,
        SyncKubernetesSecretsProvider,
        TransportStats,
    )
    from .local import LocalStorageProvider
    from .providers.caching import CacheStats, CachingProvider
    from .readers import MountedChange, MountedCredential, credential_from_env, read_mounted

__version__ = "0.1.0"


# The HTTP stack costs tens of ms to import: load the Kubernetes provider only when asked.
# The local store (sqlite3, cryptography), the cache and the pod readers (asyncio, the
# Secret mapping) load on first use as well: each command of the CLI imports only what
# it uses, and the blocking local store never imports asyncio.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CacheStats": ".providers.caching",
        "CachingProvider": ".providers.caching",
        "LocalStorageProvider": ".local",
        "KubernetesSecretsProvider": ".kubernetes",
        "RetryPolicy": ".kubernetes",
        "TransportStats": ".kubernetes",
        "SyncKubernetesSecretsProvider": ".kubernetes",
        "MountedChange": ".readers",
        "MountedCredential": ".readers",
        "credential_from_env": ".readers",
        "read_mounted": ".readers",
    },
)


__all__ = [
    "NOT_CACHED",
    "REDACTED",
    "AuthenticationError",
    "CacheStats",
    "CachingProvider",
    "Change",
    "ConfigurationError",
    "Conflict",
    "CorruptData",
    "Credential",
    "CredentialError",
    "CredentialId",
    "CredentialKind",
    "CredentialProvider",
    "CredentialScope",
    "DecryptionFailed",
    "FieldSpec",
    "GrantPending",
    "InvalidCredential",
    "InvalidCredentialId",
    "InvalidScope",
    "KubernetesSecretsProvider",
    "LeaseHeld",
    "LeaseLost",
    "ListFilter",
    "LocalStorageProvider",
    "MountedChange",
    "MountedCredential",
    "NotCached",
    "NotFound",
    "NotOwned",
    "NotRotatable",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProviderUnavailable",
    "RetryPolicy",
    "RotationFailed",
    "SecretValue",
    "SyncCredentialProvider",
    "SyncKubernetesSecretsProvider",
    "TokenEndpointUnreachable",
    "TransportStats",
    "ValidationError",
    "WrongEventLoop",
    "__version__",
    "credential_from_env",
    "fields_of",
    "read_mounted",
]
