"""Generated manifests against the real API server (v1.20): dry-run apply, and RBAC that
grants exactly what its Roles claim, asked of the authorizer verb by verb."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from k8s_support import kubectl, new_namespace
from manifest_support import builtin_manifests

from nebula_credential import manifests as m
from nebula_credential.kubernetes.model.naming import secret_name
from nebula_credential.testing.envtest import ControlPlane

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")


def _server_minor(plane: ControlPlane) -> str:
    version = plane.request("GET", "/version").json()
    return f"{version['major']}.{version['minor'].rstrip('+')}"


def test_the_1_20_output_is_accepted_by_the_api_server(control_plane: ControlPlane) -> None:
    assert _server_minor(control_plane) == "1.20"
    ns = new_namespace(control_plane, "manifests")
    docs = builtin_manifests("1.20", namespace=ns)
    out = kubectl(
        control_plane.admin_kubeconfig,
        "apply",
        "--dry-run=server",
        "-f",
        "-",
        input_text=m.render_yaml(docs),
    )
    for doc in docs:
        assert f"{doc['kind'].lower()}" in out.lower()
    assert len(out.strip().splitlines()) == len(docs)


def test_the_1_29_forms_are_what_1_20_lacks(control_plane: ControlPlane) -> None:
    # The version switch matters: 1.20 serves neither policy/v1 PDBs nor batch/v1 CronJobs.
    ns = new_namespace(control_plane, "manifests")
    for doc in (m.pdb(namespace=ns), m.rotation_cronjob(namespace=ns)):
        with pytest.raises(AssertionError, match="no matches for kind"):
            kubectl(
                control_plane.admin_kubeconfig,
                "apply",
                "--dry-run=server",
                "-f",
                "-",
                input_text=m.render_yaml([doc]),
            )


def _can_i(kubeconfig: Path, verb: str, resource: str, ns: str, user: str) -> bool:
    done = subprocess.run(
        ["/usr/bin/kubectl", f"--kubeconfig={kubeconfig}", "auth", "can-i", verb, resource,
         "-n", ns, f"--as={user}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    answer = done.stdout.strip()
    assert answer in {"yes", "no"}, done.stderr
    return answer == "yes"


def test_generated_roles_grant_exactly_what_they_claim(control_plane: ControlPlane) -> None:
    ns = new_namespace(control_plane, "rbac")
    elsewhere = new_namespace(control_plane, "rbac-other")
    ids = ["oauth2", "Team.API_key"]
    listed = [secret_name(m.DEFAULT_PREFIX, i) for i in ids]
    unlisted = secret_name(m.DEFAULT_PREFIX, "someone-else")
    docs = [
        *m.rbac(ids, namespace=ns, service_account="reader"),
        *m.rbac(ids, namespace=ns, service_account="writer", writer=True),
        *m.rbac(ids, namespace=ns, service_account="watcher", list_watch=True),
    ]
    kubectl(control_plane.admin_kubeconfig, "apply", "-f", "-", input_text=m.render_yaml(docs))
    expected = {
        "reader": {"named": {"get"}, "any": set()},
        "writer": {"named": {"get", "update", "patch", "delete"}, "any": {"create"}},
        "watcher": {"named": {"get"}, "any": {"list", "watch"}},
    }
    kubeconfig = control_plane.admin_kubeconfig
    for account, grants in expected.items():
        user = f"system:serviceaccount:{ns}:{account}"
        for verb in VERBS:
            for name in listed:
                allowed = verb in grants["named"] | grants["any"]
                assert _can_i(kubeconfig, verb, f"secrets/{name}", ns, user) is allowed, (
                    account, verb, name,
                )  # fmt: skip
                assert not _can_i(kubeconfig, verb, f"secrets/{name}", elsewhere, user)
            collection = verb in grants["any"]
            assert _can_i(kubeconfig, verb, f"secrets/{unlisted}", ns, user) is collection
            assert _can_i(kubeconfig, verb, "secrets", ns, user) is collection, (account, verb)
            assert not _can_i(kubeconfig, verb, "secrets", elsewhere, user)
            assert not _can_i(kubeconfig, verb, "configmaps", ns, user)
