"""Every kubeconfig form through KubernetesSecretsProvider (store, then retrieve) on both
drivers: the default aiohttp one and the blocking one."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from connect_support import (
    ConnectProxy,
    b64,
    credential_body,
    exec_plugin,
    grant_user,
    write_kubeconfig,
)

from nebula_credential import (
    Credential,
    KubernetesSecretsProvider,
    PermissionDenied,
    SyncCredentialProvider,
)
from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes

CANARY = "canary-71c2-connect-form"
TRANSPORTS = ["aiohttp", "blocking"]
V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"

Form = Callable[[ControlPlane, Path, str], tuple[dict[str, Any], dict[str, Any]]]


def _ca_data(plane: ControlPlane) -> dict[str, Any]:
    return {"server": plane.server, "certificate-authority-data": b64(plane.ca_pem)}


def _cert_user(plane: ControlPlane, namespace: str) -> tuple[bytes, bytes]:
    user = f"cert-{secrets.token_hex(3)}"
    grant_user(plane, namespace, user, ["get", "create", "update", "list"])
    return plane.client_certificate(user)


def _ca_file_token(plane: ControlPlane, _: Path, __: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"server": plane.server, "certificate-authority": str(plane.ca_file)}, {
        "token": plane.admin_token
    }


def _insecure(plane: ControlPlane, _: Path, __: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"server": plane.server, "insecure-skip-tls-verify": True}, {"token": plane.admin_token}


def _cert_files(plane: ControlPlane, tmp: Path, ns: str) -> tuple[dict[str, Any], dict[str, Any]]:
    cert, key = _cert_user(plane, ns)
    (tmp / "user.crt").write_bytes(cert)
    (tmp / "user.key").write_bytes(key)
    return _ca_data(plane), {"client-certificate": "user.crt", "client-key": "user.key"}


def _cert_data(plane: ControlPlane, _: Path, ns: str) -> tuple[dict[str, Any], dict[str, Any]]:
    cert, key = _cert_user(plane, ns)
    return _ca_data(plane), {"client-certificate-data": b64(cert), "client-key-data": b64(key)}


def _sni(plane: ControlPlane, _: Path, __: str) -> tuple[dict[str, Any], dict[str, Any]]:
    cluster = {
        "server": plane.server,
        "certificate-authority-data": b64(plane.sni_ca_pem),
        "tls-server-name": plane.sni_name,
    }
    return cluster, {"token": plane.admin_token}


def _exec_token(plane: ControlPlane, tmp: Path, _: str) -> tuple[dict[str, Any], dict[str, Any]]:
    body = credential_body("v1", f"{{'token': {plane.admin_token!r}}}")
    plugin = exec_plugin(tmp, "token-plugin", body)
    entry = {"apiVersion": V1, "command": str(plugin), "interactiveMode": "Never"}
    return _ca_data(plane), {"exec": entry}


def _exec_cert(plane: ControlPlane, tmp: Path, ns: str) -> tuple[dict[str, Any], dict[str, Any]]:
    cert, key = _cert_user(plane, ns)
    status = {"clientCertificateData": cert.decode(), "clientKeyData": key.decode()}
    plugin = exec_plugin(tmp, "cert-plugin", credential_body("v1beta1", repr(status)))
    return _ca_data(plane), {"exec": {"apiVersion": V1BETA1, "command": str(plugin)}}


FORMS: dict[str, Form] = {
    "ca-file-token": _ca_file_token,
    "insecure-skip-tls-verify": _insecure,
    "client-cert-files": _cert_files,
    "client-cert-data": _cert_data,
    "tls-server-name": _sni,
    "exec-token-v1": _exec_token,
    "exec-client-cert-v1beta1": _exec_cert,
}


async def _round_trip(provider: KubernetesSecretsProvider, cid: str) -> None:
    if provider.blocking() is not None:
        # As the CLI runs it: the sync facade, no event loop, on a thread of its own so
        # that servers of this test's loop (the proxy) go on answering.
        await asyncio.wait_for(asyncio.to_thread(_round_trip_blocking, provider, cid), 60)
        return
    try:
        stored = await provider.store(Credential(cid, "api_key", {"api_key": CANARY}))
        assert stored.version == 1
        assert (await provider.get(cid)).reveal("api_key") == CANARY
    finally:
        await provider.close()


def _round_trip_blocking(provider: KubernetesSecretsProvider, cid: str) -> None:
    with SyncCredentialProvider(provider) as store:
        assert store.store(Credential(cid, "api_key", {"api_key": CANARY})).version == 1
        assert store.get(cid).reveal("api_key") == CANARY


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("form", list(FORMS))
async def test_form_stores_and_retrieves(
    control_plane: ControlPlane, tmp_path: Path, form: str, transport: str
) -> None:
    namespace = f"form-{secrets.token_hex(3)}"
    control_plane.ensure_namespace(namespace)
    cluster, user = FORMS[form](control_plane, tmp_path, namespace)
    path = write_kubeconfig(tmp_path / "k.yaml", cluster, user, namespace)
    provider = KubernetesSecretsProvider(kubeconfig=path, transport=transport)
    assert provider.namespace == namespace
    await _round_trip(provider, f"{form}-{transport}")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_proxy_url_carries_every_connection(
    control_plane: ControlPlane, tmp_path: Path, transport: str
) -> None:
    async with ConnectProxy().running() as proxy:
        cluster = {**_ca_data(control_plane), "proxy-url": proxy.url}
        path = write_kubeconfig(
            tmp_path / "k.yaml", cluster, {"token": control_plane.admin_token}, "default"
        )
        provider = KubernetesSecretsProvider(kubeconfig=path, transport=transport)
        await _round_trip(provider, f"proxied-{secrets.token_hex(3)}")
        assert proxy.tunnels  # no connection went around it
        assert set(proxy.tunnels) == {f"127.0.0.1:{control_plane.port}"}


def _swap(path: Path, token: str) -> None:
    fresh = path.with_name(path.name + ".new")
    fresh.write_text(token)
    os.replace(fresh, path)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_token_file_rewritten_while_the_provider_is_open(
    control_plane: ControlPlane, tmp_path: Path, transport: str
) -> None:
    namespace = f"tokf-{secrets.token_hex(3)}"
    writer = control_plane.identity(namespace)
    stranger = control_plane.identity(f"else-{secrets.token_hex(3)}")
    token = tmp_path / "token"
    token.write_text(writer.token)
    path = write_kubeconfig(
        tmp_path / "k.yaml", _ca_data(control_plane), {"tokenFile": "token"}, namespace
    )
    provider = KubernetesSecretsProvider(kubeconfig=path, transport=transport)
    try:
        await provider.store(Credential("rotating", "api_key", {"api_key": CANARY}))
        _swap(token, stranger.token)
        await asyncio.sleep(1.1)
        with pytest.raises(PermissionDenied):  # the new identity, without waiting for a 401
            await provider.retrieve("rotating")
        _swap(token, writer.token)
        await asyncio.sleep(1.1)
        assert (await provider.get("rotating")).reveal("api_key") == CANARY
    finally:
        await provider.close()
