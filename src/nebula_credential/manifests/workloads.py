"""Workloads around credentials: Deployment, PDB, NetworkPolicy (the rotation CronJob
is in :mod:`.rotation`).

The Deployment's Secret volume lists the keys it mounts (``items``): a credential's
Secret also holds the version it replaced (``nebula-credential.previous``, old tokens
kept for rollback), which no pod needs.

API versions follow the target Kubernetes version: ``policy/v1`` from 1.21,
``policy/v1beta1`` before.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, Final

from ..domain import CredentialId
from ..kubernetes.model.mapping import CREDENTIAL_KEY, PREVIOUS_KEY
from ..kubernetes.model.naming import check_prefix, secret_name
from ._checks import (
    DEFAULT_KUBE_VERSION,
    KubeVersion,
    ManifestError,
    _shown,
    absolute_path,
    dns_label,
    dns_subdomain,
    image_reference,
    kube_version,
    label_value,
    positive,
    secret_key,
)
from .access import DEFAULT_NAMESPACE, DEFAULT_PREFIX, DEFAULT_SERVICE_ACCOUNT, Manifest

DEFAULT_APP: Final = "nebula-app"
DEFAULT_MOUNT: Final = "/etc/nebula/credentials"
READ_ONLY_OWNER: Final = 0o400
_ENV_NAME_OK: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def meta(name: str, ns: str, app: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": ns,
        "labels": {"app": app, "app.kubernetes.io/managed-by": "nebula-credential"},
    }


def _env_name(credential_id: str, key: str) -> str:
    raw = f"{credential_id}_{key}".upper().replace("-", "_").replace(".", "_")
    name = "".join(c if c in _ENV_NAME_OK else "_" for c in raw)
    return name if not name[0].isdigit() else f"_{name}"


def _usable_key(key: str, what: str) -> str:
    """A Secret key a pod may read: never the replaced version kept for rollback."""
    if secret_key(key, what) == PREVIOUS_KEY:
        raise ManifestError(
            f"{what} {PREVIOUS_KEY!r} holds the replaced version's tokens, kept for rollback; "
            "a pod never needs them"
        )
    return key


def _env(credential_id: str, secret: str, keys: Sequence[str], fixed: Sequence[str]) -> list[Any]:
    """One ``secretKeyRef`` env var per key (a key given twice counts once); two keys
    that map to one env name, or onto one the Deployment sets itself, are refused:
    Kubernetes keeps the last and the pod would silently read the other key."""
    taken = {name: "set by the Deployment itself" for name in fixed}
    env: list[dict[str, Any]] = []
    for key in dict.fromkeys(_usable_key(k, "env key") for k in keys):
        name = _env_name(credential_id, key)
        if name in taken:
            raise ManifestError(
                f"env key {_shown(key)} becomes env var {name}, which is already "
                f"{taken[name]}: expose only one of them"
            )
        taken[name] = f"the env var of key {_shown(key)}"
        env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
    return env


def _items(keys: Sequence[str]) -> list[dict[str, str]]:
    """The Secret keys the volume mounts, each as a file of its own name."""
    chosen = list(dict.fromkeys(_usable_key(k, "mount key") for k in keys))
    if not chosen:
        raise ManifestError("mount at least one Secret key (--mount-key, default credential.json)")
    return [{"key": key, "path": key} for key in chosen]


def deployment(
    credential_id: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    name: str = DEFAULT_APP,
    image: str = "nebula-app:latest",
    service_account: str = DEFAULT_SERVICE_ACCOUNT,
    env_keys: Sequence[str] = (),
    mount_path: str = DEFAULT_MOUNT,
    replicas: int = 3,
    prefix: str = DEFAULT_PREFIX,
    mount_keys: Sequence[str] = (CREDENTIAL_KEY,),
) -> Manifest:
    """A Deployment reading one credential from a read-only Secret volume (``0400``).

    ``CREDENTIALS_PATH`` points at the mount, where the pod-side reader finds
    ``credential.json`` and follows rotations without a restart. Only ``mount_keys``
    are mounted (a Secret another tool wrote may have one key per field: name those).
    ``env_keys`` adds env vars from ``secretKeyRef`` as in the seed; those never change
    in a running pod.
    """
    dns_label(namespace, "namespace")
    label_value(dns_subdomain(name, "deployment name"), "deployment name")
    dns_subdomain(service_account, "service account")
    image_reference(image)
    positive(replicas, "replicas", minimum=0)
    absolute_path(mount_path, "mount path")
    secret = secret_name(check_prefix(prefix), str(CredentialId(credential_id)))
    items = _items(mount_keys)
    fixed = ("CREDENTIALS_PATH", "KUBERNETES_NAMESPACE")
    env = _env(credential_id, secret, env_keys, fixed)
    env.append({"name": "CREDENTIALS_PATH", "value": mount_path})
    env.append(
        {
            "name": "KUBERNETES_NAMESPACE",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        }
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, namespace, name),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "serviceAccountName": service_account,
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "env": env,
                            "volumeMounts": [
                                {"name": "credentials", "mountPath": mount_path, "readOnly": True}
                            ],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "credentials",
                            "secret": {
                                "secretName": secret,
                                "defaultMode": READ_ONLY_OWNER,
                                "items": items,
                            },
                        }
                    ],
                },
            },
        },
    }


def pdb(
    *,
    namespace: str = DEFAULT_NAMESPACE,
    app: str = DEFAULT_APP,
    min_available: int = 2,
    kube: str | KubeVersion = DEFAULT_KUBE_VERSION,
) -> Manifest:
    """A PodDisruptionBudget keeping ``min_available`` pods of ``app`` running."""
    version = kube_version(kube)
    dns_label(namespace, "namespace")
    dns_label(app, "app")
    positive(min_available, "min available")
    return {
        "apiVersion": version.pdb_api,
        "kind": "PodDisruptionBudget",
        "metadata": meta(f"{app}-pdb", namespace, app),
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": app}}},
    }


def network_policy(
    *,
    namespace: str = DEFAULT_NAMESPACE,
    app: str = DEFAULT_APP,
    api_server_cidr: str = "10.0.0.1/32",
    api_server_port: int = 443,
    metrics_port: int | None = None,
) -> Manifest:
    """Egress of ``app`` pods limited to DNS and the API server (where the Secrets are).

    Ingress is closed too, except the metrics port when one is given.
    """
    dns_label(namespace, "namespace")
    dns_label(app, "app")
    try:
        cidr = str(ipaddress.ip_network(api_server_cidr, strict=False))
    except ValueError:
        raise ManifestError(
            f"API server CIDR {api_server_cidr[:80]!r} is not an address block such as 10.0.0.1/32"
        ) from None
    for port in (api_server_port, metrics_port):
        if port is not None and not 1 <= positive(port, "port") <= 65535:
            raise ManifestError(f"port {port} must be between 1 and 65535")
    ingress: list[dict[str, Any]] = []
    if metrics_port is not None:
        ingress.append({"ports": [{"protocol": "TCP", "port": metrics_port}]})
    dns = [{"protocol": p, "port": 53} for p in ("UDP", "TCP")]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(f"{app}-credentials", namespace, app),
        "spec": {
            "podSelector": {"matchLabels": {"app": app}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": [
                {"ports": dns},
                {
                    "to": [{"ipBlock": {"cidr": cidr}}],
                    "ports": [{"protocol": "TCP", "port": api_server_port}],
                },
            ],
        },
    }
