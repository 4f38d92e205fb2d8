"""Every manifest the generators make, and offline schema validation of them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from nebula_credential import manifests as m
from nebula_credential.testing.envtest import ControlPlane

# kubernetes-validate >= 1.29 (the dev extra) bundles schemas from 1.22; scripts/test.sh
# installs 1.28.3, the last release with 1.20's, beside it.
LEGACY_VALIDATOR = Path(sys.prefix) / "kubernetes-validate-1.28"
LEGACY_INSTALL = (
    f"{sys.executable} -m pip install --no-deps --target {LEGACY_VALIDATOR} "
    "'kubernetes-validate==1.28.3'"
)
# Not API objects (API server flag files) or CRDs: no upstream OpenAPI schema exists.
NO_UPSTREAM_SCHEMA = frozenset(
    {"EncryptionConfiguration", "Policy", "ExternalSecret", "SecretStore"}
)


def builtin_manifests(kube: str, namespace: str = "nebula-prod") -> list[dict[str, Any]]:
    """Every object kind `kubectl apply` takes that the generators make, for ``kube``."""
    return [
        *m.namespace(namespace, service_account="nebula-app"),
        *m.rbac(["oauth2", "Team.API_key"], namespace=namespace),
        *m.rbac(
            ["oauth2"], namespace=namespace, service_account="rotator", writer=True, list_watch=True
        ),
        *m.rbac(namespace=namespace, service_account="any-writer", writer=True),
        m.deployment("oauth2", namespace=namespace, env_keys=["access_token", "refresh_token"]),
        m.service_account("nebula-rotator", namespace=namespace),
        *m.rotation_rbac(namespace=namespace),
        m.rotation_cronjob(namespace=namespace, kube=kube),
        m.pdb(namespace=namespace, kube=kube),
        m.network_policy(namespace=namespace, metrics_port=9090),
    ]


def crd_manifests(eso_api_version: str) -> list[dict[str, Any]]:
    return [
        m.secret_store("aws", api_version=eso_api_version),
        m.secret_store(
            "azure", vault_url="https://kv.vault.azure.net", api_version=eso_api_version
        ),
        m.secret_store(
            "vault", vault_server="https://vault.example:8200", api_version=eso_api_version
        ),
        m.external_secret(
            "oauth2",
            store="aws-secrets-manager",
            data=[m.RemoteRef("access_token", "nebula/oauth2", "access_token")],
            data_from=["nebula/shared"],
            api_version=eso_api_version,
        ),
    ]


def kubernetes_validate(yaml_text: str, kube: str, tmp_path: Path) -> str:
    """Run ``kubernetes-validate --strict`` offline; fail on any ERROR or WARN line."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if int(kube.split(".")[1]) < 22:
        assert LEGACY_VALIDATOR.is_dir(), f"schemas for {kube} missing; run: {LEGACY_INSTALL}"
        env["PYTHONPATH"] = str(LEGACY_VALIDATOR)
    source = tmp_path / f"manifests-{kube}.yaml"
    source.write_text(yaml_text)
    done = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", kube, str(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    out = done.stdout + done.stderr
    bad = [line for line in out.splitlines() if line.startswith(("ERROR", "WARN", "FATAL"))]
    assert not bad, out
    assert done.returncode == 0, out
    return out


def can_i(plane: ControlPlane, verb: str, resource: str, ns: str, user: str) -> bool:
    """``kubectl auth can-i`` as ``user``: whether the authorizer allows it."""
    done = subprocess.run(
        ["/usr/bin/kubectl", f"--kubeconfig={plane.admin_kubeconfig}", "auth", "can-i", verb,
         resource, "-n", ns, f"--as={user}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    answer = done.stdout.strip()
    assert answer in {"yes", "no"}, done.stderr
    return answer == "yes"
