"""The controller with kube-controller-manager in the plane: Deployments really roll out.

Each change of a credential an opted-in Deployment uses makes exactly one new
ReplicaSet (the Pods stay Pending: the plane has no scheduler or kubelet); a Deployment
that did not opt in keeps its one ReplicaSet; a burst of changes is one rollout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_support import ControllerProcess, create, deployment, template_digest, wait_for
from k8s_support import ControlPlane, new_namespace, provider_for

from nebula_credential import Credential, SyncKubernetesSecretsProvider
from nebula_credential.testing.envtest import ControllerManager

pytestmark = pytest.mark.kubernetes


def replica_sets(plane: ControlPlane, namespace: str, app: str) -> set[str]:
    listed = (
        plane.request(
            "GET", f"/apis/apps/v1/namespaces/{namespace}/replicasets?labelSelector=app%3D{app}"
        )
        .raise_for_status("list replicasets")
        .json()
    )
    return {item["metadata"]["name"] for item in listed["items"]}


def more_than(plane: ControlPlane, namespace: str, count: int) -> set[str] | None:
    """The Deployment web's ReplicaSets once there are more than ``count``, else None."""
    found = replica_sets(plane, namespace, "web")
    return found if len(found) > count else None


@pytest.fixture
def rolling(control_plane: ControlPlane) -> Iterator[ControllerManager]:
    with ControllerManager(control_plane) as manager:
        yield manager


def test_each_change_rolls_an_opted_in_deployment_out_exactly_once(
    control_plane: ControlPlane, rolling: ControllerManager, tmp_path: Path
) -> None:
    namespace = new_namespace(control_plane, "rollout")
    with SyncKubernetesSecretsProvider(provider_for(control_plane, namespace)) as store:

        def put(value: str) -> None:
            store.store(Credential("db", "api_key", {"api_key": value}))

        def rolled(after: set[str], what: str) -> set[str]:
            """The ReplicaSets once one more than ``after`` appeared, then quiet."""
            grown: set[str] = wait_for(
                lambda: more_than(control_plane, namespace, len(after)), 30, what
            )
            time.sleep(6.0)  # past the controller's longest wait: nothing else comes
            assert replica_sets(control_plane, namespace, "web") == grown
            assert len(grown) == len(after) + 1, what
            return grown

        put("v0")
        db = store.secret_name("db")
        create(control_plane, namespace, deployment("web", "db", {"DB": db}))
        create(control_plane, namespace, deployment("plain", None, {"DB": db}))
        seen = rolled(set(), "web's first rollout")
        wait_for(lambda: replica_sets(control_plane, namespace, "plain"), 30, "plain's rollout")
        controller = ControllerProcess(control_plane.admin_kubeconfig, namespace, tmp_path)
        try:
            # Opting in sets the digest for the first time: one rollout.
            wait_for(lambda: template_digest(control_plane, namespace, "web"), 30, "the digest")
            seen = rolled(seen, "the opt-in rollout")
            put("v1")
            seen = rolled(seen, "the rollout of one change")
            for i in range(20):  # a burst: 20 changes within 2 s make one rollout
                put(f"burst-{i}")
                time.sleep(0.1)
            seen = rolled(seen, "the burst's one rollout")
            assert len(replica_sets(control_plane, namespace, "plain")) == 1
        finally:
            controller.kill()
