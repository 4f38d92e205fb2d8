"""Encryption configurations and what etcd holds, for the key rotation tests."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from nebula_credential.testing.envtest import ControlPlane


def config(*providers: tuple[str, str, bytes], fallback: bool = True) -> str:
    """EncryptionConfiguration YAML: providers in order (the first one encrypts); with
    ``fallback``, plain (identity) Secrets stay readable."""
    lines = [
        "apiVersion: apiserver.config.k8s.io/v1",
        "kind: EncryptionConfiguration",
        "resources:",
        "  - resources: [secrets]",
        "    providers:",
    ]
    for kind, name, key in providers:
        secret = base64.b64encode(key).decode()
        lines += [f"      - {kind}:", "          keys:", f"            - name: {name}"]
        lines += [f"              secret: {secret}"]
    if fallback:
        lines.append("      - identity: {}")
    return "\n".join(lines) + "\n"


def stored_under(plane: ControlPlane, namespace: str = "", canary: str = "") -> Counter[str]:
    """How the stored Secrets of ``namespace`` (every namespace when empty) are encrypted,
    e.g. ``k8s:enc:aescbc:v1:key1``; a plain Secret counts as ``plain``. No stored value
    may hold ``canary``."""
    prefix = f"{plane.etcd_prefix}/secrets/" + (f"{namespace}/" if namespace else "")
    values = plane.etcd_get_prefix(prefix)
    assert values
    seen: Counter[str] = Counter()
    for value in values.values():
        if canary:
            assert canary.encode() not in value
        head = b":".join(value.split(b":", 5)[:5]) if value.startswith(b"k8s:enc:") else b"plain"
        seen[head.decode("ascii", "replace")] += 1
    return seen


def reencrypt_cli(
    plane: ControlPlane, namespace: str, *options: str
) -> subprocess.CompletedProcess[str]:
    """``nebula-credential -o json reencrypt OPTIONS`` as the admin, in ``namespace``."""
    exe = str(Path(sys.executable).with_name("nebula-credential"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
    argv = [exe, "--provider", "kubernetes", "--kubeconfig", str(plane.admin_kubeconfig)]
    argv += ["--namespace", namespace, "-o", "json", "reencrypt", *options]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
