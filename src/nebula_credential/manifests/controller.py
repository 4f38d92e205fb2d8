"""``nebula-credential controller`` in the cluster: its ServiceAccount, RBAC
(:mod:`.controller_access`), Deployment and PodDisruptionBudget.

The Deployment runs two replicas by default, preferably on different nodes; they elect
a leader on a Lease, so a standby is ready to take over. Its rollout starts a new pod
before stopping an old one (``maxUnavailable: 0``) and the PodDisruptionBudget lets a
drain evict one pod at a time, so the replicas are never all down at once.

Rotations keep tokens issued but not yet stored in a journal under the data directory,
as ``rotate`` does: the pod keeps it in an ``emptyDir`` (``medium: Memory``, so tokens
never reach the node's disk) that outlives a container restart, with
``NEBULA_CREDENTIAL_HOME`` a private directory inside it, exactly as the rotation
CronJob does (:mod:`.rotation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ._checks import (
    DEFAULT_KUBE_VERSION,
    KubeVersion,
    ManifestError,
    dns_label,
    dns_subdomain,
    image_reference,
    kube_version,
    label_value,
    positive,
    seconds,
)
from .access import DEFAULT_NAMESPACE, Manifest
from .access import service_account as account_manifest
from .controller_access import DEFAULT_CONTROLLER, controller_rbac
from .rotation import DATA_DIR, DATA_MOUNT, HOME_ENV, JOURNAL_NOTE
from .workloads import meta

DEFAULT_IMAGE: Final = "nebula-credential:latest"
DEFAULT_HEALTH_PORT: Final = 8081
DEFAULT_ROTATE_WITHIN: Final = "5m"
MAX_LEASE_SECONDS: Final = 3600  # what `controller --lease-seconds` accepts
MAX_WITHIN: Final = 36500 * 86400  # a century: what `controller --rotate-within` accepts
NON_ROOT: Final = 65532  # the conventional "nonroot" user of minimal images
SECCOMP_FIELD_SINCE: Final = 19  # before 1.19 seccomp was an annotation
JOURNAL_VOLUME: Final = "rotation-journal"


def _container_args(
    watched: Sequence[str], port: int, lease: str, lease_seconds: int, rotate_within: str | None
) -> list[str]:
    args = ["controller"]
    for ns in watched:
        args += ["--namespace", ns]
    args += ["--health-addr", f"0.0.0.0:{port}"]
    args += ["--lease-name", lease, "--lease-seconds", str(lease_seconds)]
    args += ["--rotate-within", rotate_within] if rotate_within is not None else ["--no-rotation"]
    return args


def _probe(path: str, port: int, period: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "initialDelaySeconds": 5,
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }


def _check(
    name: str, image: str, replicas: int, lease_seconds: int, port: int, within: str | None
) -> None:
    label_value(dns_subdomain(name, "controller name"), "controller name")
    image_reference(image)
    positive(replicas, "replicas")
    if positive(lease_seconds, "lease seconds") > MAX_LEASE_SECONDS:
        raise ManifestError(
            f"lease seconds must be at most {MAX_LEASE_SECONDS}, not {lease_seconds}"
        )
    if not 1 <= positive(port, "health port") <= 65535:
        raise ManifestError(f"health port {port} must be between 1 and 65535")
    if within is not None and seconds(within, "rotate within") > MAX_WITHIN:
        raise ManifestError(f"rotate within {within!r} is longer than a century")


def controller_deployment(
    *,
    namespace: str = DEFAULT_NAMESPACE,
    watch_namespaces: Sequence[str] = (),
    name: str = DEFAULT_CONTROLLER,
    image: str = DEFAULT_IMAGE,
    service_account: str = DEFAULT_CONTROLLER,
    replicas: int = 2,
    rotate_within: str | None = DEFAULT_ROTATE_WITHIN,
    lease_seconds: int = 15,
    health_port: int = DEFAULT_HEALTH_PORT,
    kube: str | KubeVersion = DEFAULT_KUBE_VERSION,
) -> Manifest:
    """A Deployment running ``nebula-credential controller`` for ``watch_namespaces``
    (default: ``namespace``; the leader Lease lives in the first), rotating
    ``rotate_within`` before expiry (None: ``--no-rotation``). ``/healthz`` is its
    liveness, ``/readyz`` its readiness, both on the ``metrics`` port with ``/metrics``.
    """
    version = kube_version(kube)
    dns_label(namespace, "namespace")
    watched = list(dict.fromkeys(watch_namespaces or [namespace]))
    for ns in watched:
        dns_label(ns, "watched namespace")
    dns_subdomain(service_account, "service account")
    _check(name, image, replicas, lease_seconds, health_port, rotate_within)
    pod_security: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": NON_ROOT,
        "runAsGroup": NON_ROOT,
    }
    template_meta: dict[str, Any] = {"labels": {"app": name}}
    if version.at_least(SECCOMP_FIELD_SINCE):
        pod_security["seccompProfile"] = {"type": "RuntimeDefault"}
    else:
        template_meta["annotations"] = {
            "seccomp.security.alpha.kubernetes.io/pod": "runtime/default"
        }
    container: dict[str, Any] = {
        "name": "controller",
        "image": image,
        "command": ["nebula-credential"],
        "args": _container_args(watched, health_port, name, lease_seconds, rotate_within),
        "env": [{"name": HOME_ENV, "value": DATA_DIR}],
        "ports": [{"name": "metrics", "containerPort": health_port, "protocol": "TCP"}],
        "livenessProbe": _probe("/healthz", health_port, 10),
        "readinessProbe": _probe("/readyz", health_port, 5),
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": JOURNAL_VOLUME, "mountPath": DATA_MOUNT}],
    }
    deployment_meta = meta(name, namespace, name)
    deployment_meta["annotations"] = {
        JOURNAL_NOTE: (
            f"{replicas} replicas, one leader at a time on the Lease {name} in "
            f"{watched[0]}; rotations keep tokens issued but not yet stored in {DATA_DIR} "
            "(an emptyDir in memory, kept across container restarts)"
        )
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": deployment_meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            # A new pod is ready before an old one stops: never no replica at all.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": template_meta,
                "spec": {
                    "serviceAccountName": service_account,
                    "automountServiceAccountToken": True,  # it calls the API server
                    "securityContext": pod_security,
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "labelSelector": {"matchLabels": {"app": name}},
                                        "topologyKey": "kubernetes.io/hostname",
                                    },
                                }
                            ]
                        }
                    },
                    "containers": [container],
                    "volumes": [
                        {
                            "name": JOURNAL_VOLUME,
                            "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"},
                        }
                    ],
                },
            },
        },
    }


def _pdb(namespace: str, name: str, version: KubeVersion) -> Manifest:
    """At most one of the controller's pods evicted at a time (a drain never takes
    both replicas; with one replica it is not blocked forever)."""
    return {
        "apiVersion": version.pdb_api,
        "kind": "PodDisruptionBudget",
        "metadata": meta(name, namespace, name),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": name}}},
    }


def controller_manifests(
    *,
    namespace: str = DEFAULT_NAMESPACE,
    watch_namespaces: Sequence[str] = (),
    name: str = DEFAULT_CONTROLLER,
    image: str = DEFAULT_IMAGE,
    service_account: str | None = None,
    replicas: int = 2,
    rotate_within: str | None = DEFAULT_ROTATE_WITHIN,
    lease_seconds: int = 15,
    health_port: int = DEFAULT_HEALTH_PORT,
    kube: str | KubeVersion = DEFAULT_KUBE_VERSION,
) -> list[Manifest]:
    """Everything ``manifests controller`` prints: the ServiceAccount (``service_account``,
    default ``name``) in ``namespace``, a Role and RoleBinding per watched namespace
    (:func:`.controller_access.controller_rbac`), the Deployment and its
    PodDisruptionBudget. Every input is checked before anything is built."""
    version = kube_version(kube)
    account = service_account or name
    deployment = controller_deployment(
        namespace=namespace,
        watch_namespaces=watch_namespaces,
        name=name,
        image=image,
        service_account=account,
        replicas=replicas,
        rotate_within=rotate_within,
        lease_seconds=lease_seconds,
        health_port=health_port,
        kube=version,
    )
    watched = list(dict.fromkeys(watch_namespaces or [namespace]))
    return [
        account_manifest(account, namespace=namespace),
        *controller_rbac(
            watched,
            service_account=account,
            service_account_namespace=namespace,
            name=name,
            rotation=rotate_within is not None,
        ),
        deployment,
        _pdb(namespace, name, version),
    ]
