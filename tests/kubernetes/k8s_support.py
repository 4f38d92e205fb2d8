"""Helpers for the KubernetesSecretsProvider tests: namespaces, kubectl, providers."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

from nebula_credential.kubernetes import KubernetesSecretsProvider, RetryPolicy
from nebula_credential.testing.envtest import ControlPlane

CANARY = "canary-9b1f4e7a-do-not-print"


def new_namespace(plane: ControlPlane, prefix: str) -> str:
    name = f"{prefix}-{secrets.token_hex(4)}"
    plane.ensure_namespace(name)
    return name


def kubectl(kubeconfig: Path, *args: str, input_text: str | None = None) -> str:
    """Run kubectl against the test plane; raises with its stderr on failure."""
    done = subprocess.run(
        ["/usr/bin/kubectl", f"--kubeconfig={kubeconfig}", *args],
        capture_output=True,
        text=True,
        input=input_text,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def patch_credential_json(plane: ControlPlane, namespace: str, name: str, raw: bytes) -> None:
    """Overwrite a Secret's credential.json with ``raw`` by hand, as an operator might."""
    encoded = base64.b64encode(raw).decode()
    kubectl(
        plane.admin_kubeconfig,
        "patch",
        "secret",
        name,
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"data": {"credential.json": encoded}}),
    )


def secret_json(plane: ControlPlane, namespace: str, name: str) -> dict[str, Any]:
    out = kubectl(
        plane.admin_kubeconfig,
        "get",
        "secret",
        name,
        "-n",
        namespace,
        "-o",
        "json",
        "--show-managed-fields",
    )
    loaded: dict[str, Any] = json.loads(out)
    return loaded


def provider_for(
    plane: ControlPlane,
    namespace: str | None = None,
    *,
    kubeconfig: Path | None = None,
    retry: RetryPolicy | None = None,
    **kwargs: Any,
) -> KubernetesSecretsProvider:
    return KubernetesSecretsProvider(
        namespace,
        kubeconfig=kubeconfig or plane.admin_kubeconfig,
        retry=retry,
        **kwargs,
    )


def delete_all_secrets(plane: ControlPlane, namespace: str) -> None:
    """Namespaces never finish deleting without a controller manager; empty them instead."""
    # Thousands of Secrets take a while to delete on two busy cores.
    plane.request(
        "DELETE", f"/api/v1/namespaces/{namespace}/secrets", timeout=300
    ).raise_for_status(f"delete secrets in {namespace}")
