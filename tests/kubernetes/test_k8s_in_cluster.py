"""In-cluster configuration against the real API server.

No pod runs here, so the kubelet's projected ServiceAccount volume is laid out by the
test (token, ca.crt, namespace) with a real token of a limited identity and the real CA
of the control plane; everything from there on is the real path a pod takes.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from k8s_support import CANARY, ControlPlane
from lightkube import AsyncClient

from nebula_credential import Credential, KubernetesSecretsProvider, PermissionDenied
from nebula_credential.kubernetes import load_cluster_config

pytestmark = pytest.mark.kubernetes


async def test_pod_identity_from_service_account_files(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = f"pod-{secrets.token_hex(3)}"
    identity = control_plane.identity(namespace)
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(identity.token)
    (sa / "ca.crt").write_bytes(control_plane.ca_pem)
    (sa / "namespace").write_text(namespace)
    env = {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(control_plane.port),
    }

    target = load_cluster_config(environ=env, service_account_dir=sa)
    assert target.source == "in-cluster ServiceAccount"
    assert target.namespace == namespace
    client = AsyncClient(target.config, namespace=target.namespace)
    try:
        provider = KubernetesSecretsProvider.with_client(client)
        assert provider.namespace == namespace
        stored = await provider.store(Credential("pod-token", "api_key", {"api_key": CANARY}))
        assert (await provider.get("pod-token")).reveal("api_key") == CANARY
        assert stored.version == 1
        elsewhere = KubernetesSecretsProvider.with_client(client, "default")
        with pytest.raises(PermissionDenied) as caught:
            await elsewhere.retrieve("pod-token")
        assert caught.value.namespace == "default"
    finally:
        await client.close()
