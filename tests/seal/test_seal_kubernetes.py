"""Sealing with the Kubernetes provider and the controller certificate fetch, against the
real API server (there is no Sealed Secrets controller in the test cluster)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from k8s_support import cli_runner
from seal_keys import write_pair

from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes
CANARY = "canary-seal-k8s-91ce-do-not-print"
SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: x}\nstringData: {a: b}\n"


def test_controller_missing_is_a_clear_not_found(control_plane: ControlPlane) -> None:
    ns = f"no-controller-{secrets.token_hex(3)}"
    control_plane.ensure_namespace(ns)
    cli = cli_runner(control_plane.admin_kubeconfig)
    done = cli("seal", "--from-secret", "-", "--controller-namespace", ns, stdin=SECRET)
    assert done.returncode == 3, done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1
    assert f"service {ns}/sealed-secrets-controller" in line
    assert "HTTP 404" in line
    assert "--cert" in line


def test_controller_without_endpoints_is_unavailable(control_plane: ControlPlane) -> None:
    ns = f"idle-controller-{secrets.token_hex(3)}"
    control_plane.ensure_namespace(ns)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "my-sealer", "namespace": ns},
        "spec": {
            "selector": {"name": "my-sealer"},
            "ports": [{"name": "http", "port": 8080, "targetPort": 8080}],
        },
    }
    control_plane.request("POST", f"/api/v1/namespaces/{ns}/services", service).raise_for_status(
        "create service"
    )
    cli = cli_runner(control_plane.admin_kubeconfig)
    args = ("seal", "--from-secret", "-", "--controller-name", "my-sealer")
    args += ("--controller-namespace", ns)
    no_endpoints = cli(*args, stdin=SECRET)  # no Endpoints object at all: a 404 about them
    endpoints = {"apiVersion": "v1", "kind": "Endpoints", "metadata": service["metadata"]}
    control_plane.request("POST", f"/api/v1/namespaces/{ns}/endpoints", endpoints).raise_for_status(
        "create endpoints"
    )
    empty = cli(*args, stdin=SECRET)  # an Endpoints object with no address: 503
    for done, status in ((no_endpoints, "HTTP 404"), (empty, "HTTP 503")):
        assert done.returncode == 6, done.stderr
        assert f"service {ns}/my-sealer" in done.stderr
        assert "no ready endpoint" in done.stderr
        assert status in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_seal_a_stored_secret_and_restore_it_from_git(
    control_plane: ControlPlane, tmp_path: Path, controller_key: rsa.RSAPrivateKey
) -> None:
    """What the controller does, done by unseal: the restored Secret reads as before."""
    cert, key = write_pair(tmp_path, controller_key)
    ns = f"seal-{secrets.token_hex(3)}"
    control_plane.ensure_namespace(ns)
    cli = cli_runner(control_plane.admin_kubeconfig, ns)
    stored = cli(
        "store",
        "Db_Main",
        "--kind",
        "api_key",
        "--field",
        "api_key=-",
        "--tag",
        "env=prod",
        stdin=CANARY,
    )
    assert stored.returncode == 0, stored.stderr
    sealed = cli("seal", "Db_Main", "--cert", str(cert))
    assert sealed.returncode == 0, sealed.stderr
    assert CANARY not in sealed.stdout
    doc = yaml.safe_load(sealed.stdout)
    assert doc["metadata"]["namespace"] == ns
    path = tmp_path / "sealed.yaml"
    path.write_text(sealed.stdout)

    assert cli("delete", "Db_Main").returncode == 0
    opened = cli("unseal", str(path), "--key", str(key))
    assert opened.returncode == 0, opened.stderr
    secret = yaml.safe_load(opened.stdout)
    control_plane.request("POST", f"/api/v1/namespaces/{ns}/secrets", secret).raise_for_status(
        "restore the Secret"
    )
    assert cli("get", "Db_Main", "--field", "api_key", "--reveal").stdout == CANARY + "\n"
    listed = cli("list", "--tag", "env=prod")
    assert "Db_Main" in listed.stdout


def test_a_dead_proxy_on_the_way_to_the_controller_is_named(
    cli, control_plane: ControlPlane, closed_port: int
) -> None:
    proxy = f"http://127.0.0.1:{closed_port}"
    env = {"HTTPS_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}
    kubeconfig = str(control_plane.admin_kubeconfig)
    done = cli("--kubeconfig", kubeconfig, "seal", "--from-secret", "-", stdin=SECRET, env=env)
    assert done.returncode == 6, done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1
    assert f"the proxy {proxy} did not let us reach the API server" in line
