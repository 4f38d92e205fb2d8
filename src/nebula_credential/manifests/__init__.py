"""Kubernetes manifests for credentials: pure functions returning plain dicts.

Nothing here talks to a cluster or writes YAML; :func:`render_yaml` (the CLI's edge)
turns a list of manifests into a multi-document YAML stream. Bad input raises
:class:`ManifestError`, a :class:`~nebula_credential.domain.ValidationError`.
"""

from __future__ import annotations

from ..kubernetes.model.mapping import CREDENTIAL_KEY
from ._checks import (
    DEFAULT_KUBE_VERSION,
    NEWEST_MINOR,
    OLDEST_MINOR,
    KubeVersion,
    ManifestError,
    kube_version,
)
from .access import (
    DEFAULT_PREFIX,
    GRANTS_ANNOTATION,
    Manifest,
    credential_secret_names,
    namespace,
    rbac,
    service_account,
)
from .cluster import AuditLevel, EncryptionProvider, audit_policy, encryption_config
from .controller import controller_deployment, controller_manifests
from .controller_access import controller_rbac
from .external_secrets import RemoteRef, StoreProvider, external_secret, secret_store
from .kms import kms_plugin_pod, kms_plugin_unit, kms_provider
from .render import render_yaml
from .rotation import (
    DATA_DIR,
    default_job_deadline,
    job_deadline_floor,
    rotation_cronjob,
    rotation_rbac,
)
from .workloads import deployment, network_policy, pdb

__all__ = [
    "CREDENTIAL_KEY",
    "DATA_DIR",
    "DEFAULT_KUBE_VERSION",
    "DEFAULT_PREFIX",
    "GRANTS_ANNOTATION",
    "NEWEST_MINOR",
    "OLDEST_MINOR",
    "AuditLevel",
    "EncryptionProvider",
    "KubeVersion",
    "Manifest",
    "ManifestError",
    "RemoteRef",
    "StoreProvider",
    "audit_policy",
    "controller_deployment",
    "controller_manifests",
    "controller_rbac",
    "credential_secret_names",
    "default_job_deadline",
    "deployment",
    "encryption_config",
    "external_secret",
    "job_deadline_floor",
    "kms_plugin_pod",
    "kms_plugin_unit",
    "kms_provider",
    "kube_version",
    "namespace",
    "network_policy",
    "pdb",
    "rbac",
    "render_yaml",
    "rotation_cronjob",
    "rotation_rbac",
    "secret_store",
    "service_account",
]
