"""Kubeconfig TLS forms against the real API server: CA data and file, skipping
verification, client certificates, tls-server-name, and an HTTP CONNECT proxy."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import aiohttp
import pytest
from connect_support import (
    ConnectProxy,
    b64,
    endpoint_from,
    grant_user,
    list_secrets,
    write_kubeconfig,
)

from nebula_credential.domain import ConfigurationError
from nebula_credential.kubernetes.config.cluster import load_cluster_config
from nebula_credential.kubernetes.config.endpoint import endpoint_for
from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes


def _admin(plane: ControlPlane) -> dict[str, str]:
    return {"token": plane.admin_token}


async def test_certificate_authority_data_and_file_trust_only_that_ca(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    inline = write_kubeconfig(
        tmp_path / "data.yaml",
        {"server": control_plane.server, "certificate-authority-data": b64(control_plane.ca_pem)},
        _admin(control_plane),
        "default",
    )
    on_disk = write_kubeconfig(
        tmp_path / "file.yaml",
        {"server": control_plane.server, "certificate-authority": str(control_plane.ca_file)},
        _admin(control_plane),
        "default",
    )
    for path in (inline, on_disk):
        assert (await list_secrets(endpoint_from(path), "default"))[0] == 200
    other_ca = write_kubeconfig(
        tmp_path / "other.yaml",
        {
            "server": control_plane.server,
            "certificate-authority-data": b64(control_plane.sni_ca_pem),
        },
        _admin(control_plane),
        "default",
    )
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await list_secrets(endpoint_from(other_ca), "default")


async def test_insecure_skip_tls_verify_connects_without_a_ca(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    cluster: dict[str, object] = {"server": control_plane.server}
    verified = write_kubeconfig(tmp_path / "v.yaml", cluster, _admin(control_plane), "default")
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await list_secrets(endpoint_from(verified), "default")  # system roots only
    cluster["insecure-skip-tls-verify"] = True
    skipped = write_kubeconfig(tmp_path / "s.yaml", cluster, _admin(control_plane), "default")
    assert (await list_secrets(endpoint_from(skipped), "default"))[0] == 200


async def test_client_certificate_from_files_and_data_is_the_users_identity(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = f"cert-{secrets.token_hex(3)}"
    alice, bob = f"alice-{secrets.token_hex(2)}", f"bob-{secrets.token_hex(2)}"
    grant_user(control_plane, namespace, alice, ["list"])
    cluster = {"server": control_plane.server, "certificate-authority": str(control_plane.ca_file)}
    cert, key = control_plane.client_certificate(alice, ("team-a",))
    (tmp_path / "alice.crt").write_bytes(cert)
    (tmp_path / "alice.key").write_bytes(key)
    files = write_kubeconfig(
        tmp_path / "files.yaml",
        cluster,
        {"client-certificate": "alice.crt", "client-key": "alice.key"},  # relative to the file
        namespace,
    )
    assert await list_secrets(endpoint_from(files), namespace) == (200, "")
    cert, key = control_plane.client_certificate(bob)
    inline = write_kubeconfig(
        tmp_path / "data.yaml",
        cluster,
        {"client-certificate-data": b64(cert), "client-key-data": b64(key)},
        namespace,
    )
    status, message = await list_secrets(endpoint_from(inline), namespace)
    assert status == 403
    assert f'User "{bob}"' in message


async def test_tls_server_name_accepts_a_certificate_valid_only_for_that_name(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """The server presents a certificate for ``sni_name`` (from a second CA) only when
    asked for it by SNI; the kubeconfig trusts only that second CA."""
    cluster = {
        "server": control_plane.server,
        "certificate-authority-data": b64(control_plane.sni_ca_pem),
        "tls-server-name": control_plane.sni_name,
    }
    named = write_kubeconfig(tmp_path / "named.yaml", cluster, _admin(control_plane), "default")
    endpoint = endpoint_from(named)
    assert endpoint.server_hostname == control_plane.sni_name
    assert (await list_secrets(endpoint, "default"))[0] == 200
    del cluster["tls-server-name"]
    unnamed = write_kubeconfig(tmp_path / "unnamed.yaml", cluster, _admin(control_plane), "default")
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await list_secrets(endpoint_from(unnamed), "default")


async def test_proxy_url_sends_every_request_through_the_proxy(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    async with ConnectProxy().running() as proxy:
        cluster = {
            "server": control_plane.server,
            "certificate-authority-data": b64(control_plane.ca_pem),
            "proxy-url": proxy.url,
        }
        path = write_kubeconfig(tmp_path / "p.yaml", cluster, _admin(control_plane), "default")
        endpoint = endpoint_from(path)
        assert endpoint.proxy == proxy.url
        assert (await list_secrets(endpoint, "default"))[0] == 200
        assert proxy.tunnels == [f"127.0.0.1:{control_plane.port}"]


async def test_https_proxy_from_the_environment_unless_no_proxy_exempts_the_host(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    cluster = {"server": control_plane.server, "certificate-authority": str(control_plane.ca_file)}
    path = write_kubeconfig(tmp_path / "e.yaml", cluster, _admin(control_plane), "default")
    target = load_cluster_config(kubeconfig=path, environ={})
    async with ConnectProxy().running() as proxy:
        via_env = endpoint_for(target, environ={"HTTPS_PROXY": proxy.url})
        assert (await list_secrets(via_env, "default"))[0] == 200
        assert len(proxy.tunnels) == 1
        for exempt in ("127.0.0.1", "localhost,127.0.0.0/8", f"127.0.0.1:{control_plane.port}"):
            direct = endpoint_for(target, environ={"https_proxy": proxy.url, "NO_PROXY": exempt})
            assert direct.proxy is None
            assert (await list_secrets(direct, "default"))[0] == 200
        assert len(proxy.tunnels) == 1
        other_port = endpoint_for(
            target, environ={"HTTPS_PROXY": proxy.url, "NO_PROXY": "127.0.0.1:1"}
        )
        assert other_port.proxy == proxy.url


def test_socks_proxy_is_refused_by_name(control_plane: ControlPlane, tmp_path: Path) -> None:
    cluster = {"server": control_plane.server, "proxy-url": "socks5://127.0.0.1:1080"}
    path = write_kubeconfig(tmp_path / "s.yaml", cluster, _admin(control_plane), "default")
    with pytest.raises(ConfigurationError, match=r"proxy-url .* SOCKS"):
        endpoint_from(path)


def test_unreadable_or_bad_tls_files_fail_at_construction_naming_the_setting(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_bytes(control_plane.ca_pem)
    ca.chmod(0)
    unreadable = [ca, tmp_path / "missing.crt", tmp_path]  # a directory is no file either
    for where in unreadable if os.geteuid() != 0 else unreadable[1:]:  # root reads any file
        cluster = {"server": control_plane.server, "certificate-authority": str(where)}
        path = write_kubeconfig(tmp_path / "a.yaml", cluster, _admin(control_plane), "default")
        with pytest.raises(
            ConfigurationError, match=r"certificate-authority file .* cannot be read"
        ):
            endpoint_from(path)
    cluster = {"server": control_plane.server, "certificate-authority-data": b64(b"not a cert")}
    path = write_kubeconfig(tmp_path / "b.yaml", cluster, _admin(control_plane), "default")
    with pytest.raises(ConfigurationError, match="not a PEM or DER certificate"):
        endpoint_from(path)
    both = {**cluster, "insecure-skip-tls-verify": True}
    path = write_kubeconfig(tmp_path / "d.yaml", both, _admin(control_plane), "default")
    with pytest.raises(ConfigurationError, match="both a certificate authority and insecure"):
        endpoint_from(path)
    cert, _ = control_plane.client_certificate("mallory")
    _, other_key = control_plane.client_certificate("mallory")
    user = {"client-certificate-data": b64(cert), "client-key-data": b64(other_key)}
    cluster = {"server": control_plane.server}
    path = write_kubeconfig(tmp_path / "c.yaml", cluster, user, "default")
    with pytest.raises(ConfigurationError, match="key does not belong") as caught:
        endpoint_from(path)
    assert "PRIVATE KEY" not in str(caught.value)
