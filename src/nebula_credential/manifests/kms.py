"""Our KMS plugin beside kube-apiserver: the EncryptionConfiguration's ``kms`` stanza, a
static Pod and a systemd unit that run ``nebula-credential kms serve``.

KMS v1 until Kubernetes 1.28 and v2 from 1.29. On 1.27 and 1.28 KMS v2 is still beta (its
API changed until it went stable in 1.29, the ``v2.KeyManagementService`` our plugin
serves), while KMS v1 is stable and enabled there (deprecated since 1.28, off by default
from 1.29 behind the ``KMSv1`` feature gate): v1 is the choice that holds on 1.27 and 1.28.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from ..kubernetes.model.api_names import unix_socket
from ._checks import KubeVersion, ManifestError, dns_label, non_empty
from .access import Manifest

#: The first minor whose API server speaks the v2.KeyManagementService our plugin serves.
KMS_V2_MINOR: Final = 29
DEFAULT_SOCKET: Final = "unix:///var/run/kmsplugin/socket.sock"
_DURATION: Final = re.compile(r"[1-9][0-9]{0,4}(ms|s|m)")


def socket_file(endpoint: str) -> PurePosixPath:
    """The socket's absolute path in ``unix:///PATH``; :class:`ManifestError` otherwise."""
    checked = unix_socket(non_empty(endpoint, "KMS endpoint"), "KMS endpoint", error=ManifestError)
    return PurePosixPath(checked)


def kms_provider(
    name: str,
    endpoint: str = DEFAULT_SOCKET,
    *,
    kube: KubeVersion,
    cachesize: int = 1000,
    timeout: str = "3s",
) -> dict[str, Any]:
    """The ``kms`` provider entry: v1 (``cachesize``) before 1.29, ``apiVersion: v2``
    (no cache size: v2 caches by its own rules) from 1.29 on."""
    dns_label(name, "KMS provider name")
    socket_file(endpoint)
    if not _DURATION.fullmatch(timeout):
        raise ManifestError(f"the KMS timeout {timeout[:20]!r} is not a duration like 3s or 500ms")
    kms: dict[str, Any] = {"name": name, "endpoint": endpoint, "timeout": timeout}
    if kube.at_least(KMS_V2_MINOR):
        return {"kms": {"apiVersion": "v2", **kms}}
    if not 1 <= cachesize <= 1_000_000:
        raise ManifestError(f"the KMS cache size must be 1 to 1000000 DEKs, not {cachesize}")
    return {"kms": {**kms, "cachesize": cachesize}}


def kek_paths(kek: str) -> list[PurePosixPath]:
    """The host files a ``--kek`` source reads: the key file, or the PKCS#11 module and
    PIN file named in a ``pkcs11:`` URI (its token store is the operator's to add)."""
    if kek.startswith("file:"):
        paths = [kek.removeprefix("file:")]
    elif kek.startswith("pkcs11:"):
        query = parse_qs(urlsplit(kek).query)
        paths = [*query.get("module-path", [])]
        paths += [p.removeprefix("file:") for p in query.get("pin-source", [])]
        if not query.get("module-path"):
            raise ManifestError("a pkcs11: KEK needs ?module-path=/PATH/TO/MODULE.so")
    else:
        raise ManifestError("a KEK source is file:PATH or pkcs11:token=...;object=...?...")
    found = [PurePosixPath(p) for p in paths]
    for path in found:
        if not path.is_absolute() or "\n" in str(path):
            raise ManifestError("the KEK's files must be named by absolute paths")
    return found


def kms_plugin_pod(
    *,
    kek: str,
    endpoint: str = DEFAULT_SOCKET,
    image: str = "nebula-credential:latest",
    name: str = "nebula-kms-plugin",
    namespace: str = "kube-system",
    mounts: list[str] | None = None,
    metrics_port: int | None = None,
) -> Manifest:
    """A static Pod (for the kubelet's manifest directory) serving the plugin on the
    host's socket directory, which kube-apiserver's Pod mounts too. The KEK's files (and
    ``mounts``, e.g. a token store) are mounted read-only; liveness asks the plugin's
    gRPC health check through ``kms status``."""
    dns_label(name, "Pod name")
    dns_label(namespace, "namespace")
    socket = socket_file(endpoint)
    files = [*kek_paths(kek), *(PurePosixPath(m) for m in mounts or [])]
    args = ["kms", "serve", "--socket", endpoint, "--kek", kek]
    if metrics_port is not None:
        args += ["--metrics-port", str(_port(metrics_port))]
    volumes: list[dict[str, Any]] = [
        {
            "name": "socket-dir",
            "hostPath": {"path": str(socket.parent), "type": "DirectoryOrCreate"},
        }
    ]
    volume_mounts: list[dict[str, Any]] = [{"name": "socket-dir", "mountPath": str(socket.parent)}]
    for index, path in enumerate(files):
        volumes.append({"name": f"kek-{index}", "hostPath": {"path": str(path), "type": "File"}})
        volume_mounts.append({"name": f"kek-{index}", "mountPath": str(path), "readOnly": True})
    container: dict[str, Any] = {
        "name": "kms-plugin",
        "image": non_empty(image, "image"),
        "command": ["nebula-credential"],
        "args": args,
        "livenessProbe": {
            "exec": {"command": ["nebula-credential", "kms", "status", "--socket", endpoint]},
            "initialDelaySeconds": 10,
            "periodSeconds": 30,
            "timeoutSeconds": 10,
            "failureThreshold": 3,
        },
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": volume_mounts,
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "nebula-kms-plugin", "tier": "control-plane"},
        },
        "spec": {
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "containers": [container],
            "volumes": volumes,
        },
    }


def kms_plugin_unit(
    *,
    kek: str,
    endpoint: str = DEFAULT_SOCKET,
    executable: str = "/usr/local/bin/nebula-credential",
    user: str = "nebula-kms",
    metrics_port: int | None = None,
) -> str:
    """A systemd unit serving the plugin as ``user``, sandboxed. A key-file KEK stays
    root's (0600) and reaches the service through ``LoadCredential=``: systemd copies it
    into the service's private credentials directory, readable by that service only."""
    socket = socket_file(endpoint)
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,30}", user):
        raise ManifestError(f"the service user {user[:32]!r} is not a valid user name")
    if not PurePosixPath(executable).is_absolute() or any(c.isspace() for c in executable):
        raise ManifestError("the plugin's executable must be an absolute path without spaces")
    paths = kek_paths(kek)
    lines = [
        "[Unit]",
        "Description=nebula-credential KMS plugin for kube-apiserver (envelope encryption)",
        "Before=kubelet.service",
        "",
        "[Service]",
        "Type=simple",
        f"User={user}",
        f"Group={user}",
    ]
    if kek.startswith("file:"):
        lines.append(f"LoadCredential=kek:{paths[0]}")
        argument = "file:%d/kek"
    else:  # the token's module and PIN file must be readable by the user
        lines += [f"ReadOnlyPaths={path}" for path in paths]
        if any(c in kek for c in "'\"\\") or any(c.isspace() for c in kek):
            raise ManifestError("the pkcs11: URI must not hold quotes, backslashes or spaces")
        argument = "'" + kek.replace("%", "%%").replace("$", "$$") + "'"
    serve = f"{executable} kms serve --socket {endpoint} --kek {argument}"
    if metrics_port is not None:
        serve += f" --metrics-port {_port(metrics_port)}"
    directory = socket.parent
    if directory.parent == PurePosixPath("/run") or directory.parent == PurePosixPath("/var/run"):
        lines += [f"RuntimeDirectory={directory.name}", "RuntimeDirectoryMode=0750"]
    families = "AF_UNIX" if metrics_port is None else "AF_UNIX AF_INET AF_INET6"
    lines += [
        f"ExecStart={serve}",
        "Restart=always",
        "RestartSec=1",
        "TimeoutStopSec=15",
        "UMask=0077",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        f"ReadWritePaths={directory}",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectControlGroups=yes",
        "RestrictNamespaces=yes",
        "LockPersonality=yes",
        "CapabilityBoundingSet=",
        f"RestrictAddressFamilies={families}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def _port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ManifestError(f"port {port} is not 1 to 65535")
    return port


__all__ = [
    "DEFAULT_SOCKET",
    "KMS_V2_MINOR",
    "kek_paths",
    "kms_plugin_pod",
    "kms_plugin_unit",
    "kms_provider",
    "socket_file",
]
