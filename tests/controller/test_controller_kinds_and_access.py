"""StatefulSets and DaemonSets are patched like Deployments; a patch RBAC refuses is
one clear line and an Event, and the controller goes on.

As in test_controller_restarts.py, no pod rolls out here (that needs
kube-controller-manager, a later step): the tests assert on the pod-template patch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from controller_support import (
    ControllerProcess,
    create,
    deployment,
    grant_rules,
    template_digest,
    wait_for,
)
from k8s_support import ControlPlane, new_namespace, provider_for

from nebula_credential import Credential, SyncKubernetesSecretsProvider

pytestmark = pytest.mark.kubernetes

DIGEST = "nebula-credential.io/credentials-digest"


@pytest.fixture
def namespace(control_plane: ControlPlane) -> str:
    return new_namespace(control_plane, "ctl")


@pytest.fixture
def store(control_plane: ControlPlane, namespace: str) -> Iterator[SyncKubernetesSecretsProvider]:
    with SyncKubernetesSecretsProvider(provider_for(control_plane, namespace)) as provider:
        yield provider


def _workload(kind: str, name: str, secret: str) -> dict[str, Any]:
    body = deployment(name, "auto", {"K": secret})
    body["kind"] = kind
    del body["spec"]["replicas"]
    if kind == "StatefulSet":
        body["spec"]["serviceName"] = name
    return body


def _digest(plane: ControlPlane, namespace: str, resource: str, name: str) -> str | None:
    got = plane.request("GET", f"/apis/apps/v1/namespaces/{namespace}/{resource}/{name}")
    template = got.raise_for_status(f"get {resource}").json()["spec"]["template"]
    value: str | None = (template["metadata"].get("annotations") or {}).get(DIGEST)
    return value


def test_statefulsets_and_daemonsets_get_their_template_patched(
    control_plane: ControlPlane,
    namespace: str,
    store: SyncKubernetesSecretsProvider,
    tmp_path: Path,
) -> None:
    store.store(Credential("cert", "api_key", {"api_key": "v0"}))
    secret = store.secret_name("cert")
    for kind, resource in (("StatefulSet", "statefulsets"), ("DaemonSet", "daemonsets")):
        control_plane.request(
            "POST", f"/apis/apps/v1/namespaces/{namespace}/{resource}", _workload(kind, "w", secret)
        ).raise_for_status(f"create {kind}")
    controller = ControllerProcess(control_plane.admin_kubeconfig, namespace, tmp_path)
    try:
        first = wait_for(
            lambda: (
                all(
                    d := [
                        _digest(control_plane, namespace, r, "w")
                        for r in ("statefulsets", "daemonsets")
                    ]
                )
                and d
            ),
            30,
            "opt-in",
        )
        store.store(Credential("cert", "api_key", {"api_key": "v1"}))
        wait_for(
            lambda: all(
                _digest(control_plane, namespace, r, "w") != old
                for r, old in zip(("statefulsets", "daemonsets"), first, strict=True)
            ),
            20,
            "the patches",
        )
        kinds = sorted(r["kind"] for r in controller.actions("restart"))
        assert kinds == ["DaemonSet", "DaemonSet", "StatefulSet", "StatefulSet"]
    finally:
        controller.kill()


def test_a_patch_rbac_refuses_is_one_line_and_an_event_and_nothing_stops(
    control_plane: ControlPlane,
    namespace: str,
    store: SyncKubernetesSecretsProvider,
    tmp_path: Path,
) -> None:
    ident = control_plane.identity(namespace, ["get", "list", "watch"])  # Secrets
    grant_rules(control_plane, namespace, ident.username, [
        {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets"],
         "verbs": ["list", "watch"]},  # no patch
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "verbs": ["get", "create", "update"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    ])  # fmt: skip
    store.store(Credential("db", "api_key", {"api_key": "v0"}))
    create(control_plane, namespace, deployment("denied", "db", {"K": store.secret_name("db")}))
    controller = ControllerProcess(ident.kubeconfig, namespace, tmp_path)
    try:
        refused = wait_for(lambda: controller.actions("refused"), 30, "the refusal")
        assert refused[0]["name"] == "denied"
        assert "patch" in refused[0]["reason"]
        assert "deployments" in refused[0]["reason"]

        def reasons() -> list[str]:
            got = control_plane.request("GET", f"/api/v1/namespaces/{namespace}/events")
            items = got.raise_for_status("list events").json()["items"]
            return [e["reason"] for e in items if e["involvedObject"]["name"] == "denied"]

        assert wait_for(lambda: reasons(), 10, "the Event") == ["PatchRefused"]
        time.sleep(2.5)  # the debounce and a margin: no second line for the same refusal
        assert len(controller.actions("refused")) == 1
        assert template_digest(control_plane, namespace, "denied") is None
        assert controller.process.poll() is None
        assert not [line for line in controller.lines if "Traceback" in line]
    finally:
        controller.kill()
