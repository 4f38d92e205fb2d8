"""Kubernetes manifests for credentials: pure functions returning plain dicts.

Nothing here talks to a cluster or writes YAML; :func:`render_yaml` (the CLI's edge)
turns a list of manifests into a multi-document YAML stream. Bad input raises
:class:`ManifestError`, a :class:`~nebula_credential.domain.ValidationError`.
"""

from __future__ import annotations

from ._checks import DEFAULT_KUBE_VERSION, KubeVersion, ManifestError, kube_version
from .access import (
    DEFAULT_PREFIX,
    GRANTS_ANNOTATION,
    Manifest,
    credential_secret_names,
    namespace,
    rbac,
)
from .cluster import AuditLevel, EncryptionProvider, audit_policy, encryption_config
from .external_secrets import RemoteRef, StoreProvider, external_secret, secret_store
from .render import render_yaml
from .workloads import deployment, network_policy, pdb, rotation_cronjob

__all__ = [
    "DEFAULT_KUBE_VERSION",
    "DEFAULT_PREFIX",
    "GRANTS_ANNOTATION",
    "AuditLevel",
    "EncryptionProvider",
    "KubeVersion",
    "Manifest",
    "ManifestError",
    "RemoteRef",
    "StoreProvider",
    "audit_policy",
    "credential_secret_names",
    "deployment",
    "encryption_config",
    "external_secret",
    "kube_version",
    "namespace",
    "network_policy",
    "pdb",
    "rbac",
    "render_yaml",
    "rotation_cronjob",
    "secret_store",
]
