"""Files the API server and its clients read: tokens, encryption, audit policy, kubeconfig."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ._errors import ControlPlaneError


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a file only its owner can read (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _q(value: str) -> str:
    """Quote a scalar for YAML (a JSON string is a valid YAML double-quoted scalar)."""
    return json.dumps(value)


def write_kubeconfig(
    path: Path,
    *,
    cluster: str,
    server: str,
    ca_pem: bytes,
    user: str,
    token: str,
    namespace: str,
    context: str | None = None,
) -> Path:
    """Write a token kubeconfig whose single context is current and namespaced."""
    context = context or f"{cluster}-{user}"
    ca_data = base64.b64encode(ca_pem).decode()
    text = "\n".join(
        [
            "apiVersion: v1",
            "kind: Config",
            "preferences: {}",
            "clusters:",
            f"- name: {_q(cluster)}",
            "  cluster:",
            f"    server: {_q(server)}",
            f"    certificate-authority-data: {_q(ca_data)}",
            "users:",
            f"- name: {_q(user)}",
            "  user:",
            f"    token: {_q(token)}",
            "contexts:",
            f"- name: {_q(context)}",
            "  context:",
            f"    cluster: {_q(cluster)}",
            f"    user: {_q(user)}",
            f"    namespace: {_q(namespace)}",
            f"current-context: {_q(context)}",
            "",
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, text.encode())
    return path


def token_file(rows: Iterable[tuple[str, str, str, Sequence[str]]]) -> bytes:
    """``--token-auth-file`` content from (token, username, uid, groups) rows."""
    lines = [f'{token},{user},{uid},"{",".join(groups)}"' for token, user, uid, groups in rows]
    return ("\n".join(lines) + "\n").encode()


def audit_policy() -> str:
    """Secrets at Metadata level only, so values never reach the audit log."""
    return """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - RequestReceived
rules:
  # Anything that carries credentials is recorded at Metadata level only: never
  # Request or RequestResponse, so values never reach the audit log.
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps", "serviceaccounts/token"]
      - group: "authentication.k8s.io"
        resources: ["tokenreviews"]
  - level: None
    users: ["system:apiserver"]
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version"]
  - level: Metadata
"""


def encryption_config(key: bytes) -> str:
    """Secrets encrypted at rest with aescbc under ``key`` (32 bytes)."""
    return f"""\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: ["secrets"]
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: {base64.b64encode(key).decode()}
      - identity: {{}}
"""


def merge_flags(defaults: Sequence[str], extra: Sequence[str]) -> list[str]:
    """Combine ``--flag=value`` lists; a flag in ``extra`` replaces the default one."""
    merged: dict[str, str] = {}
    for arg in [*defaults, *extra]:
        if not arg.startswith("--"):
            raise ControlPlaneError(f"apiserver arguments must look like --flag=value: {arg!r}")
        flag = arg.split("=", 1)[0]
        merged.pop(flag, None)
        merged[flag] = arg
    return list(merged.values())
