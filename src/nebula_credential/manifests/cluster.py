"""API server configuration: EncryptionConfiguration and an audit Policy.

These are files for ``--encryption-provider-config`` and ``--audit-policy-file``, not
objects to ``kubectl apply``. The encryption key is generated here with a CSPRNG; the
output holds it, so it belongs in a file readable by the API server only.
"""

from __future__ import annotations

import base64
import secrets
from enum import StrEnum
from typing import Any, Final

from ._checks import (
    DEFAULT_KUBE_VERSION,
    KubeVersion,
    ManifestError,
    dns_label,
    kube_version,
)
from .access import Manifest
from .kms import DEFAULT_SOCKET, kms_provider

KEY_SIZES: Final = {"aescbc": (16, 24, 32), "aesgcm": (16, 24, 32), "secretbox": (32,)}


class EncryptionProvider(StrEnum):
    AESCBC = "aescbc"
    AESGCM = "aesgcm"
    SECRETBOX = "secretbox"
    KMS = "kms"


class AuditLevel(StrEnum):
    NONE = "None"
    METADATA = "Metadata"


def encryption_config(
    provider: EncryptionProvider | str = EncryptionProvider.AESCBC,
    *,
    key_name: str = "key1",
    key_size: int = 32,
    key: bytes | None = None,
    kms_name: str = "nebula-kms",
    kms_endpoint: str = DEFAULT_SOCKET,
    kms_cachesize: int = 1000,
    kms_timeout: str = "3s",
    identity_fallback: bool | None = None,
    kube: str | KubeVersion = DEFAULT_KUBE_VERSION,
) -> Manifest:
    """Encrypt Secrets at rest with ``provider``; with ``identity_fallback``, ``identity``
    last so Secrets stored before in plaintext still read.

    For aescbc/aesgcm/secretbox a fresh ``key_size``-byte key comes from
    :func:`secrets.token_bytes` unless ``key`` is given, and the fallback is on unless
    turned off. ``kms`` uses KMS v2 from 1.29 and v1 before (:mod:`.kms`), without the
    fallback unless asked: a plaintext fallback beside a KMS is a way around it.
    """
    try:
        chosen = EncryptionProvider(provider)
    except ValueError:
        raise ManifestError(
            f"encryption provider {str(provider)[:20]!r} is not one of: aescbc, aesgcm, "
            "secretbox, kms"
        ) from None
    version = kube_version(kube)
    entry: dict[str, Any]
    if chosen is EncryptionProvider.KMS:
        entry = kms_provider(
            kms_name, kms_endpoint, kube=version, cachesize=kms_cachesize, timeout=kms_timeout
        )
    else:
        sizes = KEY_SIZES[chosen.value]
        size = len(key) if key is not None else key_size
        if size not in sizes:
            allowed = " or ".join(str(s) for s in sizes)
            raise ManifestError(f"a {chosen.value} key must be {allowed} bytes long, not {size}")
        material = key if key is not None else secrets.token_bytes(key_size)
        dns_label(key_name, "key name")
        secret = base64.b64encode(material).decode("ascii")
        entry = {chosen.value: {"keys": [{"name": key_name, "secret": secret}]}}
    fallback = identity_fallback if identity_fallback is not None else entry.keys() != {"kms"}
    providers = [entry, {"identity": {}}] if fallback else [entry]
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": providers}],
    }


def audit_policy(others: AuditLevel | str = AuditLevel.NONE) -> Manifest:
    """An audit Policy logging Secret access at ``Metadata`` (who, what, when — no values).

    ``Request`` or ``RequestResponse`` would write Secret payloads into the log, so they
    are never used for Secrets; ``others`` sets the level for every other resource.
    """
    try:
        level = AuditLevel(others)
    except ValueError:
        raise ManifestError(
            f"audit level {str(others)[:20]!r} for other resources must be None or Metadata: "
            "Request and RequestResponse log request bodies, which may hold secrets"
        ) from None
    return {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]},
            {"level": level.value},
        ],
    }
