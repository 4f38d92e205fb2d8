"""nebula-credential: typed credentials in Kubernetes Secrets or an encrypted local store.

>>> from nebula_credential import Credential, LocalStorageProvider, SyncCredentialProvider
>>> with SyncCredentialProvider(LocalStorageProvider()) as store:  # doctest: +SKIP
...     store.store(Credential(id="github", kind="api_key", fields={"api_key": "..."}))
"""

import logging

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
    InvalidCredential,
    InvalidCredentialId,
    InvalidScope,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProviderUnavailable,
    SecretValue,
    ValidationError,
    fields_of,
)
from .local import LocalStorageProvider
from .providers import CredentialProvider, ListFilter, SyncCredentialProvider

__version__ = "0.1.0"

# A library logs only where its user configured logging to go.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "REDACTED",
    "AuthenticationError",
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
    "InvalidCredential",
    "InvalidCredentialId",
    "InvalidScope",
    "ListFilter",
    "LocalStorageProvider",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProviderUnavailable",
    "SecretValue",
    "SyncCredentialProvider",
    "ValidationError",
    "__version__",
    "fields_of",
]
