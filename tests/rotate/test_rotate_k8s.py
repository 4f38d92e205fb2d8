"""The rotate command against a real API server: the Secret it leaves behind."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from k8s_support import cli_runner, new_namespace, provider_for, secret_json
from oauth_server import AuthServer
from rotate_support import ACCESS, oauth2

from nebula_credential import Credential, read_mounted
from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes


async def test_cli_rotation_keeps_the_previous_version_out_of_the_pod_keys(
    control_plane: ControlPlane, auth: AuthServer, tmp_path: Path
) -> None:
    namespace = new_namespace(control_plane, "rotate-cli")
    async with provider_for(control_plane, namespace) as provider:
        original = await provider.store(oauth2("svc", auth, auth.grant("app")))
        name = provider.secret_name("svc")
    run = cli_runner(control_plane.admin_kubeconfig, namespace)

    done = run("rotate", "svc")

    assert done.returncode == 0, done.stderr
    secret = secret_json(control_plane, namespace, name)
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert set(data) == {
        "credential.json",
        "access_token",
        "refresh_token",
        "client_secret",
        "nebula-credential.previous",
    }
    issued = auth.issued[-1]
    assert data["access_token"].decode() == issued["access_token"]  # what secretKeyRef gets
    kept = Credential.from_json(data["nebula-credential.previous"])
    assert kept == original
    assert kept.reveal("access_token") == ACCESS
    assert secret["metadata"]["annotations"]["nebula-credential/version"] == "2"
    # A pod mounting the whole Secret reads the current credential, not the kept one.
    volume = tmp_path / "volume"
    volume.mkdir()
    for key, raw in data.items():
        (volume / key).write_bytes(raw)
    mounted = read_mounted(volume)
    assert mounted.reveal("access_token") == issued["access_token"]
    assert mounted.version == 2

    back = run("rotate", "svc", "--rollback")
    assert back.returncode == 0, back.stderr
    restored = secret_json(control_plane, namespace, name)
    assert base64.b64decode(restored["data"]["access_token"]).decode() == ACCESS
    again = Credential.from_json(base64.b64decode(restored["data"]["nebula-credential.previous"]))
    assert again.reveal("access_token") == issued["access_token"]
    assert ACCESS not in done.stdout + done.stderr + back.stdout + back.stderr


async def test_cli_revoked_refresh_token_on_the_api_server(
    control_plane: ControlPlane, auth: AuthServer, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = new_namespace(control_plane, "rotate-revoked")
    refresh_token = auth.grant("app")
    auth.revoke(refresh_token)
    async with provider_for(control_plane, namespace) as provider:
        before = await provider.store(oauth2("svc", auth, refresh_token))
        name = provider.secret_name("svc")
    run = cli_runner(control_plane.admin_kubeconfig, namespace)

    done = run("rotate", "svc")

    async with provider_for(control_plane, namespace) as provider:
        after = await provider.get("svc")
        assert await provider.retrieve_previous("svc") is None
    secret = secret_json(control_plane, namespace, name)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert "invalid_grant (HTTP 400)" in lines[0]
    assert after.revealed_fields() == before.revealed_fields()
    assert dict(after.tags) == dict(before.tags)
    assert "nebula-credential.previous" not in secret["data"]
    assert refresh_token not in done.stdout + done.stderr
    with capsys.disabled():
        print(
            f"\n[revoked-token k8s CLI figures] exit={done.returncode} line={lines[0]!r} "
            f"version before={before.version} after={after.version} "
            f"endpoint calls={auth.hits['/token']}"
        )
