"""Exec credential plugins against the real API server: small scripts printing an
ExecCredential (token, client certificate, expiring, v1 and v1beta1) and broken ones."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from connect_support import (
    b64,
    credential_body,
    endpoint_from,
    exec_plugin,
    grant_user,
    list_secrets,
    write_kubeconfig,
)

from nebula_credential.domain import ConfigurationError
from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes

CANARY = "canary-5e1d-exec-output"
V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"


def _cluster(plane: ControlPlane) -> dict[str, Any]:
    return {"server": plane.server, "certificate-authority-data": b64(plane.ca_pem)}


def _kubeconfig(
    plane: ControlPlane, directory: Path, exec_entry: dict[str, Any], namespace: str = "default"
) -> Path:
    return write_kubeconfig(
        directory / f"k-{secrets.token_hex(2)}.yaml",
        _cluster(plane),
        {"exec": exec_entry},
        namespace,
    )


def _runs(directory: Path) -> int:
    counter = directory / "runs"
    return len(counter.read_text()) if counter.exists() else 0


_COUNT = "open(os.path.join(here, 'runs'), 'a').write('x')\n"


async def test_v1beta1_token_with_args_env_and_exec_info(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = f"exec-{secrets.token_hex(3)}"
    reader = control_plane.identity(namespace, ["list"])
    body = (
        "json.dump({'argv': sys.argv[1:], 'env': os.environ.get('PLUGIN_MODE'),"
        " 'info': json.loads(os.environ['KUBERNETES_EXEC_INFO'])},"
        " open(os.path.join(here, 'seen.json'), 'w'))\n"
        + credential_body("v1beta1", f"{{'token': {reader.token!r}}}")
    )
    plugin = exec_plugin(tmp_path, "token-plugin", body)
    entry = {
        "apiVersion": V1BETA1,
        "command": str(plugin),
        "args": ["get-token", "--cluster", "c 1"],
        "env": [{"name": "PLUGIN_MODE", "value": "eks"}],
    }
    endpoint = endpoint_from(_kubeconfig(control_plane, tmp_path, entry, namespace))
    assert await list_secrets(endpoint, namespace) == (200, "")
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["argv"] == ["get-token", "--cluster", "c 1"]
    assert seen["env"] == "eks"
    assert seen["info"] == {
        "apiVersion": V1BETA1,
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
    assert reader.token not in repr(endpoint)


async def test_v1_with_cluster_info_and_client_certificate(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = f"execc-{secrets.token_hex(3)}"
    user = f"exec-user-{secrets.token_hex(2)}"
    grant_user(control_plane, namespace, user, ["list"])
    cert, key = control_plane.client_certificate(user)
    status = {"clientCertificateData": cert.decode(), "clientKeyData": key.decode()}
    body = (
        "json.dump(json.loads(os.environ['KUBERNETES_EXEC_INFO']),"
        " open(os.path.join(here, 'info.json'), 'w'))\n" + credential_body("v1", repr(status))
    )
    plugin = exec_plugin(tmp_path, "cert-plugin", body)
    entry = {
        "apiVersion": V1,
        "command": "./cert-plugin",  # beside the kubeconfig, as kubectl resolves it
        "interactiveMode": "Never",
        "provideClusterInfo": True,
    }
    cluster = {
        **_cluster(control_plane),
        "extensions": [
            {"name": "client.authentication.k8s.io/exec", "extension": {"audience": "k8s"}}
        ],
    }
    path = write_kubeconfig(tmp_path / "k.yaml", cluster, {"exec": entry}, namespace)
    endpoint = endpoint_from(path)
    before = endpoint.ssl_context()
    assert await list_secrets(endpoint, namespace) == (200, "")
    after = endpoint.ssl_context()
    assert after is not before  # the plugin's certificate: a new context
    await endpoint.headers()
    assert endpoint.ssl_context() is after  # and the same one while it is valid
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["apiVersion"] == V1
    assert info["spec"]["interactive"] is False
    assert info["spec"]["cluster"] == {
        "server": control_plane.server,
        "certificate-authority-data": b64(control_plane.ca_pem),
        "config": {"audience": "k8s"},
    }
    assert plugin.exists()


async def test_expiring_credential_is_cached_until_it_expires(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    expires = "time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 3))"
    status = f"{{'token': {control_plane.admin_token!r}, 'expirationTimestamp': {expires}}}"
    plugin = exec_plugin(tmp_path, "expiring", _COUNT + credential_body("v1", status))
    entry = {"apiVersion": V1, "command": str(plugin), "interactiveMode": "IfAvailable"}
    endpoint = endpoint_from(_kubeconfig(control_plane, tmp_path, entry))
    started = time.time()
    for _ in range(3):
        assert (await list_secrets(endpoint, "default"))[0] == 200
    if time.time() - started < 1.5:  # whole seconds in the stamp: at least 2 s of life
        assert _runs(tmp_path) == 1
    await asyncio.sleep(max(0.0, started + 4.1 - time.time()))
    assert (await list_secrets(endpoint, "default"))[0] == 200
    assert _runs(tmp_path) == 2


async def test_credential_without_expiry_is_run_again_after_a_401(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    token = control_plane.admin_token
    body = (
        _COUNT
        + "first = len(open(os.path.join(here, 'runs')).read()) == 1\n"
        + f"token = 'revoked-token' if first else {token!r}\n"
        + credential_body("v1beta1", "{'token': token}")
    )
    plugin = exec_plugin(tmp_path, "rotating", body)
    endpoint = endpoint_from(
        _kubeconfig(control_plane, tmp_path, {"apiVersion": V1BETA1, "command": str(plugin)})
    )
    assert (await list_secrets(endpoint, "default"))[0] == 200  # 401, run again, 200
    assert _runs(tmp_path) == 2
    assert (await list_secrets(endpoint, "default"))[0] == 200
    assert _runs(tmp_path) == 2


async def test_concurrent_requests_run_the_plugin_once(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    body = (
        _COUNT
        + "time.sleep(0.3)\n"
        + credential_body("v1", f"{{'token': {control_plane.admin_token!r}}}")
    )
    plugin = exec_plugin(tmp_path, "slow", body)
    entry = {"apiVersion": V1, "command": str(plugin), "interactiveMode": "Never"}
    endpoint = endpoint_from(_kubeconfig(control_plane, tmp_path, entry))
    headers = await asyncio.gather(*(endpoint.headers() for _ in range(20)))
    assert len({h["Authorization"] for h in headers}) == 1
    assert _runs(tmp_path) == 1


async def test_missing_plugin_names_it_and_its_install_hint(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    entry = {
        "apiVersion": V1BETA1,
        "command": "nebula-no-such-auth-plugin",
        "installHint": "install it with: brew install nebula-auth",
    }
    endpoint = endpoint_from(_kubeconfig(control_plane, tmp_path, entry))  # nothing runs yet
    with pytest.raises(ConfigurationError) as caught:
        await endpoint.headers()
    message = str(caught.value)
    assert "exec credential plugin 'nebula-no-such-auth-plugin'" in message
    assert "not found" in message
    assert "brew install nebula-auth" in message


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (f"print('token: {CANARY}')", "not JSON"),
        (credential_body("v1", f"{{'token': '{CANARY}'}}"), "apiVersion"),
        (
            "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1',"
            f" 'kind': 'ExecCredential', 'token': '{CANARY}'}}))",
            "without a status",
        ),
        (credential_body("v1beta1", "{'clientCertificateData': 'x'}"), "without its key"),
        (
            credential_body(
                "v1beta1", f"{{'clientCertificateData': '{CANARY}', 'clientKeyData': 'k'}}"
            ),
            "cannot be loaded",
        ),
        (f"sys.stderr.write('refresh_token={CANARY}\\n'); sys.exit(1)", "exited with status 1"),
        (f"print('{CANARY}', flush=True); time.sleep(60)", "did not finish within 1 s"),
        ("sys.stdout.write('x' * (50 * 1024 * 1024))", "printed more than 1024 KiB"),
    ],
    ids=[
        "not-json",
        "wrong-version",
        "no-status",
        "half-cert",
        "bad-cert",
        "exit-1",
        "hangs",
        "50-mb",
    ],
)
async def test_broken_plugin_is_named_and_its_output_never_shown(
    control_plane: ControlPlane, tmp_path: Path, body: str, problem: str
) -> None:
    plugin = exec_plugin(tmp_path, "broken-plugin", body)
    entry = {"apiVersion": V1BETA1, "command": str(plugin)}
    endpoint = endpoint_from(_kubeconfig(control_plane, tmp_path, entry), exec_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ConfigurationError) as caught:
        await endpoint.headers()
    assert time.monotonic() - started < 10
    error = caught.value
    assert "'broken-plugin'" in str(error)
    assert problem in str(error)
    for text in (str(error), repr(error), repr(error.__cause__), repr(error.__context__)):
        assert CANARY not in text


def test_plugin_settings_kubectl_rejects_fail_at_construction(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    bad = {"apiVersion": "client.authentication.k8s.io/v2", "command": "x"}
    with pytest.raises(
        ConfigurationError, match=r"apiVersion 'client\.authentication\.k8s\.io/v2'"
    ):
        endpoint_from(_kubeconfig(control_plane, tmp_path, bad))
    interactive = {"apiVersion": V1, "command": "x", "interactiveMode": "Always"}
    with pytest.raises(ConfigurationError, match="interactive terminal"):
        endpoint_from(_kubeconfig(control_plane, tmp_path, interactive))
