"""The controller with kube-controller-manager in the plane: Deployments really roll out.

Each change of a credential an opted-in Deployment uses makes exactly one new
ReplicaSet (the Pods stay Pending: the plane has no scheduler or kubelet); a Deployment
that did not opt in keeps its one ReplicaSet; a burst of changes is one rollout.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from controller_support import ControllerProcess, create, deployment, template_digest, wait_for
from k8s_support import ControlPlane, new_namespace, provider_for
from oauth_server import AuthServer
from rotate_support import oauth2

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


def rolled(plane: ControlPlane, namespace: str, after: set[str], what: str) -> set[str]:
    """web's ReplicaSets once one more than ``after`` appeared, and then no more."""
    grown: set[str] = wait_for(lambda: more_than(plane, namespace, len(after)), 30, what)
    time.sleep(6.0)  # past the controller's longest wait: nothing else comes
    assert replica_sets(plane, namespace, "web") == grown
    assert len(grown) == len(after) + 1, what
    return grown


def test_each_change_rolls_an_opted_in_deployment_out_exactly_once(
    control_plane: ControlPlane, rolling: ControllerManager, tmp_path: Path
) -> None:
    namespace = new_namespace(control_plane, "rollout")
    with SyncKubernetesSecretsProvider(provider_for(control_plane, namespace)) as store:

        def put(value: str) -> None:
            store.store(Credential("db", "api_key", {"api_key": value}))

        def rolled_(after: set[str], what: str) -> set[str]:
            return rolled(control_plane, namespace, after, what)

        put("v0")
        db = store.secret_name("db")
        create(control_plane, namespace, deployment("web", "db", {"DB": db}))
        create(control_plane, namespace, deployment("plain", None, {"DB": db}))
        seen = rolled_(set(), "web's first rollout")
        wait_for(lambda: replica_sets(control_plane, namespace, "plain"), 30, "plain's rollout")
        controller = ControllerProcess(control_plane.admin_kubeconfig, namespace, tmp_path)
        try:
            # Opting in sets the digest for the first time: one rollout.
            wait_for(lambda: template_digest(control_plane, namespace, "web"), 30, "the digest")
            seen = rolled_(seen, "the opt-in rollout")
            put("v1")
            seen = rolled_(seen, "the rollout of one change")
            for i in range(20):  # a burst: 20 changes within 2 s make one rollout
                put(f"burst-{i}")
                time.sleep(0.1)
            seen = rolled_(seen, "the burst's one rollout")
            assert len(replica_sets(control_plane, namespace, "plain")) == 1
        finally:
            controller.kill()


WITHIN = 5  # seconds: --rotate-within


def test_a_hand_edit_and_a_rotation_each_roll_it_out_once(
    control_plane: ControlPlane, rolling: ControllerManager, tmp_path: Path, auth: AuthServer
) -> None:
    """A per-field key edited by hand, then a rotation the controller runs itself: one
    new ReplicaSet each (the rotation's kept previous version and new timestamps add
    nothing)."""
    namespace = new_namespace(control_plane, "rollout")
    with SyncKubernetesSecretsProvider(provider_for(control_plane, namespace)) as store:
        store.store(Credential("db", "api_key", {"api_key": "v0"}))
        due = timedelta(seconds=WITHIN + 40)  # after the hand edit has rolled out
        store.store(oauth2("tok", auth, auth.grant("app"), expires_in=due))
        db, tok = store.secret_name("db"), store.secret_name("tok")
    web = deployment("web", "db,tok", {"DB": db, "TOK": tok})
    env = web["spec"]["template"]["spec"]["containers"][0]["env"]
    env[1]["valueFrom"]["secretKeyRef"]["key"] = "access_token"
    create(control_plane, namespace, web)
    seen = rolled(control_plane, namespace, set(), "web's first rollout")
    controller = ControllerProcess(
        control_plane.admin_kubeconfig, namespace, tmp_path, "--rotate-within", f"{WITHIN}s"
    )
    try:
        wait_for(lambda: template_digest(control_plane, namespace, "web"), 30, "the digest")
        seen = rolled(control_plane, namespace, seen, "the opt-in rollout")
        edited = base64.b64encode(b"edited-by-hand").decode()
        control_plane.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/secrets/{db}",
            {"data": {"api_key": edited}},
            content_type="application/merge-patch+json",
        ).raise_for_status("patch the Secret by hand")
        seen = rolled(control_plane, namespace, seen, "the hand edit's rollout")
        assert not controller.actions("rotate"), "the rotation came too early for this test"
        rotated = wait_for(lambda: controller.actions("rotate"), 60, "the rotation")
        assert rotated[0]["outcome"] == "rotated"
        rolled(control_plane, namespace, seen, "the rotation's rollout")
        assert auth.hits["/token"] == 1
    finally:
        controller.kill()
