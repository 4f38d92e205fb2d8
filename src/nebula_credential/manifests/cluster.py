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
    non_empty,
)
from .access import Manifest

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
    kms_endpoint: str = "unix:///var/run/kmsplugin/socket.sock",
    kube: str | KubeVersion = DEFAULT_KUBE_VERSION,
) -> Manifest:
    """Encrypt Secrets at rest with ``provider``; ``identity`` last so plaintext still reads.

    For aescbc/aesgcm/secretbox a fresh ``key_size``-byte key comes from
    :func:`secrets.token_bytes` unless ``key`` is given. ``kms`` uses KMS v2 from 1.29
    (v1 is disabled there by default) and v1 before.
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
        dns_label(kms_name, "KMS plugin name")
        if not non_empty(kms_endpoint, "KMS endpoint").startswith("unix://"):
            raise ManifestError("the KMS endpoint must be a unix socket, e.g. unix:///run/kms.sock")
        kms: dict[str, Any] = {"name": kms_name, "endpoint": kms_endpoint, "timeout": "3s"}
        if version.at_least(29):
            kms["apiVersion"] = "v2"
        else:
            kms["cachesize"] = 1000
        entry = {"kms": kms}
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
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": [entry, {"identity": {}}]}],
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
