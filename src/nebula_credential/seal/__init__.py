"""Sealed Secrets in Python: seal Secrets and credentials for Git, unseal offline.

Byte-compatible with the Sealed Secrets controller (``bitnami.com/v1alpha1``): every
value is sealed on its own with RSA-OAEP(SHA-256) over a fresh AES-256-GCM session key,
the scope (strict, namespace-wide, cluster-wide) being the OAEP label. No Kubernetes
client is needed here; fetching the certificate through the API server lives with the
Kubernetes provider.
"""

from ._crypto import Scope, hybrid_decrypt, hybrid_encrypt, scope_label, scope_of
from ._keys import CertificateRejected, load_certificate, load_private_keys
from ._sealed import seal_secret, secret_values, unseal
from ._sources import credential_secret, fetch_url, load_document

__all__ = [
    "CertificateRejected",
    "Scope",
    "credential_secret",
    "fetch_url",
    "hybrid_decrypt",
    "hybrid_encrypt",
    "load_certificate",
    "load_document",
    "load_private_keys",
    "scope_label",
    "scope_of",
    "seal_secret",
    "secret_values",
    "unseal",
]
