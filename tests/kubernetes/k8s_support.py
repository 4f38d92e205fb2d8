"""Helpers for the KubernetesSecretsProvider tests: namespaces, kubectl, providers."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nebula_credential.kubernetes import KubernetesSecretsProvider, RetryPolicy
from nebula_credential.testing.envtest import ControlPlane

CANARY = "canary-9b1f4e7a-do-not-print"
# The contract suite runs on both drivers; the resilience and watch suites on the one
# that serves an event loop (the blocking one has its own, in test_k8s_blocking.py).
TRANSPORTS = ("aiohttp", "blocking")
LOOP_TRANSPORTS = ("aiohttp",)
on_every_transport = pytest.mark.parametrize("transport", LOOP_TRANSPORTS)


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


CliRun = Callable[..., subprocess.CompletedProcess[str]]


def cli_runner(kubeconfig: Path, namespace: str | None = None, home: Path | None = None) -> CliRun:
    """``run(*args, stdin="", provider="kubernetes")``: the installed CLI against a plane.

    Nothing of the caller's environment leaks in: no NEBULA_* or KUBE* variables, and a
    HOME without a ~/.kube/config (``home``, else the kubeconfig's directory, which also
    holds the local store when ``--provider local`` is asked for).
    """
    exe = str(Path(sys.executable).with_name("nebula-credential"))
    home = home or kubeconfig.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
    env["HOME"] = str(home)
    env["NEBULA_CREDENTIAL_HOME"] = str(home / "local")

    def run(
        *args: str, stdin: str = "", provider: str = "kubernetes"
    ) -> subprocess.CompletedProcess[str]:
        scope = ["--namespace", namespace] if namespace else []
        argv = [exe, "--provider", provider, "--kubeconfig", str(kubeconfig), *scope, *args]
        return subprocess.run(
            argv, input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False
        )

    return run


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
