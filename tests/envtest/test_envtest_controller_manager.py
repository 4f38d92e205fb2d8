"""kube-controller-manager beside a test plane: a changed pod template rolls out."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from nebula_credential.testing.envtest import ControllerManager, ControlPlane

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]},
        },
    },
}


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def replica_sets(kubeconfig: Path, namespace: str) -> list[str]:
    listed = json.loads(kubectl(kubeconfig, "-n", namespace, "get", "replicasets", "-o", "json"))
    return sorted(item["metadata"]["name"] for item in listed["items"])


def wait_for(count: int, kubeconfig: Path, namespace: str, within: float = 30.0) -> list[str]:
    deadline = time.monotonic() + within
    while True:
        found = replica_sets(kubeconfig, namespace)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_changed_pod_template_makes_a_new_replica_set(control_plane: ControlPlane) -> None:
    admin = control_plane.admin_kubeconfig
    namespace = "rollout"
    control_plane.ensure_namespace(namespace)
    kubectl(admin, "-n", namespace, "apply", "-f", "-", stdin=json.dumps(DEPLOYMENT))
    # Without the controller manager the API server only stores the Deployment.
    time.sleep(1.0)
    assert replica_sets(admin, namespace) == []
    with ControllerManager(control_plane) as manager:
        assert manager.running
        first = wait_for(1, admin, namespace)
        assert len(first) == 1
        patch = {"spec": {"template": {"metadata": {"annotations": {"changed": "1"}}}}}
        kubectl(admin, "-n", namespace, "patch", "deployment", "web", "-p", json.dumps(patch))
        second = wait_for(2, admin, namespace)
        assert len(second) == 2, second
        assert set(first) < set(second)
    assert not manager.running


def test_a_missing_binary_is_named(
    control_plane: ControlPlane, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NEBULA_KUBE_CONTROLLER_MANAGER", str(tmp_path / "nope"))
    from nebula_credential.testing.envtest import MissingBinaryError

    with pytest.raises(MissingBinaryError, match="NEBULA_KUBE_CONTROLLER_MANAGER"):
        ControllerManager(control_plane)
