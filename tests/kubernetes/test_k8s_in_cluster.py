"""In-cluster configuration against the real API server.

No pod runs here, so the kubelet's projected ServiceAccount volume is laid out by the
test (token, ca.crt, namespace) with a real token of a limited identity and the real CA
of the control plane; everything from there on is the real path a pod takes. The kubelet
rotates the token by swapping the file; the tests swap it the same way.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import pytest
from k8s_support import CANARY, ControlPlane

from nebula_credential import Credential, KubernetesSecretsProvider, PermissionDenied
from nebula_credential.kubernetes import RetryPolicy, load_cluster_config
from nebula_credential.kubernetes.api.clients import TRANSPORTS, client_on
from nebula_credential.kubernetes.api.opening import open_transport

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
    client = client_on("aiohttp", target, policy=RetryPolicy(), timeout=10.0)
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


def _service_account(plane: ControlPlane, directory: Path, token: str, namespace: str) -> Path:
    sa = directory / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(token)
    (sa / "ca.crt").write_bytes(plane.ca_pem)
    (sa / "namespace").write_text(namespace)
    return sa


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_rotated_service_account_token_is_used_from_the_next_request(
    control_plane: ControlPlane, tmp_path: Path, transport: str
) -> None:
    namespace = f"pod-{secrets.token_hex(3)}"
    identity = control_plane.identity(namespace)
    stranger = control_plane.identity(f"else-{secrets.token_hex(3)}")
    sa = _service_account(control_plane, tmp_path, identity.token, namespace)
    env = {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(control_plane.port),
    }
    target = load_cluster_config(environ=env, service_account_dir=sa)
    provider = KubernetesSecretsProvider(
        transport=open_transport(transport, target, policy=RetryPolicy(), timeout=10.0)
    )
    try:
        assert provider.namespace == namespace
        await provider.store(Credential("pod-token", "api_key", {"api_key": CANARY}))
        fresh = sa / "token.new"
        fresh.write_text(stranger.token)
        os.replace(fresh, sa / "token")  # valid, but someone else's: no 401 to notice it by
        await asyncio.sleep(1.1)
        with pytest.raises(PermissionDenied) as caught:
            await provider.retrieve("pod-token")
        assert stranger.token not in str(caught.value)
        fresh.write_text(identity.token)
        os.replace(fresh, sa / "token")
        await asyncio.sleep(1.1)
        assert (await provider.get("pod-token")).reveal("api_key") == CANARY
    finally:
        await provider.close()
